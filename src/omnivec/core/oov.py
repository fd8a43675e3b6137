"""Out-of-vocabulary vectors: fastText subword composition, or Magnitude-style n-gram vectors.

`oov_model_for(emb)` picks the model; `Embeddings.oov_vector` calls it lazily
on the first unknown key, and only when the user asked for OOV vectors.

Tables with a fastText subword table
    The vector of an unknown key is the mean of the bucket rows of the
    character n-grams of ``<key>`` (minn..maxn UTF-8 characters, fastText's
    hash), the zero vector when it has none: what fastText's
    ``get_word_vector`` returns for the same `.bin`.  Pruned quantized
    models (``.ftz`` with a cutoff) average only their kept n-gram rows,
    stored in the table's extras, as fastText does.

Tables without subwords (Magnitude-style, after Patel et al. 2018)
    1. Fold the key (Unicode casefold) and take the character 3- to
       5-grams of ``<key>`` plus the whole ``<key>``.  Each gram seeds,
       through its 64-bit FNV-1a hash, a splitmix64 stream of uniforms in
       [-1, 1); their sum, normalised, is the key's *random part*.  Keys
       sharing grams get correlated random parts; the same key gets the
       same vector in every process on every machine (integer hashing and
       a fixed float order; Python's salted ``hash`` is never used).
    2. Find the known keys that look most like it: an inverted index maps
       each character trigram of every (folded) known key to the rows that
       contain it (an open-addressing table of the trigram hashes, then
       CSR postings; built in linear time).  The 64 rows with the highest
       Dice overlap of trigrams (ties: the lower row) are re-ranked by
       ``score = 1 - edit / length + 0.5 * dice + 0.5 * prior`` where edit
       is the optimal-string-alignment distance (a swap of two letters
       costs 1) and prior = 1 - bits(row + 1) / bits(n + 1) (bits: the
       integer bit length, a log2) prefers frequent keys among equally close
       spellings, as spelling correctors do (rows of word2vec, GloVe and
       fastText files are sorted by frequency).
    3. The *similar part* is the mean of the unit vectors of the best 5
       look-alikes, weighted by 1 / (1 + 10 * (best score - score))^2 so
       that a clearly closest spelling dominates.  The OOV vector is
       ``0.3 * random + 0.7 * similar`` (each unit length), normalised and
       scaled to the look-alikes' weighted mean norm, so it works with every
       metric.  A key sharing no trigram with any known key gets the random
       part alone, scaled to the table's mean norm.  Integer-keyed tables use
       the random part of the key's decimal form alone.  The arithmetic is
       plain IEEE +, *, / and sqrt in a fixed order (a compiled kernel, no
       BLAS, no libm), so the bits are the same on every machine.

    On GloVe 6B 50d restricted to its 20,000 most frequent words, 50 of 55
    common misspellings (e.g. "recieve", "definately", "goverment") have the
    intended word among the 10 nearest neighbours of their OOV vector.  Of
    the five misses three intended words are not among those 20,000;
    "finaly" is read as "final" and "tounge" as "lounge" (one edit away,
    where "tongue" is two).

The trigram index is built by a compiled kernel on the first OOV query
(about a second for GloVe's 400,000 keys, once compiled) and can be
stored in the model file as extras (`prepare_oov`), so later opens skip
the build.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Protocol

import numpy as np

from ..errors import CorruptFileError
from . import _ngram_kernels as K
from .ngrams import subword_vector

if TYPE_CHECKING:
    from ..embeddings import Embeddings


class OOVModel(Protocol):
    """What `oov_model_for` returns: one method giving an unknown key its vector."""

    def vector(self, key: str | int) -> np.ndarray:
        """Return the float32 (dim,) vector of an unknown key."""

INDEX_VERSION = 1
INDEX_N = 3                # trigrams index the known keys
SEED_MINN, SEED_MAXN = 3, 5
CANDIDATES = 64
SIMILAR = 5
RANDOM_WEIGHT = 0.3
SHARPNESS = 10.0
DICE_WEIGHT = 0.5
PRIOR_WEIGHT = 0.5
EXTRA_NAMES = ("oov_ngram_slots", "oov_ngram_slot_ids", "oov_ngram_offsets", "oov_ngram_postings",
               "oov_ngram_sizes", "oov_ngram_params")


class SubwordOOV:
    """fastText composition: the mean of the n-gram bucket rows of an unknown key."""

    def __init__(self, emb: "Embeddings") -> None:
        sw = emb.subwords
        self.minn, self.maxn, self.bucket = sw.minn, sw.maxn, sw.bucket
        self.buckets = np.ascontiguousarray(sw.vectors, np.float32)

    def vector(self, key: str | int) -> np.ndarray:
        """Return fastText's vector of `key`: the mean of its n-gram rows (zeros when it has none)."""
        return subword_vector(str(key), self.buckets, self.minn, self.maxn, self.bucket)


def _fold_blob(blob: np.ndarray, offsets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return (blob, offsets) of the casefolded keys, in one pass over all the text."""
    raw = bytes(blob)
    lowered = raw.lower()  # folds ASCII letters only, byte for byte
    if raw.isascii():
        return np.frombuffer(lowered, np.uint8), offsets
    # casefold just the keys holding non-ASCII bytes, in place when no length changes ("ß" -> "ss" does)
    arr = np.frombuffer(lowered, np.uint8).copy()
    high = np.flatnonzero(arr >= 0x80)
    rows = np.unique(np.searchsorted(offsets, high, side="right") - 1)
    same = True
    for r in rows.tolist():
        s, e = int(offsets[r]), int(offsets[r + 1])
        f = raw[s:e].decode("utf-8").casefold().encode("utf-8")
        if len(f) != e - s:
            same = False
            break
        arr[s:e] = np.frombuffer(f, np.uint8)
    if same:
        return arr, offsets
    if b"\n" not in raw:
        return _fold_joined(raw, offsets)
    keys = [raw[offsets[i]:offsets[i + 1]].decode("utf-8").casefold().encode("utf-8")
            for i in range(len(offsets) - 1)]
    new_offsets = np.zeros(len(keys) + 1, np.int64)
    np.cumsum([len(k) for k in keys], out=new_offsets[1:])
    return np.frombuffer(b"".join(keys), np.uint8), new_offsets


def _fold_joined(raw: bytes, offsets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return (blob, offsets) of the casefolded keys of a blob holding no newline."""
    n = len(offsets) - 1
    arr = np.frombuffer(raw, np.uint8)
    # insert a "\n" after every key so one casefold call covers all of them
    sep = np.full(len(arr) + n, 10, np.uint8)
    shift = np.arange(len(arr)) + np.repeat(np.arange(n), np.diff(offsets))
    sep[shift] = arr
    folded = sep.tobytes().decode("utf-8").casefold().encode("utf-8")
    out = np.frombuffer(folded, np.uint8)
    ends = np.flatnonzero(out == 10)
    new_offsets = np.zeros(n + 1, np.int64)
    new_offsets[1:] = ends - np.arange(n)
    keep = np.ones(len(out), bool)
    keep[ends] = False
    return out[keep], new_offsets


def _grams(text: str, minn: int, maxn: int) -> np.ndarray:
    buf = np.frombuffer(text.encode("utf-8"), np.uint8)
    ids, _ = K.grams_many(buf, np.array([0, len(buf)], np.int64), minn, maxn, K.HASH_FNV64, 1, False)
    return ids


def _whole_hash(text: str) -> int:
    h = 14695981039346656037
    for b in ("<" + text + ">").encode("utf-8"):
        h = ((h ^ b) * 1099511628211) & 0xFFFFFFFFFFFFFFFF
    return h


def random_part(text: str, dim: int) -> np.ndarray:
    """Return the random part of a folded key (float64, not normalised): seeded by its 3- to 5-grams and the whole key."""
    seeds = np.concatenate([_grams(text, SEED_MINN, SEED_MAXN).view(np.uint64),
                            np.array([_whole_hash(text)], np.uint64)])
    return K.seeded_vector(seeds, dim)


def build_index(blob: np.ndarray, offsets: np.ndarray) -> dict[str, np.ndarray]:
    """Return the trigram -> rows index of UTF-8 keys as the arrays stored in a model's extras."""
    n = len(offsets) - 1
    fblob, foffsets = _fold_blob(np.asarray(blob, np.uint8), np.asarray(offsets, np.int64))
    hashes, hoff = K.grams_many(fblob, foffsets, INDEX_N, INDEX_N, K.HASH_FNV64, 1, False)
    slots, slot_ids, off, post, sizes = K.build_postings(hashes.view(np.uint64), hoff, n)
    params = np.array([INDEX_VERSION, INDEX_N, n, len(post)], np.int64)
    return {"oov_ngram_slots": slots, "oov_ngram_slot_ids": slot_ids, "oov_ngram_offsets": off,
            "oov_ngram_postings": post, "oov_ngram_sizes": sizes, "oov_ngram_params": params}


def _stored_index(emb: "Embeddings") -> dict[str, np.ndarray] | None:
    """Return the index stored in emb.extras after checking it fits the table, or None when absent."""
    x = emb.extras
    if not all(name in x for name in EXTRA_NAMES):
        return None
    where = emb.source or emb.name
    p = np.asarray(x["oov_ngram_params"])
    if p.shape != (4,) or int(p[0]) != INDEX_VERSION or int(p[1]) != INDEX_N:
        return None  # an index of another version: rebuild rather than misread it
    slots, slot_ids, off, post, sizes = (x[k] for k in EXTRA_NAMES[:5])
    n_ids = len(off) - 1
    cap = len(slots)
    ok = (int(p[2]) == len(emb) and slots.dtype == np.uint64 and slot_ids.dtype == np.int32
          and off.dtype == np.int64 and post.dtype == np.int32 and sizes.dtype == np.int32
          and slots.ndim == slot_ids.ndim == off.ndim == post.ndim == 1 and slot_ids.shape == slots.shape
          and cap > 0 and cap & (cap - 1) == 0 and n_ids >= 0 and sizes.shape == (len(emb),)
          and len(post) == int(p[3]) and off[0] == 0 and off[-1] == len(post)
          and bool(np.all(np.diff(off) >= 0))
          # probing stops at an empty slot, so one must exist; ids must index offsets
          and int(slot_ids.min()) == -1 and int(slot_ids.max()) < n_ids
          and (len(post) == 0 or (int(post.min()) >= 0 and int(post.max()) < len(emb))))
    if not ok:
        raise CorruptFileError(f"the stored OOV n-gram index does not fit table {emb.name!r} "
                               f"({len(emb)} keys); rebuild it with prepare_oov", path=where)
    return {k: x[k] for k in EXTRA_NAMES}


class MagnitudeOOV:
    """Magnitude-style OOV vectors: n-gram seeded random part blended with look-alike known keys."""

    def __init__(self, emb: "Embeddings", index: dict[str, np.ndarray] | None = None) -> None:
        self.emb = emb
        self.dim = emb.dim
        self.str_keys = emb.keys.kind == "str"
        self.index = index
        self._mean_norm = None

    def _ensure_index(self) -> dict[str, np.ndarray]:
        if self.index is None:
            self.index = _stored_index(self.emb)
            if self.index is None:
                self.index = build_index(self.emb.keys.checked().blob, self.emb.keys.offsets)
        return self.index

    def _table_norm(self) -> float:
        if self._mean_norm is None:
            norms = np.asarray(self.emb.norms, np.float64)
            # math.fsum: exactly rounded, so the same on every machine
            self._mean_norm = math.fsum(norms.tolist()) / len(norms) if len(norms) else 1.0
        return self._mean_norm

    def similar(self, key: str, top: int = SIMILAR) -> list[tuple[int, float]]:
        """Return up to `top` (row, score) of the known keys that look most like `key`, best first."""
        text = key.casefold()
        idx = self._ensure_index()
        q = np.unique(_grams(text, INDEX_N, INDEX_N).view(np.uint64))
        if len(q) == 0 or len(self.emb) == 0:
            return []
        rows, dice = K.overlap_candidates(q, idx["oov_ngram_slots"], idx["oov_ngram_slot_ids"],
                                          idx["oov_ngram_offsets"],
                                          idx["oov_ngram_postings"], idx["oov_ngram_sizes"],
                                          len(self.emb), CANDIDATES)
        qa = np.frombuffer(text.encode("utf-32-le"), np.int32)
        n = len(self.emb)
        scored = []
        for r, d in zip(rows.tolist(), dice.tolist()):
            cand = str(self.emb.keys.key(r)).casefold()
            ca = np.frombuffer(cand.encode("utf-32-le"), np.int32)
            edit = 1.0 - K.osa_distance(qa, ca) / max(len(qa), len(ca), 1)
            # among equally close spellings prefer the more frequent key (the lower row); integer
            # log2 keeps the score exact on every machine
            prior = 1.0 - (r + 1).bit_length() / (n + 1).bit_length()
            scored.append((edit + DICE_WEIGHT * d + PRIOR_WEIGHT * prior, r))
        scored.sort(key=lambda t: (-t[0], t[1]))
        return [(r, s) for s, r in scored[:top]]

    def vector(self, key: str | int) -> np.ndarray:
        """Return the deterministic OOV vector of `key` (float32, dim)."""
        text = str(key).casefold()
        rand = random_part(text, self.dim)
        sims = self.similar(str(key)) if self.str_keys else []
        out = np.empty(self.dim, np.float32)
        if not sims:
            K.blend(rand, np.empty((0, self.dim), np.float32), np.empty(0), RANDOM_WEIGHT,
                    self._table_norm(), out)
            return out
        rows = np.array([r for r, _ in sims], np.int64)
        s = np.array([s for _, s in sims], np.float64)
        # sharpen: a clear best look-alike (the likely intended word) dominates the blend; a
        # rational weight rather than exp() keeps the result free of libm differences
        w = 1.0 / (1.0 + SHARPNESS * (s[0] - s)) ** 2
        vs = np.ascontiguousarray(self.emb.store.decode(rows), np.float32)
        K.blend(rand, vs, w, RANDOM_WEIGHT, self._table_norm(), out)
        return out


class PrunedSubwordOOV:
    """fastText composition for a pruned (quantized with a cutoff) model: the mean of the kept n-gram rows."""

    NAMES = ("fasttext_pruned_ids", "fasttext_pruned_rows", "fasttext_pruned_params")

    def __init__(self, emb: "Embeddings") -> None:
        ids, rows, params = (emb.extras[k] for k in self.NAMES)
        ok = (ids.ndim == 1 and ids.dtype == np.int64 and rows.dtype == np.float32
              and rows.shape == (len(ids), emb.dim) and params.shape == (3,) and params.dtype == np.int64)
        if ok:
            self.minn, self.maxn, self.bucket = (int(v) for v in params)
            ok = (self.minn >= 0 and self.maxn >= 0 and self.bucket >= 0
                  and bool(np.all(ids[1:] > ids[:-1])) and (len(ids) == 0 or (ids[0] >= 0 and ids[-1] < self.bucket)))
        if not ok:
            raise CorruptFileError(f"the stored pruned fastText n-gram rows of table {emb.name!r} are "
                                   "inconsistent", path=emb.source)
        self.ids = np.ascontiguousarray(ids)
        self.rows = np.ascontiguousarray(rows)

    def vector(self, key: str | int) -> np.ndarray:
        """Return fastText's vector of `key`: the mean of its kept n-gram rows (zeros when none is kept)."""
        out = np.zeros(self.rows.shape[1], np.float32)
        word = str(key)
        if word == "</s>" or self.maxn == 0 or self.maxn < self.minn or self.bucket == 0:
            return out
        K.pruned_subword_mean(np.frombuffer(word.encode("utf-8"), np.uint8), self.minn, self.maxn,
                              self.bucket, self.ids, self.rows, out)
        return out


def oov_model_for(emb: "Embeddings") -> OOVModel:
    """Return the OOV model of a table: fastText composition with subwords, else Magnitude-style."""
    if emb.subwords is not None and emb.subwords.kind == "fasttext":
        return SubwordOOV(emb)
    if all(k in emb.extras for k in PrunedSubwordOOV.NAMES):
        return PrunedSubwordOOV(emb)
    return MagnitudeOOV(emb)


def prepare_oov(emb: "Embeddings") -> "Embeddings":
    """Return `emb` with its OOV n-gram index in extras, so a saved file needs no rebuild.

    Tables with fastText subwords need no index and are returned unchanged.
    """
    if emb.subwords is not None and emb.subwords.kind == "fasttext":
        return emb
    if all(k in emb.extras for k in PrunedSubwordOOV.NAMES) or emb.keys.kind != "str":
        return emb
    if _stored_index(emb) is not None:
        return emb
    index = build_index(emb.keys.checked().blob, emb.keys.offsets)
    return emb.replace(extras={**emb.extras, **index})
