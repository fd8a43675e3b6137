"""A file damaged at rest (same size, same header) never answers a search from damaged vectors."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np
import pytest

import omnivec
from omnivec.errors import CorruptFileError

DATA = Path(__file__).resolve().parents[1] / "data" / "glove6b50d_top2100.npz"


def _glove() -> omnivec.Embeddings:
    with np.load(DATA) as z:
        return omnivec.Embeddings(z["keys"].tolist(), z["vectors"].astype(np.float32))


def _flip_in(path: Path, tensor: str, at: float = 0.5) -> None:
    raw = bytearray(path.read_bytes())
    (hlen,) = struct.unpack("<Q", raw[:8])
    a, b = json.loads(raw[8:8 + hlen])[tensor]["data_offsets"]
    pos = 8 + hlen + a + int((b - a) * at)
    raw[pos] ^= 0x40
    path.write_bytes(bytes(raw))


@pytest.mark.parametrize("storage, tensor", [("float32", "embeddings.vectors"), ("int8", "embeddings.vectors"),
                                             ("int8", "embeddings.rerank"), ("float32", "embeddings.norms")])
def test_the_first_search_checks_the_stored_vectors(tmp_path, storage, tensor):
    emb = _glove()
    if storage == "int8":
        emb = emb.astype("int8", rerank="float16")
    p = tmp_path / "m.ov"
    emb.save(p)
    _flip_in(p, tensor)
    opened = omnivec.open(p)                         # opening reads the header only: no error yet
    assert opened["king"].shape == (50,)             # nor does a lookup of one row
    for _ in range(2):                               # and every later search raises too
        with pytest.raises(CorruptFileError, match="CRC-32") as ei:
            opened.most_similar("king")
        assert str(p) in str(ei.value)
    assert not omnivec.verify(p)["ok"]


def test_a_sound_file_is_checked_once_and_answers(tmp_path):
    p = tmp_path / "m.ov"
    _glove().save(p)
    opened = omnivec.open(p)
    assert opened.store.checksums is not None
    first = opened.most_similar("king", topn=5)
    assert opened.store.checksums is None            # checked, then never again
    assert first == _glove().most_similar("king", topn=5)
    assert first[0][0] == "queen" or first[0][1] <= 1.0 + 1e-6


def test_tables_over_the_size_limit_are_left_to_verify(tmp_path, monkeypatch):
    from omnivec.store import model as store_model

    p = tmp_path / "m.ov"
    _glove().save(p)
    _flip_in(p, "embeddings.vectors")
    monkeypatch.setattr(store_model, "SCAN_CHECK_BYTES", 1000)
    opened = omnivec.open(p)
    assert opened.store.checksums is None
    opened.most_similar("king")                      # answers: the check is verify's for big tables
    assert not omnivec.verify(p)["ok"]
