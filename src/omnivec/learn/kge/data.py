"""Triples from tab-separated files: label <-> id maps and train/valid/test id arrays."""

from __future__ import annotations

import gzip
import os
import zlib
from dataclasses import dataclass, field
from typing import Iterable, Sequence

import numpy as np

from ...errors import InputError, ParseError

SPLITS = ("train", "valid", "test")


@dataclass
class ReadReport:
    """What reading one triples file found: rows kept and bad rows skipped, by reason."""

    path: str
    rows: int = 0
    kept: int = 0
    bad: dict[str, int] = field(default_factory=dict)
    first_bad: list[str] = field(default_factory=list)

    @property
    def skipped(self) -> int:
        """Return the number of rows left out."""
        return sum(self.bad.values())

    def note(self, reason: str, line: int) -> None:
        """Count one bad row."""
        self.bad[reason] = self.bad.get(reason, 0) + 1
        if len(self.first_bad) < 5:
            self.first_bad.append(f"line {line}: {reason}")

    def as_dict(self) -> dict:
        """Return the report as a JSON-able dict."""
        return {"path": self.path, "rows": self.rows, "kept": self.kept, "skipped": self.skipped,
                "bad": dict(self.bad), "first_bad": list(self.first_bad)}


def _open_binary(path: str):
    return gzip.open(path, "rb") if path.endswith(".gz") else open(path, "rb")


def read_triples(path: str | os.PathLike, *, on_bad: str = "error",
                 report: ReadReport | None = None) -> list[tuple[str, str, str]]:
    """Return the (head, relation, tail) label triples of a TSV file (.gz is read transparently).

    A row must have exactly three tab-separated, non-empty fields; blank lines
    are ignored.  on_bad="error" raises ParseError naming the file and line;
    on_bad="skip" leaves the row out and counts it in `report`.
    """
    if on_bad not in ("error", "skip"):
        raise InputError(f"on_bad must be 'error' or 'skip'; got {on_bad!r}")
    path = os.fspath(path)
    rep = report if report is not None else ReadReport(path)
    out: list[tuple[str, str, str]] = []
    try:
        fh = _open_binary(path)
    except FileNotFoundError:
        raise InputError(f"{path}: no such triples file") from None
    except IsADirectoryError:
        raise InputError(f"{path}: is a folder, not a triples file") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot open the triples file: {exc.strerror or exc}") from None
    try:
        with fh:
            _read_rows(fh, path, on_bad, rep, out)
    except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
        # gzip reports damage when it reaches it: name the data read so far
        raise ParseError(f"damaged gzip data after {rep.rows} triples rows ({exc})", path=path) from None
    return out


def _read_rows(fh, path: str, on_bad: str, rep: ReadReport, out: list) -> None:
    offset = 0
    # bytes in, decoded per line, so a decoding error names its line and byte offset
    for lineno, raw in enumerate(fh, 1):
        start = offset
        offset += len(raw)
        try:
            line = raw.decode("utf-8").rstrip("\r\n")
        except UnicodeDecodeError as exc:
            raise ParseError(f"not UTF-8 text ({exc.reason})", path=path, line=lineno,
                             offset=start + exc.start) from None
        if not line.strip():
            continue
        rep.rows += 1
        parts = line.split("\t")
        reason = None
        if len(parts) != 3:
            reason = f"expected 3 tab-separated fields (head, relation, tail), found {len(parts)}"
        elif any(not x.strip() for x in parts):
            reason = "empty label"
        if reason is not None:
            if on_bad == "error":
                raise ParseError(f"{reason}; pass on_bad='skip' (CLI --skip-bad) to count "
                                 "and skip such rows", path=path, line=lineno)
            rep.note(reason, lineno)
            continue
        out.append((parts[0].strip(), parts[1].strip(), parts[2].strip()))
        rep.kept += 1


@dataclass
class TripleSet:
    """Entities, relations and the id triples of each split (arrays of shape (n, 3), int64)."""

    entities: list[str]
    relations: list[str]
    splits: dict[str, np.ndarray]
    reports: dict[str, ReadReport] = field(default_factory=dict)

    def __repr__(self) -> str:
        sizes = ", ".join(f"{k} {len(v):,}" for k, v in self.splits.items())
        skipped = sum(r.skipped for r in self.reports.values())
        more = f", {skipped:,} rows skipped" if skipped else ""
        return (f"TripleSet({len(self.entities):,} entities, {len(self.relations):,} relations; "
                f"triples: {sizes}{more})")

    @property
    def num_entities(self) -> int:
        """Return the number of entities."""
        return len(self.entities)

    @property
    def num_relations(self) -> int:
        """Return the number of relations."""
        return len(self.relations)

    def split(self, name: str) -> np.ndarray:
        """Return the id triples of split `name`; raises InputError if it is missing or empty."""
        arr = self.splits.get(name)
        if arr is None:
            raise InputError(f"no {name!r} split; available: {', '.join(self.splits) or 'none'}")
        if len(arr) == 0:
            raise InputError(f"the {name!r} split is empty")
        return arr

    def all_known(self) -> np.ndarray:
        """Return every known triple of every split (for filtered ranking)."""
        return np.concatenate([a for a in self.splits.values() if len(a)], axis=0)

    @classmethod
    def from_labels(cls, splits: dict[str, Sequence[tuple[str, str, str]]], *,
                    entities: Sequence[str] | None = None, relations: Sequence[str] | None = None,
                    reports: dict[str, ReadReport] | None = None,
                    unknown: str = "error", unseen: str = "skip") -> "TripleSet":
        """Return a TripleSet from label triples; ids follow first appearance (train first).

        With fixed `entities`/`relations`, a label outside them raises InputError
        (unknown="error") or drops the triple and counts it (unknown="skip").
        Otherwise the entities and relations are those of the train split: a
        valid/test triple with a label that never occurs in training would get
        an untrained vector and a meaningless rank, so it is left out and
        counted in the split's report (unseen="skip", as PyKEEN filters them)
        or refused (unseen="error").
        """
        if unknown not in ("error", "skip") or unseen not in ("error", "skip"):
            raise InputError(f"unknown and unseen must be 'error' or 'skip'; got {unknown!r}, {unseen!r}")
        fixed = entities is not None
        ent: dict[str, int] = {e: i for i, e in enumerate(entities or [])}
        rel: dict[str, int] = {r: i for i, r in enumerate(relations or [])}
        out: dict[str, np.ndarray] = {}
        reports = dict(reports or {})
        for name, rows in sorted(splits.items(), key=lambda kv: kv[0] != "train"):
            arr = np.empty((len(rows), 3), dtype=np.int64)
            n = 0
            for i, (h, r, t) in enumerate(rows):
                if fixed:
                    ids = (ent.get(h), rel.get(r), ent.get(t))
                    if None in ids:
                        what = h if ids[0] is None else (r if ids[1] is None else t)
                        if unknown == "error":
                            raise InputError(f"{name} triple {i + 1} ({h}, {r}, {t}): label {what!r} "
                                             "is not in the model's entities/relations")
                        rep = reports.setdefault(name, ReadReport(name))
                        rep.note("label not in the model", i + 1)
                        continue
                    arr[n] = ids
                elif name != "train" and "train" in splits and (h not in ent or r not in rel or t not in ent):
                    what = h if h not in ent else (r if r not in rel else t)
                    if unseen == "error":
                        raise InputError(f"{name} triple {i + 1} ({h}, {r}, {t}): label {what!r} never "
                                         "occurs in the train split, so it has no trained vector")
                    rep = reports.setdefault(name, ReadReport(name))
                    rep.note("label not in the train split", i + 1)
                    continue
                else:
                    arr[n, 0] = ent.setdefault(h, len(ent))
                    arr[n, 1] = rel.setdefault(r, len(rel))
                    arr[n, 2] = ent.setdefault(t, len(ent))
                n += 1
            out[name] = arr[:n]
        return cls(list(ent), list(rel), out, reports)


def _find_split(folder: str, name: str) -> str | None:
    for ext in (".txt", ".tsv", ".txt.gz", ".tsv.gz"):
        p = os.path.join(folder, name + ext)
        if os.path.exists(p):
            return p
    return None


def load_triples(source: str | os.PathLike | dict[str, str | os.PathLike], *,
                 on_bad: str = "error", require: Iterable[str] = ("train",),
                 unseen: str = "skip") -> TripleSet:
    """Return a TripleSet from a folder holding train/valid/test .txt|.tsv[.gz] files, one training
    file, or a split -> path dict.

    Missing or empty required splits raise InputError; bad rows follow on_bad
    (see read_triples) and are counted in TripleSet.reports, and so are
    valid/test triples whose labels never occur in training (see
    TripleSet.from_labels; unseen="error" refuses them).
    """
    if isinstance(source, dict):
        paths = {k: os.fspath(v) for k, v in source.items() if v is not None}
    else:
        folder = os.fspath(source)
        if os.path.isfile(folder):
            paths = {"train": folder}
        elif not os.path.isdir(folder):
            raise InputError(f"{folder}: no such triples file or folder of train/valid/test files")
        else:
            paths = {}
            for name in SPLITS:
                p = _find_split(folder, name)
                if p is not None:
                    paths[name] = p
    for name in require:
        if name not in paths:
            raise InputError(f"no {name!r} triples file given (looked for {name}.txt/.tsv[.gz])")
    reports: dict[str, ReadReport] = {}
    rows: dict[str, list] = {}
    order = sorted(paths, key=lambda s: SPLITS.index(s) if s in SPLITS else len(SPLITS))
    for name in order:
        reports[name] = ReadReport(paths[name])
        rows[name] = read_triples(paths[name], on_bad=on_bad, report=reports[name])
        if not rows[name] and name in require:
            raise InputError(f"{paths[name]}: the {name} split has no triples")
    return TripleSet.from_labels(rows, reports=reports, unseen=unseen)
