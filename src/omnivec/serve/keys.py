"""API keys: a keys file of hashed keys with a scope, the models they may use and a rate limit.

    token = add_key("keys.json", "search-box", scope="read", models=["glove"])   # shown once
    ring = KeyRing.load("keys.json")
    ring.find(token)          # the ApiKey, or None

The file is JSON (`{"omnivec-keys": 1, "keys": [...]}`) holding, per key, its
name, the SHA-256 of the key, its scope (read < write < admin), the models it
may use (null: every model) and its rate limit (requests a second, a burst).
The key itself is never stored: `add_key` returns it once.  A key is 32
random bytes, so one unsalted SHA-256 is as strong as the key; the file is
written atomically with mode 0600.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Sequence

from .._atomic import atomic_path
from ..errors import FormatError, InputError, KeyNotFound

FORMAT = "omnivec-keys"
VERSION = 1
PREFIX = "ovk_"
#: scope name -> level; a key may call every route whose scope is at or below its own
SCOPES = {"read": 1, "write": 2, "admin": 3}


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def check_scope(scope: str) -> str:
    """Return `scope` if it is a known scope name, else raise InputError listing them."""
    if scope not in SCOPES:
        raise InputError(f"unknown scope {scope!r}; valid scopes are: {', '.join(SCOPES)}")
    return scope


@dataclass(frozen=True)
class ApiKey:
    """One key of a keys file: its name, scope, models (None: all) and rate limit."""

    name: str
    sha256: str
    scope: str = "read"
    models: tuple[str, ...] | None = None
    rate: float | None = None      # requests a second; None: the server's default, 0: unlimited
    burst: int | None = None
    created: float = 0.0

    def allows(self, scope: str) -> bool:
        """Return whether this key's scope covers `scope`."""
        return SCOPES[self.scope] >= SCOPES[scope]

    def may_use(self, model: str) -> bool:
        """Return whether this key may use the model called `model`."""
        return self.models is None or model in self.models

    def as_dict(self) -> dict:
        d = asdict(self)
        d["models"] = None if self.models is None else list(self.models)
        return d


class KeyRing:
    """The keys of a keys file, found by the SHA-256 of the key a request presents."""

    def __init__(self, keys: Sequence[ApiKey] = ()) -> None:
        self.keys = list(keys)
        self._by_hash = {k.sha256: k for k in self.keys}

    @classmethod
    def load(cls, path: str | os.PathLike) -> "KeyRing":
        """Return the keys of the keys file at `path` (FormatError naming what is wrong)."""
        return cls(read_keys(path))

    def find(self, token: str | None) -> ApiKey | None:
        """Return the key `token` is, or None."""
        if not token or len(token) > 256:
            return None
        return self._by_hash.get(_digest(token))

    def __len__(self) -> int:
        return len(self.keys)


def read_keys(path: str | os.PathLike) -> list[ApiKey]:
    """Return the keys stored in the keys file at `path`; a missing file holds none."""
    p = Path(path)
    if not p.exists():
        return []
    try:
        doc = json.loads(p.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise FormatError(f"not a keys file (not UTF-8 JSON: {exc})", path=p) from None
    if not isinstance(doc, dict) or doc.get(FORMAT) != VERSION or not isinstance(doc.get("keys"), list):
        raise FormatError(f"not a keys file (expected {{\"{FORMAT}\": {VERSION}, \"keys\": [...]}})", path=p)
    out = []
    for i, entry in enumerate(doc["keys"]):
        try:
            models = entry.get("models")
            key = ApiKey(name=str(entry["name"]), sha256=str(entry["sha256"]), scope=check_scope(entry["scope"]),
                         models=None if models is None else tuple(str(m) for m in models),
                         rate=None if entry.get("rate") is None else float(entry["rate"]),
                         burst=None if entry.get("burst") is None else int(entry["burst"]),
                         created=float(entry.get("created", 0.0)))
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise FormatError(f"key {i} is malformed ({exc})", path=p) from None
        if len(key.sha256) != 64:
            raise FormatError(f"key {i} ({key.name!r}) has no SHA-256 of 64 hex digits", path=p)
        out.append(key)
    return out


def _write(path: Path, keys: list[ApiKey]) -> None:
    if not path.exists():
        # the first version is created 0600, and atomic writes keep the mode of the file they replace
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        os.close(fd)
    doc = {FORMAT: VERSION, "keys": [k.as_dict() for k in keys]}
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")


def add_key(path: str | os.PathLike, name: str, *, scope: str = "read", models: Sequence[str] | None = None,
            rate: float | None = None, burst: int | None = None) -> str:
    """Return a new API key after storing its hash under `name` in the keys file (created if absent).

    `models` limits the key to those model names (None: every model); `rate`
    (requests a second, 0 for no limit) and `burst` override the server's
    default rate limit.  The key is shown only now: the file keeps its SHA-256.
    """
    check_scope(scope)
    if not isinstance(name, str) or not name.strip():
        raise InputError("a key needs a non-empty name")
    if rate is not None and (rate < 0 or rate != rate):
        raise InputError(f"rate must be >= 0 requests a second (0: no limit); got {rate}")
    if burst is not None and burst < 1:
        raise InputError(f"burst must be >= 1; got {burst}")
    p = Path(path)
    keys = read_keys(p)
    if any(k.name == name for k in keys):
        raise InputError(f"a key named {name!r} exists in {p}; remove it first or pick another name")
    token = PREFIX + secrets.token_urlsafe(32)
    keys.append(ApiKey(name=name, sha256=_digest(token), scope=scope,
                       models=None if not models else tuple(models), rate=rate, burst=burst,
                       created=round(time.time(), 3)))
    _write(p, keys)
    return token


def remove_key(path: str | os.PathLike, name: str) -> None:
    """Remove the key called `name` from the keys file (KeyNotFound if there is none)."""
    p = Path(path)
    keys = read_keys(p)
    if not any(k.name == name for k in keys):
        raise KeyNotFound(f"no key named {name!r} in {p}; its keys are: {', '.join(k.name for k in keys) or 'none'}")
    _write(p, [k for k in keys if k.name != name])


def list_keys(path: str | os.PathLike) -> list[dict]:
    """Return the keys of the keys file without their hashes: name, scope, models, rate, burst, created."""
    return [{k: v for k, v in key.as_dict().items() if k != "sha256"} for key in read_keys(path)]
