"""Streaming corpus reader: text files, .gz, folders and iterables of token lists -> integer ids.

A corpus is read once per fit and encoded into int32 word ids (kept in an
unlinked temporary file, read back with pread) plus the end offset of every
sentence; training threads then read chunks of ids and train with the GIL
released instead of re-tokenizing text every epoch.

Text rules (as word2vec and fastText): a line is a sentence, tokens are
separated by ASCII whitespace, files are UTF-8.  A line longer than
`max_sentence_length` tokens is split into consecutive sentences of at most
that many tokens; every split line is counted and reported, never cut.
"""

from __future__ import annotations

import gzip
import hashlib
import logging
import os
import tempfile
import zlib
from array import array
from collections import defaultdict
from dataclasses import dataclass, field
from itertools import count
from pathlib import Path
from typing import Iterable, Iterator, Sequence, Union

import numpy as np

from ..errors import FormatError, InputError

log = logging.getLogger("omnivec.learn")

Source = Union[str, os.PathLike, Iterable[Sequence[str]]]

READ_BYTES = 1 << 20
_WS = b" \t\n\r\x0b\x0c"


@dataclass
class CorpusStats:
    """What reading a corpus found: sizes, split lines, a content fingerprint."""

    files: list[str] = field(default_factory=list)
    lines: int = 0
    tokens: int = 0
    sentences: int = 0
    split_lines: int = 0        # lines longer than max_sentence_length
    extra_sentences: int = 0    # sentences those lines were split into, beyond one each
    max_sentence_length: int = 10000
    fingerprint: str = ""

    def to_meta(self) -> dict:
        """Return a JSON-able summary for model provenance."""
        return {"files": self.files[:20], "n_files": len(self.files), "lines": self.lines,
                "tokens": self.tokens, "sentences": self.sentences, "split_lines": self.split_lines,
                "extra_sentences": self.extra_sentences,
                "max_sentence_length": self.max_sentence_length, "fingerprint": self.fingerprint}


class EncodedCorpus:
    """A corpus as word ids in a temporary file: sentence s is tokens [ends[s-1], ends[s]).

    The ids live on disk (an unlinked temporary file, read with pread) rather
    than in memory, so a corpus of any size costs only its sentence ends in
    RAM; the operating system's page cache keeps the reads cheap.
    `words[i]` is id i's string (first-occurrence order until a vocabulary
    is applied); `counts[i]` its number of occurrences.
    """

    def __init__(self, fh, n_tokens: int, ends: np.ndarray, words: list[str], counts: np.ndarray,
                 stats: CorpusStats) -> None:
        self._fh = fh
        self.n_tokens = int(n_tokens)
        self.ends = ends
        self.words = words
        self.counts = counts
        self.stats = stats

    def read(self, a: int, b: int) -> np.ndarray:
        """Return token ids [a, b) as an int32 array."""
        if b <= a:
            return np.zeros(0, np.int32)
        raw = os.pread(self._fh.fileno(), (b - a) * 4, a * 4)
        return np.frombuffer(raw, dtype=np.int32).copy()

    @property
    def tokens(self) -> np.ndarray:
        """Return every token id (loads the whole corpus: for small corpora and tests)."""
        return self.read(0, self.n_tokens)

    def close(self) -> None:
        """Release the temporary file."""
        self._fh.close()


def token_file(tmp_dir: str | None = None):
    """Return an anonymous (already unlinked) binary file for encoded tokens."""
    return tempfile.TemporaryFile(prefix="omnivec-corpus-", dir=tmp_dir)


FLUSH_TOKENS = 1 << 20


class _Encoder:
    """Maps tokens to first-occurrence ids and appends them to a file; splits long lines."""

    def __init__(self, max_len: int, tmp_dir: str | None = None) -> None:
        nxt = count().__next__
        self.ids: defaultdict = defaultdict(nxt)
        self.fh = token_file(tmp_dir)
        self.tok = array("i")
        self.base = 0           # tokens already flushed to the file
        self.counts = np.zeros(0, np.int64)
        self.ends = array("q")
        self.max_len = max_len
        self.open_len = 0       # tokens of the sentence still open (line not finished)
        self.open_split = False
        self.stats = CorpusStats(max_sentence_length=max_len)

    def flush(self) -> None:
        if not len(self.tok):
            return
        block = np.frombuffer(self.tok, dtype=np.int32)
        bc = np.bincount(block, minlength=len(self.ids))
        if len(bc) > len(self.counts):
            self.counts = np.concatenate([self.counts, np.zeros(len(bc) - len(self.counts), np.int64)])
        self.counts[:len(bc)] += bc
        self.fh.write(self.tok.tobytes())
        self.base += len(self.tok)
        del block
        self.tok = array("i")

    def add(self, toks: Sequence, closed: bool = True) -> None:
        n = len(toks)
        if n:
            self.tok.extend(map(self.ids.__getitem__, toks))
            self.open_len += n
            if self.open_len > self.max_len:
                pos = self.base + len(self.tok)
                while self.open_len > self.max_len:
                    self.ends.append(pos - self.open_len + self.max_len)
                    self.open_len -= self.max_len
                    self.stats.extra_sentences += 1
                self.open_split = True
            if len(self.tok) >= FLUSH_TOKENS:
                self.flush()
        if closed:
            self.stats.lines += 1
            if self.open_len:
                self.ends.append(self.base + len(self.tok))
            self.open_len = 0
            if self.open_split:
                self.stats.split_lines += 1
            self.open_split = False

    def finish(self, fingerprint: str) -> EncodedCorpus:
        if self.open_len:
            self.ends.append(self.base + len(self.tok))
        self.flush()
        self.fh.flush()
        words = [w.decode("utf-8") if isinstance(w, bytes) else str(w) for w in self.ids]
        ends = np.array(self.ends, dtype=np.int64)
        counts = np.zeros(len(words), np.int64)
        counts[:len(self.counts)] = self.counts
        st = self.stats
        st.tokens = int(self.base)
        st.sentences = int(len(ends))
        st.fingerprint = fingerprint
        if st.split_lines:
            log.warning("%d lines longer than max_sentence_length=%d were split into %d extra sentences",
                        st.split_lines, self.max_len, st.extra_sentences)
        return EncodedCorpus(self.fh, self.base, ends, words, counts, st)


def corpus_files(path: str | os.PathLike) -> list[Path]:
    """Return the files of a corpus path: the file itself, or a folder's files (sorted, recursive)."""
    p = Path(path)
    if p.is_dir():
        files = sorted(f for f in p.rglob("*") if f.is_file()
                       and not any(part.startswith(".") for part in f.relative_to(p).parts))
        if not files:
            raise InputError(f"corpus folder {str(p)!r} holds no files")
        return files
    if not p.exists():
        raise InputError(f"corpus file {str(p)!r} does not exist")
    return [p]


def _open_binary(path: Path):
    with open(path, "rb") as fh:
        magic = fh.read(2)
    if magic == b"\x1f\x8b":
        return gzip.open(path, "rb")
    return open(path, "rb")


def _check_text(path: Path, data: bytes, offset: int, line0: int) -> None:
    nul = data.find(b"\x00")
    if nul >= 0:
        raise FormatError(f"found a NUL byte; expected UTF-8 text (is this a binary file?)",
                          path=path, line=line0 + data.count(b"\n", 0, nul) + 1, offset=offset + nul)
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        bad = data[exc.start:exc.start + 4]
        raise FormatError(f"invalid UTF-8 ({exc.reason}): bytes {bad!r}; expected UTF-8 text",
                          path=path, line=line0 + data.count(b"\n", 0, exc.start) + 1,
                          offset=offset + exc.start) from None


def _encode_file(path: Path, enc: _Encoder, digest) -> None:
    offset = 0
    line0 = 0
    rest = b""
    with _open_binary(path) as fh:
        while True:
            try:
                block = fh.read(READ_BYTES)
            except (OSError, EOFError, zlib.error) as exc:
                raise FormatError(f"cannot read compressed data (damaged or truncated): {exc}", path=path,
                                  offset=offset) from None
            last = not block
            data = rest + block
            if not data:
                break
            if last:
                cut = len(data)
            else:
                cut = data.rfind(b"\n") + 1
                if cut == 0:
                    # a line longer than the read block: cut at whitespace, the line stays open
                    cut = max(data.rfind(c) for c in (b" ", b"\t", b"\r", b"\x0b", b"\x0c")) + 1
                    if cut == 0:
                        rest = data
                        continue
            piece, rest = data[:cut], data[cut:]
            # every cut is just after an ASCII byte, which never occurs inside a UTF-8
            # sequence, so each piece decodes on its own
            _check_text(path, piece, offset, line0)
            digest.update(piece)
            lines = piece.split(b"\n")
            tail = lines.pop()   # text after the last newline: an open line
            add = enc.add
            for ln in lines:
                add(ln.split())
            if tail:
                add(tail.split(), closed=last)
            elif last and enc.open_len:
                add((), closed=True)
            line0 += len(lines)
            offset += cut
            if last:
                break


def encode(source: Source, *, max_sentence_length: int = 10000, tmp_dir: str | None = None) -> EncodedCorpus:
    """Return the corpus encoded as first-occurrence word ids, with counts and reading statistics.

    `source` is a path (a text file, a .gz file, or a folder of them) or an
    iterable of token lists (each list a sentence).  Raises FormatError for
    binary or non-UTF-8 files (naming file, line and byte offset) and
    InputError for an empty corpus.
    """
    enc = _Encoder(max_sentence_length, tmp_dir)
    digest = hashlib.blake2b(digest_size=16)
    if isinstance(source, (str, os.PathLike)):
        for f in corpus_files(source):
            enc.stats.files.append(str(f))
            _encode_file(f, enc, digest)
    elif isinstance(source, (bytes, bytearray)):
        raise InputError("a corpus is a path or an iterable of token lists; got bytes")
    else:
        try:
            it = iter(source)
        except TypeError:
            raise InputError(f"a corpus is a path or an iterable of token lists; got "
                             f"{type(source).__name__}") from None
        for i, sent in enumerate(it):
            if isinstance(sent, (str, bytes)):
                raise InputError(f"sentence {i} of the corpus is a {type(sent).__name__}, expected a "
                                 f"list of tokens; split lines into tokens first (line.split())")
            toks = list(sent)
            for t in toks:
                if not isinstance(t, str):
                    raise InputError(f"sentence {i} of the corpus holds a {type(t).__name__} token "
                                     f"({t!r}); expected str")
            enc.add(toks)
            digest.update("\x1f".join(toks).encode("utf-8", "surrogatepass") + b"\n")
    out = enc.finish(digest.hexdigest())
    if out.stats.tokens == 0:
        out.close()
        where = f" ({', '.join(out.stats.files[:3])})" if out.stats.files else ""
        raise InputError(f"the corpus{where} holds no tokens; expected whitespace-separated text")
    return out


def iter_sentences(source: Source) -> Iterator[list[str]]:
    """Yield the corpus's sentences as lists of tokens (for tools that want Python lists)."""
    if isinstance(source, (str, os.PathLike)):
        for f in corpus_files(source):
            with _open_binary(f) as fh:
                for raw in fh:
                    toks = raw.split()
                    if toks:
                        yield [t.decode("utf-8") for t in toks]
    else:
        for sent in source:
            yield list(sent)
