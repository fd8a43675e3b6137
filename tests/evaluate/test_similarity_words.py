from pathlib import Path

import numpy as np
import pytest

import omnivec
from omnivec.errors import ParseError
from omnivec.evaluate.similarity import (evaluate_similarity, pearson, rankdata, read_pairs, spearman)

DATA = Path(__file__).resolve().parents[1] / "data" / "words"


def test_rankdata_averages_ties_by_hand():
    assert rankdata([10, 20, 20, 5]).tolist() == [2.0, 3.5, 3.5, 1.0]
    assert rankdata([1, 1, 1]).tolist() == [2.0, 2.0, 2.0]


def test_pearson_and_spearman_against_numpy_formulas():
    rng = np.random.default_rng(3)
    x = rng.standard_normal(200)
    y = 0.5 * x + rng.standard_normal(200)
    assert pearson(x, y) == pytest.approx(np.corrcoef(x, y)[0, 1], abs=1e-12)
    # Spearman without ties: 1 - 6 sum d^2 / (n (n^2 - 1))
    d = np.argsort(np.argsort(x)) - np.argsort(np.argsort(y))
    n = len(x)
    assert spearman(x, y) == pytest.approx(1 - 6 * (d ** 2).sum() / (n * (n * n - 1)), abs=1e-12)
    assert spearman([1, 2, 3, 4], [10, 20, 30, 1000]) == pytest.approx(1.0)
    assert np.isnan(pearson([1, 1, 1], [1, 2, 3]))


def test_hand_checkable_similarity():
    emb = omnivec.Embeddings(["a", "b", "c", "d"], np.array([[1, 0], [1, 0.1], [0, 1], [-1, 0]], np.float32))
    pairs = [("a", "b", 9.0), ("a", "c", 5.0), ("a", "d", 1.0), ("a", "zz", 3.0)]
    res = evaluate_similarity(emb, pairs)
    assert res.spearman == pytest.approx(1.0) and res.used == 3 and res.oov == 1
    assert res.oov_ratio == pytest.approx(0.25)
    res = evaluate_similarity(emb, [("A", "B", 1.0), ("a", "c", 2.0), ("a", "d", 3.0)])
    assert res.spearman == pytest.approx(-1.0)
    res = evaluate_similarity(emb, [("A", "B", 1.0), ("a", "c", 2.0)], case_insensitive=False)
    assert res.used == 1


@pytest.mark.parametrize("name, n, first", [
    ("wordsim353.tsv", 353, ("love", "sex", 6.77)),
    ("simlex999.txt", 999, ("old", "new", 1.58)),
    ("men_300.txt", 300, ("sun", "sunlight", 50.0)),
])
def test_real_files_parse(name, n, first):
    pairs = read_pairs(DATA / name)
    assert len(pairs) == n and pairs[0] == first


def test_other_layouts(tmp_path):
    simlex = tmp_path / "SimLex-999.txt"
    simlex.write_text("word1\tword2\tPOS\tSimLex999\tconc(w1)\n old\tnew\tA\t1.58\t2.72\n"
                      "smart\tintelligent\tA\t9.2\t1.75\n")
    assert read_pairs(simlex) == [("old", "new", 1.58), ("smart", "intelligent", 9.2)]
    csv = tmp_path / "ws.csv"
    csv.write_text("Word 1,Word 2,Human (mean)\nlove,sex,6.77\ntiger,cat,7.35\n")
    assert read_pairs(csv)[1] == ("tiger", "cat", 7.35)
    men = tmp_path / "men.txt"
    men.write_text("sun-n sunlight-n 50.000000\nbakery-n bread-n 50.000000\n")
    assert read_pairs(men)[0] == ("sun", "sunlight", 50.0)
    bad = tmp_path / "bad.txt"
    bad.write_text("a b 1.0\nc d x\n")
    with pytest.raises(ParseError) as err:
        read_pairs(bad)
    assert err.value.line == 2 and "expected a number" in str(err.value)
    empty = tmp_path / "empty.txt"
    empty.write_text("# only a comment\n")
    with pytest.raises(ParseError, match="no word pairs"):
        read_pairs(empty)
