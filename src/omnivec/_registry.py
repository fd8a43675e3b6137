"""One registry per family (metrics, storage dtypes, file formats, learners, ...)."""

from __future__ import annotations

import re
from typing import Callable, Generic, Iterator, TypeVar

from .errors import UnknownNameError

T = TypeVar("T")


def normalize_name(name: str) -> str:
    """Return the lookup form of a name: lower case, no '-', '_', ' ' or '.'."""
    return re.sub(r"[-_ .]", "", str(name)).lower()


class Registry(Generic[T]):
    """Named members of one family; lookups ignore case and separators ("TransE" = "trans_e")."""

    def __init__(self, family: str) -> None:
        self.family = family
        self._members: dict[str, T] = {}
        self._names: dict[str, str] = {}

    def register(self, name: str, member: T | None = None, *, aliases: tuple[str, ...] = ()):
        """Register `member` under `name` (usable as a decorator); returns the member."""

        def add(obj: T) -> T:
            for n in (name, *aliases):
                key = normalize_name(n)
                if key in self._members:
                    raise ValueError(f"{self.family} {n!r} is registered twice")
                self._members[key] = obj
            self._names[normalize_name(name)] = name
            return obj

        return add(member) if member is not None else add

    def get(self, name: str) -> T:
        """Return the member registered under `name`, or raise UnknownNameError listing valid names."""
        try:
            return self._members[normalize_name(name)]
        except KeyError:
            raise UnknownNameError(
                f"unknown {self.family} {name!r}; valid names are: {', '.join(self.names())}"
            ) from None

    def canonical(self, name: str) -> str:
        """Return the canonical spelling of a registered name."""
        member = self.get(name)
        for key, canon in self._names.items():
            if self._members[key] is member:
                return canon
        return name

    def names(self) -> list[str]:
        """Return the canonical names, in registration order."""
        return list(self._names.values())

    def __contains__(self, name: str) -> bool:
        return normalize_name(name) in self._members

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def items(self) -> list[tuple[str, T]]:
        """Return (canonical name, member) pairs."""
        return [(canon, self._members[key]) for key, canon in self._names.items()]


Factory = Callable[..., T]


def resolve(target: str):
    """Return the object named "package.module:attr", importing its module on first use.

    How a lower layer names a function or class of a higher one (a typed model
    view, a convenience that delegates) without importing it: the name is
    resolved when it is called, never when the lower module loads.
    """
    import importlib

    module, _, attr = target.partition(":")
    return getattr(importlib.import_module(module), attr)
