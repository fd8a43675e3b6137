"""The models a service serves: model files opened memory-mapped, their indexes, journals and encoders.

Each model file is opened with `omnivec.open` (memory-mapped, so every worker
process of the service reads the same pages of the OS page cache).  A table
with an index beside its file gets the index's update journal
(`journal.Journal`): upserts and deletes go through it.  `ModelSet.refresh`
notices a model file replaced by a rename (its inode changed) and swaps in
the new one; requests that already hold the old `Served` finish on it.
"""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ..embeddings import Embeddings
from ..errors import InputError, KeyNotFound, OmnivecError, UnknownNameError
from ..model import Model
from .journal import Journal
from .limits import INLINE, WouldBlock

log = logging.getLogger("omnivec.serve")


class Conflict(OmnivecError):
    """The request cannot apply to the model as it is (an update of a table without an index)."""


def model_name(spec: str) -> tuple[str, str]:
    """Return (name, path) of a command-line model: NAME=PATH, or a path named by its file's stem."""
    if "=" in spec and not os.path.exists(spec):
        name, path = spec.split("=", 1)
    else:
        path = spec
        name = Path(spec).name.split(".")[0]
    if not name or not all(c.isalnum() or c in "-_." for c in name):
        raise InputError(f"model name {name!r} (from {spec!r}) must be letters, digits, '-', '_' or '.'; "
                         f"name it with NAME=PATH")
    return name, path


def _signature(path: str) -> tuple[int, int, int]:
    st = os.stat(path)
    return st.st_ino, st.st_mtime_ns, st.st_size


@dataclass
class Encoder:
    """Texts -> vectors for /v1/embeddings: a static model, or the encoder a document table records."""

    encoder: Any
    kind: str                       # "static" or "sentence-transformers"
    lock: threading.Lock = field(default_factory=threading.Lock)

    def encode(self, texts: list[str], *, max_tokens: int) -> tuple[np.ndarray, int, int]:
        """Return (vectors, tokens, texts cut at max_tokens)."""
        # the encoders keep their last report on themselves: one call at a time
        if not self.lock.acquire(blocking=not INLINE.get()):
            raise WouldBlock()
        try:
            if self.kind == "static":
                X = self.encoder.encode(texts, max_length=max_tokens)
                r = self.encoder.report
                return X, int(r.tokens), int(r.truncated)
            X = self.encoder.encode(texts, empty="keep")
            r = self.encoder.report
            return X, int(getattr(r, "tokens", 0) or 0), int(getattr(r, "truncated", 0) or 0)
        finally:
            self.lock.release()


class Served:
    """One served model file: its tables, indexes (with journals), kind and encoder."""

    def __init__(self, name: str, path: str, *, oov: bool | None = None, compact_every: int = 10_000) -> None:
        import omnivec

        self.name = name
        self.path = os.path.abspath(path)
        self.signature = _signature(self.path)
        self.opened = omnivec.open(self.path, oov=oov)
        if isinstance(self.opened, Embeddings):
            self.tables: dict[str, Embeddings] = {self.opened.name: self.opened}
            self.kind = "table"
        else:
            self.tables = dict(self.opened.tables)
            self.kind = self.opened.kind or "model"
        self.default_table = next(iter(self.tables)) if len(self.tables) == 1 else (
            "entities" if "entities" in self.tables else None)
        self.journals: dict[str, Journal] = {}
        self.index_problems: dict[str, str] = {}
        for tname, emb in self.tables.items():
            try:
                index = emb.index           # the index stored beside the file, opened and checked
            except OmnivecError as exc:
                self.index_problems[tname] = type(exc).__name__
                log.warning("model %s table %s: its index is not used: %s", name, tname, exc)
                emb.attach(None)
                continue
            if index is not None and index.path:
                self.journals[tname] = Journal(index.path + ".log", index, self._reopener(emb, index.path),
                                               compact_every=compact_every)
        self._encoder: Encoder | None = None
        self._encoder_problem: str | None = None
        self._encoder_lock = threading.Lock()
        if self.kind == "static":
            self.opened._prepare()          # the tokenizer loads now, not in the first request

    @staticmethod
    def _reopener(emb: Embeddings, path: str):
        def reopen():
            from ..search import open_index
            index = open_index(path, emb)
            emb.attach(index)           # approx=True queries of the table see the compacted index too
            return index
        return reopen

    # -- tables ------------------------------------------------------------------------------------
    def table(self, name: str | None) -> tuple[str, Embeddings]:
        """Return (name, table) for `name` (the default table for None); KeyNotFound lists the tables."""
        if name is None:
            if self.default_table is None:
                raise InputError(f"model {self.name!r} holds {len(self.tables)} tables "
                                 f"({', '.join(self.tables)}); name one with \"table\"")
            name = self.default_table
        emb = self.tables.get(name)
        if emb is None:
            raise KeyNotFound(f"model {self.name!r} has no table {name!r}; its tables are: {', '.join(self.tables)}")
        return name, emb

    def describe(self) -> dict:
        """Return what a client sees of this model: kind, tables (rows, dim, metric, index), queries."""
        tables = []
        for tname, emb in self.tables.items():
            j = self.journals.get(tname)
            index = j.index if j is not None else emb.index
            tables.append({"name": tname, "rows": len(emb), "dim": emb.dim, "metric": emb.metric,
                           "storage": emb.storage, "keys": emb.keys.kind, "oov": bool(emb.oov),
                           "index": None if index is None else index.name,
                           "live": None if index is None else len(index),
                           "writable": j is not None})
        caps = ["vectors", "similarity", "most_similar", "analogy", "search"]
        if hasattr(self.opened, "predict_tails"):
            caps.append("kg")
        if self.embeds():
            caps.append("embeddings")
        return {"name": self.name, "kind": self.kind, "default_table": self.default_table, "tables": tables,
                "queries": caps}

    # -- indexes and journals ------------------------------------------------------------------
    def index(self, table: str):
        """Return (index or None, journal or None) of a table, the journal's updates applied."""
        j = self.journals.get(table)
        if j is not None:
            j.sync()
            return j.index, j
        return self.tables[table].index, None

    def journal(self, table: str) -> Journal:
        """Return the update journal of `table`; Conflict when the table has no index file."""
        j = self.journals.get(table)
        if j is None:
            raise Conflict(f"table {table!r} of model {self.name!r} has no index file to update; build one "
                           f"with `omnivec index build MODEL --backend flat` (or hnsw) and restart")
        return j

    # -- encoders -------------------------------------------------------------------------------------
    def embeds(self) -> bool:
        """Return whether /v1/embeddings can use this model (a static model or an encoded document table)."""
        if self.kind == "static":
            return True
        emb = next(iter(self.tables.values())) if len(self.tables) == 1 else None
        rec = emb.meta.get("encoder") if emb is not None and isinstance(emb.meta, dict) else None
        return isinstance(rec, dict) and bool(rec.get("model"))

    def encoder(self) -> Encoder:
        """Return the encoder of texts for this model (loaded once), or InputError why there is none."""
        with self._encoder_lock:
            if self._encoder is None:
                if not self.embeds():
                    raise InputError(f"model {self.name!r} does not embed texts: /v1/embeddings takes a static "
                                     f"model (omnivec distill) or a document table written by omnivec encode")
                if self.kind == "static":
                    self._encoder = Encoder(self.opened, "static")
                else:
                    emb = next(iter(self.tables.values()))
                    adapter = emb.meta["encoder"].get("adapter", "sentence-transformers")
                    from ..encode import SentenceEncoder, StaticEncoder
                    if adapter == "static":
                        self._encoder = Encoder(StaticEncoder.for_table(emb), "static")
                    else:
                        self._encoder = Encoder(SentenceEncoder.for_table(emb, progress=False),
                                                "sentence-transformers")
            return self._encoder

    def close(self) -> None:
        for j in self.journals.values():
            j.close()


class ModelSet:
    """The served models by name; `refresh()` reloads a model whose file was replaced."""

    def __init__(self, specs: Sequence[tuple[str, str]], *, oov: bool | None = None,
                 compact_every: int = 10_000) -> None:
        self.oov = oov
        self.compact_every = compact_every
        self.models: dict[str, Served] = {}
        self.paths: dict[str, str] = {}
        for name, path in specs:
            if name in self.models:
                raise InputError(f"two models are named {name!r}; name them with NAME=PATH")
            if not os.path.isfile(path):
                raise InputError(f"model file {path} does not exist")
            self.models[name] = Served(name, path, oov=oov, compact_every=compact_every)
            self.paths[name] = self.models[name].path
        if not self.models:
            raise InputError("serve needs at least one model file")
        self.reloads = 0

    def get(self, name: str) -> Served:
        """Return the served model `name`; UnknownNameError lists the models."""
        m = self.models.get(name)
        if m is None:
            raise UnknownNameError(f"no model {name!r}; the models are: {', '.join(self.models)}")
        return m

    def refresh(self) -> list[str]:
        """Reload every model whose file was replaced; return their names (a failed reload keeps the old)."""
        done = []
        for name, old in list(self.models.items()):
            try:
                sig = _signature(old.path)
            except OSError:
                continue            # mid-rename or removed: keep serving what is open
            if sig == old.signature:
                continue
            try:
                new = Served(name, old.path, oov=self.oov, compact_every=self.compact_every)
            except (OmnivecError, OSError) as exc:
                log.error("model %s: the replaced file does not open, still serving the old one: %s",
                          name, type(exc).__name__)
                old.signature = sig
                continue
            self.models[name] = new         # requests holding `old` finish on its mapping
            self.reloads += 1
            done.append(name)
            log.info("model %s reloaded", name)
        return done

    def close(self) -> None:
        for m in self.models.values():
            m.close()
