"""omnivec: learn, store, query, search, transform, evaluate, explore and serve vector embeddings."""

from __future__ import annotations

import os

from .embeddings import Embeddings, Neighbors
from .errors import (CorruptFileError, DimensionError, DuplicateKeyError, FormatError, InputError,
                     KeyNotFound, MissingDependencyError, OmnivecError, ParseError,
                     UnknownNameError, UnsupportedVersionError)
from .store.model import Bundle

__version__ = "0.1.0"


def open(path: str | os.PathLike, *, oov: bool = False) -> Bundle:  # noqa: A001 - the natural name
    """Return the tables of a model file, memory-mapped; opening reads only the header.

    A bundle with one table behaves as that table (``omnivec.open(p)["king"]``);
    with several, pick one with ``bundle.table("entities")``.  With oov=True,
    unknown keys get out-of-vocabulary vectors instead of KeyNotFound.
    """
    from .store.model import open_bundle

    return open_bundle(path, oov=oov)


def load(path: str | os.PathLike, *, table: str | None = None, oov: bool = False) -> Embeddings:
    """Return one table of a model file (the only one when table is None)."""
    return open(path, oov=oov).table(table)


def save(path: str | os.PathLike, tables: dict[str, Embeddings] | Embeddings) -> None:
    """Write one table or several named tables to a model file, atomically."""
    from .store.model import save_tables

    if isinstance(tables, Embeddings):
        tables = {tables.name: tables}
    save_tables(path, tables)


_LAZY = {
    "import_vectors": ("omnivec.store.formats", "import_vectors"),
    "export_vectors": ("omnivec.store.formats", "export_vectors"),
    "ImportReport": ("omnivec.store.formats", "ImportReport"),
    "prepare_oov": ("omnivec.core.oov", "prepare_oov"),
    "read_fasttext_bin": ("omnivec.store.fasttext_bin", "read_fasttext_bin"),
    "write_fasttext_bin": ("omnivec.store.fasttext_bin", "write_fasttext_bin"),
}


def __getattr__(name: str):
    # Importers, OOV and learners load on first use: `import omnivec` stays light.
    if name in _LAZY:
        import importlib

        module, attr = _LAZY[name]
        value = getattr(importlib.import_module(module), attr)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'omnivec' has no attribute {name!r}")


__all__ = [*_LAZY, "Embeddings", "Neighbors", "Bundle", "open", "load", "save", "__version__",
           "OmnivecError", "InputError", "DimensionError", "DuplicateKeyError", "UnknownNameError",
           "KeyNotFound", "FormatError", "ParseError", "CorruptFileError",
           "UnsupportedVersionError", "MissingDependencyError"]
