"""The one exception hierarchy of omnivec.

    OmnivecError                      everything omnivec raises on purpose
    ├── InputError (ValueError)       an argument has a bad value
    │   ├── DimensionError            vectors of the wrong width or shape
    │   ├── DuplicateKeyError         the same key twice where keys must be unique
    │   └── UnknownNameError          a name not in a registry (lists valid names)
    ├── KeyNotFound (KeyError)        a key that is not in the table (and OOV was not asked for)
    ├── FormatError                   a file is not what it should be
    │   ├── ParseError                a text/binary import failed at a line or byte offset
    │   │   └── EncodingError         text that is not in the expected encoding (UTF-8)
    │   ├── CorruptFileError          truncated, checksum mismatch, inconsistent header
    │   └── UnsupportedVersionError   written by a newer omnivec
    ├── MissingDependencyError (ImportError)
    │                                 an optional extra is not installed
    └── ClusterError                  a Ray cluster, a worker or a shard failed to answer
        └── ShardError                one shard of a sharded table or index failed (named)

Every message says where (file, line, byte offset), what was expected, what
was found and, where there is one, what to do instead.
"""

from __future__ import annotations

from os import PathLike


class OmnivecError(Exception):
    """Base class of every error omnivec raises on purpose."""


class InputError(OmnivecError, ValueError):
    """An argument has a value omnivec cannot use."""


class DimensionError(InputError):
    """Vectors have the wrong number of dimensions or the wrong shape."""


class DuplicateKeyError(InputError):
    """The same key appears twice where keys must be unique."""


class UnknownNameError(InputError):
    """A name is not registered; the message lists the valid names."""


class KeyNotFound(OmnivecError, KeyError):
    """A key is not in the table and no out-of-vocabulary vector was asked for."""

    def __str__(self) -> str:  # KeyError repr()s its argument; keep the message readable
        return str(self.args[0]) if self.args else ""


class FormatError(OmnivecError):
    """A file is not in the format it should be in."""

    def __init__(self, message: str, *, path: str | PathLike | None = None,
                 line: int | None = None, offset: int | None = None) -> None:
        where = []
        if path is not None:
            where.append(str(path))
        if line is not None:
            where.append(f"line {line}")
        if offset is not None:
            where.append(f"byte {offset}")
        self.path = None if path is None else str(path)
        self.line = line
        self.offset = offset
        super().__init__(f"{', '.join(where)}: {message}" if where else message)


class ParseError(FormatError):
    """A text or binary vector file could not be parsed at a line or byte offset."""


class EncodingError(ParseError):
    """A text file is not in the expected encoding (UTF-8); the message names the file, line and byte."""


class CorruptFileError(FormatError):
    """A model file is truncated, fails its checksums or contradicts its own header."""


class UnsupportedVersionError(FormatError):
    """A model file was written by a newer format version than this omnivec reads."""


class MissingDependencyError(OmnivecError, ImportError):
    """An optional dependency is missing; the message names the pip command."""


class ClusterError(OmnivecError):
    """A Ray cluster could not be joined or started, or a worker on it failed."""


class ShardError(ClusterError):
    """A shard of a sharded table or index did not answer; the message names the shard."""

    def __init__(self, message: str, *, shards: list[int] | None = None) -> None:
        self.shards = list(shards or [])
        super().__init__(message)


def require(module: str, extra: str, purpose: str):
    """Return the imported optional module, or raise MissingDependencyError naming the extra."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingDependencyError(
            f"{purpose} needs the '{module}' package, which is not installed. "
            f"Install it with: pip install 'omnivec[{extra}]'"
        ) from exc
