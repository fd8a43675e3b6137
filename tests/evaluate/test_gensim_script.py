"""A realistic gensim KeyedVectors script runs unchanged against an omnivec table, with gensim's answers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import omnivec

gensim_models = pytest.importorskip("gensim.models")
DATA = Path(__file__).resolve().parents[1] / "data"
WORDS = DATA / "words"


def script(kv, out: Path) -> dict:
    """What people write around a loaded KeyedVectors: lookups, neighbours, evaluation, export."""
    r: dict = {}
    r["size"] = (len(kv.index_to_key), kv.vector_size)
    r["first"] = kv.index_to_key[:5]
    r["index"] = kv.key_to_index["king"]
    r["has"] = ("king" in kv.key_to_index, "zzqx" in kv.key_to_index, kv.has_index_for("queen"))
    r["get_index"] = (kv.get_index("queen"), kv.get_index("zzqx", -1))
    r["vector"] = kv.get_vector("king", norm=True)
    r["item"] = kv["paris"]
    r["normed"] = kv.get_normed_vectors()[:10]
    r["similar"] = kv.most_similar(positive=["woman", "king"], negative=["man"], topn=5)
    r["cosmul"] = kv.most_similar_cosmul(positive=["woman", "king"], negative=["man"], topn=3)
    r["by_word"] = kv.similar_by_word("france", topn=3)
    r["sim"] = kv.similarity("king", "queen")
    r["n_sim"] = kv.n_similarity(["king", "man"], ["queen", "woman"])
    r["odd"] = kv.doesnt_match(["man", "woman", "king", "queen", "water"])
    r["rank"] = kv.rank("king", "queen")
    r["closer"] = sorted(kv.closer_than("king", "prince"))
    r["mean"] = kv.get_mean_vector(["king", "queen"])
    r["given"] = kv.most_similar_to_given("king", ["paris", "queen", "money"])
    pearson, spearman, oov = kv.evaluate_word_pairs(str(WORDS / "wordsim353.tsv"))
    r["pairs"] = (pearson[0], pearson[1], spearman[0], spearman[1], oov)
    score, sections = kv.evaluate_word_analogies(str(WORDS / "questions-words-family-opposite.txt"))
    r["analogy"] = (score, [(s["section"], len(s["correct"]), len(s["incorrect"])) for s in sections],
                    sorted(sections[-1]["correct"])[:3])
    kv.save_word2vec_format(str(out / "v.txt"))
    kv.save_word2vec_format(str(out / "v.bin"), binary=True)
    r["saved"] = [(out / "v.txt").read_text().splitlines()[0]] + [
        ln.split(" ", 1)[0] for ln in (out / "v.txt").read_text().splitlines()[1:6]]
    return r


def test_a_gensim_script_gets_gensim_answers_from_an_omnivec_table(tmp_path):
    src = DATA / "glove6b50d_top2100.npz"
    z = np.load(src, allow_pickle=False)
    keys, vecs = [str(k) for k in z["keys"]], z["vectors"].astype(np.float32)
    kv = gensim_models.KeyedVectors(vecs.shape[1])
    kv.add_vectors(keys, vecs)
    emb = omnivec.Embeddings(keys, vecs)
    emb.save(tmp_path / "g.ov")
    (tmp_path / "g").mkdir()
    (tmp_path / "o").mkdir()
    want = script(kv, tmp_path / "g")
    got = script(omnivec.open(tmp_path / "g.ov"), tmp_path / "o")
    for name, w in want.items():
        g = got[name]
        if name in ("similar", "cosmul", "by_word"):
            assert [k for k, _ in g] == [k for k, _ in w], name
            np.testing.assert_allclose([s for _, s in g], [s for _, s in w], rtol=1e-4, atol=1e-5)
        elif name in ("vector", "item", "normed", "mean"):
            np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-6, err_msg=name)
        elif name in ("sim", "n_sim"):
            assert g == pytest.approx(w, abs=1e-5), name
        elif name == "pairs":
            assert g == pytest.approx(w, rel=1e-4, abs=1e-6), name
        elif name == "analogy":
            assert g[0] == pytest.approx(w[0]) and g[1] == w[1] and g[2] == w[2]
        else:
            assert g == w, name
    # both wrote the same word2vec text, and gensim reads back what omnivec wrote
    back = gensim_models.KeyedVectors.load_word2vec_format(str(tmp_path / "o" / "v.bin"), binary=True)
    assert back.index_to_key == keys and np.allclose(back.vectors, vecs)


def test_bad_lines_in_evaluation_files_are_skipped_and_counted(tmp_path):
    from omnivec.errors import ParseError
    from omnivec.evaluate.analogy import evaluate_analogies
    from omnivec.evaluate.similarity import evaluate_similarity

    z = np.load(DATA / "glove6b50d_top2100.npz", allow_pickle=False)
    emb = omnivec.Embeddings([str(k) for k in z["keys"]], z["vectors"].astype(np.float32))
    bad = tmp_path / "q.txt"
    bad.write_text(": family\nboy girl brother sister\nthis line has seven words in it\nman woman king queen\n")
    with pytest.raises(ParseError, match="line 3.*|.*line 3"):
        evaluate_analogies(emb, bad)
    res = evaluate_analogies(emb, bad, skip_bad=True)
    assert res.skipped == 1 and res.answered + res.oov == 2
    pairs = tmp_path / "p.tsv"
    pairs.write_text("king\tqueen\t8.5\nking\tcabbage\tnot-a-number\nman\twoman\t8.3\ncar\tbanana\t0.5\n")
    with pytest.raises(ParseError, match="--skip-bad"):
        evaluate_similarity(emb, pairs)
    sim = evaluate_similarity(emb, pairs, skip_bad=True)
    assert sim.skipped == 1 and sim.pairs == 3 and -1 <= sim.spearman <= 1
