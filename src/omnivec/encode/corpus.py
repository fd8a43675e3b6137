"""Corpus files for the encoders: TSV, JSONL or plain text, one document a line, read as UTF-8.

`read_documents(path, id_column=None, text_column=None)` yields
`Document(id, text, line)` in file order; `id` is None where the file gives
none (the caller numbers the rows).  The layout follows the file's suffix:

- ``.tsv``/``.tab``: tab-separated columns.  A first line naming a ``text``
  column (or the columns asked for by name) is a header; ids come from the
  ``id_column`` (default: a column named ``id``, ``_id``, ``docid`` or
  ``doc_id``).  Without a header, two columns are (id, text) and one column
  is the text; columns may also be given by number (0-based).
- ``.jsonl``/``.ndjson``: one JSON object a line; the text is
  ``text_column`` (default ``text``), the id ``id_column`` (default ``_id``
  or ``id`` when present).  Blank lines are allowed.
- anything else: plain text, each line one document.

Blank lines at the end of a file are not documents; a blank line between
documents is an empty document in plain text and an error in TSV.

Bytes that are not UTF-8 raise EncodingError naming the file, the line and
the byte offset; malformed lines raise ParseError naming the line.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Iterator

from ..errors import EncodingError, FormatError, InputError, ParseError

TSV_SUFFIXES = (".tsv", ".tab")
JSONL_SUFFIXES = (".jsonl", ".ndjson")
ID_NAMES = ("id", "_id", "docid", "doc_id")
TEXT_NAMES = ("text",)


@dataclass(frozen=True)
class Document:
    """One document of a corpus file: its id (None when the file has none), text and 1-based line."""

    id: str | None
    text: str
    line: int


def corpus_layout(path: str | os.PathLike) -> str:
    """Return 'tsv', 'jsonl' or 'text': how `read_documents` reads `path` (by its suffix)."""
    name = os.fspath(path).lower()
    if name.endswith(TSV_SUFFIXES):
        return "tsv"
    if name.endswith(JSONL_SUFFIXES):
        return "jsonl"
    return "text"


def _lines(path: str) -> Iterator[tuple[int, str]]:
    """Yield (1-based line number, decoded line without its end of line), checking UTF-8."""
    try:
        fh = open(path, "rb")
    except FileNotFoundError:
        raise FormatError("no such file", path=path) from None
    except IsADirectoryError:
        raise FormatError("is a folder, not a corpus file", path=path) from None
    except OSError as exc:
        raise FormatError(f"cannot read the file: {exc.strerror or exc}", path=path) from None
    with fh:
        pos = 0
        for no, raw in enumerate(fh, 1):
            start = pos
            pos += len(raw)
            if no == 1 and raw.startswith(b"\xef\xbb\xbf"):
                raw, start = raw[3:], start + 3
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise EncodingError(f"not UTF-8 text (byte 0x{raw[exc.start]:02x} at column {exc.start + 1} "
                                    f"of the line: {exc.reason}); convert the file to UTF-8, e.g. "
                                    "with iconv", path=path, line=no, offset=start + exc.start) from None
            if text.endswith("\n"):
                text = text[:-2] if text.endswith("\r\n") else text[:-1]
            yield no, text


def _without_trailing_blanks(lines: Iterator[tuple[int, str]]) -> Iterator[tuple[int, str]]:
    """Yield `lines`, holding blank ones back until a line with text follows (blank lines at the end go)."""
    held: list[tuple[int, str]] = []
    for item in lines:
        if not item[1].strip():
            held.append(item)
            continue
        yield from held
        held = []
        yield item


def read_documents(path: str | os.PathLike, *, id_column: str | int | None = None,
                   text_column: str | int | None = None) -> Iterator[Document]:
    """Yield the documents of a TSV, JSONL or plain-text corpus file, in file order (see the module doc)."""
    path = os.fspath(path)
    layout = corpus_layout(path)
    if layout == "tsv":
        yield from _tsv(path, id_column, text_column)
    elif layout == "jsonl":
        yield from _jsonl(path, id_column, text_column)
    else:
        if id_column is not None or text_column is not None:
            raise InputError(f"{path}: a plain-text corpus (one document a line) has no columns; "
                             "name a .tsv or .jsonl file to pick columns")
        for no, text in _without_trailing_blanks(_lines(path)):
            yield Document(None, text, no)


def _column(spec, header: list[str] | None, what: str, path: str, line: int) -> int:
    if isinstance(spec, bool) or not isinstance(spec, (str, int)):
        raise InputError(f"{what} must be a column name or number, got {spec!r}")
    if isinstance(spec, int):
        if spec < 0:
            raise InputError(f"{what} must be a column number >= 0, got {spec}")
        return spec
    if header is None or spec not in header:
        shown = ", ".join(header) if header else "(no header line)"
        raise ParseError(f"no column named {spec!r} for the {what}; the header names: {shown}",
                         path=path, line=line)
    return header.index(spec)


def _tsv(path: str, id_column, text_column) -> Iterator[Document]:
    lines = _without_trailing_blanks(_lines(path))
    first = next(lines, None)
    if first is None:
        return
    no, line = first
    fields = line.split("\t")
    named = isinstance(id_column, str) or isinstance(text_column, str)
    has_header = named or (id_column is None and text_column is None
                           and any(f.strip() in TEXT_NAMES for f in fields))
    header = [f.strip() for f in fields] if has_header else None
    if text_column is not None:
        ti = _column(text_column, header, "text column", path, no)
    elif header is not None:
        ti = _column("text", header, "text column", path, no)
    else:
        ti = -1
    if id_column is not None:
        ii = _column(id_column, header, "id column", path, no)
    elif header is not None:
        ii = next((header.index(c) for c in ID_NAMES if c in header), None)
    else:
        ii = -1
    if ti == -1:       # no header and no columns named: one column is the text, two are (id, text)
        if len(fields) == 1:
            ti, ii = 0, None
        elif len(fields) == 2:
            ti, ii = 1, (0 if ii == -1 else ii)
        else:
            raise ParseError(f"{len(fields)} tab-separated columns and no header line naming a 'text' "
                             "column; say which column holds the text (text_column=, --text-column)",
                             path=path, line=no)
    elif ii == -1:
        ii = None
    need = max(ti, -1 if ii is None else ii) + 1

    def rows():
        if header is None:
            yield no, fields
        for n, ln in lines:
            yield n, ln.split("\t")

    for n, parts in rows():
        if len(parts) < need:
            if len(parts) == 1 and not parts[0].strip():
                raise ParseError(f"a blank line; each line of a TSV corpus is a document with at least "
                                 f"{need} tab-separated columns", path=path, line=n)
            raise ParseError(f"{len(parts)} tab-separated column(s); at least {need} expected (the text is "
                             f"column {ti}{'' if ii is None else f', the id column {ii}'})", path=path, line=n)
        yield Document(None if ii is None else parts[ii], parts[ti], n)


def _jsonl(path: str, id_column, text_column) -> Iterator[Document]:
    for spec, what in ((id_column, "id column"), (text_column, "text column")):
        if spec is not None and not isinstance(spec, str):
            raise InputError(f"the {what} of a JSONL corpus is a field name, got {spec!r}")
    tkey = text_column or "text"
    for no, line in _lines(path):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ParseError(f"not a JSON object ({exc.msg} at column {exc.colno})", path=path, line=no) from None
        if not isinstance(obj, dict):
            raise ParseError(f"a JSON {type(obj).__name__}, not an object", path=path, line=no)
        if tkey not in obj:
            raise ParseError(f"no field {tkey!r} for the text; the object has: {', '.join(map(str, obj)) or 'none'}",
                             path=path, line=no)
        text = obj[tkey]
        if not isinstance(text, str):
            raise ParseError(f"field {tkey!r} is a {type(text).__name__}, not a string", path=path, line=no)
        ikey = id_column if id_column is not None else next((c for c in ID_NAMES if c in obj), None)
        doc_id = None
        if ikey is not None:
            if ikey not in obj:
                raise ParseError(f"no field {ikey!r} for the id", path=path, line=no)
            doc_id = obj[ikey]
            if isinstance(doc_id, bool) or not isinstance(doc_id, (str, int)):
                raise ParseError(f"field {ikey!r} is a {type(doc_id).__name__}; ids are strings or integers",
                                 path=path, line=no)
            doc_id = str(doc_id)
        yield Document(doc_id, text, no)
