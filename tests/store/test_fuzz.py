"""Fuzz the model-file reader: whatever the bytes, opening and querying a file gives
an OmnivecError or a working model, never another exception and never a crash."""

from __future__ import annotations

import json
import struct
import warnings
import zlib

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import omnivec
from omnivec.errors import OmnivecError
from omnivec.store import model as store_model
from omnivec.core.subwords import Subwords

FUZZ = settings(max_examples=400, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow, HealthCheck.data_too_large])


def _tables() -> dict[str, dict[str, omnivec.Embeddings]]:
    rng = np.random.default_rng(7)
    words = ["king", "queen", "Straße", "naïve", "東京", "", "a b", "x"]
    v = rng.standard_normal((len(words), 6)).astype(np.float32)
    plain = omnivec.Embeddings(words, v, counts=np.arange(len(words)) + 1, meta={"src": "fuzz"})
    plain.extras["freq"] = np.linspace(0, 1, len(words)).astype(np.float32)
    ints = omnivec.Embeddings(np.array([3, -1, 2**40, 7, 0], np.int64),
                              rng.standard_normal((5, 5)).astype(np.float32), metric="dot")
    sub = omnivec.Embeddings(words[:4], v[:4], metric="euclidean",
                             subwords=Subwords(minn=2, maxn=3, bucket=4,
                                               vectors=rng.standard_normal((4, 6)).astype(np.float32)))
    from omnivec.core.oov import prepare_oov

    return {
        "float32": {"words": plain},
        "oov-index": {"o": prepare_oov(omnivec.Embeddings(words[:6], v[:6]))},
        "int8": {"words": plain.astype("int8")},
        "binary": {"words": plain.astype("binary")},
        "int8+rerank": {"words": plain.astype("int8", rerank="float16")},
        "float16+ints": {"w": plain.astype("float16"), "ids": ints},
        "subwords": {"s": sub},
    }


@pytest.fixture(scope="module")
def valid_files(tmp_path_factory) -> dict[str, bytes]:
    folder = tmp_path_factory.mktemp("valid")
    out = {}
    for label, tables in _tables().items():
        p = folder / f"{label}.ov"
        omnivec.save(p, tables)
        out[label] = p.read_bytes()
    return out


def exercise(path) -> None:
    """Open `path` and run every read-only operation a user might; only OmnivecError may escape."""
    try:
        store_model.verify(path)
    except OmnivecError:
        pass
    opened = omnivec.open(path)
    for emb in (opened.values() if isinstance(opened, omnivec.Model) else [opened]):
        len(emb), repr(emb), emb.dim
        try:
            keys = list(emb)
        except OmnivecError:
            keys = [emb.keys.key(0)] if len(emb) else []
        for k in keys:
            k in emb  # noqa: B015 - the lookup itself is what is tested
            try:
                emb[k]
            except OmnivecError:
                pass
        for probe in ("king", "東京", "absent", 3, 2**40, -5):
            try:
                probe in emb  # noqa: B015
                emb.vector(probe)
            except OmnivecError:
                pass
        try:
            emb.rows(keys)
        except OmnivecError:
            pass
        for unknown in ("kingg", "Straß", "zz"):
            try:
                emb.vector(unknown, oov=True)
            except OmnivecError:
                pass
        if len(emb) and emb.dim:
            try:
                emb.most_similar(emb.keys.key(0), topn=3)
                emb.search(np.ones((2, emb.dim), np.float32), k=2)
                emb.similar_by_vector(np.ones(emb.dim, np.float32), topn=2)
            except OmnivecError:
                pass


def open_and_query(tmp_path, data: bytes) -> None:
    p = tmp_path / "fuzzed.ov"
    p.write_bytes(data)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)   # NaN/inf arithmetic on damaged vectors
        try:
            exercise(p)
        except OmnivecError:
            pass


@settings(FUZZ, max_examples=200)
@given(data=st.binary(max_size=600))
def test_arbitrary_bytes(tmp_path, data):
    open_and_query(tmp_path, data)


@settings(FUZZ, max_examples=120)
@given(body=st.binary(max_size=300), header=st.dictionaries(
    st.text(max_size=12), st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=8),
                                       lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=5), c, max_size=3),
                                       max_leaves=8), max_size=4))
def test_arbitrary_safetensors_headers(tmp_path, body, header):
    raw = json.dumps(header).encode()
    open_and_query(tmp_path, struct.pack("<Q", len(raw)) + raw + body)


def _data_start(blob: bytes) -> int:
    return 8 + struct.unpack("<Q", blob[:8])[0]


@st.composite
def mutations(draw, files):
    label = draw(st.sampled_from(sorted(files)))
    blob = bytearray(files[label])
    start = _data_start(blob)
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["flip", "flip_data", "flip_data", "set_data", "truncate",
                                     "insert", "delete"]))
        if not blob:
            break
        if kind in ("flip_data", "set_data") and start < len(blob):
            # Most bytes of a tiny model are header; aim at the tensors too, where the key index is.
            i = draw(st.integers(start, len(blob) - 1))
        else:
            i = draw(st.integers(0, len(blob) - 1))
        if kind in ("flip", "flip_data"):
            blob[i] ^= 1 << draw(st.integers(0, 7))
        elif kind == "set_data":
            blob[i] = draw(st.sampled_from([0x00, 0xFF, 0x7F, 0x80, 0x01]))
        elif kind == "truncate":
            del blob[i:]
        elif kind == "insert":
            blob[i:i] = draw(st.binary(min_size=1, max_size=8))
        else:
            del blob[i:i + draw(st.integers(1, 8))]
    return bytes(blob)


@st.composite
def resealed_mutations(draw, files):
    """Damage the tensors, then rewrite the checksums to match: the damage reaches every
    check behind the CRC-32s (the key-array guard, verify's index and offset checks)."""
    label = draw(st.sampled_from(sorted(files)))
    blob = bytearray(files[label])
    start = _data_start(blob)
    head = json.loads(blob[8:start])
    names = sorted(k for k in head if k != "__metadata__")
    for _ in range(draw(st.integers(1, 6))):
        name = draw(st.sampled_from(names))
        a, b = head[name]["data_offsets"]
        if a == b:
            continue
        i = start + draw(st.integers(a, b - 1))
        blob[i] = draw(st.sampled_from([0x00, 0xFF, 0x7F, 0x80, 0x01, blob[i] ^ 0x04]))
    sums = {n: f"{zlib.crc32(bytes(blob[start + head[n]['data_offsets'][0]:start + head[n]['data_offsets'][1]])):08x}"
            for n in names}
    head["__metadata__"]["checksums"] = json.dumps(sums)
    raw = json.dumps(head).encode()
    raw += b" " * (-(8 + len(raw)) % 64)
    return struct.pack("<Q", len(raw)) + raw + bytes(blob[start:])


@st.composite
def header_edits(draw, files):
    """A valid file whose omnivec header has one value replaced: the checks behind the JSON."""
    label = draw(st.sampled_from(sorted(files)))
    blob = files[label]
    start = _data_start(blob)
    head = json.loads(blob[8:start])
    meta = json.loads(head["__metadata__"]["omnivec"])
    table = draw(st.sampled_from(sorted(meta["tables"])))
    field = draw(st.sampled_from(sorted(meta["tables"][table])))
    value = draw(st.none() | st.integers(-3, 2**66) | st.sampled_from(
        ["str", "int", "int8", "binary", "cosine", "nope", [], {}, ["a"], {"minn": 9, "maxn": 2},
         {"minn": 0, "maxn": 10**9, "bucket": 4}, True, 1.5]))
    meta["tables"][table][field] = value
    if draw(st.booleans()):
        meta["format_version"] = draw(st.sampled_from([0, 1, 2, -1, "1", None, 1.0]))
    head["__metadata__"]["omnivec"] = json.dumps(meta)
    if draw(st.booleans()):
        # Move one tensor's offsets or shape: header and body then disagree.
        name = draw(st.sampled_from(sorted(k for k in head if k != "__metadata__")))
        ent = head[name]
        which = draw(st.sampled_from(["shape", "offsets", "dtype"]))
        if which == "shape":
            ent["shape"] = draw(st.lists(st.integers(0, 40), max_size=3))
        elif which == "offsets":
            ent["data_offsets"] = [draw(st.integers(0, 2000)), draw(st.integers(0, 2000))]
        else:
            ent["dtype"] = draw(st.sampled_from(["F32", "I64", "U8", "F16", "I8", "BF16", "X"]))
    raw = json.dumps(head).encode()
    raw += b" " * (-(8 + len(raw)) % 64)
    return struct.pack("<Q", len(raw)) + raw + blob[start:]


def test_valid_files_pass_the_exercise(tmp_path, valid_files):
    for label, data in valid_files.items():
        p = tmp_path / f"{label}.ov"
        p.write_bytes(data)
        exercise(p)
        assert store_model.verify(p) == [], label


def test_mutated_model_files(tmp_path, valid_files):
    @FUZZ
    @given(data=mutations(valid_files))
    def run(data):
        open_and_query(tmp_path, data)

    run()


def test_damaged_tensors_behind_valid_checksums(tmp_path, valid_files):
    @settings(FUZZ, max_examples=250)
    @given(data=resealed_mutations(valid_files))
    def run(data):
        open_and_query(tmp_path, data)

    run()


def test_edited_model_headers(tmp_path, valid_files):
    @settings(FUZZ, max_examples=250)
    @given(data=header_edits(valid_files))
    def run(data):
        open_and_query(tmp_path, data)

    run()
