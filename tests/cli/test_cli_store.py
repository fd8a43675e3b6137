"""`omnivec info`, `verify` and `convert` run in-process on small files made here."""

import json
import os

import numpy as np
import pytest

import omnivec
from cli_helpers import one_line_error, run
from omnivec.cli import main


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


# -- convert ----------------------------------------------------------------------
GLOVE = os.path.join(os.path.dirname(__file__), "..", "data", "glove6b50d_top2100.npz")


@pytest.fixture
def glove():
    """(keys, float32 vectors) of 2,100 real GloVe 6B 50d words."""
    with np.load(GLOVE) as z:
        return z["keys"].tolist(), z["vectors"].astype(np.float32)


def write_text(path, keys, vectors, header=True, extra=""):
    with open(path, "w", encoding="utf-8") as fh:
        if header:
            fh.write(f"{len(keys) + extra.count(chr(10))} {vectors.shape[1]}\n")
        for k, v in zip(keys, vectors):
            fh.write(k + " " + " ".join(str(float(x)) for x in v) + "\n")
        fh.write(extra)


def leftovers(folder):
    return [p.name for p in folder.iterdir() if p.name.startswith(".")]


def test_convert_text_to_model_and_back(capsys, tmp_path, glove):
    keys, vecs = glove
    src = tmp_path / "vectors.txt"
    write_text(src, keys, vecs)
    dst = tmp_path / "vectors.omv"
    code, out, _ = run(capsys, "convert", src, dst, "--json")
    assert code == 0
    data = json.loads(out)
    assert (data["mode"], data["from"], data["rows"], data["dim"]) == ("import", "word2vec-text", 2100, 50)
    assert data["report"]["duplicates"] == 0 and data["bytes"] == os.path.getsize(dst)
    emb = omnivec.load(dst)
    np.testing.assert_array_equal(emb[keys], vecs)

    back = tmp_path / "back.vec"
    code, out, _ = run(capsys, "convert", dst, back)
    assert code == 0 and "export" in out
    lines = back.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "2100 50" and lines[5].split()[0] == keys[4]
    np.testing.assert_array_equal(np.array(lines[5].split()[1:], np.float32), vecs[4])
    assert leftovers(tmp_path) == []


def test_convert_counts_duplicates_and_nan(capsys, tmp_path, glove):
    keys, vecs = glove
    src = tmp_path / "glove.txt"
    nan_row = keys[0] + "x " + " ".join(["nan"] * 50) + "\n"
    write_text(src, keys[:100], vecs[:100], header=False,
               extra=keys[3] + " " + " ".join(["0.5"] * 50) + "\n" + nan_row)
    dst = tmp_path / "m.omv"
    code, _, err = run(capsys, "convert", src, dst)
    line = one_line_error(err)
    assert code == 1 and "glove.txt" in line and "line 102" in line
    assert not dst.exists() and leftovers(tmp_path) == []
    code, out, _ = run(capsys, "convert", src, dst, "--nan", "skip", "--json")
    report = json.loads(out)["report"]
    assert code == 0 and report["duplicates"] == 1 and report["nan_rows"] == 1
    emb = omnivec.load(dst)
    assert len(emb) == 100
    np.testing.assert_array_equal(emb[keys[3]], vecs[3])      # the first copy is kept
    code, out, _ = run(capsys, "convert", src, tmp_path / "h.omv", "--nan", "zero")
    assert code == 0 and "duplicate" in out and "NaN" in out
    code, _, err = run(capsys, "convert", src, tmp_path / "e.omv", "--nan", "skip", "--on-duplicate", "error")
    assert code == 1 and keys[3] in one_line_error(err)
    assert not (tmp_path / "e.omv").exists()


def test_convert_npy_with_keys_to_int8_and_oov(capsys, tmp_path, glove):
    keys, vecs = glove
    np.save(tmp_path / "v.npy", vecs)
    kf = tmp_path / "words.txt"
    kf.write_text("\n".join(keys) + "\n", encoding="utf-8")
    dst = tmp_path / "q.omv"
    code, out, _ = run(capsys, "convert", tmp_path / "v.npy", dst, "--keys", kf, "--storage", "int8",
                       "--metric", "euclidean")
    assert code == 0 and "2,100" in out
    emb = omnivec.load(dst)
    assert (emb.storage, emb.metric, len(emb)) == ("int8", "euclidean", 2100)
    np.testing.assert_allclose(emb[keys[10]], vecs[10], atol=float(np.abs(vecs).max()) / 100)

    copy = tmp_path / "copy.ov"   # no vector-file extension: a model file
    code, out, _ = run(capsys, "convert", dst, copy, "--storage", "float16", "--metric", "cosine", "--oov",
                       "--json")
    assert code == 0 and json.loads(out)["mode"] == "copy"
    info = json.loads(run(capsys, "info", copy, "--json")[1])["tables"][0]
    assert (info["storage"], info["metric"]) == ("float16", "cosine")
    assert info["extras"], "the OOV index is stored in the file"
    code, out, _ = run(capsys, "query", copy, "recieve", "--oov", "--json")
    entry = json.loads(out)["keys"][0]
    assert code == 0 and entry["oov"] is True
    assert "receive" in [n["key"] for n in entry["neighbors"]]


def test_convert_bad_names_and_files(capsys, tmp_path, model):
    code, _, err = run(capsys, "convert", model, tmp_path / "x.out", "--to", "word3vec")
    line = one_line_error(err)
    assert code == 1 and "word3vec" in line and "word2vec-text" in line and "glove" in line
    code, _, err = run(capsys, "convert", model, tmp_path / "y.omv", "--storage", "int4")
    line = one_line_error(err)
    assert code == 1 and "int4" in line and "float16" in line and "binary" in line
    code, _, err = run(capsys, "convert", model, tmp_path / "y.omv", "--metric", "manhattan")
    assert code == 1 and "euclidean" in one_line_error(err)
    code, _, err = run(capsys, "convert", model, tmp_path / "z.vec", "--storage", "int8")
    assert code == 1 and "--storage" in one_line_error(err) and not (tmp_path / "z.vec").exists()
    code, _, err = run(capsys, "convert", model, tmp_path / "y.omv", "--nan", "maybe")
    assert code == 1 and "skip" in one_line_error(err)
    code, _, err = run(capsys, "convert", tmp_path / "none.txt", tmp_path / "y.omv")
    assert code == 1 and "none.txt" in one_line_error(err)
    png = tmp_path / "picture.txt"
    png.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(100))
    code, _, err = run(capsys, "convert", png, tmp_path / "y.omv")
    assert code == 1 and "picture.txt" in one_line_error(err)
    assert not (tmp_path / "y.omv").exists() and leftovers(tmp_path) == []
    assert run(capsys, "convert", model)[0] == 2


def test_convert_refuses_to_write_over_its_input(capsys, tmp_path, model):
    before = model.read_bytes()
    code, _, err = run(capsys, "convert", model, tmp_path / "out.npy", "--keys", model)
    line = one_line_error(err)
    assert code == 1 and "is the input" in line and "m.omv" in line
    code, _, err = run(capsys, "convert", model, model, "--storage", "int8")
    assert code == 1 and "is the input" in one_line_error(err)
    assert model.read_bytes() == before
    assert not (tmp_path / "out.npy").exists() and leftovers(tmp_path) == []


def test_convert_fasttext_bin_keeps_subwords_for_oov(capsys, tmp_path):
    data = os.path.join(os.path.dirname(__file__), "..", "data", "fasttext")
    with open(os.path.join(data, "reference.json"), encoding="utf-8") as fh:
        words = json.load(fh)["sg"]["words"]
    want = np.load(os.path.join(data, "reference_sg.npy"))
    model = tmp_path / "ft.ov"
    code, out, _ = run(capsys, "convert", os.path.join(data, "wordnet_sg.bin"), model, "--json")
    assert code == 0 and json.loads(out)["from"] == "fasttext-bin"
    probes = [w for w in words[1360:1366]]
    code, out, _ = run(capsys, "query", model, *probes, "--oov", "--vector", "--json")
    got = json.loads(out)["keys"]
    assert code == 0 and all(g["oov"] for g in got)
    np.testing.assert_allclose([g["vector"] for g in got], want[1360:1366], atol=1e-5)

    again = tmp_path / "again.bin"
    code, out, _ = run(capsys, "convert", model, again, "--json")
    assert code == 0 and json.loads(out)["to"] == "fasttext-bin"     # .bin of a subword model
    code, out, _ = run(capsys, "convert", again, tmp_path / "again.ov", "--json")
    assert code == 0 and json.loads(out)["from"] == "fasttext-bin"
    code, out, _ = run(capsys, "query", tmp_path / "again.ov", probes[0], "--oov", "--vector", "--json")
    np.testing.assert_allclose(json.loads(out)["keys"][0]["vector"], want[1360], atol=1e-5)


def test_convert_int8_with_rerank_keeps_float_ranking(tmp_path):
    """--storage int8 --rerank float16 gives the float32 model's neighbours, in a smaller scan."""
    import numpy as np

    import omnivec
    from omnivec.cli import main

    rng = np.random.default_rng(3)
    keys = [f"w{i}" for i in range(3000)]
    src = tmp_path / "f32.ov"
    omnivec.Embeddings(keys, rng.standard_normal((3000, 24)).astype(np.float32)).save(src)
    dst = tmp_path / "i8r.ov"
    assert main(["convert", str(src), str(dst), "--storage", "int8", "--rerank", "float16"]) == 0
    f32, i8r = omnivec.load(src), omnivec.load(dst)
    assert i8r.storage == "int8" and i8r.store.rerank is not None
    for k in keys[:50]:
        assert [w for w, _ in i8r.most_similar(k)] == [w for w, _ in f32.most_similar(k)]
    assert main(["convert", str(src), str(tmp_path / "bad.ov"), "--rerank", "float16"]) == 1


def test_an_unknown_output_extension_is_refused_unless_to_names_the_format(tmp_path, capsys):
    import numpy as np

    import omnivec
    src = tmp_path / "m.ov"
    omnivec.save(src, omnivec.Embeddings(["a", "b"], np.eye(2, dtype=np.float32)))
    code, _, err = run(capsys, "convert", src, tmp_path / "out.csv")
    assert code == 1 and "--to" in one_line_error(err) and not (tmp_path / "out.csv").exists()
    code, _, _ = run(capsys, "convert", src, tmp_path / "out.csv", "--to", "glove")
    assert code == 0 and (tmp_path / "out.csv").read_text().startswith("a 1")
    code, _, _ = run(capsys, "convert", src, tmp_path / "copy.ov")
    assert code == 0 and len(omnivec.open(tmp_path / "copy.ov")) == 2


def test_library_errors_name_the_command_line_flags(tmp_path, capsys):
    bad = tmp_path / "v.txt"
    bad.write_text("king 0.1 nan\nqueen 0.2 0.3\n")
    code, _, err = run(capsys, "convert", bad, tmp_path / "v.ov")
    assert code == 1 and "--nan skip" in one_line_error(err)
    bad.write_bytes(b"k\xffing 0.1 0.2\nqueen 0.2 0.3\n")
    code, _, err = run(capsys, "convert", bad, tmp_path / "v.ov")
    assert code == 1 and "--encoding-errors replace" in one_line_error(err)
    code, _, _ = run(capsys, "convert", bad, tmp_path / "v.ov", "--encoding-errors", "replace")
    assert code == 0
