"""Durable index updates: an append-only journal beside the index file, replayed on start.

Every upsert or delete the service acknowledges is first a record in
`<index file>.log`, written and fsynced before the answer goes out; the
index in memory applies records in journal order.  Workers of one service
share the journal: a writer takes an exclusive lock on it, reads the records
other workers appended, appends its own and fsyncs; readers apply new records
before they search (a stat of the file tells them).  Compaction saves the index
(an atomic rename) and then replaces the journal by an empty one (another
atomic rename); replaying an upsert or a delete twice gives the same state, so
a crash between the two renames loses nothing.  A record cut short by a crash
was never acknowledged: replay ignores a torn last line.

A line is `<CRC-32 of the JSON, 8 hex digits> <JSON>`; vectors travel as
base64 float32 (little-endian), so a replay restores them bit for bit.
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import threading
import zlib
from contextlib import contextmanager
from typing import Any, Callable, Iterator, Sequence

import numpy as np

from .._atomic import atomic_path
from ..errors import CorruptFileError
from .limits import INLINE, WouldBlock

HEADER = {"omnivec-journal": 1}


def _line(record: dict) -> bytes:
    body = json.dumps(record, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return b"%08x " % zlib.crc32(body) + body + b"\n"


def upsert_record(keys: Sequence, vectors: np.ndarray) -> dict:
    """Return the journal record of an upsert of `keys` with `vectors` (float32 rows)."""
    X = np.ascontiguousarray(vectors, dtype="<f4")
    return {"op": "upsert", "keys": list(keys), "dim": int(X.shape[1]),
            "vectors": base64.b64encode(X.tobytes()).decode("ascii")}


def delete_record(keys: Sequence) -> dict:
    """Return the journal record of a delete of `keys`."""
    return {"op": "delete", "keys": list(keys)}


def record_vectors(record: dict) -> np.ndarray:
    """Return the float32 (keys x dim) vectors of an upsert record."""
    raw = base64.b64decode(record["vectors"])
    return np.frombuffer(raw, dtype="<f4").reshape(len(record["keys"]), int(record["dim"])).astype(np.float32)


def apply_record(index, record: dict) -> None:
    """Apply one journal record to an index (replaying it twice leaves the same state)."""
    if record["op"] == "upsert":
        index.upsert(record["keys"], record_vectors(record))
    elif record["op"] == "delete":
        index.delete(record["keys"], missing="ignore")


class RWLock:
    """Many readers or one writer (searches share an index; an update has it alone)."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._readers = 0
        self._writer = False

    @contextmanager
    def read(self) -> Iterator[None]:
        with self._cond:
            if self._writer and INLINE.get():
                raise WouldBlock()
            while self._writer:
                self._cond.wait()
            self._readers += 1
        try:
            yield
        finally:
            with self._cond:
                self._readers -= 1
                if not self._readers:
                    self._cond.notify_all()

    @contextmanager
    def write(self) -> Iterator[None]:
        with self._cond:
            while self._writer or self._readers:
                self._cond.wait()
            self._writer = True
        try:
            yield
        finally:
            with self._cond:
                self._writer = False
                self._cond.notify_all()


class Journal:
    """The update journal of one index file, shared by every worker of a service.

    `reopen_index()` returns the index as saved in its file (after another
    worker compacted the journal into it); `apply(index, record)` applies a
    record.  `index` is the live index every search uses.
    """

    def __init__(self, path: str, index, reopen_index: Callable[[], Any], *, compact_every: int = 10_000) -> None:
        self.path = path
        self.index = index
        self.reopen_index = reopen_index
        self.compact_every = int(compact_every)
        self.lock = RWLock()
        self._mutex = threading.Lock()     # one writer thread of this process at a time
        self._fh = None
        self._ino = -1
        self._offset = 0
        self.records = 0                   # records applied from the current journal file
        with self.lock.write():
            self._open()
            self._follow()

    # -- the file ---------------------------------------------------------------------------------
    def _open(self) -> None:
        if self._fh is not None:
            self._fh.close()
        if not os.path.exists(self.path):
            self._create()
        self._fh = open(self.path, "rb+")
        self._ino = os.fstat(self._fh.fileno()).st_ino
        self._offset = 0
        self.records = 0

    def _create(self) -> None:
        with atomic_path(self.path) as tmp:
            tmp.write_bytes(_line(HEADER))

    def _rotated(self) -> bool:
        try:
            return os.stat(self.path).st_ino != self._ino
        except FileNotFoundError:
            return True

    def _follow(self) -> None:
        """Apply the records appended since the last call (the caller holds the write lock)."""
        fh = self._fh
        fh.seek(self._offset)
        data = fh.read()
        if not data:
            return
        end = data.rfind(b"\n") + 1            # a line without its newline is being written, or torn
        pos = 0
        for raw in data[:end].split(b"\n")[:-1]:
            where = self._offset + pos
            pos += len(raw) + 1
            record = self._parse(raw, where)
            if "op" in record:
                apply_record(self.index, record)
                self.records += 1
        self._offset += end

    def _parse(self, raw: bytes, where: int) -> dict:
        try:
            crc, body = raw[:8], raw[9:]
            ok = len(raw) > 9 and raw[8:9] == b" " and int(crc, 16) == zlib.crc32(body)
            record = json.loads(body) if ok else None
        except (ValueError, UnicodeDecodeError):
            record = None
        if not isinstance(record, dict) or ("op" not in record and "omnivec-journal" not in record):
            raise CorruptFileError("an update journal record fails its CRC-32 or is not a record; restore the "
                                   "journal from a backup or remove it (losing the updates since the last "
                                   "compaction)", path=self.path, offset=where)
        return record

    # -- what the service calls -------------------------------------------------------------------
    def _sync_locked(self) -> None:
        if self._rotated():
            self.index = self.reopen_index()
            self._open()
        self._follow()

    def sync(self) -> None:
        """Apply what other workers appended (or reload after their compaction); cheap when nothing did."""
        try:
            st = os.stat(self.path)
            if st.st_ino == self._ino and st.st_size == self._offset:
                return
        except FileNotFoundError:
            pass
        if INLINE.get():
            raise WouldBlock()
        with self._mutex, self.lock.write():
            fcntl.flock(self._fh.fileno(), fcntl.LOCK_SH)
            try:
                self._sync_locked()
            finally:
                fcntl.flock(self._fh.fileno(), fcntl.LOCK_UN)

    def commit(self, record: dict, check: Callable[[Any], None] | None = None) -> None:
        """Append `record` durably (fsynced) and apply it; `check(index)` may refuse it first.

        Returns only once the record is on disk: the caller may acknowledge it.
        """
        with self._mutex, self.lock.write():
            while True:
                fcntl.flock(self._fh.fileno(), fcntl.LOCK_EX)
                if not self._rotated():
                    break
                fcntl.flock(self._fh.fileno(), fcntl.LOCK_UN)
                self._sync_locked()
            try:
                self._follow()
                if check is not None:
                    check(self.index)
                fd = self._fh.fileno()
                os.lseek(fd, 0, os.SEEK_END)
                line = _line(record)
                if os.fstat(fd).st_size != self._offset:        # cannot happen under the lock; be sure
                    self._follow()
                os.write(fd, line)
                os.fsync(fd)
                self._follow()
                if self.compact_every and self.records >= self.compact_every:
                    self._compact_locked()
            finally:
                if self._fh is not None:
                    try:
                        fcntl.flock(self._fh.fileno(), fcntl.LOCK_UN)
                    except ValueError:
                        pass

    def compact(self) -> int:
        """Save the index with every journal record in it, then start an empty journal; return the records."""
        with self._mutex, self.lock.write():
            while True:
                fcntl.flock(self._fh.fileno(), fcntl.LOCK_EX)
                if not self._rotated():
                    break
                fcntl.flock(self._fh.fileno(), fcntl.LOCK_UN)
                self._sync_locked()
            try:
                self._follow()
                n = self.records
                self._compact_locked()
                return n
            finally:
                try:
                    fcntl.flock(self._fh.fileno(), fcntl.LOCK_UN)
                except ValueError:
                    pass

    def _compact_locked(self) -> None:
        old = self._fh
        self.index.save(self.index.path)       # atomic rename; holds every record of the journal
        self._create()                         # atomic rename: the new, empty journal
        self._fh = None
        self._open()
        fcntl.flock(old.fileno(), fcntl.LOCK_UN)
        old.close()
        # the lock the caller releases is now the new file's: take it so the release is balanced
        fcntl.flock(self._fh.fileno(), fcntl.LOCK_EX)

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None
