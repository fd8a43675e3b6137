"""KeyTable and the key index: the hash and layout of docs/format.md, lookups of every kind
of key, duplicates, and damaged arrays that must give CorruptFileError, never a crash."""

from __future__ import annotations

import struct
import zlib

import numpy as np
import pytest

from omnivec.errors import CorruptFileError, DuplicateKeyError, InputError
from omnivec.core import _key_kernels as K
from omnivec.store.container import crc32 as tensor_crc
from omnivec.core.keys import KeyTable, check_packed, encode_keys

WORDS = ["", "a", "ab", "abc", "b", "Straße", "naïve", "東京", "🙂", "a\x00b", "A", "a b", " a",
         "über", "ü" * 40, "x" * 1000]


def reference_index(key_bytes: list[bytes]) -> np.ndarray:
    """The index as docs/format.md specifies it, built in pure Python."""
    cap = 8
    while cap < 2 * len(key_bytes):
        cap *= 2
    index = [-1] * cap
    for r, kb in enumerate(key_bytes):
        i = zlib.crc32(kb) & (cap - 1)
        while index[i] != -1:
            i = (i + 1) & (cap - 1)
        index[i] = r
    return np.array(index, np.int64)


def test_hash_kernels_are_zlib_crc32():
    rng = np.random.default_rng(0)
    for n in [0, 1, 2, 7, 8, 100]:
        buf = rng.integers(0, 256, n, dtype=np.uint8)
        assert int(K.crc32(buf, 0, n)) == zlib.crc32(buf.tobytes())
        if n > 3:
            assert int(K.crc32(buf, 2, n - 1)) == zlib.crc32(buf[2:n - 1].tobytes())
    for x in [0, 1, -1, 2**63 - 1, -(2**63), 123456789, -987654321]:
        assert int(K.crc32_int(np.int64(x))) == zlib.crc32(struct.pack("<q", x))


def test_index_capacity():
    assert [K.index_capacity(n) for n in (0, 1, 4, 5, 8, 9, 1000)] == [8, 8, 8, 16, 16, 32, 2048]
    for n in range(0, 3000, 37):
        c = K.index_capacity(n)
        assert c & (c - 1) == 0 and c >= 2 * n and c >= 8 and (c == 8 or c // 2 < 2 * n)


def test_string_index_matches_the_specification():
    rng = np.random.default_rng(1)
    words = WORDS + [f"w{i}" for i in rng.permutation(3000)]
    table, keep = KeyTable.from_keys(words)
    assert keep is None and len(table) == len(words)
    np.testing.assert_array_equal(table.index, reference_index([w.encode() for w in words]))
    blob, offsets = encode_keys(words)
    assert bytes(table.blob) == b"".join(w.encode() for w in words)
    np.testing.assert_array_equal(table.offsets, offsets)


def test_int_index_matches_the_specification():
    ids = np.array([5, -1, 0, 2**62, -(2**63), 2**63 - 1, 17, 1 << 40], np.int64)
    table, _ = KeyTable.from_keys(ids)
    assert table.kind == "int"
    np.testing.assert_array_equal(table.index, reference_index([struct.pack("<q", int(x)) for x in ids]))
    table2, _ = KeyTable.from_keys([5, -1, 0])
    assert table2.kind == "int" and list(table2) == [5, -1, 0]


def test_lookups_of_every_kind():
    table, _ = KeyTable.from_keys(WORDS)
    for r, w in enumerate(WORDS):
        assert table.row(w) == r
        assert table.key(r) == w
    np.testing.assert_array_equal(table.rows(WORDS), np.arange(len(WORDS)))
    assert table.rows([]).shape == (0,)
    for absent in ["abcd", "B", "東", "x" * 999, "a\x00", "\ud800"]:
        assert table.row(absent) == -1
    for wrong in [1, 1.5, None, b"a", ("a",)]:
        assert table.row(wrong) == -1
    np.testing.assert_array_equal(table.rows(["a", 3, "\ud800", "b"]), [1, -1, -1, 4])
    assert list(table) == WORDS and table.to_list() == WORDS
    assert table.keys_of([2, 0]) == ["ab", ""] and table.key(-1) == WORDS[-1]
    with pytest.raises(IndexError):
        table.key(len(WORDS))


def test_int_lookups():
    ids = np.arange(-500, 500, 3, dtype=np.int64)
    table, _ = KeyTable.from_keys(ids)
    for r in range(0, len(ids), 17):
        assert table.row(int(ids[r])) == r
        assert table.row(np.int32(ids[r])) == r
    np.testing.assert_array_equal(table.rows(ids.tolist()), np.arange(len(ids)))
    for wrong in [-499, 2**63, -(2**63) - 1, "1", True, 1.0, None]:
        assert table.row(wrong) == -1
    np.testing.assert_array_equal(table.rows([-500, "x", 2**64]), [0, -1, -1])
    assert all(type(k) is int for k in table)


def test_many_keys_all_found():
    rng = np.random.default_rng(2)
    words = [f"{w}-{i}" for i, w in enumerate(rng.integers(0, 10**9, 50_000))]
    table, _ = KeyTable.from_keys(words)
    np.testing.assert_array_equal(table.rows(words), np.arange(len(words)))
    assert (table.rows([w + "!" for w in words[:1000]]) == -1).all()
    # The one-key path (pure Python over memory views) agrees with the compiled batch path.
    for i in range(0, 50_000, 997):
        assert table.row(words[i]) == i


def test_duplicates():
    with pytest.raises(DuplicateKeyError, match=r"'b' at row 3 .*2 duplicates"):
        KeyTable.from_keys(["a", "b", "c", "b", "a"])
    table, keep = KeyTable.from_keys(["a", "b", "c", "b", "a"], on_duplicate="first")
    assert list(table) == ["a", "b", "c"]
    np.testing.assert_array_equal(keep, [True, True, True, False, False])
    with pytest.raises(DuplicateKeyError, match="key 7 at row 2"):
        KeyTable.from_keys(np.array([7, 8, 7], np.int64))
    table, keep = KeyTable.from_keys(np.array([7, 8, 7], np.int64), on_duplicate="first")
    assert list(table) == [7, 8] and keep.tolist() == [True, True, False]
    # Equal text in different Unicode normal forms is two different keys (bytes differ).
    table, _ = KeyTable.from_keys(["é", "e\u0301"])
    assert table.row("é") == 0 and table.row("e\u0301") == 1


def test_bad_keys():
    with pytest.raises(InputError, match="key 1"):
        KeyTable.from_keys(["a", 2.5])
    with pytest.raises(InputError, match="UTF-8"):
        KeyTable.from_keys(["a", "\ud800"])
    with pytest.raises(InputError, match="key 0"):
        KeyTable.from_keys([None])


def test_take():
    table, _ = KeyTable.from_keys(WORDS)
    sub = table.take(np.array([3, 0, 7]))
    assert list(sub) == ["abc", "", "東京"] and sub.row("東京") == 2 and sub.row("a") == -1
    ints, _ = KeyTable.from_keys(np.array([10, 20, 30], np.int64))
    assert list(ints.take(np.array([2, 0]))) == [30, 10]


# -- damaged arrays ------------------------------------------------------------------------
def damaged(words=("alpha", "beta", "gamma", "delta"), **change) -> KeyTable:
    t, _ = KeyTable.from_keys(list(words))
    arrays = {"blob": t.blob.copy(), "offsets": t.offsets.copy(), "index": t.index.copy()}
    for name, fn in change.items():
        fn(arrays[name])
    return KeyTable(kind="str", source="damaged.ov", **arrays)


def test_index_pointing_out_of_range():
    def spoil(ix):
        ix[ix >= 0] = 10**9

    t = damaged(index=spoil)
    with pytest.raises(CorruptFileError, match="damaged.ov.*damaged"):
        t.row("alpha")
    with pytest.raises(CorruptFileError):
        t.rows(["alpha", "beta"])


def test_offsets_out_of_range_or_decreasing():
    def beyond(off):
        off[2] = 10**6

    t = damaged(offsets=beyond)
    with pytest.raises(CorruptFileError):
        t.key(1)
    with pytest.raises(CorruptFileError):
        t.rows(["alpha", "beta", "gamma", "delta"])
    with pytest.raises(CorruptFileError):
        list(t)

    def backwards(off):
        off[2] = 1

    t = damaged(offsets=backwards)
    with pytest.raises(CorruptFileError):
        list(t)
    with pytest.raises(CorruptFileError):
        t.key(1)


def test_index_full_of_other_rows_terminates():
    def loop(ix):
        ix[:] = 0        # every slot says "alpha": no empty slot to stop at

    t = damaged(index=loop)
    assert t.row("alpha") == 0
    assert t.row("beta") == -1          # bounded probing: C steps, then absent
    out = t.rows(["beta", "alpha"])
    np.testing.assert_array_equal(out, [-1, 0])


def test_guard_turns_a_silent_miss_into_an_error():
    good, _ = KeyTable.from_keys(["alpha", "beta", "gamma"])
    sums = {"key_index": tensor_crc(good.index), "keys_blob": tensor_crc(good.blob),
            "keys_offsets": tensor_crc(good.offsets)}
    index = good.index.copy()
    index[index == 1] = -1              # "beta" is no longer reachable
    t = KeyTable(kind="str", index=index, blob=good.blob, offsets=good.offsets, source="f.ov",
                 checksums=sums)
    assert t.row("alpha") == 0          # hits are answered without any check
    with pytest.raises(CorruptFileError, match="f.ov.*CRC-32.*key_index"):
        t.row("beta")
    with pytest.raises(CorruptFileError):
        t.rows(["zeta"])                # stays damaged
    intact = KeyTable(kind="str", index=good.index, blob=good.blob, offsets=good.offsets,
                      source="f.ov", checksums=sums)
    assert intact.row("zeta") == -1 and intact.row("zeta") == -1
    assert intact._guard is None        # checked once, then never again


@pytest.mark.parametrize("blob, offsets, message", [
    (b"alphabeta", [0, 5, 3, 9], "decrease at row 1"),
    (b"alphabeta", [0, 5, 10], "run from 0 to 9"),
    (b"alphabeta", [1, 5, 9], "run from 0"),
    (b"al\xffbeta", [0, 3, 7], "not valid UTF-8.*byte 2"),
    ("aé".encode(), [0, 2, 3], "inside a UTF-8 character.*byte 2"),
])
def test_check_packed(blob, offsets, message):
    with pytest.raises(CorruptFileError, match=message):
        check_packed(np.frombuffer(blob, np.uint8), np.array(offsets, np.int64), "f.ov")


def test_checked_runs_once():
    blob, offsets = encode_keys(["a", "bb", "", "東京"])
    check_packed(blob, offsets)
    t = KeyTable(kind="str", index=KeyTable.from_keys(["a", "bb", "", "東京"])[0].index,
                 blob=blob, offsets=offsets, source="f.ov")
    assert t.checked() is t and t._checked
    bad = KeyTable(kind="str", index=t.index, blob=blob, offsets=np.array([0, 2, 1, 3, 9]), source="f.ov")
    with pytest.raises(CorruptFileError, match="f.ov"):
        bad.checked()
