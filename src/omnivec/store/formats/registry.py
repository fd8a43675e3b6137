"""The FORMATS registry: one FormatSpec per vector file format, added by `register_format`.

Each format module (text.py, w2v_binary.py, npy.py, parquet.py,
fasttext_bin.py, model_file.py) registers itself with one call naming its
reader, writer and detector; detection (sniff.py), import and export
(api.py) and the command line only call what the spec carries.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Callable

from ..._registry import Registry


@dataclass(frozen=True)
class FormatSpec:
    """One vector file format: how to detect, read and write it, and the file names it goes by.

    reader(path, fmt, options, report) returns parsed rows or Embeddings;
    writer(emb, path, fmt, progress=, keys_file=) writes a file atomically;
    detect(probe) says whether the file sniff.Probe describes is one (with
    magic=True it looks only at the leading raw bytes, and runs before the
    formats recognised by their content); suffixes are the extensions an
    export to a path picks this format by; formats of one family (text, binary)
    may be read as one another when the content says so; streams=True readers
    can send their rows to a raw file so an import with a destination holds
    one batch of rows in memory.  companions(path, keys_file, write=) lists
    the other files a read or write of `path` touches (an .npy's keys file),
    so callers can refuse an output that is one of the inputs.
    """

    name: str
    description: str
    reader: Callable | None
    writer: Callable | None
    extensions: tuple[str, ...] = ()
    detect: Callable | None = None
    magic: bool = False
    suffixes: tuple[str, ...] = ()
    family: str | None = None
    streams: bool = False
    companions: Callable | None = None

    def files(self, path: str, keys_file: str | None = None, *, write: bool) -> list[str]:
        """Return the files beside `path` that reading (or writing, with write=True) it touches."""
        if self.companions is None:
            return []
        return [os.fspath(f) for f in self.companions(os.fspath(path), keys_file, write=write) if f is not None]


FORMATS = Registry[FormatSpec]("vector file format")


def register_format(name: str, description: str, *, read: Callable | None, write: Callable | None,
                    detect: Callable | None = None, magic: bool = False, extensions=(), suffixes=(),
                    aliases=(), family: str | None = None, streams: bool = False,
                    companions: Callable | None = None) -> FormatSpec:
    """Add a vector file format to FORMATS under `name` (and `aliases`); returns its spec."""
    spec = FormatSpec(name, description, read, write, tuple(extensions), detect, magic, tuple(suffixes),
                      family, streams, companions)
    FORMATS.register(name, spec, aliases=tuple(aliases))
    return spec
