"""Re-ranking a first stage with a pair scorer; the cross-encoder wrapper stays offline."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from omnivec.errors import InputError, MissingDependencyError
from omnivec.search import BM25, CrossEncoderReranker, rerank

DOCS = ["wing flow over a plate", "wing tips and wing roots", "heat transfer in a plate",
        "flow separation on a wing", "supersonic flow"]


def overlap(pairs):
    """A plain scorer: how many query words the text holds (what a cross-encoder would judge)."""
    return [sum(w in t.split() for w in q.split()) + len(t) / 1000 for q, t in pairs]


def test_rerank_orders_candidates_by_the_scorer():
    idx = BM25().fit(DOCS, keys=["a", "b", "c", "d", "e"])
    queries = ["wing flow plate", "heat"]
    first = idx.search(queries, k=4)
    seen = []

    def scorer(pairs):
        seen.append(list(pairs))
        return overlap(pairs)

    out = rerank(queries, first, texts=DOCS, scorer=scorer)
    assert len(seen) == 1 and len(seen[0]) == int((first.ids >= 0).sum())   # one call, every candidate
    for q, query in enumerate(queries):
        cand = [k for k in first.keys[q]]
        want = sorted(cand, key=lambda k: -overlap([(query, DOCS["abcde".index(k)])])[0])
        assert out.keys[q] == want
        assert sorted(out.ids[q][out.ids[q] >= 0].tolist()) == sorted(first.ids[q][first.ids[q] >= 0].tolist())
    assert out.keys[0][0] == "a" and out.scores[0, 0] == pytest.approx(3 + len(DOCS[0]) / 1000)
    by_key = rerank(queries, first, texts=dict(zip("abcde", DOCS)), scorer=overlap, k=2)
    assert by_key.keys == [out.keys[0][:2], out.keys[1][:2]] and by_key.ids.shape[1] == 2


def test_equal_scores_keep_the_first_stage_order():
    idx = BM25().fit(DOCS)
    first = idx.search("wing flow", k=4)
    out = rerank("wing flow", first, texts=DOCS, scorer=lambda pairs: [1.0] * len(pairs))
    assert out.ids.tolist() == first.ids.tolist()


def test_bad_input_is_named():
    idx = BM25().fit(DOCS)
    first = idx.search(["wing", "flow"], k=3)
    with pytest.raises(InputError, match="1 queries for results of 2 queries"):
        rerank(["wing"], first, texts=DOCS, scorer=overlap)
    with pytest.raises(InputError, match="returned 1 scores for 6 pairs"):
        rerank(["wing", "flow"], first, texts=DOCS, scorer=lambda p: [1.0])
    with pytest.raises(InputError, match="must be finite"):
        rerank(["wing", "flow"], first, texts=DOCS, scorer=lambda p: [np.nan] * len(p))
    with pytest.raises(InputError, match="no text for document"):
        rerank(["wing", "flow"], first, texts={}, scorer=overlap)
    with pytest.raises(InputError, match="outside texts"):
        rerank(["wing", "flow"], first, texts=DOCS[:1], scorer=overlap)
    with pytest.raises(InputError, match="scorer must be a callable"):
        rerank(["wing", "flow"], first, texts=DOCS, scorer="cross-encoder")
    with pytest.raises(InputError, match="k must be an int >= 1"):
        rerank(["wing", "flow"], first, texts=DOCS, scorer=overlap, k=0)


def test_cross_encoder_without_sentence_transformers(monkeypatch):
    monkeypatch.setitem(sys.modules, "sentence_transformers", None)
    with pytest.raises(MissingDependencyError, match="pip install"):
        CrossEncoderReranker("some/model")


class _FakeST:
    """Stands in for sentence_transformers: its CrossEncoder fails as the hub does offline."""

    calls: list = []

    class CrossEncoder:
        def __init__(self, name, **kwargs):
            _FakeST.calls.append((name, kwargs))
            if name == "local/model":
                self.predict = lambda pairs, **kw: np.array([[0.1, len(q) + len(t)] for q, t in pairs])
                return
            raise OSError(f"We couldn't connect to 'https://huggingface.co' to load the files of {name},\n"
                          f"and couldn't find them in the cached files.\nCheck your connection.")


def test_cross_encoder_loads_only_local_files_and_fails_in_one_line(monkeypatch):
    monkeypatch.setitem(sys.modules, "sentence_transformers", _FakeST)
    _FakeST.calls.clear()
    with pytest.raises(InputError, match="'no-such/model' is not available offline") as err:
        CrossEncoderReranker("no-such/model")
    assert "\n" not in str(err.value) and "couldn't connect" in str(err.value)
    assert _FakeST.calls[0][1]["local_files_only"] is True and _FakeST.calls[0][1]["device"] == "cpu"
    ce = CrossEncoderReranker("local/model", batch_size=4)
    assert ce([("ab", "cde"), ("a", "b")]).tolist() == [5.0, 2.0]       # the last label's score
    idx = BM25().fit(DOCS)
    out = rerank("wing", idx.search("wing", k=3), texts=DOCS, scorer=ce)
    assert out.keys[0][0] == int(np.argmax([len(d) if "wing" in d.split() else -1 for d in DOCS]))
    with pytest.raises(InputError, match="batch_size"):
        CrossEncoderReranker("x", batch_size=0)
