"""Retrieval test collections: Cranfield and CISI, read from their original files.

`load_collection("cranfield" | "cisi" | folder)` returns a `Collection`:
documents, queries and relevance judgements with text ids, ready for
`omnivec.evaluate.retrieval.evaluate`.  A name is looked up in the data
folder (`data_dir`, else $OMNIVEC_IR_DATA, else the first `shared/data/ir`
found beside the current folder or the installed package, or above them); a
folder is recognised by the files it holds.

Both collections use the SMART layout: a record starts with `.I <id>`, and
fields `.T` (title), `.A` (author, may repeat), `.B` (bibliography), `.W`
(abstract or query text), and in CISI `.K`, `.C`, `.X` (keywords,
categories, citations) follow, each on its own line with its text on the
lines below.  A document's text is its title then its abstract, joined by
a newline; the title is not repeated where the abstract already begins with
it (as in every Cranfield document).  Lines are stripped and joined by a
space.  A field that appears twice in a record is joined to the first (two
Cranfield documents, 576 and 578, hold a second `.W`).

- **Cranfield** (`cran.all.1400`, `cran.qry`, `cranqrel`): the queries'
  `.I` numbers run 001..365 with gaps, but `cranqrel` numbers the queries
  1..225 by their position in `cran.qry`; query ids here are those
  positions (the `.I` numbers are kept in `query_source_ids`).  `cranqrel`'s
  codes are Cleverdon's: 1 = a complete answer ... 4 = of minimum interest;
  they become grades 4..1 (5 - code), so that nDCG gains the most for the
  best references.  Each query has one judgement coded -1, which the
  collection does not explain; it becomes grade 0 (judged, not relevant).
  (`QRelsCorrectedforTRECeval` grades those -1 as 5, above a complete
  answer, so it is not used.)  Documents 471 and 995 are empty.
- **CISI** (`CISI.ALL`, `CISI.QRY`, `CISI.REL`): every judgement in
  `CISI.REL` is relevant (grade 1); 76 of the 112 queries are judged.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from ..errors import CorruptFileError, FormatError, InputError, ParseError

_ENV = "OMNIVEC_IR_DATA"
# cranqrel's codes (1 = a complete answer .. 4 = of minimum interest; -1 unexplained) -> grades
CRANFIELD_GRADES = {1: 4, 2: 3, 3: 2, 4: 1, -1: 0}


@dataclass(frozen=True)
class Collection:
    """A retrieval test collection: documents, queries and graded judgements, all ids as text."""

    name: str
    doc_ids: list[str]
    doc_texts: list[str]
    query_ids: list[str]
    query_texts: list[str]
    qrels: dict[str, dict[str, int]]       # {query_id: {doc_id: grade}}; grade >= 1 is relevant
    path: Path | None = None
    doc_titles: list[str] = field(default_factory=list)
    query_source_ids: list[str] = field(default_factory=list)   # the ids as written in the query file

    @property
    def judgements(self) -> int:
        """Number of (query, document) judgements, relevant or not."""
        return sum(len(j) for j in self.qrels.values())

    @property
    def judged_queries(self) -> int:
        """Number of queries with at least one relevant document."""
        return sum(1 for j in self.qrels.values() if any(g >= 1 for g in j.values()))

    def summary(self) -> dict:
        """Counts of the collection, as a JSON-able dict."""
        return {"name": self.name, "path": None if self.path is None else str(self.path),
                "docs": len(self.doc_ids), "queries": len(self.query_ids),
                "judged_queries": self.judged_queries, "judgements": self.judgements,
                "relevant": sum(1 for j in self.qrels.values() for g in j.values() if g >= 1)}

    def __repr__(self) -> str:
        s = self.summary()
        return (f"Collection({s['name']!r}: {s['docs']:,} docs, {s['queries']:,} queries, "
                f"{s['judged_queries']:,} judged, {s['judgements']:,} judgements)")


# --------------------------------------------------------------------------- SMART records


@dataclass
class _Record:
    id: str
    line: int
    fields: dict[str, list[str]] = field(default_factory=dict)

    def text(self, name: str) -> str:
        return " ".join(" ".join(self.fields.get(name, [])).split())


def _read_text(path: Path) -> list[str]:
    if not path.is_file():
        raise FormatError("missing: the collection's file is not there" if not path.exists()
                          else "is not a file", path=path)
    data = path.read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        raise ParseError("not UTF-8 text", path=path, line=line) from None
    return text.splitlines()


def read_smart(path: str | os.PathLike, fields: str) -> list[_Record]:
    """Read a SMART-format file into records; `fields` are the letters allowed after '.' ("TABW")."""
    path = Path(path)
    records: list[_Record] = []
    current: list[str] | None = None
    seen: set[str] = set()
    for no, raw in enumerate(_read_text(path), 1):
        line = raw.rstrip()
        if line.startswith(".") and len(line) >= 2 and (len(line) == 2 or line[2].isspace()):
            tag, rest = line[1], line[2:].strip()
            if tag == "I":
                if not rest or len(rest.split()) != 1:
                    raise ParseError(f"'.I' must be followed by one record id, found {line!r}", path=path, line=no)
                if rest in seen:
                    raise ParseError(f"record id {rest!r} appears twice", path=path, line=no)
                seen.add(rest)
                records.append(_Record(rest, no))
                current = None
                continue
            if tag in fields:
                if not records:
                    raise ParseError(f"field '.{tag}' before the first '.I' line", path=path, line=no)
                current = records[-1].fields.setdefault(tag, [])
                if rest:
                    current.append(rest)
                continue
            raise ParseError(f"unknown field '.{tag}' (expected one of "
                             f"{', '.join('.' + f for f in 'I' + fields)})", path=path, line=no)
        if current is None:
            if not line.strip():
                continue
            where = "before the first '.I' line" if not records else f"in record {records[-1].id} before any field"
            raise ParseError(f"text {where}: {line[:40]!r}", path=path, line=no)
        current.append(line)
    if not records:
        raise CorruptFileError("holds no records (no '.I' lines)", path=path)
    return records


def _title_and_text(rec: _Record) -> str:
    title, body = rec.text("T"), rec.text("W")
    if not title or body.startswith(title.rstrip(" .")):
        return body
    return f"{title}\n{body}" if body else title


# --------------------------------------------------------------------------- judgements


def _qrels_lines(path: Path, columns: tuple[int, ...]) -> list[tuple[int, list[str]]]:
    rows = []
    for no, raw in enumerate(_read_text(path), 1):
        cols = raw.split()
        if not cols:
            continue
        if len(cols) not in columns:
            raise ParseError(f"expected {' or '.join(map(str, columns))} columns, found {len(cols)}: {raw.strip()!r}",
                             path=path, line=no)
        rows.append((no, cols))
    if not rows:
        raise CorruptFileError("holds no judgements", path=path)
    return rows


def _int(text: str, what: str, path: Path, no: int) -> int:
    try:
        return int(text)
    except ValueError:
        raise ParseError(f"{what} must be an integer, found {text!r}", path=path, line=no) from None


def _add(qrels: dict, q: str, d: str, grade: int, path: Path, no: int) -> None:
    judged = qrels.setdefault(q, {})
    if d in judged:
        raise ParseError(f"document {d} is judged twice for query {q}", path=path, line=no)
    judged[d] = grade


def _check_ids(qrels: dict, query_ids: list[str], doc_ids: list[str], path: Path) -> None:
    queries, docs = set(query_ids), set(doc_ids)
    for q, judged in qrels.items():
        if q not in queries:
            raise CorruptFileError(f"judges query {q}, which the query file does not hold "
                                   f"({len(query_ids)} queries)", path=path)
        for d in judged:
            if d not in docs:
                raise CorruptFileError(f"judges document {d} for query {q}, which the document file does "
                                       f"not hold ({len(doc_ids)} documents)", path=path)


# --------------------------------------------------------------------------- the collections


def _cranfield(folder: Path) -> Collection:
    docs = read_smart(folder / "cran.all.1400", "TABW")
    queries = read_smart(folder / "cran.qry", "W")
    query_ids = [str(i + 1) for i in range(len(queries))]
    path = folder / "cranqrel"
    qrels: dict[str, dict[str, int]] = {}
    for no, cols in _qrels_lines(path, (3,)):
        q = str(_int(cols[0], "the query number", path, no))
        d = str(_int(cols[1], "the document id", path, no))
        code = _int(cols[2], "the relevance code", path, no)
        if code not in CRANFIELD_GRADES:
            raise ParseError(f"relevance code must be 1..4 or -1, found {code}", path=path, line=no)
        _add(qrels, q, d, CRANFIELD_GRADES[code], path, no)
    doc_ids = [r.id for r in docs]
    _check_ids(qrels, query_ids, doc_ids, path)
    return Collection("cranfield", doc_ids, [_title_and_text(r) for r in docs], query_ids,
                      [r.text("W") for r in queries], qrels, folder, [r.text("T") for r in docs],
                      [r.id for r in queries])


def _cisi(folder: Path) -> Collection:
    docs = read_smart(folder / "CISI.ALL", "TABWKCX")
    queries = read_smart(folder / "CISI.QRY", "TABW")
    path = folder / "CISI.REL"
    qrels: dict[str, dict[str, int]] = {}
    for no, cols in _qrels_lines(path, (4,)):
        q, d = (str(_int(c, what, path, no)) for c, what in ((cols[0], "the query id"), (cols[1], "the document id")))
        _add(qrels, q, d, 1, path, no)
    doc_ids, query_ids = [r.id for r in docs], [r.id for r in queries]
    _check_ids(qrels, query_ids, doc_ids, path)
    return Collection("cisi", doc_ids, [_title_and_text(r) for r in docs], query_ids,
                      [_title_and_text(r) for r in queries], qrels, folder, [r.text("T") for r in docs],
                      list(query_ids))


@dataclass(frozen=True)
class _Kind:
    folder: str                       # the folder's name under the data folder
    files: tuple[str, ...]            # the files that identify it
    load: Callable[[Path], Collection]


COLLECTIONS: dict[str, _Kind] = {
    "cranfield": _Kind("cranfield", ("cran.all.1400", "cran.qry", "cranqrel"), _cranfield),
    "cisi": _Kind("cisi", ("CISI.ALL", "CISI.QRY", "CISI.REL"), _cisi),
}


def find_data_dir() -> Path | None:
    """Return the folder holding the collections: $OMNIVEC_IR_DATA, else the first shared/data/ir found."""
    env = os.environ.get(_ENV)
    if env:
        return Path(env)
    starts = [Path.cwd().resolve(), Path(__file__).resolve().parent]
    for start in starts:
        for folder in (start, *start.parents):
            for cand in (folder / "shared" / "data" / "ir", folder.parent / "shared" / "data" / "ir"):
                if cand.is_dir():
                    return cand
    return None


def load_collection(name_or_path: str | os.PathLike, *, data_dir: str | os.PathLike | None = None) -> Collection:
    """Load Cranfield or CISI by name ("cranfield", "cisi") or from a folder holding either's files.

    Raises InputError for an unknown name or a folder that holds neither,
    FormatError naming the file (and line) for a missing or corrupt file.
    """
    kind = _kind_of(name_or_path)
    if kind is not None:
        root = Path(data_dir) if data_dir is not None else find_data_dir()
        if root is None:
            raise InputError(f"cannot find the folder of the {name_or_path!r} collection: give data_dir=, set "
                             f"${_ENV}, or run where a shared/data/ir folder is above the current folder")
        folder = root / kind.folder
        if not folder.is_dir():
            raise InputError(f"the {name_or_path!r} collection is not in {root} (no folder {kind.folder!r})")
        return kind.load(folder)
    folder = Path(name_or_path)
    if not folder.is_dir():
        raise InputError(f"unknown collection {str(name_or_path)!r}: give one of {', '.join(COLLECTIONS)} "
                         f"or a folder holding one")
    for kind in COLLECTIONS.values():
        if any((folder / f).is_file() for f in kind.files):
            return kind.load(folder)
    raise InputError(f"{folder} holds no known collection: expected the files of Cranfield "
                     f"({', '.join(COLLECTIONS['cranfield'].files)}) or CISI ({', '.join(COLLECTIONS['cisi'].files)})")


def _kind_of(name) -> _Kind | None:
    if isinstance(name, str) and name.strip().lower() in COLLECTIONS and not Path(name).is_dir():
        return COLLECTIONS[name.strip().lower()]
    return None
