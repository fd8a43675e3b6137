"""Line-by-line reading of small UTF-8 text files (lexicons, dictionaries, labels), with errors that name them.

`utf8_lines(path, what)` yields (line number, line without its end) of a
plain or gzipped file: a missing file or a folder is an InputError naming
`what` ("lexicon", "dictionary", ...); bytes that are not UTF-8 an
EncodingError naming the file, the line and the byte.
"""

from __future__ import annotations

import gzip
import os
from typing import Iterator

from .errors import EncodingError, FormatError, InputError


def utf8_lines(path: str | os.PathLike, what: str) -> Iterator[tuple[int, str]]:
    """Yield (1-based line number, decoded line) of a UTF-8 text file (.gz read as is)."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise InputError(f"{path}: no such {what} file")
    if os.path.isdir(path):
        raise InputError(f"{path}: is a folder; give a {what} file")
    opener = gzip.open if path.endswith(".gz") else open
    try:
        with opener(path, "rb") as fh:
            for no, raw in enumerate(fh, 1):
                try:
                    yield no, raw.decode("utf-8").rstrip("\r\n")
                except UnicodeDecodeError as exc:
                    raise EncodingError(f"line {no} is not UTF-8 (byte {exc.start} of the line)",
                                        path=path) from None
    except (OSError, EOFError) as exc:
        raise FormatError(f"cannot read the {what} ({exc})", path=path) from None
