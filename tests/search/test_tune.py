"""target_recall: search defaults tuned on the table's own rows; the defaults' recall on real vectors."""

from __future__ import annotations

import numpy as np
import pytest

from omnivec.errors import InputError
from omnivec.search import build_index, open_index
from omnivec.search.tune import measure, probe
from search_helpers import need_engine, oracle, tie_tolerant_recall


@pytest.mark.parametrize("backend, target", [("hnsw", 0.99), ("ivfpq", 0.95)])
def test_target_recall_is_reached_and_kept(glove, backend, target, tmp_path):
    need_engine(backend)
    params = {"nbits": 6} if backend == "ivfpq" else {}
    idx = build_index(glove, backend, target_recall=target, **params)
    tuned = idx.tuning
    assert tuned["target_recall"] == target and tuned["queries"] == 300 and tuned["k"] == 10
    assert tuned["recall"] >= target
    assert idx.search_params == {**idx.search_params, **tuned["search_params"]}
    # the same rows measured again through the stored defaults reach it too
    assert measure(idx)["recall"] >= target
    idx.save(tmp_path / "i")
    back = open_index(tmp_path / "i", glove)
    assert back.search_params == idx.search_params


def test_tuning_picks_less_than_the_most_thorough_setting(glove):
    need_engine("ivfpq")
    idx = build_index(glove, "ivfpq", nbits=6, target_recall=0.9)
    sp = idx.tuning["search_params"]
    assert (sp["nprobe"], sp["refine"]) != (idx.params["nlist"], 32)


def test_tuned_recall_holds_on_other_rows(glove, glove_arrays):
    need_engine("hnsw")
    idx = build_index(glove, "hnsw", M=8, ef_construction=32, target_recall=0.97)
    other = probe(idx, 300, 10, seed=7)     # rows the tuning did not see
    assert other.recall(idx) >= 0.94


def test_target_recall_out_of_range_is_refused(glove):
    need_engine("hnsw")
    with pytest.raises(InputError, match="target_recall.*hnsw"):
        build_index(glove, "hnsw", target_recall=1.5)


def test_ivfpq_defaults_reach_useful_recall(glove, glove_arrays, glove_queries):
    """No hint: the default nprobe/refine give recall@10 well above what PQ codes alone give (~0.65)."""
    need_engine("ivfpq")
    _, vecs = glove_arrays
    idx = build_index(glove, "ivfpq", nbits=6)
    hits = idx.search(glove_queries, 10)
    assert tie_tolerant_recall(hits.ids, oracle(vecs, glove_queries), 10) >= 0.9
    assert measure(idx)["recall"] >= 0.9


def test_hnsw_build_threads_fit_the_cpus_this_process_may_use(glove):
    need_engine("hnsw")
    import os

    from omnivec.search.hnsw import build_threads
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    assert 1 <= build_threads(0.02) <= cpus and build_threads(0.0) == cpus
    idx = build_index(glove, "hnsw", threads=1, M=8, ef_construction=32)
    assert idx.params["threads"] == 1 and len(idx) == len(glove)
    with pytest.raises(InputError, match="'threads' parameter of the hnsw index"):
        build_index(glove, "hnsw", threads=-1)
