"""Helpers shared by the CLI stages: opening a model, JSON output, rich tables, timing.

Output for people goes through rich (tables, colour only on a terminal);
output for scripts (`--json`) is one JSON document on stdout, written with the
standard json module so that no console width or markup can alter it.
"""

from __future__ import annotations

import json
import math
import os
import sys
from typing import Any, Sequence

import numpy as np

from .._format import Timer, console, human_bytes, human_seconds, timed  # noqa: F401  (the shells' helpers)
from ..files import open_table  # noqa: F401  (the shells open tables as the library does)
from .._registry import Registry
from ..errors import InputError, KeyNotFound


def _plain(obj: Any) -> Any:
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    raise TypeError(f"cannot write {type(obj).__name__} as JSON")


def _finite(obj: Any) -> Any:
    # JSON has no NaN/inf: scores of -inf (excluded rows) become null rather than invalid JSON.
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite(v) for v in obj]
    return obj


def emit_json(obj: Any) -> None:
    """Write `obj` as one JSON document on stdout (numpy values become plain numbers)."""
    text = json.dumps(_finite(json.loads(json.dumps(obj, default=_plain))),
                      ensure_ascii=False, allow_nan=False)
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def choices(registry: Registry) -> str:
    """Return the registered names of a family as 'a, b, c' for help texts (spaces let rich wrap them)."""
    return ", ".join(registry.names())


def check_choice(registry: Registry, name: str | None) -> str | None:
    """Return the canonical name for `name` (None stays None); UnknownNameError lists valid names."""
    return None if name is None else registry.canonical(name)


def parse_key(emb, text: str):
    """Return the key a command-line word names: an int for integer-keyed tables, else the string."""
    if emb.keys.kind == "int":
        try:
            return int(text)
        except ValueError:
            raise InputError(f"table {emb.name!r} has integer keys; {text!r} is not an integer") from None
    return text


def require_keys(emb, keys: Sequence, *, oov: bool, path: str | os.PathLike) -> None:
    """Raise KeyNotFound (suggesting --oov) for the first key the table lacks, unless oov is on."""
    if oov:
        return
    for k in keys:
        if k not in emb:
            more = "" if emb.subwords is None else " (this model has subword vectors)"
            raise KeyNotFound(f"key {k!r} is not in {os.fspath(path)} (table {emb.name!r}, "
                              f"{len(emb):,} keys); add --oov for an out-of-vocabulary vector{more}")
