"""The model file: bad input gives a clear error naming the file and offset; writes are atomic;
an independent reader written from docs/format.md alone reads what omnivec writes."""

from __future__ import annotations

import builtins
import json
import os
import re
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest

import omnivec
from omnivec.errors import (CorruptFileError, FormatError, InputError, KeyNotFound, OmnivecError,
                            UnsupportedVersionError)
from omnivec.store import container
from omnivec.store import model as store_model
from omnivec.core.subwords import Subwords

DOC = Path(__file__).resolve().parents[2] / "docs" / "format.md"


# -- helpers ------------------------------------------------------------------
def make_model(path, *, storage="float32", n=40, dim=8, int_keys=False, seed=3):
    rng = np.random.default_rng(seed)
    keys = np.arange(n, dtype=np.int64) * 7 - 50 if int_keys else [f"w{i}é" for i in range(n)]
    emb = omnivec.Embeddings(keys, rng.standard_normal((n, dim)).astype(np.float32),
                             counts=np.arange(n, 0, -1), meta={"learner": "test"}, storage=storage)
    emb.save(path)
    return emb


def header_of(path) -> tuple[dict, int]:
    raw = Path(path).read_bytes()
    (hlen,) = struct.unpack("<Q", raw[:8])
    return json.loads(raw[8:8 + hlen]), 8 + hlen


def rewrite_header(path, edit) -> None:
    """Apply edit(header, omnivec_meta) and write the file back with the same tensor bytes."""
    raw = Path(path).read_bytes()
    head, start = header_of(path)
    meta = json.loads(head["__metadata__"]["omnivec"])
    edit(head, meta)
    head["__metadata__"]["omnivec"] = json.dumps(meta)
    new = json.dumps(head).encode()
    new += b" " * (-(8 + len(new)) % 64)
    Path(path).write_bytes(struct.pack("<Q", len(new)) + new + raw[start:])


def tensor_span(path, name) -> tuple[int, int]:
    head, start = header_of(path)
    a, b = head[name]["data_offsets"]
    return start + a, start + b


def poke(path, pos, value) -> None:
    with open(path, "r+b") as fh:
        fh.seek(pos)
        fh.write(bytes([value]))


def assert_names_file(exc_info, path, *, offset=True):
    err = exc_info.value
    assert isinstance(err, FormatError)
    assert str(path) in str(err)
    if offset:
        assert err.offset is not None and f"byte {err.offset}" in str(err)


# -- not a model, empty, truncated -------------------------------------------
def test_empty_file(tmp_path):
    p = tmp_path / "empty.ov"
    p.write_bytes(b"")
    with pytest.raises(FormatError, match="empty") as ei:
        omnivec.open(p)
    assert_names_file(ei, p)
    assert ei.value.offset == 0


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(FormatError, match="no such file"):
        omnivec.open(tmp_path / "nope.ov")
    with pytest.raises(FormatError, match="folder"):
        omnivec.open(tmp_path)


@pytest.mark.parametrize("content, hint", [
    (b"3 2\nking 0.1 0.2\nqueen 0.3 0.4\n", "text"),
    (b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4, "PNG"),
    (bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8)), None),
    (b"\x93NUMPY\x01\x00" + b"x" * 200, "npy"),
])
def test_not_a_model(tmp_path, content, hint):
    p = tmp_path / "thing.ov"
    p.write_bytes(content)
    with pytest.raises(FormatError) as ei:
        omnivec.open(p)
    assert_names_file(ei, p)
    if hint:
        assert hint in str(ei.value)


def test_truncated_everywhere(tmp_path):
    """Cut the file inside the length word, the header and every tensor: always a FormatError."""
    p = tmp_path / "m.ov"
    make_model(p, storage="int8")
    full = p.read_bytes()
    head, start = header_of(p)
    cuts = set(range(1, 8)) | {8, 9, start // 2, start - 1, start}
    for name, ent in head.items():
        if name == "__metadata__":
            continue
        a, b = ent["data_offsets"]
        cuts |= {start + a + 1, start + (a + b) // 2, start + b - 1}
    cuts = sorted(c for c in cuts if 0 < c < len(full))
    assert len(cuts) > 20
    q = tmp_path / "cut.ov"
    for c in cuts:
        q.write_bytes(full[:c])
        with pytest.raises(FormatError) as ei:
            omnivec.open(q)
        assert_names_file(ei, q)
        if c >= start:   # the header is whole: the error points at the end of the file
            assert isinstance(ei.value, CorruptFileError), c
            assert ei.value.offset == c and "truncated" in str(ei.value)


def test_broken_header_json(tmp_path):
    p = tmp_path / "m.ov"
    make_model(p)
    raw = bytearray(p.read_bytes())
    i = raw.index(b'"shape"')
    raw[i] = ord("{")
    p.write_bytes(bytes(raw))
    with pytest.raises(FormatError, match="not valid JSON") as ei:
        omnivec.open(p)
    assert_names_file(ei, p)
    assert ei.value.offset >= 8


def test_deeply_nested_header_is_refused_cleanly(tmp_path):
    body = b"[" * 100_000 + b"]" * 100_000
    p = tmp_path / "deep.ov"
    p.write_bytes(struct.pack("<Q", len(body)) + body)
    with pytest.raises(FormatError, match="JSON"):
        omnivec.open(p)


def test_header_length_beyond_limit(tmp_path):
    p = tmp_path / "big.ov"
    p.write_bytes(struct.pack("<Q", 2**40) + b"{}")
    with pytest.raises(FormatError, match="header") as ei:
        omnivec.open(p)
    assert ei.value.offset == 0


# -- another tool's safetensors file, versions, header vs body ------------------
def test_safetensors_file_from_another_tool(tmp_path):
    st = pytest.importorskip("safetensors.numpy")
    p = tmp_path / "other.safetensors"
    st.save_file({"embeddings.weight": np.ones((4, 3), np.float32), "bias": np.zeros(3, np.float32)},
                 str(p), metadata={"format": "pt"})
    with pytest.raises(FormatError, match="not an omnivec model") as ei:
        omnivec.open(p)
    assert "embeddings.weight" in str(ei.value) and "omnivec convert" in str(ei.value)
    assert_names_file(ei, p)
    assert not isinstance(ei.value, CorruptFileError)


def test_safetensors_library_reads_our_files(tmp_path):
    st = pytest.importorskip("safetensors.numpy")
    p = tmp_path / "m.ov"
    emb = make_model(p, storage="int8")
    loaded = st.load_file(str(p))
    np.testing.assert_array_equal(loaded["embeddings.vectors"], emb.store.data)
    np.testing.assert_array_equal(loaded["embeddings.scale"], emb.store.scale)
    np.testing.assert_array_equal(loaded["embeddings.keys_offsets"], emb.keys.offsets)


def test_newer_format_version(tmp_path):
    p = tmp_path / "m.ov"
    make_model(p)

    def bump(head, meta):
        meta["format_version"] = store_model.FORMAT_VERSION + 1
        meta["tables"] = "laid out differently in the future"

    rewrite_header(p, bump)
    with pytest.raises(UnsupportedVersionError, match="version 2.*Upgrade omnivec") as ei:
        omnivec.open(p)
    assert_names_file(ei, p)
    with pytest.raises(UnsupportedVersionError):
        store_model.verify(p)


@pytest.mark.parametrize("edit, message", [
    (lambda h, m: m["tables"]["embeddings"].update(n=41), "shape"),
    (lambda h, m: m["tables"]["embeddings"].update(dim=9), "shape"),
    (lambda h, m: m["tables"]["embeddings"].update(storage="float16"), "dtype"),
    (lambda h, m: m["tables"]["embeddings"].update(storage="int4"), "storage"),
    (lambda h, m: m["tables"]["embeddings"].update(metric="manhattan"), "metric"),
    (lambda h, m: m["tables"]["embeddings"].update(key_kind="int"), "keys_ids"),
    (lambda h, m: m["tables"]["embeddings"].update(n="40"), "non-negative integers"),
    (lambda h, m: m["tables"]["embeddings"].update(extras=["missing"]), "x.missing"),
    (lambda h, m: m["tables"]["embeddings"].update(subwords={"minn": 3, "maxn": 2, "bucket": 0}), "minn"),
    (lambda h, m: m["tables"]["embeddings"].pop("dim"), "lacks dim"),
    (lambda h, m: m.update(tables={}), "no tables"),
    (lambda h, m: m.update(format_version="1"), "format_version"),
    (lambda h, m: h["embeddings.norms"].update(shape=[39]), "norms"),
    (lambda h, m: h["embeddings.keys_offsets"].update(dtype="I32", shape=[82]), "keys_offsets"),
    (lambda h, m: h.pop("embeddings.key_index"), "belong to no tensor"),
    (lambda h, m: h["embeddings.vectors"].update(dtype="BF16", shape=[40, 16]), "missing"),
    (lambda h, m: h["embeddings.vectors"].update(data_offsets=[0, 4]), "needs"),
])
def test_header_disagrees_with_body(tmp_path, edit, message):
    p = tmp_path / "m.ov"
    make_model(p)
    rewrite_header(p, edit)
    with pytest.raises(FormatError, match=message) as ei:
        omnivec.open(p)
    assert_names_file(ei, p)
    assert isinstance(ei.value, CorruptFileError)


def test_unaligned_model_tensors(tmp_path):
    """A header one byte shorter than omnivec pads it: every tensor lands unaligned."""
    p = tmp_path / "m.ov"
    make_model(p)
    raw = p.read_bytes()
    head, start = header_of(p)
    new = json.dumps(head).encode()
    new += b" " * (-(8 + len(new)) % 8 + 7)
    p.write_bytes(struct.pack("<Q", len(new)) + new + raw[start:])
    with pytest.raises(CorruptFileError, match="not aligned") as ei:
        omnivec.open(p)
    assert_names_file(ei, p)


def test_offsets_not_reaching_blob_end(tmp_path):
    p = tmp_path / "m.ov"
    make_model(p)
    a, b = tensor_span(p, "embeddings.keys_offsets")
    poke(p, b - 8, 1)   # last offset's low byte
    with pytest.raises(CorruptFileError, match="keys_offsets must run from 0"):
        omnivec.open(p)


# -- checksums and the key index -----------------------------------------------
@pytest.mark.parametrize("storage", ["float32", "int8", "binary"])
def test_verify_reports_a_flipped_vector_byte(tmp_path, storage):
    p = tmp_path / "m.ov"
    make_model(p, storage=storage)
    assert store_model.verify(p) == []
    a, b = tensor_span(p, "embeddings.vectors")
    raw = p.read_bytes()
    poke(p, (a + b) // 2, raw[(a + b) // 2] ^ 0x10)
    problems = store_model.verify(p)
    assert len(problems) == 1
    assert "embeddings.vectors" in problems[0] and "CRC-32" in problems[0]
    assert f"bytes {a}" in problems[0]
    # The file still opens (open reads the header only): damage is found by verify.
    assert len(omnivec.open(p)) == 40


def test_stored_checksums_are_zlib_crc32(tmp_path):
    p = tmp_path / "m.ov"
    make_model(p)
    head, start = header_of(p)
    sums = json.loads(head["__metadata__"]["checksums"])
    raw = p.read_bytes()
    assert set(sums) == set(head) - {"__metadata__"}
    for name, crc in sums.items():
        a, b = head[name]["data_offsets"]
        assert crc == f"{zlib.crc32(raw[start + a:start + b]):08x}"


def _lookups_are_right_or_corrupt(emb, keys) -> int:
    errors = 0
    for r, k in enumerate(keys):
        try:
            got = emb.row(k)
        except CorruptFileError:
            errors += 1
            continue
        except KeyNotFound:
            raise AssertionError(f"key {k!r} silently missing from a damaged index") from None
        assert got == r
    return errors


@pytest.mark.parametrize("int_keys", [False, True])
@pytest.mark.parametrize("damage", ["out_of_range", "empty", "other_row", "negative", "zero_all"])
def test_damaged_key_index(tmp_path, int_keys, damage):
    """A damaged index gives CorruptFileError or the right row: never a wrong row, a silent
    KeyNotFound, or a crash."""
    p = tmp_path / "m.ov"
    emb = make_model(p, int_keys=int_keys)
    keys = list(emb)
    a, b = tensor_span(p, "embeddings.key_index")
    index = np.frombuffer(p.read_bytes()[a:b], np.int64).copy()
    used = np.flatnonzero(index >= 0)
    if damage == "out_of_range":
        index[used[::3]] = 10**12
    elif damage == "empty":
        index[used[::3]] = -1
    elif damage == "other_row":
        hit = used[::3][: len(used[1::3])]
        index[hit] = index[used[1::3]][: len(hit)]
    elif damage == "negative":
        index[used[::5]] = -77
    else:
        index[:] = 0
    with open(p, "r+b") as fh:
        fh.seek(a)
        fh.write(index.tobytes())
    damaged = omnivec.open(p)
    assert _lookups_are_right_or_corrupt(damaged, keys) > 0
    with pytest.raises(CorruptFileError):
        damaged.rows(keys)
    probs = store_model.verify(p)
    assert any("key_index" in x for x in probs)


def test_damaged_keys_offsets_are_caught_lazily(tmp_path):
    p = tmp_path / "m.ov"
    emb = make_model(p)
    a, b = tensor_span(p, "embeddings.keys_offsets")
    offs = np.frombuffer(p.read_bytes()[a:b], np.int64).copy()
    offs[10] = offs[30]        # non-monotonic: row 9 runs past row 10's start
    with open(p, "r+b") as fh:
        fh.seek(a)
        fh.write(offs.tobytes())
    damaged = omnivec.open(p)   # open stays O(1): it does not scan the offsets
    with pytest.raises(CorruptFileError):
        list(damaged)
    with pytest.raises(CorruptFileError):
        _lookups_are_right_or_corrupt(damaged, list(emb)) and damaged.rows(list(emb))
    assert any("decrease" in x or "CRC" in x for x in store_model.verify(p))


def reseal(path) -> None:
    """Rewrite the checksums to match the (damaged) tensors, as a buggy writer would."""
    raw = Path(path).read_bytes()
    head, start = header_of(path)
    sums = {n: f"{zlib.crc32(raw[start + e['data_offsets'][0]:start + e['data_offsets'][1]]):08x}"
            for n, e in head.items() if n != "__metadata__"}
    head["__metadata__"]["checksums"] = json.dumps(sums)
    new = json.dumps(head).encode()
    new += b" " * (-(8 + len(new)) % 64)
    Path(path).write_bytes(struct.pack("<Q", len(new)) + new + raw[start:])


def test_damaged_offsets_behind_valid_checksums_reach_no_kernel(tmp_path):
    """Offsets far out of range, with checksums that match: OOV's n-gram index build (a compiled
    kernel over the key blob) once crashed the process here; now it is a CorruptFileError."""
    import subprocess
    import sys

    p = tmp_path / "m.ov"
    make_model(p)
    a, b = tensor_span(p, "embeddings.keys_offsets")
    offs = np.frombuffer(p.read_bytes()[a:b], np.int64).copy()
    offs[5] = 10**12
    with open(p, "r+b") as fh:
        fh.seek(a)
        fh.write(offs.tobytes())
    reseal(p)
    assert any("decrease" in x for x in store_model.verify(p))
    code = ("import omnivec, sys\n"
            "emb = omnivec.open(sys.argv[1])\n"
            "try:\n    emb.vector('w1x', oov=True)\n"
            "except omnivec.CorruptFileError as e:\n    print('CorruptFileError', e)\n")
    done = subprocess.run([sys.executable, "-c", code, str(p)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "CorruptFileError" in done.stdout and "decrease" in done.stdout


def test_invalid_utf8_key_bytes(tmp_path):
    p = tmp_path / "m.ov"
    make_model(p)
    a, _ = tensor_span(p, "embeddings.keys_blob")
    poke(p, a + 2, 0xFF)    # inside key 0, 'w0é'
    emb = omnivec.open(p)
    with pytest.raises(CorruptFileError, match="UTF-8"):
        emb.key(0)
    with pytest.raises(CorruptFileError, match="UTF-8"):
        list(emb)


# -- atomic writes ---------------------------------------------------------------
class _FailingFile:
    """A write-only file wrapper that fails after `budget` bytes."""

    def __init__(self, fh, budget, exc):
        self._fh, self._budget, self._exc = fh, budget, exc

    def write(self, data):
        n = memoryview(data).nbytes
        if n > self._budget:
            self._fh.write(bytes(memoryview(data).cast("B")[: self._budget]))
            raise self._exc
        self._budget -= n
        return self._fh.write(data)

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self._fh.close()

    def __getattr__(self, name):
        return getattr(self._fh, name)


@pytest.mark.parametrize("exc", [OSError(28, "No space left on device"), KeyboardInterrupt()])
@pytest.mark.parametrize("budget", [0, 100, 5000])
@pytest.mark.parametrize("existing", [False, True])
def test_failed_write_leaves_nothing_behind(tmp_path, monkeypatch, exc, budget, existing):
    p = tmp_path / "m.ov"
    before = None
    if existing:
        make_model(p, seed=1)
        before = p.read_bytes()
    rng = np.random.default_rng(0)
    emb = omnivec.Embeddings([f"k{i}" for i in range(300)], rng.standard_normal((300, 16)))

    def failing_open(file, mode="r", *a, **k):
        fh = builtins.open(file, mode, *a, **k)
        return _FailingFile(fh, budget, exc) if "w" in mode else fh

    monkeypatch.setattr(container, "open", failing_open, raising=False)
    # a full disk is a clean error naming the file; Ctrl-C stays a KeyboardInterrupt
    with pytest.raises(FormatError if isinstance(exc, OSError) else KeyboardInterrupt):
        emb.save(p)
    monkeypatch.undo()
    assert sorted(os.listdir(tmp_path)) == (["m.ov"] if existing else [])
    if existing:
        assert p.read_bytes() == before
        assert len(omnivec.open(p)) == 40


def test_interrupt_before_rename_leaves_nothing_behind(tmp_path, monkeypatch):
    p = tmp_path / "m.ov"
    make_model(p, seed=1)
    before = p.read_bytes()

    def interrupted(fd):
        raise KeyboardInterrupt

    monkeypatch.setattr(container.os, "fsync", interrupted)
    with pytest.raises(KeyboardInterrupt):
        make_model(p, seed=2)
    monkeypatch.undo()
    assert os.listdir(tmp_path) == ["m.ov"] and p.read_bytes() == before


def test_bad_metadata_is_refused_before_writing(tmp_path):
    p = tmp_path / "m.ov"
    emb = omnivec.Embeddings(["a", "b"], np.eye(2), meta={"when": object()})
    with pytest.raises(InputError, match="plain JSON"):
        emb.save(p)
    with pytest.raises(InputError, match="'.'"):
        omnivec.save(p, {"a.b": emb})
    with pytest.raises(InputError):
        omnivec.save(p, {})
    assert os.listdir(tmp_path) == []


def test_write_into_missing_folder(tmp_path):
    emb = omnivec.Embeddings(["a"], np.ones((1, 2)))
    with pytest.raises(FormatError, match="does not exist"):
        emb.save(tmp_path / "no" / "m.ov")


def test_overwrite_while_open_keeps_the_old_view(tmp_path):
    p = tmp_path / "m.ov"
    old = make_model(p, seed=1)
    opened = omnivec.open(p)
    make_model(p, seed=2)   # replaced by rename: the open memory map still sees the old bytes
    np.testing.assert_array_equal(opened["w3é"], old["w3é"])
    assert not np.array_equal(omnivec.open(p)["w3é"], old["w3é"])


# -- layout rules -------------------------------------------------------------
@pytest.mark.parametrize("storage", ["float32", "float16", "int8", "binary"])
def test_tensors_are_aligned(tmp_path, storage):
    p = tmp_path / "m.ov"
    make_model(p, storage=storage, n=13, dim=5)
    head, start = header_of(p)
    assert start % 64 == 0
    sizes = {"F32": 4, "F16": 2, "I64": 8, "I8": 1, "U8": 1}
    for name, ent in head.items():
        if name != "__metadata__":
            assert (start + ent["data_offsets"][0]) % sizes[ent["dtype"]] == 0, name


def test_multi_table_round_trip(tmp_path):
    rng = np.random.default_rng(5)
    ent = omnivec.Embeddings(["paris", "france", "tokyo"], rng.standard_normal((3, 4)), name="entities")
    rel = omnivec.Embeddings(["capital_of"], rng.standard_normal((1, 4)), name="relations", metric="dot")
    p = tmp_path / "kg.ov"
    omnivec.save(p, {"entities": ent, "relations": rel})
    b = omnivec.open(p)
    assert sorted(b.tables) == ["entities", "relations"]
    assert b.table("relations").metric == "dot"
    np.testing.assert_array_equal(b.table("entities")["tokyo"], ent["tokyo"])
    with pytest.raises(KeyNotFound, match="entities, relations"):
        b["paris"]                  # a Model maps table names, not keys
    with pytest.raises(KeyNotFound, match="its tables are"):
        b.table("nodes")
    assert store_model.verify(p) == []


# -- an independent reader, from docs/format.md alone ---------------------------
def _home(key_bytes: bytes, cap: int) -> int:
    return zlib.crc32(key_bytes) & (cap - 1)


def spec_reader(path):
    """Read every table with struct/json/zlib and numpy.frombuffer only, as docs/format.md says."""
    raw = Path(path).read_bytes()
    (hlen,) = struct.unpack("<Q", raw[:8])
    head = json.loads(raw[8:8 + hlen])
    meta = head.pop("__metadata__")
    assert meta["format"] == "omnivec"
    om = json.loads(meta["omnivec"])
    sums = json.loads(meta["checksums"])
    dt = {"F32": "<f4", "F16": "<f2", "I64": "<i8", "I8": "i1", "U8": "u1"}
    arrays = {}
    for name, ent in head.items():
        a, b = ent["data_offsets"]
        body = raw[8 + hlen + a:8 + hlen + b]
        assert f"{zlib.crc32(body):08x}" == sums[name]
        arrays[name] = np.frombuffer(body, dt[ent["dtype"]]).reshape(ent["shape"])
    out = {}
    for t, tm in om["tables"].items():
        x = {k[len(t) + 1:]: v for k, v in arrays.items() if k.startswith(t + ".")}
        v, d = x["vectors"], tm["dim"]
        if "rerank" in x:       # a full-precision copy beside int8/binary codes: the precise value
            vec = x["rerank"].astype(np.float32)
        elif tm["storage"] == "float32":
            vec = v.astype(np.float32)
        elif tm["storage"] == "float16":
            vec = v.astype(np.float32)
        elif tm["storage"] == "int8":
            vec = v.astype(np.float32) * x["scale"]
        else:
            bits = np.array([[(row[j // 8] >> (7 - j % 8)) & 1 for j in range(d)] for row in v], np.float32)
            vec = (2 * bits - 1) * x["scale"]
        index, cap = x["key_index"], len(x["key_index"])
        if tm["key_kind"] == "str":
            blob, offs = x["keys_blob"].tobytes(), x["keys_offsets"]
            keys = [blob[offs[i]:offs[i + 1]].decode("utf-8") for i in range(tm["n"])]
            kbytes = [k.encode("utf-8") for k in keys]

            def find(k, _kb=kbytes):
                q = k.encode("utf-8")
                i = _home(q, cap)
                while index[i] != -1:
                    if _kb[index[i]] == q:
                        return int(index[i])
                    i = (i + 1) & (cap - 1)
                return -1
        else:
            keys = [int(i) for i in x["keys_ids"]]

            def find(k, _ids=x["keys_ids"]):
                i = _home(struct.pack("<q", k), cap)
                while index[i] != -1:
                    if _ids[index[i]] == k:
                        return int(index[i])
                    i = (i + 1) & (cap - 1)
                return -1
        assert cap >= 8 and cap & (cap - 1) == 0 and cap >= 2 * tm["n"]
        out[t] = dict(keys=keys, vectors=vec, find=find, meta=tm, arrays=x)
    return out


@pytest.mark.parametrize("storage", ["float32", "float16", "int8", "binary", "int8+rerank",
                                     "binary+rerank"])
@pytest.mark.parametrize("int_keys", [False, True])
def test_spec_reader_agrees(tmp_path, storage, int_keys):
    p = tmp_path / "m.ov"
    if storage.endswith("+rerank"):
        make_model(p, n=30, dim=11, int_keys=int_keys)
        emb = omnivec.open(p).astype(storage.split("+")[0], rerank="float16")
        emb.save(p)
        assert "embeddings.rerank" in header_of(p)[0]
    else:
        emb = make_model(p, storage=storage, n=30, dim=11, int_keys=int_keys)
    t = spec_reader(p)["embeddings"]
    assert t["keys"] == list(emb)
    np.testing.assert_allclose(t["vectors"], emb.vectors, rtol=1e-6, atol=1e-7)
    for r, k in enumerate(t["keys"]):
        assert t["find"](k) == r
    missing = "absent" if not int_keys else 10**15
    assert t["find"](missing) == -1
    np.testing.assert_allclose(t["arrays"]["norms"], np.linalg.norm(t["vectors"], axis=1), rtol=1e-5)
    np.testing.assert_array_equal(t["arrays"]["counts"], emb.counts)
    assert t["meta"]["meta"]["learner"] == "test" and t["meta"]["metric"] == "cosine"


def test_spec_reader_subwords_and_extras(tmp_path):
    rng = np.random.default_rng(2)
    sw = Subwords(minn=3, maxn=5, bucket=10, vectors=rng.standard_normal((10, 4)).astype(np.float32))
    emb = omnivec.Embeddings(["ab", "cd"], rng.standard_normal((2, 4)), subwords=sw)
    emb.extras["bias"] = np.array([0.5, -1.0], np.float32)
    p = tmp_path / "m.ov"
    emb.save(p)
    t = spec_reader(p)["embeddings"]
    assert t["meta"]["subwords"]["minn"] == 3 and t["meta"]["extras"] == ["bias"]
    np.testing.assert_array_equal(t["arrays"]["subword_vectors"], sw.vectors)
    np.testing.assert_array_equal(t["arrays"]["x.bias"], emb.extras["bias"])


JS_READER = r"""
// Reads an omnivec model file using nothing but docs/format.md and node's standard library.
const fs = require("fs"), zlib = require("zlib");
const buf = fs.readFileSync(process.argv[2]);
const hlen = Number(buf.readBigUInt64LE(0));
const head = JSON.parse(buf.subarray(8, 8 + hlen).toString("utf8"));
const start = 8 + hlen, meta = head.__metadata__;
if (meta.format !== "omnivec") throw new Error("not an omnivec model");
const model = JSON.parse(meta.omnivec), sums = JSON.parse(meta.checksums);
const size = {F64: 8, F32: 4, F16: 2, I64: 8, I32: 4, I16: 2, I8: 1, U8: 1};
function tensor(name) {
  const e = head[name];
  const [a, b] = e.data_offsets, bytes = buf.subarray(start + a, start + b);
  const crc = (zlib.crc32(bytes) >>> 0).toString(16).padStart(8, "0");
  if (crc !== sums[name]) throw new Error("checksum " + name);
  const at = (i) => start + a + i * size[e.dtype];
  const get = {F32: (i) => buf.readFloatLE(at(i)), I8: (i) => buf.readInt8(at(i)),
               U8: (i) => buf.readUInt8(at(i)), I64: (i) => buf.readBigInt64LE(at(i)),
               F16: (i) => half(buf.readUInt16LE(at(i)))}[e.dtype];
  return {shape: e.shape, get, bytes};
}
function half(h) {
  const s = h & 0x8000 ? -1 : 1, ex = (h >> 10) & 31, f = h & 1023;
  if (ex === 0) return s * f * 2 ** -24;
  if (ex === 31) return f ? NaN : s * Infinity;
  return s * (1 + f / 1024) * 2 ** (ex - 15);
}
const out = {};
for (const [t, tm] of Object.entries(model.tables)) {
  const n = tm.n, d = tm.dim, v = tensor(t + ".vectors"), index = tensor(t + ".key_index");
  const scale = tm.storage === "int8" || tm.storage === "binary" ? tensor(t + ".scale") : null;
  const C = index.shape[0];
  let keyBytes, keyOf;
  if (tm.key_kind === "str") {
    const blob = tensor(t + ".keys_blob").bytes, off = tensor(t + ".keys_offsets");
    keyBytes = (r) => blob.subarray(Number(off.get(r)), Number(off.get(r + 1)));
    keyOf = (r) => keyBytes(r).toString("utf8");
  } else {
    const ids = tensor(t + ".keys_ids");
    keyBytes = (r) => { const b = Buffer.alloc(8); b.writeBigInt64LE(ids.get(r)); return b; };
    keyOf = (r) => ids.get(r).toString();
  }
  const keys = [], vectors = [], found = [];
  for (let r = 0; r < n; r++) {
    keys.push(keyOf(r));
    const row = [];
    for (let j = 0; j < d; j++) {
      if (tm.storage === "binary") {
        const bit = (v.get(r * Math.ceil(d / 8) + (j >> 3)) >> (7 - (j & 7))) & 1;
        row.push((2 * bit - 1) * scale.get(j));
      } else if (tm.storage === "int8") row.push(v.get(r * d + j) * scale.get(j));
      else row.push(v.get(r * d + j));
    }
    vectors.push(row);
    // lookup through the index: home slot CRC-32 & (C - 1), then linear probing
    const q = keyBytes(r);
    let i = (zlib.crc32(q) >>> 0) & (C - 1), hit = -1;
    for (let step = 0; step < C; step++, i = (i + 1) & (C - 1)) {
      const s = Number(index.get(i));
      if (s === -1) break;
      if (Buffer.compare(keyBytes(s), q) === 0) { hit = s; break; }
    }
    found.push(hit);
  }
  out[t] = {keys, vectors, found, metric: tm.metric, storage: tm.storage};
}
console.log(JSON.stringify(out));
"""


@pytest.mark.parametrize("storage", ["float32", "float16", "int8", "binary"])
@pytest.mark.parametrize("int_keys", [False, True])
def test_another_language_reads_the_file(tmp_path, storage, int_keys):
    """A JavaScript reader written from docs/format.md alone (node's standard library only)
    gets the same keys, vectors and key-index lookups as omnivec."""
    import shutil
    import subprocess

    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed")
    p = tmp_path / "m.ov"
    emb = make_model(p, storage=storage, n=25, dim=10, int_keys=int_keys)
    js = tmp_path / "read.js"
    js.write_text(JS_READER)
    done = subprocess.run([node, str(js), str(p)], capture_output=True, text=True, timeout=60)
    if "zlib.crc32 is not a function" in done.stderr:
        pytest.skip("this node has no zlib.crc32 (added in node 20.15)")
    assert done.returncode == 0, done.stderr
    t = json.loads(done.stdout)["embeddings"]
    assert t["keys"] == [str(k) for k in emb]
    assert t["found"] == list(range(25))
    np.testing.assert_allclose(np.array(t["vectors"]), emb.vectors, rtol=1e-6, atol=1e-7)
    assert (t["metric"], t["storage"]) == ("cosine", storage)


def example_file(path) -> None:
    """The tiny file of docs/format.md's worked example (fixed inputs, fixed 'created')."""
    emb = omnivec.Embeddings(["cat", "dog", "é"],
                             np.array([[1, 0], [0.5, 0.5], [-1, 2]], np.float32),
                             counts=[5, 3, 1], meta={"created": "2026-01-01T00:00:00+00:00"})
    emb.save(path, storage="int8")


def hexdump(data: bytes, base: int = 0, width: int = 16) -> str:
    lines = []
    for i in range(0, len(data), width):
        chunk = data[i:i + width]
        text = "".join(chr(c) if 32 <= c < 127 else "." for c in chunk)
        lines.append(f"{base + i:08x}  {chunk.hex(' '):<{3 * width - 1}}  {text}")
    return "\n".join(lines)


def test_worked_example_in_format_doc_is_current(tmp_path):
    """docs/format.md shows this file's header and bytes; they must match what omnivec writes."""
    if not DOC.exists():
        pytest.skip("docs/format.md is not in this checkout")
    p = tmp_path / "tiny.ov"
    example_file(p)
    raw = p.read_bytes()
    head, start = header_of(p)
    doc = DOC.read_text("utf-8")
    blocks = re.findall(r"```text\n(.*?)```", doc, flags=re.S)
    dumps = [b for b in blocks if re.match(r"[0-9a-f]{8}  ", b)]
    assert len(dumps) == 2, "format.md should show two hex dumps: the first bytes and the tensors"
    assert dumps[0].strip() == hexdump(raw[:64]).strip()
    assert dumps[1].strip() == hexdump(raw[start:], base=start).strip()
    jsons = re.findall(r"```json\n(.*?)```", doc, flags=re.S)
    assert json.loads(jsons[0]) == head
    assert json.loads(jsons[1]) == json.loads(head["__metadata__"]["omnivec"])
    t = spec_reader(p)["embeddings"]
    assert t["keys"] == ["cat", "dog", "é"]
    # The prose reading the bytes back quotes these values.
    emb = omnivec.open(p)
    assert f"`{emb.keys.index.tolist()}`" in doc
    assert ", ".join(f"{x:.5f}".rstrip("0").rstrip(".") if x != 1 else "1.0" for x in emb.norms) in doc
    assert f"{emb.store.scale[1] * 127:.4f}/127" in doc
    assert f"({emb.vectors[1, 0]:.5f}, {emb.vectors[1, 1]:.5f})" in doc


def test_opening_and_looking_up_keys_starts_no_compiler(tmp_path):
    """`import omnivec`, the CLI's startup, opening a model and key lookups never import numba:
    its start-up (about a third of a second) waits for the first compiled kernel a call needs."""
    import subprocess
    import sys

    p = tmp_path / "m.ov"
    make_model(p)
    code = ("import sys, omnivec, omnivec.cli\n"
            "for stage in omnivec.cli.STAGES:\n    __import__('omnivec.cli.' + stage)\n"
            "emb = omnivec.open(sys.argv[1])\n"
            "key = emb.key(3)\n"
            "assert emb.row(key) == 3 and emb[key].shape == (emb.dim,) and key in emb\n"
            "print('numba' in sys.modules)\n")
    done = subprocess.run([sys.executable, "-c", code, str(p)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["False"]
