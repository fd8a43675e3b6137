"""Atomic writes: temporary files beside the target, their modes, and leftovers of dead writers.

Every file omnivec writes first appears as a hidden temporary file in the
target's folder, named `.<name>.omnivec-<host>-<pid>-<random>.tmp`, and is
renamed over the target only when complete.  A writer killed with SIGKILL
leaves its temporary behind; the next write into that folder removes
temporaries whose process (on this host) no longer runs, so a crashed
convert never leaves hundreds of megabytes behind for good.

Modes follow the shell's rules: a new file gets 0666 minus the umask, a
replaced file keeps its mode (mkstemp's 0600 is never left on a result).
"""

from __future__ import annotations

import errno
import os
import re
import socket
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from .errors import FormatError

_HOST = re.sub(r"[^A-Za-z0-9_.]", "_", socket.gethostname())[:40] or "host"
# Errors of the destination (not of what is being written): a clean message, no traceback.
_WRITE_ERRORS = {errno.ENOSPC: "the disk is full", errno.EDQUOT: "the disk quota is exceeded",
                 errno.EFBIG: "the file is too large for this file system",
                 errno.EROFS: "the file system is read-only", errno.EACCES: "permission denied",
                 errno.EPERM: "permission denied"}
_TMP = re.compile(r"^\..*\.omnivec-(?P<host>[A-Za-z0-9_.]+)-(?P<pid>\d+)-[^/]*\.tmp$")


def _umask() -> int:
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)   # no getter outside Linux: read by setting and restoring
    os.umask(mask)
    return mask


def file_mode(target: Path, *, folder: bool = False) -> int:
    """Return the mode a file (or folder) written to `target` gets: the old one's, else the umask's."""
    try:
        return os.stat(target).st_mode & 0o7777
    except OSError:
        return (0o777 if folder else 0o666) & ~_umask()


def temp_name(target: Path, tag: str = "") -> str:
    """Return the prefix of a temporary file for `target` that marks its writer (host and pid)."""
    return f".{target.name}{tag}.omnivec-{_HOST}-{os.getpid()}-"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def stale_temporaries(folder: str | os.PathLike) -> list[Path]:
    """Return the temporary files in `folder` left by omnivec writers on this host that no longer run."""
    out = []
    try:
        names = os.listdir(folder)
    except OSError:
        return out
    for name in names:
        m = _TMP.match(name)
        if m and m["host"] == _HOST and int(m["pid"]) != os.getpid() and not _alive(int(m["pid"])):
            out.append(Path(folder) / name)
    return out


def remove_stale(folder: str | os.PathLike) -> list[Path]:
    """Remove (and return) what stale_temporaries finds; files that vanish meanwhile are skipped."""
    gone = []
    for p in stale_temporaries(folder):
        try:
            if p.is_dir() and not p.is_symlink():
                import shutil
                shutil.rmtree(p)
            else:
                p.unlink()
            gone.append(p)
        except OSError:
            pass
    return gone


def temporary_file(folder: str | os.PathLike, target_name: str, tag: str = "") -> Path:
    """Create and return an empty temporary file in `folder` named for `target_name` and this process."""
    fd, tmp = tempfile.mkstemp(prefix=temp_name(Path(target_name), tag), suffix=".tmp", dir=folder)
    os.close(fd)
    return Path(tmp)


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside `path`; on success it is renamed over `path`, else removed.

    The result keeps the mode of the file it replaces (a new file gets the
    umask's); temporaries of dead writers in the folder are removed first.
    """
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise FormatError(f"folder {folder} does not exist", path=path)
    if path.is_dir():
        raise FormatError("is a folder; give a file name to write", path=path)
    remove_stale(folder)
    try:
        tmp = temporary_file(folder, path.name)
    except OSError as exc:
        why = _WRITE_ERRORS.get(exc.errno, exc.strerror or str(exc))
        raise FormatError(f"cannot write in folder {folder}: {why}", path=path) from None
    try:
        yield tmp
        os.chmod(tmp, file_mode(path))
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
        try:
            dfd = os.open(folder, os.O_RDONLY)
            try:
                os.fsync(dfd)
            finally:
                os.close(dfd)
        except OSError:
            pass
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        if exc.errno in _WRITE_ERRORS:
            raise FormatError(f"cannot write the file: {_WRITE_ERRORS[exc.errno]}; nothing was changed",
                              path=path) from None
        raise
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
