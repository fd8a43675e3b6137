"""Retrofitting to a lexicon: the paper's update against a direct loop, counts, lexicon files, the
WordNet synonym lexicon, bad input and the command line."""

from __future__ import annotations

import gzip
import json

import numpy as np
import pytest

import omnivec
from omnivec.cli import main
from omnivec.embeddings import Embeddings
from omnivec.errors import EncodingError, InputError
from omnivec.transform import read_lexicon, retrofit, wordnet_lexicon

WORDS = ["happy", "glad", "cheerful", "sad", "unhappy", "car", "auto", "tree"]


@pytest.fixture
def emb():
    rng = np.random.default_rng(0)
    return Embeddings(WORDS, rng.standard_normal((len(WORDS), 6)).astype(np.float32), name="words")


LEX = {"happy": ["glad", "cheerful", "joyful"], "glad": ["happy"], "sad": ["unhappy"],
       "car": ["auto", "automobile"], "zebra": ["horse"]}


def oracle(emb, lex, iterations, alpha=1.0, beta=1.0):
    """Faruqui et al.'s update, word by word, every word from the previous sweep."""
    Q0 = {w: emb[w].astype(np.float64) for w in emb.keys}
    Q = dict(Q0)
    for _ in range(iterations):
        new = dict(Q)
        for w, ns in lex.items():
            ns = [n for n in ns if n in Q0 and n != w]
            if w not in Q0 or not ns:
                continue
            new[w] = (alpha * len(ns) * Q0[w] + beta * sum(Q[n] for n in ns)) / ((alpha + beta) * len(ns))
        Q = new
    return np.stack([Q[w] for w in emb.keys])


@pytest.mark.parametrize("iterations,alpha,beta", [(1, 1.0, 1.0), (10, 1.0, 1.0), (5, 2.0, 0.5)])
def test_the_update_is_the_papers(emb, iterations, alpha, beta):
    out = retrofit(emb, LEX, iterations=iterations, alpha=alpha, beta=beta)
    np.testing.assert_allclose(out.vectors, oracle(emb, LEX, iterations, alpha, beta), rtol=1e-5, atol=1e-6)


def test_synonyms_move_together_and_the_rest_stays(emb):
    out = retrofit(emb, LEX)
    assert out.similarity("happy", "glad") > emb.similarity("happy", "glad")
    assert out.similarity("car", "auto") > emb.similarity("car", "auto")
    for w in ("tree", "cheerful", "unhappy", "auto"):          # not heads of a lexicon line
        np.testing.assert_array_equal(out[w], emb[w])
    r = out.meta["retrofit"]
    assert (r["words_moved"], r["lexicon_words_absent"], r["links"]) == (4, 1, 5)
    assert list(out.keys) == WORDS


def test_lexicon_files(tmp_path, emb):
    path = tmp_path / "lex.txt.gz"
    with gzip.open(path, "wt", encoding="utf-8") as fh:
        fh.write("Happy glad CHEERFUL happy\n\nhappy joyful glad\nsad unhappy\n")
    lex = read_lexicon(path)
    assert lex == {"happy": ["glad", "cheerful", "joyful"], "sad": ["unhappy"]}
    assert read_lexicon(path, lowercase=False)["Happy"] == ["glad", "CHEERFUL", "happy"]
    np.testing.assert_allclose(retrofit(emb, path).vectors, retrofit(emb, lex).vectors)
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"happy glad\nsad \xff\xfe\n")
    with pytest.raises(EncodingError, match="line 2 is not UTF-8"):
        read_lexicon(bad)
    (tmp_path / "empty.txt").write_text("\n\n", encoding="utf-8")
    with pytest.raises(InputError, match="holds no words"):
        read_lexicon(tmp_path / "empty.txt")
    with pytest.raises(InputError, match="no such lexicon file"):
        read_lexicon(tmp_path / "nope.txt")
    with pytest.raises(InputError, match="the lexicon is empty"):
        retrofit(emb, {})
    with pytest.raises(InputError, match="iterations must be an int >= 1"):
        retrofit(emb, LEX, iterations=0)
    with pytest.raises(InputError, match="alpha must be a positive number"):
        retrofit(emb, LEX, alpha=float("nan"))


def test_the_wordnet_synonym_lexicon(tmp_path):
    head = "  1 This software and database is being provided to you, the LICENSEE, by\n"
    (tmp_path / "data.noun").write_text(
        head + "02958343 06 n 05 car 0 auto 0 automobile 0 machine 0 motorcar 0 000 | a motor vehicle\n"
        "02961779 06 n 01 car 0 000 | a cabin\n", encoding="utf-8")
    (tmp_path / "data.adj").write_text(head + "01148283 00 s 02 glad(a) 0 happy 0 000 | pleased\n",
                                       encoding="utf-8")
    (tmp_path / "data.verb").write_text(head, encoding="utf-8")
    (tmp_path / "data.adv").write_text(head, encoding="utf-8")
    lex = wordnet_lexicon(tmp_path)
    assert lex["car"] == ["auto", "automobile", "machine", "motorcar"]
    assert lex["glad"] == ["happy"] and lex["happy"] == ["glad"]
    (tmp_path / "data.adv").unlink()
    with pytest.raises(InputError, match="apt install wordnet-base"):
        wordnet_lexicon(tmp_path)


def test_cli_retrofit(capsys, emb, tmp_path):
    src = tmp_path / "w.ov"
    emb.save(src)
    lex = tmp_path / "lex.txt"
    lex.write_text("".join(" ".join([w, *ns]) + "\n" for w, ns in LEX.items()), encoding="utf-8")
    code = main(["retrofit", str(src), str(lex), "-o", str(tmp_path / "r.ov"), "--json"])
    out = json.loads(capsys.readouterr().out)
    assert code == 0 and out["words_moved"] == 4 and out["lexicon_words_absent"] == 1
    np.testing.assert_allclose(omnivec.open(tmp_path / "r.ov").vectors, oracle(emb, LEX, 10), rtol=1e-5,
                               atol=1e-6)
    code = main(["retrofit", str(src), str(tmp_path / "none.txt"), "-o", str(tmp_path / "x.ov")])
    assert code == 1 and "no such lexicon file" in capsys.readouterr().err
