"""The FORMATS registry: one FormatSpec per vector file format, added by `register_format`.

Each format module (text.py, w2v_binary.py, npy.py, parquet.py,
fasttext_bin.py, model_file.py) registers itself with one call naming its
reader, writer and detector; detection (sniff.py), import and export
(api.py) and the command line only call what the spec carries.
"""

from __future__ import annotations

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
    one batch of rows in memory.
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


FORMATS = Registry[FormatSpec]("vector file format")


def register_format(name: str, description: str, *, read: Callable | None, write: Callable | None,
                    detect: Callable | None = None, magic: bool = False, extensions=(), suffixes=(),
                    aliases=(), family: str | None = None, streams: bool = False) -> FormatSpec:
    """Add a vector file format to FORMATS under `name` (and `aliases`); returns its spec."""
    spec = FormatSpec(name, description, read, write, tuple(extensions), detect, magic, tuple(suffixes),
                      family, streams)
    FORMATS.register(name, spec, aliases=tuple(aliases))
    return spec
