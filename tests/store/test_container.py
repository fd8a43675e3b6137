"""The safetensors container: round trips, alignment, checksums, interoperability with the
safetensors library, header validation and atomic writes."""

from __future__ import annotations

import json
import os
import struct
import zlib

import numpy as np
import pytest

from omnivec.errors import CorruptFileError, FormatError, InputError
from omnivec.store import container


def arrays() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    return {
        "f64": rng.standard_normal(3),
        "f32": rng.standard_normal((4, 5)).astype(np.float32),
        "f16": rng.standard_normal((3, 3)).astype(np.float16),
        "i64": np.array([-(2**62), 0, 2**62], np.int64),
        "i32": np.arange(7, dtype=np.int32),
        "i16": np.arange(-3, 2, dtype=np.int16),
        "i8": np.array([-128, 0, 127], np.int8),
        "u8": np.frombuffer(b"bytes", np.uint8),
        "u16": np.array([65535], np.uint16),
        "u32": np.array([2**32 - 1], np.uint32),
        "u64": np.array([2**64 - 1], np.uint64),
        "bool": np.array([True, False, True]),
        "scalar": np.array(2.5, np.float32),
        "empty": np.zeros((0, 4), np.float32),
        "cube": np.arange(24, dtype=np.int16).reshape(2, 3, 4),
    }


def test_round_trip_every_dtype(tmp_path):
    p = tmp_path / "c.safetensors"
    src = arrays()
    sums = container.write(p, src, {"note": "hello"})
    c = container.read(p)
    assert c.metadata["note"] == "hello"
    assert json.loads(c.metadata["checksums"]) == sums
    assert set(c.tensors) == set(src)
    for name, arr in src.items():
        got = c.tensors[name]
        assert got.dtype == arr.dtype and got.shape == arr.shape, name
        np.testing.assert_array_equal(got, arr)
        assert not got.flags.writeable
    assert container.verify_checksums(c) == []


def test_layout_is_aligned_and_contiguous(tmp_path):
    p = tmp_path / "c.safetensors"
    container.write(p, arrays(), {})
    raw = p.read_bytes()
    (hlen,) = struct.unpack("<Q", raw[:8])
    start = 8 + hlen
    assert start % 64 == 0
    head = json.loads(raw[8:start])
    head.pop("__metadata__")
    spans = sorted(e["data_offsets"] for e in head.values())
    assert spans[0][0] == 0 and spans[-1][1] == len(raw) - start
    assert all(a[1] == b[0] for a, b in zip(spans, spans[1:])), "gaps or overlaps"
    sizes = {"F64": 8, "I64": 8, "U64": 8, "F32": 4, "I32": 4, "U32": 4, "F16": 2, "I16": 2,
             "U16": 2, "I8": 1, "U8": 1, "BOOL": 1}
    for name, e in head.items():
        assert (start + e["data_offsets"][0]) % sizes[e["dtype"]] == 0, name
    sums = json.loads(json.loads(raw[8:start])["__metadata__"]["checksums"])
    for name, e in head.items():
        a, b = e["data_offsets"]
        assert sums[name] == f"{zlib.crc32(raw[start + a:start + b]):08x}"


def test_crc32_of_large_and_strided_arrays(monkeypatch):
    monkeypatch.setattr(container, "COPY_BLOCK", 1000)     # many blocks, small array
    big = np.arange(3 * container.COPY_BLOCK // 8 + 5, dtype=np.int64)
    assert container.crc32(big) == f"{zlib.crc32(big.tobytes()):08x}"
    strided = np.arange(20, dtype=np.float32).reshape(4, 5)[:, ::2]
    assert container.crc32(strided) == f"{zlib.crc32(np.ascontiguousarray(strided).tobytes()):08x}"


def test_safetensors_library_interoperates(tmp_path):
    st = pytest.importorskip("safetensors.numpy")
    ours = tmp_path / "ours.safetensors"
    src = {k: v for k, v in arrays().items() if k not in ("scalar", "empty")}
    container.write(ours, src, {"k": "v"})
    loaded = st.load_file(str(ours))
    for name, arr in src.items():
        np.testing.assert_array_equal(loaded[name], arr)
    theirs = tmp_path / "theirs.safetensors"
    st.save_file({"w": np.ones((3, 2), np.float32), "ids": np.arange(5, dtype=np.int64)}, str(theirs),
                 metadata={"format": "np"})
    c = container.read(theirs)
    np.testing.assert_array_equal(c.tensors["w"], np.ones((3, 2)))
    np.testing.assert_array_equal(c.tensors["ids"], np.arange(5))
    assert c.metadata == {"format": "np"}
    assert sorted(container.verify_checksums(c)) == ["tensor 'ids' has no checksum",
                                                     "tensor 'w' has no checksum"]


def _write_raw(path, header: dict | bytes, body: bytes = b"") -> None:
    raw = header if isinstance(header, bytes) else json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(raw)) + raw + body)


def test_unaligned_tensors_are_readable(tmp_path):
    p = tmp_path / "odd.safetensors"
    body = b"\x07" + np.arange(3, dtype=np.int64).tobytes()
    _write_raw(p, {"b": {"dtype": "U8", "shape": [1], "data_offsets": [0, 1]},
                   "a": {"dtype": "I64", "shape": [3], "data_offsets": [1, 25]}}, body)
    np.testing.assert_array_equal(container.read(p).tensors["a"], [0, 1, 2])


@pytest.mark.parametrize("entries, body, message", [
    ({"a": {"dtype": "U8", "shape": [4], "data_offsets": [0, 4]},
      "b": {"dtype": "U8", "shape": [4], "data_offsets": [2, 6]}}, bytes(6), "overlap"),
    ({"a": {"dtype": "U8", "shape": [4], "data_offsets": [0, 4]},
      "b": {"dtype": "U8", "shape": [2], "data_offsets": [6, 8]}}, bytes(8), "2 bytes before tensor 'b'"),
    ({"a": {"dtype": "U8", "shape": [4], "data_offsets": [0, 4]}}, bytes(4004), "4000 bytes after the last"),
])
def test_every_data_byte_belongs_to_exactly_one_tensor(tmp_path, entries, body, message):
    p = tmp_path / "bad.safetensors"
    _write_raw(p, entries, body)
    with pytest.raises(CorruptFileError, match=message):
        container.read(p)


def test_a_header_with_more_tensors_than_a_model_holds_is_refused_quickly(tmp_path):
    p = tmp_path / "many.safetensors"
    n = container.MAX_TENSORS + 1
    _write_raw(p, {f"t{i}": {"dtype": "U8", "shape": [0], "data_offsets": [0, 0]} for i in range(n)}, b"")
    with pytest.raises(FormatError, match=f"{n} tensors"):
        container.read(p)


def test_foreign_dtypes_are_checked_but_not_mapped(tmp_path):
    p = tmp_path / "bf16.safetensors"
    _write_raw(p, {"w": {"dtype": "BF16", "shape": [2, 2], "data_offsets": [0, 8]},
                   "x": {"dtype": "F32", "shape": [1], "data_offsets": [8, 12]}}, bytes(12))
    c = container.read(p)
    assert "w" in c.entries and "w" not in c.tensors and c.raw("w").nbytes == 8
    np.testing.assert_array_equal(c.tensors["x"], [0.0])


@pytest.mark.parametrize("entry, message", [
    ({"dtype": "Q7", "shape": [1], "data_offsets": [0, 4]}, "unknown dtype"),
    ({"dtype": "F32", "shape": [-1], "data_offsets": [0, 4]}, "non-negative"),
    ({"dtype": "F32", "shape": "4", "data_offsets": [0, 4]}, "shape"),
    ({"dtype": "F32", "shape": [1.0], "data_offsets": [0, 4]}, "shape"),
    ({"dtype": "F32", "shape": [True], "data_offsets": [0, 4]}, "shape"),
    ({"dtype": "F32", "shape": [1] * 40, "data_offsets": [0, 4]}, "at most"),
    ({"dtype": "F32", "shape": [0, 2**62], "data_offsets": [0, 0]}, "too large"),
    ({"dtype": "F32", "shape": [1], "data_offsets": [4, 0]}, "data_offsets"),
    ({"dtype": "F32", "shape": [1], "data_offsets": [0]}, "data_offsets"),
    ({"dtype": "F32", "shape": [1], "data_offsets": [-4, 0]}, "data_offsets"),
    ({"dtype": "F32", "shape": [2], "data_offsets": [0, 4]}, "needs 8 bytes"),
    ({"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}, "truncated"),
    ({"dtype": "F32", "shape": [1]}, "must hold"),
    ({"dtype": "F32", "shape": [1], "data_offsets": [0, 4], "extra": 1}, "must hold"),
    ([1, 2], "must hold"),
])
def test_bad_tensor_entries(tmp_path, entry, message):
    p = tmp_path / "bad.safetensors"
    _write_raw(p, {"t": entry}, bytes(8))
    with pytest.raises(FormatError, match=message) as ei:
        container.read(p)
    assert str(p) in str(ei.value) and ei.value.offset is not None


@pytest.mark.parametrize("header, message", [
    (b"[1, 2]", "not a JSON object"),
    (b"{\"a\": NaN}", "JSON"),
    (b"\xff\xfe{}", "UTF-8"),
    (b"{\"__metadata__\": {\"a\": 1}}", "strings to strings"),
    (b"{\"__metadata__\": [\"a\"]}", "strings to strings"),
    (b"{\"a\": ", "not valid JSON"),
])
def test_bad_headers(tmp_path, header, message):
    p = tmp_path / "bad.safetensors"
    _write_raw(p, header)
    with pytest.raises(FormatError, match=message) as ei:
        container.read(p)
    assert ei.value.offset is not None and ei.value.offset >= 8


def test_json_error_offset_points_into_the_header(tmp_path):
    p = tmp_path / "bad.safetensors"
    _write_raw(p, '{"ünïcödé": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}, oops}'.encode(),
               bytes(4))
    with pytest.raises(FormatError) as ei:
        container.read(p)
    assert p.read_bytes()[ei.value.offset:ei.value.offset + 4] == b"oops"


def test_write_refuses_what_it_cannot_hold(tmp_path):
    p = tmp_path / "c.safetensors"
    with pytest.raises(InputError, match="complex128"):
        container.write(p, {"z": np.zeros(2, np.complex128)}, {})
    with pytest.raises(InputError, match="numpy arrays"):
        container.write(p, {"z": [1, 2]}, {})
    with pytest.raises(InputError, match="cannot hold"):
        container.write(p, {"z": np.array(["a"])}, {})
    assert os.listdir(tmp_path) == []


# -- atomic_path ---------------------------------------------------------------------------
def test_atomic_path_success_replaces(tmp_path):
    p = tmp_path / "f.bin"
    p.write_bytes(b"old")
    with container.atomic_path(p) as tmp:
        assert tmp.parent == tmp_path and tmp != p
        tmp.write_bytes(b"new")
        assert p.read_bytes() == b"old"    # not visible until the block ends
    assert p.read_bytes() == b"new" and os.listdir(tmp_path) == ["f.bin"]


@pytest.mark.parametrize("exc", [RuntimeError("boom"), KeyboardInterrupt(), SystemExit(3)])
def test_atomic_path_failure_leaves_old_file_and_no_temp(tmp_path, exc):
    p = tmp_path / "f.bin"
    p.write_bytes(b"old")
    with pytest.raises(type(exc)):
        with container.atomic_path(p) as tmp:
            tmp.write_bytes(b"half")
            raise exc
    assert p.read_bytes() == b"old" and os.listdir(tmp_path) == ["f.bin"]
    q = tmp_path / "never.bin"
    with pytest.raises(type(exc)):
        with container.atomic_path(q) as tmp:
            tmp.write_bytes(b"half")
            raise exc
    assert not q.exists() and os.listdir(tmp_path) == ["f.bin"]


def test_atomic_path_in_missing_folder(tmp_path):
    with pytest.raises(FormatError, match="does not exist"):
        with container.atomic_path(tmp_path / "nope" / "f.bin"):
            pass


def test_truncated_data_names_the_end_of_file(tmp_path):
    p = tmp_path / "c.safetensors"
    container.write(p, {"a": np.arange(100, dtype=np.int64)}, {})
    raw = p.read_bytes()
    p.write_bytes(raw[:-10])
    with pytest.raises(CorruptFileError, match="truncated") as ei:
        container.read(p)
    assert ei.value.offset == len(raw) - 10


def test_unreadable_file(tmp_path, monkeypatch):
    p = tmp_path / "locked.safetensors"
    container.write(p, {"a": np.zeros(2, np.float32)}, {})

    def denied(*a, **k):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(container, "open", denied, raising=False)
    with pytest.raises(FormatError, match="cannot open the file: Permission denied") as ei:
        container.read(p)
    assert str(p) in str(ei.value)


# -- tensors streamed as blocks ---------------------------------------------------------

def test_blocks_write_the_same_file_as_arrays(tmp_path):
    rng = np.random.default_rng(3)
    vectors = rng.standard_normal((1000, 7)).astype(np.float32)
    ids = np.arange(1000, dtype=np.int64)
    norms = np.empty(1000, np.float32)

    def chunks():
        for s in range(0, 1000, 300):   # uneven blocks; norms filled as the blocks go by
            norms[s:s + 300] = np.linalg.norm(vectors[s:s + 300], axis=1)
            yield vectors[s:s + 300]

    meta = {"format": "test"}
    sums = container.write(tmp_path / "streamed.st", {"t.vectors": container.Blocks((1000, 7), np.float32, chunks()),
                                                      "t.ids": ids, "t.norms": norms}, meta)
    whole = {"t.vectors": vectors, "t.ids": ids, "t.norms": np.linalg.norm(vectors, axis=1).astype(np.float32)}
    assert sums == container.write(tmp_path / "whole.st", whole, meta)
    assert (tmp_path / "streamed.st").read_bytes() == (tmp_path / "whole.st").read_bytes()
    assert container.verify_checksums(container.read(tmp_path / "streamed.st")) == []


def test_blocks_of_the_wrong_size_or_dtype_leave_no_file(tmp_path):
    short = container.Blocks((10, 2), np.float32, iter([np.zeros((4, 2), np.float32)]))
    with pytest.raises(FormatError, match="needs 80"):
        container.write(tmp_path / "short.st", {"x": short}, {})
    wrong = container.Blocks((4, 2), np.float32, iter([np.zeros((4, 2), np.float64)]))
    with pytest.raises(InputError, match="dtype float64"):
        container.write(tmp_path / "wrong.st", {"x": wrong}, {})
    assert list(tmp_path.iterdir()) == []
