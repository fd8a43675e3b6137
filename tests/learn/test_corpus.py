import gzip
from collections import Counter

import numpy as np
import pytest

from omnivec.errors import FormatError, InputError
from omnivec.learn import corpus as corpus_mod
from omnivec.learn import vocab as vocab_mod


def sentences(enc):
    toks = enc.tokens
    out, start = [], 0
    for e in enc.ends.tolist():
        out.append([enc.words[t] for t in toks[start:e]])
        start = e
    return out


def test_file_gz_folder_and_iterable_give_the_same_sentences(tmp_path):
    text = "the cat sat\n\n  on the  mat \nthe end"
    (tmp_path / "a.txt").write_text(text)
    with gzip.open(tmp_path / "b.txt.gz", "wt") as fh:
        fh.write(text)
    expected = [["the", "cat", "sat"], ["on", "the", "mat"], ["the", "end"]]
    assert sentences(corpus_mod.encode(tmp_path / "a.txt")) == expected
    assert sentences(corpus_mod.encode(tmp_path / "b.txt.gz")) == expected
    assert sentences(corpus_mod.encode(tmp_path)) == expected + expected
    assert sentences(corpus_mod.encode(expected)) == expected
    enc = corpus_mod.encode(tmp_path / "a.txt")
    assert enc.counts[enc.words.index("the")] == 3
    assert enc.stats.lines == 4 and enc.stats.tokens == 8


def test_long_lines_are_split_and_counted_never_cut(tmp_path):
    p = tmp_path / "c.txt"
    p.write_text("a b c d e f g\nh i\nj k l m\n")
    enc = corpus_mod.encode(p, max_sentence_length=3)
    assert sentences(enc) == [["a", "b", "c"], ["d", "e", "f"], ["g"], ["h", "i"], ["j", "k", "l"], ["m"]]
    assert enc.stats.split_lines == 2
    assert enc.stats.extra_sentences == 3
    assert enc.stats.tokens == 13


def test_small_read_blocks_and_lines_longer_than_a_block(tmp_path, monkeypatch, glosses):
    whole = corpus_mod.encode(glosses)
    monkeypatch.setattr(corpus_mod, "READ_BYTES", 997)
    monkeypatch.setattr(corpus_mod, "FLUSH_TOKENS", 1000)
    small = corpus_mod.encode(glosses)
    assert small.words == whole.words
    assert np.array_equal(small.tokens, whole.tokens) and np.array_equal(small.ends, whole.ends)
    assert small.stats.fingerprint == whole.stats.fingerprint
    long = tmp_path / "long.txt"
    long.write_text(" ".join(f"w{i % 50}" for i in range(2000)) + "\nlast line\n")
    enc = corpus_mod.encode(long, max_sentence_length=100000)
    assert [len(s) for s in sentences(enc)] == [2000, 2]


def test_counts_match_a_plain_python_count_on_real_text(glosses):
    with gzip.open(glosses, "rt") as fh:
        expected = Counter(tok for line in fh for tok in line.split())
    enc = corpus_mod.encode(glosses)
    assert dict(zip(enc.words, enc.counts.tolist())) == dict(expected)


@pytest.mark.parametrize("content, what", [
    (b"", "no tokens"),
    (b"  \n\n \t\n", "no tokens"),
])
def test_empty_corpus(tmp_path, content, what):
    p = tmp_path / "e.txt"
    p.write_bytes(content)
    with pytest.raises(InputError, match=what):
        corpus_mod.encode(p)


def test_binary_garbage_names_file_line_and_offset(tmp_path):
    p = tmp_path / "g.bin"
    p.write_bytes(b"fine words\nmore\x00\x01\x02\xff garbage")
    with pytest.raises(FormatError) as err:
        corpus_mod.encode(p)
    assert err.value.line == 2 and err.value.offset == 15 and str(p) in str(err.value)
    assert "NUL" in str(err.value)


def test_invalid_utf8_names_file_line_and_offset(tmp_path):
    p = tmp_path / "u.txt"
    p.write_bytes(b"ok line\nsecond ok\nbad \xc3\x28 here\n")
    with pytest.raises(FormatError) as err:
        corpus_mod.encode(p)
    assert (err.value.line, err.value.offset) == (3, 22)
    assert "UTF-8" in str(err.value)


def test_truncated_gzip_is_a_format_error(tmp_path, glosses):
    p = tmp_path / "t.txt.gz"
    p.write_bytes(glosses.read_bytes()[:5000])
    with pytest.raises(FormatError, match="compressed"):
        corpus_mod.encode(p)


def test_bad_iterables():
    with pytest.raises(InputError, match="list of tokens"):
        corpus_mod.encode(["a sentence as a string"])
    with pytest.raises(InputError, match="expected str"):
        corpus_mod.encode([["ok", 3]])
    with pytest.raises(InputError, match="does not exist"):
        corpus_mod.encode("/nonexistent/corpus.txt")


def test_vocab_order_min_count_and_max_size():
    sents = [["b", "a", "c", "a", "b", "d"], ["a", "c", "e"]]
    enc = corpus_mod.encode(sents)
    vocab, mapping = vocab_mod.build(enc, min_count=2, max_vocab_size=None)
    assert vocab.words == ["a", "b", "c"]      # a: 3; b, c: 2 in first-occurrence order
    assert vocab.counts.tolist() == [3, 2, 2]
    applied = vocab_mod.apply(enc, mapping)
    got = [[vocab.words[t] for t in applied.tokens[s:e]]
           for s, e in zip([0] + applied.ends[:-1].tolist(), applied.ends.tolist())]
    assert got == [["b", "a", "c", "a", "b"], ["a", "c"]]
    vocab2, _ = vocab_mod.build(corpus_mod.encode(sents), min_count=1, max_vocab_size=2)
    assert vocab2.words == ["a", "b"]
    with pytest.raises(InputError, match="min_count=5"):
        vocab_mod.build(corpus_mod.encode(sents), min_count=5, max_vocab_size=None)


def test_keep_thresholds_follow_word2vec_formula():
    counts = np.array([100000, 1000, 10, 1], np.int64)
    thr = vocab_mod.keep_thresholds(counts, 1e-3)
    f = counts / counts.sum()
    p = np.minimum((np.sqrt(f / 1e-3) + 1) * 1e-3 / f, 1.0)
    assert np.allclose(thr / 2.0 ** 32, p, atol=1e-6)
    assert (vocab_mod.keep_thresholds(counts, 0.0) == np.uint32(0xFFFFFFFF)).all()


def test_alias_table_is_exact():
    counts = np.array([50, 20, 20, 5, 3, 1, 1], np.int64)
    prob, alias = vocab_mod.negative_table(counts, 0.75)
    n = len(counts)
    implied = prob.astype(np.float64).copy()
    for j in range(n):
        implied[alias[j]] += 1.0 - prob[j]
    target = counts ** 0.75 / (counts ** 0.75).sum()
    assert np.allclose(implied / n, target, atol=1e-6)


def test_huffman_codes_are_prefix_free_and_optimal():
    import heapq

    counts = np.array([45, 13, 12, 16, 9, 5, 5, 1], np.int64)
    codes, points, off = vocab_mod.huffman_tree(counts)
    words = ["".join(map(str, codes[off[w]:off[w + 1]])) for w in range(len(counts))]
    for i, a in enumerate(words):
        for j, b in enumerate(words):
            assert i == j or not b.startswith(a)
    heap = [int(c) for c in counts]
    heapq.heapify(heap)
    cost = 0
    while len(heap) > 1:
        x = heapq.heappop(heap) + heapq.heappop(heap)
        cost += x
        heapq.heappush(heap, x)
    assert sum(len(w) * c for w, c in zip(words, counts.tolist())) == cost
    assert points.max() < len(counts) - 1 and points.min() >= 0
    # the root (the last inner node) starts every path
    assert all(points[off[w]] == len(counts) - 2 for w in range(len(counts)))


def _reference_tree(counts):
    """fastText's / word2vec.c's two-pointer Huffman build over a descending vocabulary."""
    v = len(counts)
    count = [int(c) for c in counts] + [10**15] * (v - 1)
    parent, binary = [-1] * (2 * v - 1), [0] * (2 * v - 1)
    leaf, node = v - 1, v
    for i in range(v, 2 * v - 1):
        mini = []
        for _ in range(2):
            if leaf >= 0 and count[leaf] < count[node]:
                mini.append(leaf)
                leaf -= 1
            else:
                mini.append(node)
                node += 1
        count[i] = count[mini[0]] + count[mini[1]]
        parent[mini[0]] = parent[mini[1]] = i
        binary[mini[1]] = 1
    paths = []
    for w in range(v):
        code, pts, j = [], [], w
        while parent[j] != -1:
            code.append(binary[j])
            pts.append(parent[j] - v)
            j = parent[j]
        paths.append((code[::-1], pts[::-1]))  # root first, as ours
    return paths


def test_huffman_tree_is_fasttexts_node_for_node_with_ties():
    # Many equal counts: the tie order decides which inner node is which row.
    counts = np.array([50, 20, 20, 7, 7, 7, 3, 3, 1, 1, 1, 1], np.int64)
    codes, points, off = vocab_mod.huffman_tree(counts)
    for w, (code, pts) in enumerate(_reference_tree(counts)):
        assert codes[off[w]:off[w + 1]].tolist() == code
        assert points[off[w]:off[w + 1]].tolist() == pts


def test_a_damaged_gzip_corpus_is_a_clean_error(tmp_path):
    import gzip

    from omnivec.errors import FormatError
    from omnivec.learn import Word2Vec

    blob = gzip.compress(b"the cat sat on the mat\n" * 5000)
    p = tmp_path / "c.txt.gz"
    p.write_bytes(blob[:30] + bytes(50) + blob[80:])
    with pytest.raises(FormatError, match="damaged or truncated"):
        Word2Vec(dim=8, epochs=1, min_count=1).fit(str(p))
