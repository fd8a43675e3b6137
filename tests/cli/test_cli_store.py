"""`omnivec info`, `verify` and `convert` run in-process on small files made here."""

import json
import os

import numpy as np
import pytest

import omnivec
from omnivec.cli import main


def run(capsys, *args):
    code = main([str(a) for a in args])
    cap = capsys.readouterr()
    return code, cap.out, cap.err


def one_line_error(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("omnivec: error: ")
    return lines[0]


@pytest.fixture
def model(tmp_path, rng):
    keys = [f"w{i}" for i in range(120)]
    emb = omnivec.Embeddings(keys, rng.standard_normal((120, 12)).astype(np.float32), metric="dot",
                             counts=np.arange(120, 0, -1), meta={"source": "unit test", "epochs": 3})
    path = tmp_path / "m.omv"
    emb.save(path)
    return path


# -- info -------------------------------------------------------------------------
def test_info_json_describes_every_table(capsys, tmp_path, rng, model):
    code, out, _ = run(capsys, "info", model, "--json")
    assert code == 0
    data = json.loads(out)
    assert data["file_bytes"] == os.path.getsize(model)
    assert data["format_version"] >= 1 and data["checksums"] is True
    (t,) = data["tables"]
    assert (t["rows"], t["dim"], t["storage"], t["metric"], t["key_kind"]) == (120, 12, "float32", "dot", "str")
    assert t["counts"] is True and t["subwords"] is None
    assert t["meta"]["source"] == "unit test" and t["meta"]["epochs"] == 3
    assert t["vector_bytes"] == 120 * 12 * 4

    two = tmp_path / "kg.omv"
    ents = omnivec.Embeddings(np.arange(40), rng.standard_normal((40, 6)).astype(np.float32), name="entities")
    rels = omnivec.Embeddings(["r0", "r1"], rng.standard_normal((2, 6)).astype(np.float32), name="relations")
    omnivec.save(two, {"entities": ents.astype("int8"), "relations": rels})
    code, out, _ = run(capsys, "info", two, "--json")
    tables = {t["name"]: t for t in json.loads(out)["tables"]}
    assert tables["entities"]["key_kind"] == "int" and tables["entities"]["storage"] == "int8"
    assert tables["entities"]["vector_bytes"] == 40 * 6
    assert tables["relations"]["rows"] == 2


def test_info_for_people(capsys, model):
    code, out, _ = run(capsys, "info", model)
    assert code == 0
    for word in ("embeddings", "120", "float32", "dot", "unit test", "v1"):
        assert word in out


def test_info_rejects_what_is_not_a_model(capsys, tmp_path):
    from safetensors.numpy import save_file

    other = tmp_path / "other.safetensors"
    save_file({"weight": np.zeros((2, 2), np.float32)}, str(other))
    code, out, err = run(capsys, "info", other)
    assert code == 1 and out == ""
    assert "not an omnivec model" in one_line_error(err)
    code, _, err = run(capsys, "info", tmp_path / "missing.omv")
    assert code == 1 and "no such file" in one_line_error(err)
    empty = tmp_path / "empty.omv"
    empty.write_bytes(b"")
    code, _, err = run(capsys, "info", empty, "--json")
    assert code == 1 and "empty.omv" in one_line_error(err)
    assert run(capsys, "info")[0] == 2


# -- verify -----------------------------------------------------------------------
def test_verify_sound_model(capsys, model):
    code, out, _ = run(capsys, "verify", model)
    assert code == 0 and "ok" in out
    code, out, _ = run(capsys, "verify", model, "--json")
    data = json.loads(out)
    assert code == 0 and data["ok"] is True and data["problems"] == []
    assert data["tensors"] == len(omnivec.store.container.read(model).tensors)


def test_verify_finds_a_flipped_byte(capsys, model):
    from omnivec.store import container

    c = container.read(model)
    start = c.data_start + c.entries["embeddings.vectors"]["data_offsets"][0]
    del c
    raw = bytearray(model.read_bytes())
    raw[start + 17] ^= 0x40
    model.write_bytes(bytes(raw))
    code, out, err = run(capsys, "verify", model)
    assert code == 1 and "embeddings.vectors" in err and "CRC-32" in err
    code, out, _ = run(capsys, "verify", model, "--json")
    data = json.loads(out)
    assert code == 1 and data["ok"] is False
    assert any("embeddings.vectors" in p for p in data["problems"])


def test_verify_rejects_what_is_not_a_model(capsys, tmp_path):
    junk = tmp_path / "junk.bin"
    junk.write_bytes(b"\xff" * 100)
    code, _, err = run(capsys, "verify", junk)
    assert code == 1 and "junk.bin" in one_line_error(err)
