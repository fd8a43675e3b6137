"""fastText's character n-grams: the hash, the subword ids of a word, and word-vector composition.

fastText represents a word w by the character n-grams of ``<w>`` (minn to
maxn UTF-8 characters long; the lone ``<`` and ``>`` are not n-grams), each
hashed with a 32-bit FNV-1a variant into one of ``bucket`` rows.  Its
variant casts each byte to a signed char before the xor, so bytes >= 0x80
(every non-ASCII character) are sign-extended; we reproduce that exactly, so
our ids equal fastText's ``get_subwords`` ids minus nwords.

A word's vector is the mean of its own input row (in-vocabulary words only)
and the bucket rows of its n-grams, n-grams that occur twice counted twice;
an unknown word with no n-grams gets the zero vector; the end-of-sentence
token ``</s>`` has no n-grams.
"""

from __future__ import annotations

import numpy as np

from ..errors import InputError
from . import _ngram_kernels as K

EOS = "</s>"


def fasttext_hash(b: bytes) -> int:
    """Return fastText's 32-bit hash of `b` (FNV-1a over bytes read as signed chars)."""
    buf = np.frombuffer(bytes(b), np.uint8)
    return int(K.ft_hash_range(buf, 0, len(buf)))


def _check(minn: int, maxn: int, bucket: int) -> None:
    if minn < 0 or maxn < 0 or bucket < 0:
        raise InputError(f"minn, maxn and bucket must be >= 0; got minn={minn} maxn={maxn} bucket={bucket}")
    if bucket == 0 and maxn > 0 and maxn >= minn:
        raise InputError(f"bucket must be > 0 when n-grams are used (minn={minn}, maxn={maxn})")


def _check_rows(buckets: np.ndarray, bucket: int, maxn: int, minn: int) -> None:
    # the kernels index buckets[id] for ids < bucket without bounds checks
    if maxn > 0 and maxn >= minn and (buckets.ndim != 2 or buckets.shape[0] < bucket):
        raise InputError(f"the subword table has {buckets.shape[0] if buckets.ndim else 0} rows but "
                         f"bucket is {bucket}; n-gram ids run up to bucket - 1")


def ngram_ids(word: str, minn: int, maxn: int, bucket: int) -> np.ndarray:
    """Return the bucket indices (int64, 0..bucket-1) of the character n-grams of ``<word>``.

    Same ids and order as fastText's computeSubwords (without the nwords
    offset fastText adds); empty when maxn < minn or maxn == 0.
    """
    _check(minn, maxn, bucket)
    buf = np.frombuffer(word.encode("utf-8"), np.uint8)
    if maxn == 0 or maxn < minn:
        return np.empty(0, np.int64)
    n = K.word_grams(buf, 0, len(buf), minn, maxn, K.HASH_FASTTEXT, bucket, np.empty(0, np.int64), 0, False)
    out = np.empty(n, np.int64)
    K.word_grams(buf, 0, len(buf), minn, maxn, K.HASH_FASTTEXT, bucket, out, 0, True)
    return out


def ngram_ids_many(blob: np.ndarray, offsets: np.ndarray, minn: int, maxn: int, bucket: int,
                   *, skip_eos: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Return (ids, id_offsets): the bucket indices of every key of a UTF-8 blob, CSR style.

    Key r is blob[offsets[r]:offsets[r+1]]; its ids are ids[id_offsets[r]:id_offsets[r+1]].
    With skip_eos the key ``</s>`` gets none, as in fastText's dictionary.
    Runs in one compiled pass (no Python object per key).
    """
    _check(minn, maxn, bucket)
    blob = np.ascontiguousarray(blob, np.uint8)
    offsets = np.ascontiguousarray(offsets, np.int64)
    if maxn == 0 or maxn < minn:
        return np.empty(0, np.int64), np.zeros(len(offsets), np.int64)
    return K.grams_many(blob, offsets, minn, maxn, K.HASH_FASTTEXT, bucket, skip_eos)


def word_ngram_ids(word: str, minn: int, maxn: int, bucket: int) -> np.ndarray:
    """Return the bucket indices fastText uses for `word` ('</s>' has none)."""
    if word == EOS:
        return np.empty(0, np.int64)
    return ngram_ids(word, minn, maxn, bucket)


def compose_vectors(word_rows: np.ndarray, buckets: np.ndarray, blob: np.ndarray, offsets: np.ndarray,
                    minn: int, maxn: int, bucket: int) -> np.ndarray:
    """Return fastText's word vectors (n x dim float32): each word's own row averaged with its n-gram rows."""
    _check_rows(buckets, bucket, maxn, minn)
    ids, id_offsets = ngram_ids_many(blob, offsets, minn, maxn, bucket)
    out = np.empty(word_rows.shape, np.float32)
    K.compose(np.ascontiguousarray(word_rows, np.float32), np.ascontiguousarray(buckets, np.float32),
              ids, id_offsets, out)
    return out


def decompose_vectors(vectors: np.ndarray, buckets: np.ndarray, blob: np.ndarray, offsets: np.ndarray,
                      minn: int, maxn: int, bucket: int) -> np.ndarray:
    """Return the own input rows (n x dim float32) whose fastText composition gives `vectors`."""
    _check_rows(buckets, bucket, maxn, minn)
    ids, id_offsets = ngram_ids_many(blob, offsets, minn, maxn, bucket)
    out = np.empty(vectors.shape, np.float32)
    K.decompose(np.ascontiguousarray(vectors, np.float32), np.ascontiguousarray(buckets, np.float32),
                ids, id_offsets, out)
    return out


def subword_vector(word: str, buckets: np.ndarray, minn: int, maxn: int, bucket: int) -> np.ndarray:
    """Return fastText's vector of an out-of-vocabulary word: the mean of its n-gram rows (zeros if none)."""
    out = np.zeros(buckets.shape[1], np.float32)
    if word == EOS or maxn == 0 or maxn < minn:
        return out
    _check(minn, maxn, bucket)
    _check_rows(buckets, bucket, maxn, minn)
    K.subword_mean(np.frombuffer(word.encode("utf-8"), np.uint8), minn, maxn, bucket, buckets, out)
    return out
