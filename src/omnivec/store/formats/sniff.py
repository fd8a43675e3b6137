"""Reading a file's first bytes: transparent decompression, and content-based format detection.

`detect_format` asks each registered format whether a file is one: first
the formats with magic bytes (npy, Parquet, fastText .bin, omnivec models),
then those recognised by their content (word2vec/GloVe/fastText text and
word2vec binary, judged by text.text_kind).  Pickles and common non-vector
files (images, PDFs, archives) are refused by name.  `format_for_path`
picks an export's format by the extensions the formats registered.
"""

from __future__ import annotations

import bz2
import gzip
import lzma
import os
import zlib
from pathlib import Path
from typing import Any

from ...errors import FormatError, InputError, ParseError
from .registry import FORMATS

_COMPRESSED = ((b"\x1f\x8b", "gzip", lambda raw: gzip.GzipFile(fileobj=raw, mode="rb")),
               (b"BZh", "bzip2", bz2.BZ2File), (b"\xfd7zXZ\x00", "xz", lzma.LZMAFile))


class _Source:
    """A file opened for streaming: decompressed transparently; tell() of the raw file for progress."""

    def __init__(self, path: str) -> None:
        self.path = path
        try:
            self.raw = open(path, "rb")
        except FileNotFoundError:
            raise FormatError("no such file", path=path) from None
        except IsADirectoryError:
            raise FormatError("is a folder, not a vector file", path=path) from None
        self.size = os.fstat(self.raw.fileno()).st_size
        head = self.raw.read(8)
        self.raw.seek(0)
        self.compression = None
        self.stream: Any = self.raw
        for magic, name, cls in _COMPRESSED:
            if head.startswith(magic):
                self.compression = name
                self.stream = cls(self.raw)
                break

    def readinto(self, mv) -> int:
        try:
            return self.stream.readinto(mv)
        except (OSError, EOFError, lzma.LZMAError, zlib.error, ValueError) as exc:
            raise ParseError(f"the {self.compression} stream is damaged or truncated ({exc})",
                             path=self.path, offset=self.raw.tell()) from None

    def read_head(self, n: int) -> bytes:
        """Return up to n leading (decompressed) bytes and rewind."""
        buf = bytearray(n)
        got = 0
        while got < n:
            k = self.readinto(memoryview(buf)[got:])
            if not k:
                break
            got += k
        self.rewind()
        return bytes(buf[:got])

    def rewind(self) -> None:
        self.raw.seek(0)
        if self.compression:
            self.stream = dict((nm, c) for _, nm, c in _COMPRESSED)[self.compression](self.raw)

    def consumed(self) -> int:
        return self.raw.tell()

    def close(self) -> None:
        if self.stream is not self.raw:
            self.stream.close()
        self.raw.close()

    def where(self) -> str:
        return f" (byte offsets count the decompressed {self.compression} stream)" if self.compression else ""


# -- detection --------------------------------------------------------------------

_FOREIGN = ((b"\x89PNG", "a PNG image"), (b"\xff\xd8\xff", "a JPEG image"), (b"GIF8", "a GIF image"),
            (b"%PDF", "a PDF document"), (b"\x7fELF", "an executable"),
            (b"PK\x03\x04", "a zip archive: extract the vector file from it first"))
SAMPLE = 1 << 20   # decompressed bytes the content detectors look at


class Probe:
    """What a format's detector sees of a file: its path, size, leading raw bytes, a decompressed sample.

    `memo` keeps a judgement several detectors share (the text family's) so
    that it is made once.
    """

    def __init__(self, src: _Source, head: bytes) -> None:
        self.path = src.path
        self.size = src.size
        self.head = head
        self.compression = src.compression
        self.memo: dict[str, Any] = {}
        self._src = src
        self._sample: bytes | None = None

    def sample(self) -> bytes:
        """Return up to SAMPLE leading bytes of the (decompressed) content."""
        if self._sample is None:
            self._sample = self._src.read_head(SAMPLE)
        return self._sample


def detect_format(path: str | os.PathLike) -> str:
    """Return the canonical format name of the vector file at `path`, judged by its content.

    Magic bytes identify npy, Parquet, fastText .bin, omnivec models and
    compressed text; text files are word2vec text (an "n d" header line; "fasttext-vec"
    for a .vec name) or GloVe (no header); a header followed by non-text bytes
    is word2vec binary.  Raises FormatError for empty files, pickles (gensim's
    native files) and files that are not vector files at all.
    """
    path = os.fspath(path)
    src = _Source(path)
    try:
        if src.size == 0:
            raise FormatError("the file is empty (0 bytes): no vectors to import", path=path, offset=0)
        head = src.raw.read(64)
        src.raw.seek(0)
        if is_pickle(head):
            raise _pickle_error(path)
        probe = Probe(src, head)
        specs = [spec for _, spec in FORMATS.items() if spec.detect is not None]
        for spec in specs:
            if spec.magic and spec.detect(probe):
                return spec.name
        for magic, what in _FOREIGN:
            if head.startswith(magic):
                raise FormatError(f"not a vector file: it looks like {what}", path=path, offset=0)
        if not probe.sample():
            raise FormatError(f"the {src.compression} stream holds no data", path=path, offset=0)
        for spec in specs:
            if not spec.magic and spec.detect(probe):
                return spec.name
        raise FormatError("not a vector file: no known format matches its content", path=path, offset=0)
    finally:
        src.close()


def is_pickle(head: bytes) -> bool:
    """Return whether leading bytes are those of a Python pickle (protocol 2 to 5)."""
    return len(head) >= 2 and head[0] == 0x80 and 2 <= head[1] <= 5


def _pickle_error(path: str) -> FormatError:
    return FormatError(
        "a Python pickle (gensim's native .kv/.model files are pickles); omnivec never unpickles "
        "files, since loading a pickle can run arbitrary code. Load it with gensim "
        "(kv = gensim.models.KeyedVectors.load(path)) and import the object with "
        "omnivec.store.formats.from_gensim(kv)", path=path, offset=0)


def format_for_path(path: str | os.PathLike) -> str:
    """Return the format an export to `path` should use, judged by its extension (the formats' suffixes)."""
    name = Path(path).name.lower()
    for fmt, spec in FORMATS.items():
        if any(name.endswith(suffix) for suffix in spec.suffixes):
            return fmt
    raise InputError(f"cannot tell the format of {path} from its extension; name one of: "
                     f"{', '.join(FORMATS.names())}")
