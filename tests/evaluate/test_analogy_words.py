from pathlib import Path

import numpy as np
import pytest

import omnivec
from omnivec.errors import ParseError, UnknownNameError
from omnivec.evaluate.analogy import evaluate_analogies, read_analogies

DATA = Path(__file__).resolve().parents[1] / "data" / "words"


@pytest.fixture
def grid():
    # axes: male, female, person, royal, young, stone; every word has norm sqrt(2), so
    # woman - man + king = female + royal = queen exactly; 'rock' is far from everything
    e = np.eye(6, dtype=np.float32)
    m, f, p, r, y, s = e
    vecs = {"man": m + p, "woman": f + p, "king": m + r, "queen": f + r, "boy": m + y, "girl": f + y,
            "rock": 1.414 * s, "Prince": m + r + 0.1 * y}
    return omnivec.Embeddings(list(vecs), np.stack(list(vecs.values())))


def test_hand_checkable_accuracy(grid):
    qs = [("s1", [("man", "woman", "king", "queen"), ("man", "woman", "boy", "girl"),
                  ("man", "woman", "king", "rock"), ("man", "woman", "king", "unknown")])]
    res = evaluate_analogies(grid, qs)
    (sec,) = res.sections
    assert (sec.correct, sec.answered, sec.oov) == (2, 3, 1)
    assert res.accuracy == pytest.approx(2 / 3) and res.accuracy_all == pytest.approx(0.5)
    assert res.oov_ratio == pytest.approx(0.25)


def test_3cosmul_matches_its_formula(grid):
    W = grid.vectors / np.linalg.norm(grid.vectors, axis=1, keepdims=True)
    keys = list(grid)
    a, b, c = keys.index("man"), keys.index("woman"), keys.index("king")
    s = lambda i: (1 + W @ W[i]) / 2
    score = s(b) * s(c) / (s(a) + 1e-3)
    score[[a, b, c]] = -np.inf
    expected = keys[int(np.argmax(score))]
    res = evaluate_analogies(grid, [("s", [("man", "woman", "king", expected)])], method="3CosMul")
    assert res.correct == 1
    with pytest.raises(UnknownNameError, match="3cosadd"):
        evaluate_analogies(grid, [], method="cos")


def test_restrict_vocab_and_case(grid):
    # with the 3 most frequent words only, every question has an unknown word
    res = evaluate_analogies(grid, [("s", [("man", "woman", "king", "queen")])], restrict_vocab=3)
    assert res.oov == 1 and res.answered == 0
    res = evaluate_analogies(grid, [("s", [("MAN", "Woman", "KING", "QUEEN")])])
    assert res.correct == 1
    res = evaluate_analogies(grid, [("s", [("MAN", "Woman", "KING", "QUEEN")])], case_insensitive=False)
    assert res.oov == 1


def test_google_and_msr_files():
    g = read_analogies(DATA / "questions-words-family-opposite.txt")
    assert [name for name, _ in g] == ["family", "gram2-opposite"]
    assert g[0][1][0] == ("boy", "girl", "brother", "sister")
    m = read_analogies(DATA / "msr_analogy_200.txt")
    # the file holds 'b a d c': better good rougher rough -> good : better :: rough : rougher
    assert m[0][0] == "msr" and m[0][1][0] == ("good", "better", "rough", "rougher")
    assert len(m[0][1]) == 200


def test_bad_files(tmp_path):
    p = tmp_path / "q.txt"
    p.write_text(": s\na b c d\na b c\n")
    with pytest.raises(ParseError) as err:
        read_analogies(p)
    assert err.value.line == 3 and "expected 4 words" in str(err.value)
    p.write_bytes(b": s\na b c \xff\n")
    with pytest.raises(ParseError, match="UTF-8"):
        read_analogies(p)


def test_agrees_with_gensim_on_real_vectors():
    pytest.importorskip("gensim")
    from gensim.models import KeyedVectors

    data = np.load(Path(__file__).resolve().parents[1] / "data" / "glove6b50d_top2100.npz")
    keys = [str(k) for k in data["keys"]]
    vecs = data["vectors"].astype(np.float32)
    emb = omnivec.Embeddings(keys, vecs)
    kv = KeyedVectors(vecs.shape[1])
    kv.add_vectors(keys, vecs)
    path = DATA / "questions-words-family-opposite.txt"
    ours = evaluate_analogies(emb, path)
    score, sections = kv.evaluate_word_analogies(str(path))
    assert ours.accuracy == pytest.approx(score, abs=1e-12)
    from omnivec.evaluate.similarity import evaluate_similarity
    res = evaluate_similarity(emb, DATA / "wordsim353.tsv")
    (p, _), (s, _), oov = kv.evaluate_word_pairs(str(DATA / "wordsim353.tsv"))
    assert res.spearman == pytest.approx(s, abs=1e-9) and res.pearson == pytest.approx(p, abs=1e-6)
    assert 100 * res.oov_ratio == pytest.approx(oov)
