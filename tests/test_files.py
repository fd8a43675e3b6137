"""omnivec.convert / info / verify: the library behind `omnivec convert|info|verify`.

Real vectors: tests/data/glove6b50d_top2100.npz (the 2,100 most frequent
GloVe 6B 50d words).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import pytest

import omnivec
from omnivec import files
from omnivec.errors import InputError

DATA = Path(__file__).parent / "data" / "glove6b50d_top2100.npz"


@pytest.fixture(scope="module")
def table():
    data = np.load(DATA)
    return omnivec.Embeddings([str(k) for k in data["keys"]], data["vectors"].astype(np.float32))


@pytest.fixture
def text_file(tmp_path, table):
    path = tmp_path / "glove.txt"
    table.save_word2vec_format(path)
    return path


def test_the_package_exports_the_file_operations():
    assert omnivec.convert is files.convert
    assert omnivec.info is files.info
    assert omnivec.verify is files.verify


def test_convert_imports_exports_and_copies(tmp_path, text_file, table):
    model = tmp_path / "base.ov"
    res = omnivec.convert(text_file, model)
    summary = (res["mode"], res["from"], res["to"], res["rows"], res["dim"])
    assert summary == ("import", "word2vec-text", "omnivec", 2100, 50)
    assert res["bytes"] == os.path.getsize(model)
    assert any("imported 2,100 rows x 50 dims" in line for line in res["report_lines"])
    assert np.array_equal(omnivec.load(model).vectors, table.vectors)

    res = omnivec.convert(model, tmp_path / "out.npy")
    assert (res["mode"], res["to"]) == ("export", "npy")
    assert np.array_equal(np.load(tmp_path / "out.npy"), table.vectors)
    assert (tmp_path / "out.keys.txt").read_text("utf-8").split("\n")[:3] == list(table.keys)[:3]

    res = omnivec.convert(model, tmp_path / "small.ov", storage="int8", metric="dot")
    assert res["mode"] == "copy"
    assert res["tables"]["embeddings"] == {"rows": 2100, "dim": 50, "storage": "int8", "metric": "dot"}


def test_convert_refuses_options_that_do_not_apply(tmp_path, text_file):
    with pytest.raises(InputError, match="--storage applies to model files"):
        omnivec.convert(text_file, tmp_path / "out.npy", storage="int8")
    with pytest.raises(InputError, match="--rerank keeps"):
        omnivec.convert(text_file, tmp_path / "out.ov", rerank="float16")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["glove.txt"]


def test_convert_refuses_an_output_that_is_an_input(tmp_path, text_file):
    model = tmp_path / "base.ov"
    omnivec.convert(text_file, model)
    before = model.read_bytes()
    # --keys of an export names where the keys go: here, over the model being read
    with pytest.raises(InputError, match=r"the output .*base\.ov is the input .*base\.ov"):
        omnivec.convert(model, tmp_path / "out.npy", keys_file=model)
    # the same file through a symbolic link, and the source itself
    link = tmp_path / "link.ov"
    link.symlink_to(model)
    with pytest.raises(InputError, match="is the input"):
        omnivec.convert(model, link, storage="int8")
    with pytest.raises(InputError, match="is the input"):
        omnivec.convert(text_file, tmp_path / "." / "glove.txt", to_format="glove")
    assert model.read_bytes() == before
    assert not (tmp_path / "out.npy").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_convert_refuses_overwriting_the_keys_file_it_reads(tmp_path, table):
    omnivec.convert(_model(tmp_path, table), tmp_path / "vec.npy")    # writes vec.npy + vec.keys.txt
    keys = tmp_path / "vec.keys.txt"
    before = keys.read_bytes()
    with pytest.raises(InputError, match=r"vec\.keys\.txt is the input"):
        omnivec.convert(tmp_path / "vec.npy", keys, to_format="word2vec-text")
    assert keys.read_bytes() == before


def test_convert_refuses_two_outputs_that_are_one_file(tmp_path, table):
    model = _model(tmp_path, table)
    with pytest.raises(InputError, match="two outputs"):
        omnivec.convert(model, tmp_path / "vec.npy", keys_file=tmp_path / "vec.npy")


def _model(tmp_path, table) -> Path:
    path = tmp_path / "model.ov"
    table.save(path)
    return path


def test_info_reads_the_header(tmp_path, table):
    model = _model(tmp_path, table)
    data = omnivec.info(model)
    assert data["format"] == "omnivec" and data["file_bytes"] == os.path.getsize(model)
    (tb,) = data["tables"]
    assert (tb["name"], tb["rows"], tb["dim"], tb["storage"], tb["metric"], tb["key_kind"]) == \
        ("embeddings", 2100, 50, "float32", "cosine", "str")
    assert tb["vector_bytes"] == 2100 * 50 * 4


def test_verify_finds_damage(tmp_path, table):
    model = _model(tmp_path, table)
    res = omnivec.verify(model)
    assert res["ok"] and res["problems"] == [] and res["tensors"] >= 5
    data = bytearray(model.read_bytes())
    data[-100] ^= 0xFF
    model.write_bytes(bytes(data))
    res = omnivec.verify(model)
    assert not res["ok"]
    assert any("CRC-32" in p for p in res["problems"])


def test_the_library_loads_no_command_line_code(tmp_path, table):
    import subprocess

    model = _model(tmp_path, table)
    code = ("import sys, omnivec; omnivec.info(sys.argv[1]); omnivec.verify(sys.argv[1]); "
            "print(sorted(m for m in sys.modules if m.startswith('omnivec.cli') or m in ('typer', 'rich')))")
    env = {**os.environ, "PYTHONPATH": str(Path(omnivec.__file__).parents[1])}
    out = subprocess.run([sys.executable, "-c", code, str(model)], capture_output=True, text=True, env=env,
                         check=True)
    assert out.stdout.strip() == "[]"


def test_info_lists_tensors_of_dtypes_numpy_lacks(tmp_path, table):
    import json
    import struct

    p = tmp_path / "m.ov"
    omnivec.save(p, table)
    raw = p.read_bytes()
    (hlen,) = struct.unpack("<Q", raw[:8])
    head = json.loads(raw[8:8 + hlen])
    v = head[f"{table.name}.vectors"]
    v["dtype"], v["shape"] = "BF16", [v["shape"][0], v["shape"][1] * 2]     # same bytes, read as BF16
    new = json.dumps(head).encode()
    new += b" " * (-(8 + len(new)) % 64)
    p.write_bytes(struct.pack("<Q", len(new)) + new + raw[8 + hlen:])
    got = files.info(p)
    assert got["tables"][0]["vector_bytes"] == table.vectors.nbytes
