"""Retrieval metrics (trec_eval's definitions), TREC files, the Cranfield/CISI loaders, `omnivec eval retrieval`."""

import json
import math
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

from omnivec.errors import CorruptFileError, FormatError, InputError, ParseError, UnknownNameError
from omnivec.evaluate.ir import Collection, load_collection
from omnivec.evaluate.retrieval import (RETRIEVAL_METRICS, evaluate, evaluate_rankings, parse_metric,
                                        read_qrels, read_run, write_qrels, write_run)

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "cli"))
from cli_helpers import one_line_error, run as run_cli  # noqa: E402

DATA = Path(__file__).resolve().parents[1] / "data" / "ir"
SHARED = Path(__file__).resolve().parents[3] / "shared" / "data" / "ir"
needs_shared = pytest.mark.skipif(not (SHARED / "cranfield").is_dir() or not (SHARED / "cisi").is_dir(),
                                  reason="../shared/data/ir is not here")

# One query worked by hand: grades in rank order [0, 3, 0, 1], judged relevant grades {3, 2, 1}.
QRELS = {"q": {"a": 3, "b": 2, "c": 0, "d": 1}}
RANKING = {"q": ["c", "a", "x", "d"]}


def test_metrics_of_a_query_worked_by_hand():
    got = evaluate(RANKING, QRELS, metrics=["ndcg@10", "ndcg@2", "recall@2", "recall@10", "mrr@10", "mrr@1",
                                            "map", "map@2", "P@4", "P@10"])
    dcg = 3 / math.log2(3) + 1 / math.log2(5)
    ideal = 3 + 2 / math.log2(3) + 1 / math.log2(4)
    assert got["ndcg@10"] == pytest.approx(dcg / ideal)
    assert got["ndcg@2"] == pytest.approx((3 / math.log2(3)) / (3 + 2 / math.log2(3)))
    assert got["recall@2"] == pytest.approx(1 / 3)
    assert got["recall@10"] == pytest.approx(2 / 3)
    assert got["mrr@10"] == pytest.approx(1 / 2)
    assert got["mrr@1"] == 0.0
    assert got["map"] == pytest.approx((1 / 2 + 2 / 4) / 3)
    assert got["map@2"] == pytest.approx((1 / 2) / 3)
    assert got["precision@4"] == pytest.approx(2 / 4)
    assert got["precision@10"] == pytest.approx(2 / 10)   # trec_eval divides by k, not by the documents returned


def test_a_perfect_ranking_scores_one_and_an_empty_one_zero():
    perfect = evaluate({"q": ["a", "b", "d"]}, QRELS)
    assert perfect == pytest.approx({"ndcg@10": 1.0, "recall@100": 1.0, "mrr@10": 1.0, "map": 1.0})
    assert evaluate({"q": []}, QRELS) == {"ndcg@10": 0.0, "recall@100": 0.0, "mrr@10": 0.0, "map": 0.0}


def test_the_mean_is_over_queries_and_the_left_out_queries_are_counted():
    qrels = {"1": {"a": 1}, "2": {"b": 1}, "3": {"c": 0}, "4": {"d": 2}}
    rankings = {"1": ["a"], "2": ["x", "b"], "3": ["c"], "9": ["a"]}
    res = evaluate_rankings(rankings, qrels, metrics=["mrr@10"])
    assert res.no_relevant == ["3"] and res.missing == ["4"] and res.unjudged == ["9"]
    assert res.per_query == {"1": {"mrr@10": 1.0}, "2": {"mrr@10": 0.5}, "4": {"mrr@10": 0.0}}
    assert res.means["mrr@10"] == pytest.approx(1.5 / 3)
    skipped = evaluate_rankings(rankings, qrels, metrics=["mrr@10"], missing="skip")
    assert skipped.means["mrr@10"] == pytest.approx(1.5 / 2) and skipped.missing == ["4"]
    d = res.to_dict()
    assert (d["queries"], d["no_relevant"], d["missing"], d["unjudged"]) == (3, 1, 1, 1)
    json.dumps(d)


def test_no_evaluable_query_gives_nan_means():
    res = evaluate_rankings({"q": ["a"]}, {"q": {"a": 0}})
    assert res.queries == 0 and res.no_relevant == ["q"] and all(math.isnan(v) for v in res.means.values())


def test_ids_are_compared_as_text():
    assert evaluate({1: [10, 20]}, {"1": {"20": 1}}, metrics=["mrr"]) == {"mrr": 0.5}


def test_negative_grades_are_judged_not_relevant():
    res = evaluate({"q": ["n", "a"]}, {"q": {"n": -1, "a": 1}}, metrics=["ndcg", "mrr"])
    assert res == pytest.approx({"ndcg": 1 / math.log2(3), "mrr": 0.5})


@pytest.mark.parametrize("spec, name, k", [("nDCG@10", "ndcg@10", 10), ("map", "map", None),
                                            ("recip_rank", "mrr", None), ("P@5", "precision@5", 5),
                                            ("Recall @ 100", "recall@100", 100)])
def test_metric_names(spec, name, k):
    got_name, metric, got_k = parse_metric(spec)
    assert (got_name, got_k) == (name, k) and metric is RETRIEVAL_METRICS.get(name.split("@")[0])


@pytest.mark.parametrize("spec, error, text", [("foo@10", UnknownNameError, "valid names are: ndcg"),
                                                ("ndcg@0", InputError, "at least 1"),
                                                ("ndcg@x", InputError, "at least 1"),
                                                ("precision", InputError, "needs a cut"),
                                                ("", InputError, "bad retrieval metric")])
def test_bad_metric_names_are_refused_with_the_valid_ones(spec, error, text):
    with pytest.raises(error, match=text):
        evaluate(RANKING, QRELS, metrics=[spec])


@pytest.mark.parametrize("rankings, qrels, kwargs, text", [
    ({"q": ["a", "b", "a"]}, QRELS, {}, "lists document 'a' twice"),
    ({"q": "abc"}, QRELS, {}, "must be a list of document ids"),
    (RANKING, {"q": {"a": 1.5}}, {}, "must be an integer"),
    (RANKING, {"q": ["a"]}, {}, "must be a mapping"),
    ([["a"]], QRELS, {}, "rankings must be a mapping"),
    (RANKING, QRELS, {"missing": "drop"}, "missing must be one of zero, skip"),
    (RANKING, QRELS, {"metrics": []}, "at least one retrieval metric"),
])
def test_bad_rankings_and_qrels_are_refused(rankings, qrels, kwargs, text):
    with pytest.raises(InputError, match=text):
        evaluate(rankings, qrels, **kwargs)


# --------------------------------------------------------------------------- trec_eval as the oracle

# trec_eval's measure -> ours: every registered retrieval metric needs at least one (see the meta-test).
TREC_EVAL = {"ndcg_cut_10": "ndcg@10", "ndcg_cut_5": "ndcg@5", "ndcg": "ndcg", "recall_100": "recall@100",
             "recall_5": "recall@5", "recip_rank": "mrr", "map": "map", "map_cut_10": "map@10", "P_5": "P@5"}


def test_every_retrieval_metric_has_a_trec_eval_oracle():
    covered = {parse_metric(ours)[0].split("@")[0] for ours in TREC_EVAL.values()}
    assert set(RETRIEVAL_METRICS.names()) <= covered


def _random_run(col, rng):
    run = {}
    for q in col.query_ids:
        pool = list(dict.fromkeys(list(col.qrels.get(q, {})) + list(rng.choice(col.doc_ids, min(60, len(col.doc_ids)),
                                                                                 replace=False))))
        rng.shuffle(pool)
        run[q] = pool[:int(rng.integers(1, len(pool) + 1))]
    return run


def _check_against_trec_eval(col, rng):
    pytrec_eval = pytest.importorskip("pytrec_eval")
    run = _random_run(col, rng)
    measures = TREC_EVAL
    oracle = pytrec_eval.RelevanceEvaluator(col.qrels, {"ndcg_cut.5,10", "ndcg", "recall.5,100", "recip_rank",
                                                        "map", "map_cut.10", "P.5"})
    want = oracle.evaluate({q: {d: float(len(ds) - i) for i, d in enumerate(ds)} for q, ds in run.items()})
    got = evaluate_rankings(run, col.qrels, metrics=list(measures.values()))
    assert set(got.per_query) == set(want)
    for q, scores in got.per_query.items():
        for theirs, ours in measures.items():
            assert scores[parse_metric(ours)[0]] == pytest.approx(want[q][theirs], abs=1e-12), (q, ours)


@pytest.mark.parametrize("name", ["cranfield", "cisi"])
def test_per_query_scores_equal_trec_eval_on_the_fixtures(name):
    _check_against_trec_eval(load_collection(DATA / name), np.random.default_rng(7))


@needs_shared
@pytest.mark.parametrize("name", ["cranfield", "cisi"])
def test_per_query_scores_equal_trec_eval_on_the_whole_collections(name):
    _check_against_trec_eval(load_collection(name, data_dir=SHARED), np.random.default_rng(11))


# --------------------------------------------------------------------------- TREC files

def test_qrels_and_runs_round_trip_through_trec_files(tmp_path):
    qrels = {"1": {"d1": 2, "d2": 0}, "2": {"d3": 1}}
    assert read_qrels(write_qrels(qrels, tmp_path / "q.txt")) == qrels
    rankings = {"1": ["d2", "d1", "d9"], "2": ["d3"]}
    assert read_run(write_run(rankings, tmp_path / "r.txt")) == rankings
    scored = {"1": [("d2", 0.5), ("d1", 0.25)]}
    write_run(scored, tmp_path / "s.txt", tag="bm25")
    assert (tmp_path / "s.txt").read_text().splitlines() == ["1 Q0 d2 1 0.5 bm25", "1 Q0 d1 2 0.25 bm25"]


def test_a_run_file_is_ranked_as_trec_eval_ranks_it(tmp_path):
    # by score, then ties by document id in reverse order; the rank column is not used
    (tmp_path / "r.txt").write_text("q Q0 a 1 0.5 t\r\nq Q0 c 2 0.5 t\nq Q0 b 3 0.9 t\n\nq Q0 d 4 -1 t\n")
    assert read_run(tmp_path / "r.txt") == {"q": ["b", "c", "a", "d"]}


@pytest.mark.parametrize("reader, text, message", [
    (read_qrels, "1 0 d1 1\n1 0 d2\n", "line 2: expected 4 columns"),
    (read_qrels, "1 0 d1 high\n", "line 1: the grade must be an integer, found 'high'"),
    (read_qrels, "1 0 d1 1\n1 0 d1 2\n", "line 2: document 'd1' is judged twice for query '1'"),
    (read_run, "1 Q0 d1 1 0.5\n", "line 1: expected 6 columns"),
    (read_run, "1 Q0 d1 1 x run\n", "line 1: the score must be a number, found 'x'"),
    (read_run, "1 Q0 d1 1 nan run\n", "line 1: the score must be a finite number"),
    (read_run, "1 Q0 d1 1 1 run\n1 Q0 d1 2 0 run\n", "line 2: document 'd1' appears twice for query '1'"),
])
def test_malformed_trec_files_name_file_and_line(tmp_path, reader, text, message):
    path = tmp_path / "f.txt"
    path.write_text(text)
    with pytest.raises(ParseError) as err:
        reader(path)
    assert str(path) in str(err.value) and message in str(err.value)


def test_unreadable_trec_files(tmp_path):
    with pytest.raises(FormatError, match="no such file"):
        read_run(tmp_path / "nope.txt")
    with pytest.raises(FormatError, match="is a folder"):
        read_qrels(tmp_path)
    (tmp_path / "bin.txt").write_bytes(b"1 0 d1 1\n1 0 \xff 1\n")
    with pytest.raises(ParseError, match="line 2: not UTF-8"):
        read_qrels(tmp_path / "bin.txt")


def test_ids_with_spaces_cannot_be_written(tmp_path):
    with pytest.raises(InputError, match="hold no spaces"):
        write_run({"q": ["a b"]}, tmp_path / "r.txt")
    assert not (tmp_path / "r.txt").exists()


# --------------------------------------------------------------------------- the collections

def test_cranfield_fixture_numbers_queries_by_position_and_grades_best_highest():
    col = load_collection(DATA / "cranfield")
    assert isinstance(col, Collection) and col.name == "cranfield"
    assert col.query_ids == ["1", "2", "3"] and col.query_source_ids == ["008", "009", "015"]
    assert col.query_texts[0].startswith("can a criterion be developed") and "\r" not in "".join(col.query_texts)
    # cranqrel codes 1 (a complete answer) .. 4 become grades 4 .. 1; the unexplained -1 is judged not relevant
    assert col.qrels["2"] == {"552": 4, "401": 2, "1297": 2, "1296": 4, "488": 0}
    assert col.summary() == {"name": "cranfield", "path": str(DATA / "cranfield"), "docs": 15, "queries": 3,
                             "judged_queries": 3, "judgements": 12, "relevant": 9}
    texts = dict(zip(col.doc_ids, col.doc_texts))
    assert texts["471"] == ""                                    # an empty record stays, with empty text
    # document 576 holds a second .W (the record is damaged in the collection): its text follows the first
    assert texts["1"].startswith("experimental investigation of the aerodynamics of a wing in a slipstream . an ")
    assert texts["576"].endswith("the front stages . such discontinuities can be due to the type of stage stall "
                                 "or to a deterioration of stage performance resulting blades is included .")
    assert col.doc_titles[col.doc_ids.index("1")] == "experimental investigation of the aerodynamics of a wing " \
                                                     "in a slipstream ."


def test_cisi_fixture_keeps_unjudged_queries_and_titles():
    col = load_collection(DATA / "cisi")
    assert col.query_ids == ["4", "6", "14", "36", "101"] and "36" not in col.qrels
    assert col.qrels["6"] == {"400": 1} and col.judged_queries == 4 and col.judgements == 13
    q101 = col.query_texts[col.query_ids.index("101")]
    title, text = q101.split("\n")                               # title, then the .W text
    assert title == "Parallel Computations in Information Retrieval" and text
    assert "Salton" not in q101 and "Lecture Notes" not in q101   # .A and .B are not text
    doc = col.doc_texts[col.doc_ids.index("1")]
    assert doc.startswith("18 Editions of the Dewey Decimal Classifications\nThe present study is a history")
    assert "Comaromi" not in doc


def test_a_collection_by_name_from_a_data_folder(monkeypatch):
    assert load_collection("cisi", data_dir=DATA).doc_ids == load_collection(DATA / "cisi").doc_ids
    monkeypatch.setenv("OMNIVEC_IR_DATA", str(DATA))
    assert len(load_collection("Cranfield").doc_ids) == 15


@needs_shared
def test_the_whole_collections_counts():
    cran, cisi = load_collection("cranfield", data_dir=SHARED), load_collection("cisi", data_dir=SHARED)
    assert (cran.summary()["docs"], len(cran.query_ids), cran.judged_queries, cran.judgements) == (1400, 225, 225, 1837)
    assert (len(cisi.doc_ids), len(cisi.query_ids), cisi.judged_queries, cisi.judgements) == (1460, 112, 76, 3114)
    assert cran.query_source_ids[:4] == ["001", "002", "004", "008"] and cran.query_source_ids[-1] == "365"
    assert sum(not t for t in cran.doc_texts) == 2 and all(cisi.doc_texts)


@needs_shared
def test_cranfield_grades_agree_with_the_trec_copy_of_its_judgements():
    # QRelsCorrectedforTRECeval holds the same judgements with grade = 5 - code, except that it grades
    # the unexplained -1 codes 5 (above a complete answer); ours grade those 0.
    cran = load_collection("cranfield", data_dir=SHARED)
    trec = read_qrels(SHARED / "cranfield" / "QRelsCorrectedforTRECeval")
    assert set(trec) == set(cran.qrels)
    for q, judged in trec.items():
        assert judged.keys() == cran.qrels[q].keys()
        assert {d: (0 if g == 5 else g) for d, g in judged.items()} == cran.qrels[q]


def _copy(tmp_path, name):
    shutil.copytree(DATA / name, tmp_path / name)
    return tmp_path / name


@pytest.mark.parametrize("name, file, content, error, message", [
    ("cranfield", "cranqrel", None, FormatError, "cranqrel: missing"),
    ("cranfield", "cranqrel", b"1 236 3\n1 9999 2\n", CorruptFileError, "judges document 9999 for query 1"),
    ("cranfield", "cranqrel", b"7 236 3\n", CorruptFileError, "judges query 7"),
    ("cranfield", "cranqrel", b"1 236 7\n", ParseError, "line 1: relevance code must be 1..4 or -1, found 7"),
    ("cranfield", "cranqrel", b"1 236\n", ParseError, "line 1: expected 3 columns"),
    ("cranfield", "cranqrel", b"", CorruptFileError, "holds no judgements"),
    ("cranfield", "cran.qry", b".I 1\n.Q\nwhat\n", ParseError, "cran.qry, line 2: unknown field '.Q'"),
    ("cranfield", "cran.qry", b"what\n.I 1\n", ParseError, "line 1: text before the first '.I' line"),
    ("cranfield", "cran.qry", b".I 1\n.W\na\n.I 1\n.W\nb\n", ParseError, "line 4: record id '1' appears twice"),
    ("cranfield", "cran.all.1400", b".I 1\n.W\n\xe9t\xe9\n", ParseError, "cran.all.1400, line 3: not UTF-8"),
    ("cisi", "CISI.ALL", b"", CorruptFileError, "holds no records"),
    ("cisi", "CISI.REL", b"     4    310\t0\n", ParseError, "line 1: expected 4 columns"),
    ("cisi", "CISI.REL", b"     4    3x0\t0\t0.0\n", ParseError, "line 1: the document id must be an integer"),
])
def test_missing_or_corrupt_collection_files_are_named(tmp_path, name, file, content, error, message):
    folder = _copy(tmp_path, name)
    if content is None:
        (folder / file).unlink()
    else:
        (folder / file).write_bytes(content)
    with pytest.raises(error) as err:
        load_collection(folder)
    assert message in str(err.value)


def test_unknown_collections_and_folders(tmp_path):
    with pytest.raises(InputError, match="unknown collection 'trec-covid': give one of cranfield, cisi"):
        load_collection("trec-covid")
    with pytest.raises(InputError, match="holds no known collection"):
        load_collection(tmp_path)
    with pytest.raises(InputError, match="not in"):
        load_collection("cranfield", data_dir=tmp_path)


# --------------------------------------------------------------------------- the command line

def test_cli_scores_a_run_against_qrels_and_a_collection(capsys, tmp_path):
    col = load_collection(DATA / "cranfield")
    run = {q: list(col.qrels[q])[::-1] for q in col.query_ids}
    write_run(run, tmp_path / "run.txt")
    write_qrels(col.qrels, tmp_path / "qrels.txt")
    want = evaluate(run, col.qrels, metrics=["ndcg@10", "map"])
    code, out, _ = run_cli(capsys, "eval", "retrieval", "--run", tmp_path / "run.txt", "--qrels",
                           tmp_path / "qrels.txt", "-m", "ndcg@10", "-m", "map", "--json")
    assert code == 0
    got = json.loads(out)
    assert got["means"] == pytest.approx(want) and got["queries"] == 3 and set(got["per_query"]) == {"1", "2", "3"}
    code, out, _ = run_cli(capsys, "eval", "retrieval", "--run", tmp_path / "run.txt", "--collection",
                           DATA / "cranfield")
    assert code == 0
    assert f"{want['ndcg@10']:.4f}" in out and "recall@100" in out and "3 queries evaluated" in out
    code, out, _ = run_cli(capsys, "eval", "retrieval", "--run", tmp_path / "run.txt", "--qrels",
                           tmp_path / "qrels.txt", "-m", "map", "--per-query")
    rows = {ln.split()[0]: ln.split()[-1] for ln in out.splitlines() if ln.split() and ln.split()[0] in {"1", "2", "3", "mean"}}
    assert code == 0 and rows["mean"] == f"{want['map']:.4f}" and {"1", "2", "3"} <= rows.keys()


@pytest.mark.parametrize("args, message", [
    ([], "exactly one of a qrels file or a collection"),
    (["--collection", "cisi", "--qrels", "QRELS"], "exactly one of a qrels file or a collection"),
    (["--qrels", "QRELS", "-m", "ndcg@0"], "at least 1"),
    (["--qrels", "MISSING"], "no such file"),
])
def test_cli_bad_input_is_one_line(capsys, tmp_path, args, message):
    write_run({"1": ["a"]}, tmp_path / "run.txt")
    write_qrels({"1": {"a": 1}}, tmp_path / "qrels.txt")
    args = [str(tmp_path / "qrels.txt") if a == "QRELS" else str(tmp_path / "nope") if a == "MISSING" else a
            for a in args]
    code, _, err = run_cli(capsys, "eval", "retrieval", "--run", tmp_path / "run.txt", *args)
    assert code == 1 and message in one_line_error(err)


def test_cli_help_fits_80_columns(capsys, monkeypatch):
    from test_help import test_help_fits_80_columns_and_cuts_nothing

    test_help_fits_80_columns_and_cuts_nothing(capsys, monkeypatch, ["eval", "retrieval"])
