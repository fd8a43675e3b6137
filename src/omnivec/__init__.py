"""omnivec: learn, store, query, search, transform, evaluate, explore and serve vector embeddings."""

from __future__ import annotations

import os
from typing import Mapping

from .core.neighbors import Neighbors
from .embeddings import Embeddings
from .errors import (CorruptFileError, DimensionError, DuplicateKeyError, EncodingError, FormatError,
                     InputError, KeyNotFound, MissingDependencyError, OmnivecError, ParseError,
                     UnknownNameError, UnsupportedVersionError)
from .model import Model
from .store import model as _model_file  # registers the model-file codec of Embeddings and Model

__version__ = "0.1.0"


def open(path: str | os.PathLike, *, oov: bool | None = None) -> Embeddings | Model:  # noqa: A001
    """Return what a model file holds, memory-mapped; opening reads only the header.

    A file with one table returns that table, an `Embeddings`; a file with
    several returns a `Model` (a mapping of table name to `Embeddings`), or
    the typed view its kind names (a knowledge-graph model opens as
    `omnivec.learn.kge.KGModel`).  Each table finds the nearest-neighbour
    index stored beside the file (`omnivec index build`) when a query asks
    for approx=True.  Unknown keys raise KeyNotFound, except in tables with
    subword vectors (fastText), where n-gram composition gives their vector;
    oov=True gives every table out-of-vocabulary vectors, oov=False none.
    """
    opened = _model_file.open_file(path, oov=oov)
    for emb in (opened.values() if isinstance(opened, Model) else (opened,)):
        emb._find_index = _find_index
    return opened


def _find_index(emb: Embeddings):
    # The facade sits above every layer: it may hand the table the search layer's finder.
    from .search import find_index

    return find_index(emb)


def load(path: str | os.PathLike, *, table: str | None = None, oov: bool | None = None) -> Embeddings:
    """Return one table of a model file (the only one when table is None)."""
    opened = open(path, oov=oov)
    if isinstance(opened, Embeddings):
        if table is not None and table != opened.name:
            raise InputError(f"no table {table!r} in {os.fspath(path)}; its only table is {opened.name!r}")
        return opened
    return opened.table(table)


def save(path: str | os.PathLike, tables: Mapping[str, Embeddings] | Embeddings | Model) -> None:
    """Write one table, a Model, or several named tables to a model file, atomically."""
    if isinstance(path, (Embeddings, Model, Mapping)):
        raise InputError("omnivec.save(path, tables) takes the path first (as numpy.save does)")
    if isinstance(tables, (Embeddings, Model)):
        tables.save(path)
        return
    if not isinstance(tables, Mapping):
        raise InputError(f"omnivec.save takes an Embeddings, a Model or a mapping of names to tables; "
                         f"got {type(tables).__name__}")
    Model(tables).save(path)


_LAZY = {
    "import_vectors": ("omnivec.store.formats", "import_vectors"),
    "export_vectors": ("omnivec.store.formats", "export_vectors"),
    "ImportReport": ("omnivec.store.formats", "ImportReport"),
    "prepare_oov": ("omnivec.core.oov", "prepare_oov"),
    "read_fasttext_bin": ("omnivec.store.formats.fasttext_bin", "read_fasttext_bin"),
    "write_fasttext_bin": ("omnivec.store.formats.fasttext_bin", "write_fasttext_bin"),
    "convert": ("omnivec.files", "convert"),
    "info": ("omnivec.files", "info"),
    "verify": ("omnivec.files", "verify"),
    "Client": ("omnivec.serve.client", "Client"),
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


__all__ = [*_LAZY, "Embeddings", "Neighbors", "Model", "open", "load", "save", "__version__",
           "OmnivecError", "InputError", "DimensionError", "DuplicateKeyError", "UnknownNameError",
           "KeyNotFound", "FormatError", "ParseError", "EncodingError", "CorruptFileError",
           "UnsupportedVersionError", "MissingDependencyError"]
