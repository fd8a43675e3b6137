"""Model: several named tables that belong together, saved and opened as one file.

A one-table file opens as its `Embeddings`; a file with several tables opens
as a `Model`, a read-only mapping of table name to `Embeddings`, or as the
typed view its header names: a knowledge-graph model (`entities`,
`relations`) opens as `omnivec.learn.kge.KGModel`, a `Model` with queries of
its own.  A learner that produces several tables returns one of these.

Typed views are registered by kind in `MODEL_KINDS` as "module:Class"
strings, resolved when a file of that kind is opened, so the file layer
never imports the learners that define them.
"""

from __future__ import annotations

import os
from typing import Any, ClassVar, Iterator, Mapping

from ._registry import Registry, resolve
from .embeddings import Embeddings
from .errors import InputError, KeyNotFound

#: kind name -> "module:Class" of the Model subclass that views a file of that kind
MODEL_KINDS: Registry[str] = Registry("model kind")
MODEL_KINDS.register("kge", "omnivec.learn.kge.model:KGModel", aliases=("kg",))
MODEL_KINDS.register("multivector", "omnivec.search.multivector:MultiVectors")
MODEL_KINDS.register("static", "omnivec.encode.static:StaticEncoder")


def model_class(kind: str | None) -> type["Model"]:
    """Return the Model subclass registered for `kind` (Model itself for None or "")."""
    if not kind:
        return Model
    return resolve(MODEL_KINDS.get(kind))


class Model(Mapping[str, Embeddings]):
    """Named `Embeddings` tables of one model file: ``model["entities"]``, ``len(model)``, ``list(model)``.

    ``Model({"words": w, "docs": d}).save("m.ov")`` writes them to one file;
    ``omnivec.open("m.ov")`` returns them.  Subclasses (typed views) set
    `kind` and `required` (the table names they need) and add queries.
    """

    kind: ClassVar[str] = ""
    required: ClassVar[tuple[str, ...]] = ()

    def __init__(self, tables: Mapping[str, Embeddings], *, path: str | None = None) -> None:
        tables = dict(tables)
        if not tables:
            raise InputError("a model needs at least one table")
        for name, emb in tables.items():
            if not isinstance(emb, Embeddings):
                raise InputError(f"table {name!r} is a {type(emb).__name__}, not Embeddings")
            if not isinstance(name, str) or not name or "." in name:
                raise InputError(f"table name {name!r} must be a non-empty string without '.'")
        missing = [n for n in self.required if n not in tables]
        if missing:
            raise InputError(f"a {type(self).__name__} needs the tables {', '.join(self.required)}; "
                             f"missing: {', '.join(missing)} (found: {', '.join(tables)})")
        self.tables: dict[str, Embeddings] = tables
        self.path = path

    @classmethod
    def from_tables(cls, tables: Mapping[str, Embeddings], *, path: str | None = None) -> "Model":
        """Return the model over `tables` (typed views check their tables and metadata)."""
        return cls(tables, path=path)

    # -- the mapping ----------------------------------------------------------------
    def __getitem__(self, name: str) -> Embeddings:
        try:
            return self.tables[name]
        except (KeyError, TypeError):
            raise KeyNotFound(f"no table {name!r} in {self.path or 'this model'}; "
                             f"its tables are: {', '.join(self.tables)}") from None

    def __iter__(self) -> Iterator[str]:
        return iter(self.tables)

    def __len__(self) -> int:
        return len(self.tables)

    def table(self, name: str | None = None) -> Embeddings:
        """Return the table called `name` (the only table when name is None)."""
        if name is None:
            if len(self.tables) == 1:
                return next(iter(self.tables.values()))
            raise InputError(f"{self.path or 'this model'} holds {len(self.tables)} tables "
                             f"({', '.join(self.tables)}); name one")
        return self[name]

    def __repr__(self) -> str:
        inner = ", ".join(f"{k}: n={len(v)} dim={v.dim}" for k, v in self.tables.items())
        kind = f" kind={self.kind!r}" if self.kind else ""
        return f"{type(self).__name__}({self.path!r}{kind}, {{{inner}}})"

    def __reduce__(self) -> Any:
        raise TypeError(f"{type(self).__name__} is not picklable: save it with .save(path) and "
                        "open it with omnivec.open(path)")

    # -- files -------------------------------------------------------------------------
    def save(self, path: str | os.PathLike) -> None:
        """Write every table to one model file at `path`, atomically (the kind is recorded)."""
        Embeddings._codec().save(path, self.tables, kind=self.kind or None)

    @classmethod
    def open(cls, path: str | os.PathLike, *, oov: bool | None = None) -> "Model":
        """Return the model stored at `path` as this class (FormatError if its tables do not fit)."""
        return Embeddings._codec().open_model(path, oov=oov, as_class=cls)
