"""Parameters declared as data: one declaration gives the check, the help, the CLI switch and the message.

A learner lists its constructor parameters in ``_constraints`` (name -> rule).
Each rule knows

- its help text (``help``), shown by ``--help`` and in the docs;
- its value type (``type``: int, float, str or bool; None for Python-only
  values such as callbacks, which get no command-line switch);
- its domain in words (``describe()``: "an int in [1, 4096]");
- how to read a command-line word (``parse``), leniently: a word it cannot
  read is passed on unchanged, so the check refuses it with the same message
  as in Python;
- values it refuses (``bad_values()``), so every rule gets an invalid-input
  test without writing one.

`check_params` checks a set of values and raises, for the first bad one, the
one message `bad_value_message` writes, whether the value came from Python or
from the command line:

    The 'dim' parameter of Word2Vec must be an int in [1, 4096]. Got 0 instead.
"""

from __future__ import annotations

import math
import numbers
import re
from dataclasses import dataclass, field
from typing import Any, ClassVar, Sequence

from .errors import InputError, UnknownNameError


def _fold(name: str) -> str:
    # the lookup form of omnivec._registry.normalize_name (the base helpers do not import each other)
    return re.sub(r"[-_ .]", "", str(name)).lower()


@dataclass(frozen=True)
class Rule:
    """What every declared parameter has: help text, a value type, a domain and a parser."""

    help: str = field(default="", kw_only=True)

    type: ClassVar[type | None] = None
    error: ClassVar[type[InputError]] = InputError
    none_ok: bool = field(default=False, kw_only=True)

    @property
    def cli(self) -> bool:
        """Return whether the parameter gets a command-line switch."""
        return self.type is not None

    @property
    def metavar(self) -> str:
        """Return the placeholder shown for the value in ``--help``."""
        return f"<{self.type.__name__}>" if self.type is not None else ""

    def describe(self) -> str:
        raise NotImplementedError

    def check(self, v: Any) -> Any:
        """Return `v` normalised, or raise ValueError."""
        raise NotImplementedError

    def parse(self, text: Any) -> Any:
        """Return the value a command-line word stands for (the word itself when it reads as nothing)."""
        if isinstance(text, str) and self.none_ok and text.strip().lower() == "none":
            return None
        return text

    def bad_values(self) -> tuple:
        """Return values this rule refuses (for invalid-input tests)."""
        return ()

    def _or_none(self, text: str) -> str:
        return text + (" or None" if self.none_ok else "")


def _bound(x: int) -> str:
    """Return a bound as people read it: 2^63 - 1, not 9223372036854775807."""
    if x >= 2**31 and (x + 1) & x == 0:
        return f"2^{(x + 1).bit_length() - 1} - 1"
    return str(x)


@dataclass(frozen=True)
class Int(Rule):
    """An int in [lo, hi] (hi None: no upper bound); none_ok admits None."""

    lo: int = 0
    hi: int | None = None
    type: ClassVar[type] = int

    def describe(self) -> str:
        base = f"an int in [{self.lo}, {_bound(self.hi)}]" if self.hi is not None else f"an int >= {self.lo}"
        return self._or_none(base)

    def check(self, v: Any) -> Any:
        if v is None and self.none_ok:
            return None
        if isinstance(v, bool) or not isinstance(v, numbers.Integral):
            raise ValueError
        if v < self.lo or (self.hi is not None and v > self.hi):
            raise ValueError
        return int(v)

    def parse(self, text: Any) -> Any:
        if not isinstance(text, str):
            return text
        for conv in (int, float):   # "2.5" is read as 2.5 and refused as a float
            try:
                return conv(text)
            except ValueError:
                pass
        return super().parse(text)

    def bad_values(self) -> tuple:
        out = [self.lo - 1, self.lo + 0.5, True, "many"]
        if self.hi is not None:
            out.append(self.hi + 1)
        if not self.none_ok:
            out.append(None)
        return tuple(out)


@dataclass(frozen=True)
class Float(Rule):
    """A finite real in [lo, hi] (or (lo, hi] with open_lo); none_ok admits None."""

    lo: float = 0.0
    hi: float | None = None
    open_lo: bool = False
    open_hi: bool = False
    type: ClassVar[type] = float

    def describe(self) -> str:
        left = "(" if self.open_lo else "["
        right = ")" if self.open_hi else "]"
        hi = "inf)" if self.hi is None else f"{self.hi}{right}"
        return self._or_none(f"a float in {left}{self.lo}, {hi}")

    def check(self, v: Any) -> Any:
        if v is None and self.none_ok:
            return None
        if isinstance(v, bool) or not isinstance(v, numbers.Real):
            raise ValueError
        v = float(v)
        if not math.isfinite(v):
            raise ValueError
        if v < self.lo or (self.open_lo and v == self.lo):
            raise ValueError
        if self.hi is not None and (v > self.hi or (self.open_hi and v == self.hi)):
            raise ValueError
        return v

    def parse(self, text: Any) -> Any:
        if not isinstance(text, str):
            return text
        try:
            return float(text)
        except ValueError:
            return super().parse(text)

    def bad_values(self) -> tuple:
        out = [float("nan"), float("inf"), "fast", self.lo - 1.0]
        if self.open_lo:
            out.append(self.lo)
        if self.hi is not None:
            out.append(self.hi if self.open_hi else self.hi + 1.0)
        if not self.none_ok:
            out.append(None)
        return tuple(out)


@dataclass(frozen=True)
class Choice(Rule):
    """One of named options (case and '-', '_' ignored); aliases map to canonical names."""

    options: tuple[str, ...] = ()
    aliases: tuple[tuple[str, str], ...] = ()
    type: ClassVar[type] = str

    @property
    def metavar(self) -> str:
        return "<" + "|".join(self.options) + ">"

    def describe(self) -> str:
        return self._or_none("one of " + ", ".join(repr(o) for o in self.options))

    def check(self, v: Any) -> Any:
        if v is None and self.none_ok:
            return None
        if not isinstance(v, str):
            raise ValueError
        key = _fold(v)
        for o in self.options:
            if _fold(o) == key:
                return o
        for a, o in self.aliases:
            if _fold(a) == key:
                return o
        raise ValueError

    def bad_values(self) -> tuple:
        return ("no-such-option", 3) + (() if self.none_ok else (None,))


@dataclass(frozen=True)
class Registered(Rule):
    """A name registered in an `omnivec._registry.Registry` (returned in its canonical spelling)."""

    registry: Any = None
    type: ClassVar[type] = str
    error: ClassVar[type[InputError]] = UnknownNameError

    @property
    def metavar(self) -> str:
        return "<name>"

    def describe(self) -> str:
        names = ", ".join(self.registry.names())
        return self._or_none(f"a {self.registry.family} name; valid names are: {names}")

    def check(self, v: Any) -> Any:
        if v is None and self.none_ok:
            return None
        if not isinstance(v, str) or v not in self.registry:
            raise ValueError
        return self.registry.canonical(v)

    def bad_values(self) -> tuple:
        return ("no-such-name", 3) + (() if self.none_ok else (None,))


@dataclass(frozen=True)
class Bool(Rule):
    """True or False; none_ok admits None (on the command line: neither --x nor --no-x given)."""

    type: ClassVar[type] = bool

    def describe(self) -> str:
        return self._or_none("a bool")

    def check(self, v: Any) -> Any:
        if v is None and self.none_ok:
            return None
        if not isinstance(v, bool):
            raise ValueError
        return v

    def bad_values(self) -> tuple:
        return (1, "yes") + (() if self.none_ok else (None,))


@dataclass(frozen=True)
class Callables(Rule):
    """A sequence of callables (a Python-only parameter: no command-line switch)."""

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

    def bad_values(self) -> tuple:
        return ([1], "print")


def bad_value_message(owner: str, name: str, rule: Rule, value: Any) -> str:
    """Return the one message for a value `rule` refuses (the same in Python and on the command line)."""
    return f"The {name!r} parameter of {owner} must be {rule.describe()}. Got {value!r} instead."


def check_params(owner: str, constraints: dict[str, Rule], values: dict[str, Any]) -> dict[str, Any]:
    """Return `values` normalised, or raise the rule's error with `bad_value_message` for the first bad one."""
    out = {}
    for name, value in values.items():
        rule = constraints.get(name)
        if rule is None:
            raise InputError(f"{owner} has no parameter {name!r}; its parameters are: "
                             f"{', '.join(constraints)}")
        try:
            out[name] = rule.check(value)
        except ValueError:
            raise rule.error(bad_value_message(owner, name, rule, value)) from None
    return out
