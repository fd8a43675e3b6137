"""Hyper-parameter constraints declared as data: one helper turns them into every error message."""

from __future__ import annotations

import numbers
from dataclasses import dataclass
from typing import Any, Callable, Sequence

from .._registry import normalize_name
from ..errors import InputError


@dataclass(frozen=True)
class Int:
    """An int in [lo, hi] (hi None: no upper bound); none_ok admits None."""

    lo: int
    hi: int | None = None
    none_ok: bool = False

    def describe(self) -> str:
        base = f"an int in [{self.lo}, {self.hi}]" if self.hi is not None else f"an int >= {self.lo}"
        return base + (" or None" if self.none_ok else "")

    def check(self, v: Any) -> Any:
        if v is None and self.none_ok:
            return None
        if isinstance(v, bool) or not isinstance(v, numbers.Integral):
            raise ValueError
        if v < self.lo or (self.hi is not None and v > self.hi):
            raise ValueError
        return int(v)


@dataclass(frozen=True)
class Float:
    """A finite real in [lo, hi] (or (lo, hi] with open_lo); none_ok admits None."""

    lo: float
    hi: float | None = None
    open_lo: bool = False
    open_hi: bool = False
    none_ok: bool = False

    def describe(self) -> str:
        left = "(" if self.open_lo else "["
        right = ")" if self.open_hi else "]"
        hi = "inf)" if self.hi is None else f"{self.hi}{right}"
        return f"a float in {left}{self.lo}, {hi}" + (" or None" if self.none_ok else "")

    def check(self, v: Any) -> Any:
        if v is None and self.none_ok:
            return None
        if isinstance(v, bool) or not isinstance(v, numbers.Real):
            raise ValueError
        v = float(v)
        if v != v or v in (float("inf"), float("-inf")):
            raise ValueError
        if v < self.lo or (self.open_lo and v == self.lo):
            raise ValueError
        if self.hi is not None and (v > self.hi or (self.open_hi and v == self.hi)):
            raise ValueError
        return v


@dataclass(frozen=True)
class Choice:
    """One of named options (case and '-', '_' ignored); aliases map to canonical names."""

    options: tuple[str, ...]
    aliases: tuple[tuple[str, str], ...] = ()

    def describe(self) -> str:
        return "one of " + ", ".join(repr(o) for o in self.options)

    def check(self, v: Any) -> Any:
        if not isinstance(v, str):
            raise ValueError
        key = normalize_name(v)
        for o in self.options:
            if normalize_name(o) == key:
                return o
        for a, o in self.aliases:
            if normalize_name(a) == key:
                return o
        raise ValueError


@dataclass(frozen=True)
class Callables:
    """A sequence of callables."""

    def describe(self) -> str:
        return "a sequence of callables"

    def check(self, v: Any) -> Any:
        if v is None:
            return ()
        if callable(v):
            return (v,)
        if isinstance(v, (str, bytes)) or not isinstance(v, Sequence) or not all(callable(c) for c in v):
            raise ValueError
        return tuple(v)


@dataclass(frozen=True)
class Bool:
    """True or False; none_ok admits None."""

    none_ok: bool = False

    def describe(self) -> str:
        return "a bool" + (" or None" if self.none_ok else "")

    def check(self, v: Any) -> Any:
        if v is None and self.none_ok:
            return None
        if not isinstance(v, bool):
            raise ValueError
        return v


def validate(owner: str, constraints: dict[str, Any], values: dict[str, Any]) -> dict[str, Any]:
    """Return `values` normalised, or raise InputError in one uniform message for the first bad one."""
    out = {}
    for name, value in values.items():
        rule = constraints[name]
        try:
            out[name] = rule.check(value)
        except ValueError:
            raise InputError(f"The {name!r} parameter of {owner} must be {rule.describe()}. "
                             f"Got {value!r} instead.") from None
    return out


Check = Callable[[dict], None]
