"""TextSpool: texts appended one batch at a time to a temporary file, on their way to a model file.

A streamed import or a corpus encoder cannot hold a million documents in
memory.  The spool writes their UTF-8 bytes to a temporary file in the
destination folder (named for the file being written, so a crashed writer's
spool is removed like any stale temporary) and keeps only the offsets (8
bytes a text).  `StreamedTable(texts=spool)` copies it into the model file
block by block; `read(start, stop)` gives texts back for a second pass (the
encoder embeds what it spooled).

    with TextSpool.beside("docs.ov") as spool:
        for batch in batches:
            spool.extend(batch)
        save_tables("docs.ov", {"docs": StreamedTable(..., texts=spool)})
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np

from .._atomic import remove_stale, temporary_file
from .._checksum import COPY_BLOCK
from ..core.text import encode_texts
from ..errors import FormatError, InputError
from .container import Blocks


class TextSpool:
    """Texts spooled to a temporary file: append, then read back or copy into a model file."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        self._fh = open(self.path, "w+b")
        self._lengths: list[np.ndarray] = []
        self._n = 0
        self._nbytes = 0
        self._offsets: np.ndarray | None = None

    @classmethod
    def beside(cls, target: str | os.PathLike) -> "TextSpool":
        """Return an empty spool in the folder of `target` (the model file it will go into)."""
        target = Path(target)
        folder = target.parent if str(target.parent) else Path(".")
        if not folder.is_dir():
            raise FormatError(f"folder {folder} does not exist", path=target)
        remove_stale(folder)
        try:
            return cls(temporary_file(folder, target.name, ".texts"))
        except OSError as exc:
            raise FormatError(f"cannot write in folder {folder}: {exc.strerror or exc}", path=target) from None

    def __len__(self) -> int:
        return self._n

    @property
    def nbytes(self) -> int:
        """Return the UTF-8 bytes spooled so far."""
        return self._nbytes

    def append(self, text: str) -> None:
        """Add one text (a str; empty strings and any Unicode are kept)."""
        self.extend([text])

    def extend(self, texts: Iterable[str]) -> None:
        """Add texts, in order; a non-str raises InputError naming its row."""
        if self._offsets is not None:
            raise InputError("the text spool is closed to appends once its offsets were taken")
        encoded, lengths = encode_texts(texts, start=self._n)
        if not encoded:
            return
        self._fh.seek(0, os.SEEK_END)
        self._fh.write(b"".join(encoded))
        self._lengths.append(lengths)
        self._n += len(encoded)
        self._nbytes += int(lengths.sum())

    @property
    def offsets(self) -> np.ndarray:
        """Return the n+1 int64 offsets of the texts in the spool (no more appends after this)."""
        if self._offsets is None:
            offsets = np.zeros(self._n + 1, np.int64)
            if self._n:
                np.cumsum(np.concatenate(self._lengths), out=offsets[1:])
            self._offsets, self._lengths = offsets, []
        return self._offsets

    def read(self, start: int, stop: int) -> list[str]:
        """Return texts start..stop-1 as spooled."""
        offs = self.offsets
        a, b = int(offs[start]), int(offs[stop])
        self._fh.flush()
        self._fh.seek(a)
        raw = self._fh.read(b - a)
        if len(raw) != b - a:
            raise FormatError("the temporary text file is shorter than written", path=self.path)
        rel = (offs[start:stop + 1] - a).tolist()
        return [raw[rel[i]:rel[i + 1]].decode("utf-8") for i in range(stop - start)]

    def blob_chunks(self) -> Iterator[np.ndarray]:
        """Yield the spooled UTF-8 bytes in blocks, from the start."""
        self._fh.flush()
        self._fh.seek(0)
        left = self._nbytes
        while left:
            raw = self._fh.read(min(COPY_BLOCK, left))
            if not raw:
                raise FormatError("the temporary text file is shorter than written", path=self.path)
            left -= len(raw)
            yield np.frombuffer(raw, np.uint8)

    def tensors(self) -> dict:
        """Return the table's text tensors: the blob as container Blocks (streamed) and the offsets."""
        offsets = self.offsets
        return {"texts_blob": Blocks((self._nbytes,), np.dtype(np.uint8), self.blob_chunks()),
                "texts_offsets": offsets}

    def close(self) -> None:
        """Remove the temporary file."""
        try:
            self._fh.close()
        finally:
            try:
                self.path.unlink()
            except FileNotFoundError:
                pass

    def __enter__(self) -> "TextSpool":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
