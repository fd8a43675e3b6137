"""Filters: condition parsing, masks over index ids, clear errors for bad filters."""

from __future__ import annotations

import numpy as np
import pytest

import omnivec
from omnivec.errors import InputError, KeyNotFound, UnknownNameError
from omnivec.search import Condition, Filter, build_index
from omnivec.search.filters import as_filter


@pytest.fixture(scope="module")
def idx(glove_arrays):
    keys, vecs = glove_arrays
    emb = omnivec.Embeddings(keys[:200], vecs[:200], counts=np.arange(200) % 10, name="words")
    emb.extras["score"] = np.linspace(0, 1, 200).astype(np.float32)
    emb.extras["matrix"] = np.zeros((200, 2), np.float32)
    return build_index(emb, "flat")


@pytest.mark.parametrize("text,expect", [
    ("counts >= 5", ("counts", ">=", 5.0)), ("counts=3", ("counts", "==", 3.0)),
    ("score < .5", ("score", "<", 0.5)), ("row != -1e2", ("row", "!=", -100.0)),
])
def test_conditions_parse(text, expect):
    c = Condition.parse(text)
    assert (c.attribute, c.op, c.value) == expect


@pytest.mark.parametrize("text", ["counts >>= 5", "counts >= five", ">= 5", "counts", "1 < counts"])
def test_bad_conditions_say_how_to_write_one(text):
    with pytest.raises(InputError, match="counts >= 5"):
        Condition.parse(text)


def test_masks_combine_every_part(idx):
    emb = idx.emb
    f = Filter(allow=list(emb.keys)[:100], deny=[emb.key(0)], where=["counts >= 5", ("score", "<", 0.4)])
    m = f.resolve(idx)
    want = np.zeros(200, bool)
    want[:100] = True
    want[0] = False
    want &= (emb.counts >= 5) & (emb.extras["score"] < 0.4)
    assert (m == want).all()
    assert str(f).startswith("allow 100 keys and deny 1 keys and counts >= 5")


def test_filters_never_pass_added_keys_on_attributes_but_allow_lists_do(idx, glove_arrays):
    _, vecs = glove_arrays
    idx2 = build_index(idx.emb, "flat")
    idx2.add(["zz-added"], vecs[300])
    assert not Filter(where="counts >= 0").resolve(idx2)[-1]
    assert Filter(allow=["zz-added"]).resolve(idx2)[-1]
    hits = idx2.search(vecs[300], 3, filter=Filter(allow=["zz-added", idx.emb.key(1)]))
    assert hits.keys[0][0] == "zz-added" and hits.ids.shape == (1, 2)


def test_bad_filters_get_clear_errors(idx):
    with pytest.raises(UnknownNameError, match="valid names are: row, counts, score"):
        Filter(where="size > 3").resolve(idx)
    with pytest.raises(KeyNotFound, match="'nope'.*missing='ignore'"):
        Filter(allow=["nope"]).resolve(idx)
    assert not Filter(allow=["nope"], missing="ignore").resolve(idx).any()
    with pytest.raises(InputError, match="boolean array of 200"):
        Filter(mask=np.ones(7, bool)).resolve(idx)
    with pytest.raises(InputError, match="unknown comparison"):
        Filter(where=[("counts", "~", 3)])
    with pytest.raises(InputError, match="a filter is"):
        as_filter(42)
    with pytest.raises(InputError, match="fields are allow"):
        as_filter({"colour": "red"})
