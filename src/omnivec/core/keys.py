"""KeyTable: keys <-> rows without a Python object per key.

String keys live as one UTF-8 byte blob plus an offsets array (row r is
blob[offsets[r]:offsets[r+1]]); integer keys as an int64 array.  An
open-addressing hash index maps a key to its row; all three arrays may be
read-only memory maps straight out of a model file.
"""

from __future__ import annotations

from typing import Iterable, Iterator, Sequence

import zlib

import numpy as np

from ..errors import CorruptFileError, DuplicateKeyError, InputError
from .._lazy import kernels

K = kernels("omnivec.core._key_kernels")

EMPTY = -1    # a free slot of the hash index
CORRUPT = -2  # what a probe returns when the index or blob it reads is damaged

Key = str | int


def encode_keys(keys: Iterable[str]) -> tuple[np.ndarray, np.ndarray]:
    """Return (blob uint8, offsets int64) holding the UTF-8 bytes of `keys`."""
    encoded = []
    for i, k in enumerate(keys):
        if not isinstance(k, str):
            raise InputError(f"key {i} is {type(k).__name__} {k!r}; string tables need str keys")
        try:
            encoded.append(k.encode("utf-8"))
        except UnicodeEncodeError as exc:
            raise InputError(f"key {i} {k!r} cannot be encoded as UTF-8: {exc.reason}") from None
    offsets = np.zeros(len(encoded) + 1, np.int64)
    if encoded:
        np.cumsum([len(b) for b in encoded], out=offsets[1:])
    blob = np.frombuffer(b"".join(encoded), np.uint8)
    return blob, offsets


def check_packed(blob: np.ndarray, offsets: np.ndarray, source: str | None = None) -> None:
    """Return None when (blob, offsets) hold well-formed UTF-8 keys, else raise CorruptFileError.

    One O(n) pass: offsets run from 0 to len(blob) without decreasing, the blob is
    valid UTF-8 and no key starts inside a character.  Code that hands the arrays
    of a table opened from a file to a compiled kernel calls this first.
    """
    n = len(offsets) - 1
    if n < 0 or offsets[0] != 0 or offsets[-1] != len(blob):
        raise CorruptFileError(f"key offsets must run from 0 to {len(blob)}", path=source)
    steps = np.diff(offsets)
    if (steps < 0).any():
        raise CorruptFileError(f"key offsets decrease at row {int(np.flatnonzero(steps < 0)[0])}",
                               path=source)
    try:
        bytes(blob).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CorruptFileError(f"keys are not valid UTF-8 (key blob byte {exc.start})", path=source) from None
    starts = offsets[:-1][steps > 0]
    split = np.flatnonzero((blob[starts] & 0xC0) == 0x80)
    if len(split):
        raise CorruptFileError(f"a key starts inside a UTF-8 character (key blob byte "
                               f"{int(starts[split[0]])})", path=source)


class KeyTable:
    """Maps keys (all str or all int) to row numbers and back."""

    __slots__ = ("kind", "blob", "offsets", "ids", "index", "_n", "_source", "_guard", "_probe",
                 "_checked")

    def __init__(self, *, kind: str, index: np.ndarray, blob: np.ndarray | None = None,
                 offsets: np.ndarray | None = None, ids: np.ndarray | None = None,
                 source: str | None = None, checksums: dict[str, str] | None = None) -> None:
        self.kind = kind
        self.blob = blob
        self.offsets = offsets
        self.ids = ids
        self.index = index
        self._n = (len(offsets) - 1) if kind == "str" else len(ids)
        self._source = source
        # A damaged index can hide a key (a slot overwritten by another row or by EMPTY) without
        # any out-of-range value to notice.  So the first time a lookup misses, the key arrays
        # are checked once against their stored CRC-32s: a miss is then a true answer or a
        # CorruptFileError, at the cost of one pass over the key arrays per opened file.
        self._guard = checksums or None
        self._probe = None
        self._checked = source is None     # built in memory: well-formed by construction

    # -- construction ---------------------------------------------------------
    @classmethod
    def from_keys(cls, keys: Sequence[Key] | np.ndarray, *, on_duplicate: str = "error") -> tuple["KeyTable", np.ndarray | None]:
        """Return (table, keep) for in-memory keys.

        With on_duplicate="error" a repeated key raises DuplicateKeyError; with
        "first" later copies are dropped and `keep` is the boolean mask of rows kept
        (None when there were no duplicates).
        """
        if isinstance(keys, np.ndarray) and keys.dtype.kind in "iu":
            return cls._from_ids(keys.astype(np.int64, copy=False), on_duplicate)
        keys = list(keys)
        if keys and all(isinstance(k, (int, np.integer)) and not isinstance(k, bool) for k in keys):
            return cls._from_ids(np.asarray(keys, np.int64), on_duplicate)
        blob, offsets = encode_keys(keys)
        return cls.from_blob(blob, offsets, on_duplicate=on_duplicate)

    @classmethod
    def from_blob(cls, blob: np.ndarray, offsets: np.ndarray, *, on_duplicate: str = "error") -> tuple["KeyTable", np.ndarray | None]:
        """Return (table, keep) for UTF-8 keys already packed as blob + offsets."""
        n = len(offsets) - 1
        index = np.full(K.index_capacity(n), EMPTY, np.int64)
        dups, first = K.build_str_index(blob, offsets, index)
        table = cls(kind="str", index=index, blob=blob, offsets=offsets)
        if dups == 0:
            return table, None
        if on_duplicate == "error":
            raise DuplicateKeyError(
                f"key {table.key(int(first))!r} at row {first} repeats an earlier key "
                f"({dups} duplicate{'s' if dups > 1 else ''} in all); keys must be unique")
        keep = np.zeros(n, bool)
        keep[index[index >= 0]] = True
        lengths = np.diff(offsets)[keep]
        starts = offsets[:-1][keep]
        new_offsets = np.zeros(len(lengths) + 1, np.int64)
        np.cumsum(lengths, out=new_offsets[1:])
        pieces = [blob[s:s + l] for s, l in zip(starts.tolist(), lengths.tolist())]
        new_blob = np.concatenate(pieces) if pieces else np.zeros(0, np.uint8)
        return cls.from_blob(new_blob, new_offsets)[0], keep

    @classmethod
    def _from_ids(cls, ids: np.ndarray, on_duplicate: str) -> tuple["KeyTable", np.ndarray | None]:
        index = np.full(K.index_capacity(len(ids)), EMPTY, np.int64)
        dups, first = K.build_int_index(ids, index)
        if dups == 0:
            return cls(kind="int", index=index, ids=ids), None
        if on_duplicate == "error":
            raise DuplicateKeyError(
                f"key {int(ids[first])} at row {first} repeats an earlier key "
                f"({dups} duplicate{'s' if dups > 1 else ''} in all); keys must be unique")
        keep = np.zeros(len(ids), bool)
        keep[index[index >= 0]] = True
        return cls._from_ids(ids[keep].copy(), "error")[0], keep

    # -- queries --------------------------------------------------------------
    def __len__(self) -> int:
        return self._n

    def row(self, key: Key) -> int:
        """Return the row of `key`, or -1 when it is absent."""
        if self.kind == "str":
            if not isinstance(key, str):
                return -1
            try:
                q = key.encode("utf-8")
            except UnicodeEncodeError:
                return -1
        else:
            if isinstance(key, bool) or not isinstance(key, (int, np.integer)):
                return -1
            if not -(2**63) <= int(key) < 2**63:
                return -1
            q = int(key).to_bytes(8, "little", signed=True)
        if self._probe is None:
            self._probe = self.fast_probe()
        r = self._probe(q)
        if r == CORRUPT:
            self._corrupt()
        if r < 0 and self._guard is not None:
            self._check_on_miss()
        return r

    def rows(self, keys: Sequence[Key]) -> np.ndarray:
        """Return the rows of `keys` as int64, -1 where a key is absent."""
        keys = list(keys)
        out = np.empty(len(keys), np.int64)
        if self.kind == "str":
            ok = [isinstance(k, str) for k in keys]
            if not all(ok):
                return np.array([self.row(k) for k in keys], np.int64)
            try:
                qblob, qoff = encode_keys(keys)
            except InputError:
                return np.array([self.row(k) for k in keys], np.int64)
            K.probe_str_many(self.blob, self.offsets, self.index, qblob, qoff, out)
        else:
            if not all(isinstance(k, (int, np.integer)) and not isinstance(k, bool)
                       and -(2**63) <= int(k) < 2**63 for k in keys):
                return np.array([self.row(k) for k in keys], np.int64)
            K.probe_int_many(self.ids, self.index, np.asarray(keys, np.int64), out)
        if (out == CORRUPT).any():
            self._corrupt()
        if self._guard is not None and (out < 0).any():
            self._check_on_miss()
        return out

    def _check_on_miss(self) -> None:
        from .._checksum import crc32

        guard, self._guard = self._guard, None
        for field, expected in guard.items():
            arr = getattr(self, {"key_index": "index", "keys_blob": "blob", "keys_offsets": "offsets",
                                 "keys_ids": "ids"}[field])
            if arr is not None and crc32(arr) != expected:
                self._guard = guard   # stay damaged: every later miss raises too
                raise CorruptFileError(f"the key arrays fail their CRC-32 check ({field}): a key "
                                       "may be unreachable; run `omnivec verify` on the file",
                                       path=self._source)

    def key(self, row: int) -> Key:
        """Return the key of `row` (negative rows count from the end)."""
        if row < 0:
            row += self._n
        if not 0 <= row < self._n:
            raise IndexError(f"row {row} out of range for {self._n} keys")
        if self.kind == "int":
            return int(self.ids[row])
        s, e = int(self.offsets[row]), int(self.offsets[row + 1])
        if not 0 <= s <= e <= len(self.blob):
            self._corrupt()
        try:
            return bytes(self.blob[s:e]).decode("utf-8")
        except UnicodeDecodeError:
            raise CorruptFileError(f"key of row {row} is not valid UTF-8", path=self._source) from None

    def keys_of(self, rows: Iterable[int]) -> list[Key]:
        """Return the keys of `rows`."""
        return [self.key(int(r)) for r in rows]

    def __iter__(self) -> Iterator[Key]:
        if self.kind == "int":
            yield from (int(x) for x in self.ids)
            return
        if self._n:
            # Decode in blocks: one bytes object per block, not one per key.
            step = 65536
            for start in range(0, self._n, step):
                stop = min(start + step, self._n)
                s0, s1 = int(self.offsets[start]), int(self.offsets[stop])
                if not 0 <= s0 <= s1 <= len(self.blob):
                    self._corrupt()
                rel = self.offsets[start:stop + 1] - s0
                if (np.diff(rel) < 0).any():
                    self._corrupt()
                chunk = bytes(self.blob[s0:s1])
                offs = rel.tolist()
                try:
                    for a, b in zip(offs[:-1], offs[1:]):
                        yield chunk[a:b].decode("utf-8")
                except UnicodeDecodeError:
                    raise CorruptFileError("a key is not valid UTF-8", path=self._source) from None

    def to_list(self) -> list[Key]:
        """Return every key, in row order."""
        return list(self)

    def home_views(self) -> tuple | None:
        """Return (index, offsets, blob, mask, n) as memoryviews for inlined home-slot probes.

        A string key whose row r = index[crc32(key) & mask] satisfies
        0 <= r < n and blob[offsets[r]:offsets[r + 1]] == key is found; anything
        else goes through `row()`.  None for integer tables.
        """
        if self.kind != "str":
            return None
        index = memoryview(np.ascontiguousarray(self.index)).cast("B").cast("q")
        offsets = memoryview(np.ascontiguousarray(self.offsets)).cast("B").cast("q")
        blob = memoryview(np.ascontiguousarray(self.blob)).cast("B")
        return index, offsets, blob, len(index) - 1, self._n

    def fast_probe(self):
        """Return a callable key-bytes -> row (-1 absent, -2 damaged index) for one-key lookups.

        Pure Python over memoryviews of the (memory-mapped) arrays plus zlib's
        CRC-32: no compiled code to load on the first lookup after open, and
        cheaper per call than a compiled kernel's argument dispatch.
        """
        index = memoryview(np.ascontiguousarray(self.index)).cast("B").cast("q")
        mask = len(index) - 1
        n = self._n
        crc = zlib.crc32
        if self.kind == "str":
            _, offsets, blob, _, _ = self.home_views()
            nblob = len(blob)

            def probe(q: bytes) -> int:
                i = crc(q) & mask
                r = index[i]
                if 0 <= r < n and blob[offsets[r]:offsets[r + 1]] == q:
                    return r        # the common case: found in its home slot
                if r == -1:
                    return -1
                for _ in range(mask + 1):
                    r = index[i]
                    if r == -1:
                        return -1
                    if not 0 <= r < n:
                        return -2
                    s, e = offsets[r], offsets[r + 1]
                    if e - s == len(q):
                        if not 0 <= s <= e <= nblob:
                            return -2
                        if blob[s:e] == q:
                            return r
                    i = (i + 1) & mask
                return -1
        else:
            ids = memoryview(np.ascontiguousarray(self.ids)).cast("B").cast("q")

            def probe(q: bytes) -> int:
                x = int.from_bytes(q, "little", signed=True)
                i = crc(q) & mask
                for _ in range(mask + 1):
                    r = index[i]
                    if r == -1:
                        return -1
                    if not 0 <= r < n:
                        return -2
                    if ids[r] == x:
                        return r
                    i = (i + 1) & mask
                return -1
        return probe

    def checked(self) -> "KeyTable":
        """Return this table after a one-time O(n) check of its key arrays (CorruptFileError if bad).

        Lookups and iteration check what they read as they go; code that passes
        `blob` and `offsets` of an opened file to a compiled kernel of its own
        (which reads without bounds checks) calls this first.
        """
        if not self._checked:
            if self.kind == "str":
                check_packed(self.blob, self.offsets, self._source)
            self._checked = True
        return self

    def _corrupt(self):
        raise CorruptFileError("the key index is damaged (row or offset out of range); "
                               "run `omnivec verify` on the file", path=self._source)

    def arrays(self) -> dict[str, np.ndarray]:
        """Return the arrays that store this table, by field name."""
        if self.kind == "str":
            return {"keys_blob": self.blob, "keys_offsets": self.offsets, "key_index": self.index}
        return {"keys_ids": self.ids, "key_index": self.index}

    def take(self, rows: np.ndarray) -> "KeyTable":
        """Return a new table holding the keys of `rows`, in that order."""
        rows = np.asarray(rows, np.int64)
        if self.kind == "int":
            return KeyTable._from_ids(self.ids[rows].copy(), "error")[0]
        lengths = (self.offsets[rows + 1] - self.offsets[rows])
        offsets = np.zeros(len(rows) + 1, np.int64)
        np.cumsum(lengths, out=offsets[1:])
        starts = self.offsets[rows].tolist()
        pieces = [self.blob[s:s + l] for s, l in zip(starts, lengths.tolist())]
        blob = np.concatenate(pieces) if pieces else np.zeros(0, np.uint8)
        return KeyTable.from_blob(blob, offsets)[0]
