"""Texts: one string per row (a document's text), stored as a UTF-8 blob and offsets.

Row r is ``blob[offsets[r]:offsets[r+1]]`` decoded as UTF-8.  Both arrays
may be read-only memory maps straight out of a model file: nothing is decoded
until a row is asked for, so opening a table with a million documents costs
nothing.  A table keeps its texts for display and for lexical retrieval
(BM25) beside its vectors.
"""

from __future__ import annotations

from typing import Iterable, Iterator, Sequence, overload

import numpy as np

from .._checksum import crc32

from ..errors import CorruptFileError, InputError

# Rows decoded per read when iterating: one slice of the blob, then per-row decodes.
ITER_BLOCK = 4096


def encode_texts(texts: Iterable[str], *, start: int = 0) -> tuple[list[bytes], np.ndarray]:
    """Return (UTF-8 encodings, their lengths int64) of `texts`, refusing what is not a str.

    `start` is the row of the first text, for the error messages.
    """
    encoded = []
    for i, t in enumerate(texts, start):
        if not isinstance(t, str):
            raise InputError(f"text at row {i} is {type(t).__name__} {_short(t)}; texts must be str")
        try:
            encoded.append(t.encode("utf-8"))
        except UnicodeEncodeError as exc:
            raise InputError(f"text at row {i} cannot be encoded as UTF-8 ({exc.reason} at "
                             f"character {exc.start})") from None
    return encoded, np.fromiter((len(b) for b in encoded), np.int64, len(encoded))


def _short(x) -> str:
    r = repr(x)
    return r if len(r) <= 40 else r[:37] + "..."


class Texts(Sequence[str]):
    """The text of every row of a table: len(), texts[i], texts[a:b], iteration; read-only."""

    __slots__ = ("blob", "offsets", "source")

    def __init__(self, blob: np.ndarray, offsets: np.ndarray, *, source: str | None = None) -> None:
        self.blob = blob
        self.offsets = offsets
        self.source = source

    @classmethod
    def from_strings(cls, texts: Iterable[str]) -> "Texts":
        """Return the Texts holding `texts` (each a str; empty strings and any Unicode are kept)."""
        encoded, lengths = encode_texts(texts)
        offsets = np.zeros(len(encoded) + 1, np.int64)
        np.cumsum(lengths, out=offsets[1:])
        blob = np.frombuffer(b"".join(encoded), np.uint8) if encoded else np.zeros(0, np.uint8)
        return cls(blob, offsets)

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def _span(self, r: int) -> tuple[int, int]:
        a, b = int(self.offsets[r]), int(self.offsets[r + 1])
        if not 0 <= a <= b <= len(self.blob):
            raise CorruptFileError(f"the text of row {r} lies outside the text blob (offsets {a}..{b} of "
                                   f"{len(self.blob)} bytes); run `omnivec verify` on the file",
                                   path=self.source)
        return a, b

    def _decode(self, r: int, raw: bytes) -> str:
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise CorruptFileError(f"the text of row {r} is not valid UTF-8 (byte {exc.start} of the "
                                   "text); run `omnivec verify` on the file", path=self.source) from None

    @overload
    def __getitem__(self, i: int) -> str: ...

    @overload
    def __getitem__(self, i: slice) -> list[str]: ...

    def __getitem__(self, i):
        n = len(self)
        if isinstance(i, slice):
            return [self[r] for r in range(*i.indices(n))]
        if isinstance(i, bool) or not isinstance(i, (int, np.integer)):
            raise TypeError(f"texts are indexed by row number or slice, not {type(i).__name__}")
        r = int(i)
        if r < 0:
            r += n
        if not 0 <= r < n:
            raise IndexError(f"row {i} is out of range for {n} texts")
        a, b = self._span(r)
        return self._decode(r, self.blob[a:b].tobytes())

    def __iter__(self) -> Iterator[str]:
        n = len(self)
        for s in range(0, n, ITER_BLOCK):
            e = min(n, s + ITER_BLOCK)
            offs = np.asarray(self.offsets[s:e + 1], np.int64)
            lo, hi = int(offs[0]), int(offs[-1])
            if not 0 <= lo <= hi <= len(self.blob) or (np.diff(offs) < 0).any():
                for r in range(s, e):       # names the damaged row
                    self._span(r)
            raw = self.blob[lo:hi].tobytes()
            rel = (offs - lo).tolist()
            for j in range(e - s):
                yield self._decode(s + j, raw[rel[j]:rel[j + 1]])

    def __contains__(self, value: object) -> bool:
        return any(t == value for t in self)

    def __repr__(self) -> str:
        return f"Texts(n={len(self)}, bytes={len(self.blob)})"

    @property
    def nbytes(self) -> int:
        """Return the size of the UTF-8 text in bytes."""
        return int(len(self.blob))

    def take(self, rows: Sequence[int] | np.ndarray) -> "Texts":
        """Return the texts of `rows`, in that order (a copy in memory)."""
        rows = np.asarray(rows, np.int64)
        spans = [self._span(int(r)) for r in rows.tolist()]
        offsets = np.zeros(len(spans) + 1, np.int64)
        if spans:
            np.cumsum([b - a for a, b in spans], out=offsets[1:])
        pieces = [self.blob[a:b] for a, b in spans]
        blob = np.concatenate(pieces).astype(np.uint8, copy=False) if pieces else np.zeros(0, np.uint8)
        return Texts(blob, offsets)

    def checksum(self) -> str:
        """Return a CRC-32 of the texts and their boundaries (what a derived index records to spot change)."""
        return f"{crc32(self.blob)}-{crc32(self.offsets)}"

    def arrays(self) -> dict[str, np.ndarray]:
        """Return the arrays that store these texts, by field name."""
        return {"texts_blob": self.blob, "texts_offsets": self.offsets}

    def problems(self) -> list[str]:
        """Return what is wrong with the stored texts (empty when sound): offsets, UTF-8, split characters."""
        offs, blob = self.offsets, self.blob
        if len(offs) < 1 or offs[0] != 0 or offs[-1] != len(blob):
            return [f"texts_offsets must run from 0 to {len(blob)} (the blob's length)"]
        steps = np.diff(offs)
        if (steps < 0).any():
            return [f"texts_offsets decrease at row {int(np.flatnonzero(steps < 0)[0])}"]
        out = []
        try:
            blob.tobytes().decode("utf-8")
        except UnicodeDecodeError as exc:
            row = int(np.searchsorted(offs, exc.start, side="right")) - 1
            out.append(f"the texts are not valid UTF-8 at blob byte {exc.start} (row {row})")
            return out
        starts = offs[:-1][steps > 0]
        split = np.flatnonzero((blob[starts] & 0xC0) == 0x80)
        if len(split):
            at = int(starts[split[0]])
            row = int(np.searchsorted(offs, at, side="right")) - 1
            out.append(f"a text boundary splits a UTF-8 character at blob byte {at} (row {row})")
        return out
