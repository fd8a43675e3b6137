"""Search filters: allow/deny lists of keys and conditions on per-key attributes.

A filter becomes a boolean mask over an index's ids before the search runs,
so backends apply it inside the search (never as a post-filter that returns
fewer than k).  Attributes are the table's per-row arrays: ``counts`` and any
1-D extra (``emb.extras[name]``); ``row`` is the row number itself.  Keys
added to an index after it was built have no attributes, so a condition never
lets them through.

Conditions are ``(attribute, op, value)`` tuples or text such as
``"counts >= 5"``; ops are ==, !=, <, <=, >, >=.
"""

from __future__ import annotations

import operator
import re
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from ..errors import InputError, KeyNotFound, UnknownNameError
from ..core.keys import Key

OPS = {"==": operator.eq, "=": operator.eq, "!=": operator.ne, "<": operator.lt,
       "<=": operator.le, ">": operator.gt, ">=": operator.ge}
_COND = re.compile(r"^\s*([A-Za-z_][\w]*)\s*(==|!=|<=|>=|<|>|=)\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*$")


@dataclass(frozen=True)
class Condition:
    """One comparison of a per-key attribute with a number, e.g. counts >= 5."""

    attribute: str
    op: str
    value: float

    @classmethod
    def parse(cls, text: str) -> "Condition":
        """Return the Condition written as text ("counts >= 5"), or raise InputError."""
        m = _COND.match(text)
        if not m:
            raise InputError(f"cannot read the condition {text!r}; write it as '<attribute> <op> <number>', "
                             f"e.g. 'counts >= 5', with op one of {', '.join(o for o in OPS if o != '=')}")
        attr, op, value = m.groups()
        return cls(attr, "==" if op == "=" else op, float(value))

    @classmethod
    def of(cls, item: "Condition | str | Sequence") -> "Condition":
        """Return `item` as a Condition (a Condition, text, or an (attribute, op, value) tuple)."""
        if isinstance(item, Condition):
            return item
        if isinstance(item, str):
            return cls.parse(item)
        try:
            attr, op, value = item
        except (TypeError, ValueError):
            raise InputError(f"a condition is text like 'counts >= 5' or a tuple (attribute, op, value); "
                             f"got {item!r}") from None
        if op not in OPS:
            raise InputError(f"unknown comparison {op!r}; valid ones are: {', '.join(o for o in OPS if o != '=')}")
        if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
            raise InputError(f"condition on {attr!r} compares with {value!r}; a number is needed")
        return cls(str(attr), "==" if op == "=" else op, float(value))

    def mask(self, values: np.ndarray) -> np.ndarray:
        """Return the boolean mask of rows whose attribute passes this condition."""
        return np.asarray(OPS[self.op](values, self.value), bool)

    def __str__(self) -> str:
        v = int(self.value) if float(self.value).is_integer() else self.value
        return f"{self.attribute} {self.op} {v}"


@dataclass
class Filter:
    """Which ids a search may return: all of allow/deny/where/mask must agree.

    - `allow`: only these keys (None = every key);
    - `deny`: never these keys;
    - `where`: conditions on per-key attributes, all must hold;
    - `mask`: a boolean array over index ids (rows), for callers that have one.

    Unknown keys in allow/deny raise KeyNotFound unless missing="ignore".
    """

    allow: Sequence[Key] | None = None
    deny: Sequence[Key] | None = None
    where: Sequence[Any] = field(default_factory=tuple)
    mask: np.ndarray | None = None
    missing: str = "error"

    def __post_init__(self) -> None:
        if isinstance(self.where, (str, Condition)):
            self.where = (self.where,)
        self.where = tuple(Condition.of(c) for c in self.where)
        for name in ("allow", "deny"):
            v = getattr(self, name)
            if isinstance(v, (str, int, np.integer)):
                setattr(self, name, [v])
        if self.missing not in ("error", "ignore"):
            raise InputError(f"missing must be 'error' or 'ignore'; got {self.missing!r}")

    def _ids(self, index, keys: Sequence[Key], what: str) -> np.ndarray:
        keys = list(keys)
        ids = index.ids_of(keys)
        if self.missing == "error" and (ids < 0).any():
            i = int(np.flatnonzero(ids < 0)[0])
            raise KeyNotFound(f"{what} key {keys[i]!r} is not in the index ({int((ids < 0).sum())} of "
                              f"{len(keys)} {what} keys are absent); pass missing='ignore' to skip them")
        return ids[ids >= 0]

    def resolve(self, index) -> np.ndarray:
        """Return the boolean mask (one entry per index id) of ids this filter lets through."""
        total = index.total
        if self.mask is not None:
            m = np.asarray(self.mask)
            if m.dtype != bool or m.shape not in ((total,), (index.n_base,)):
                raise InputError(f"filter mask must be a boolean array of {total} entries (one per id); "
                                 f"got shape {m.shape} dtype {m.dtype}")
            ok = np.zeros(total, bool)
            ok[:len(m)] = m
        else:
            ok = np.ones(total, bool)
        if self.allow is not None:
            allow = np.zeros(total, bool)
            allow[self._ids(index, self.allow, "allowed")] = True
            ok &= allow
        if self.deny is not None:
            ok[self._ids(index, self.deny, "denied")] = False
        for cond in self.where:
            values = attribute(index.emb, cond.attribute)
            passed = np.zeros(total, bool)
            passed[:index.n_base] = cond.mask(values)
            ok &= passed
        return ok

    def __str__(self) -> str:
        parts = []
        if self.allow is not None:
            parts.append(f"allow {len(self.allow)} keys")
        if self.deny is not None:
            parts.append(f"deny {len(self.deny)} keys")
        parts += [str(c) for c in self.where]
        if self.mask is not None:
            parts.append("mask")
        return " and ".join(parts) or "everything"


def attribute_names(emb) -> list[str]:
    """Return the per-key attributes a condition may use on `emb`."""
    names = ["row"]
    if emb.counts is not None:
        names.append("counts")
    names += [n for n, a in emb.extras.items() if np.ndim(a) == 1 and len(a) == len(emb)
              and np.asarray(a).dtype.kind in "iufb"]
    return names


def attribute(emb, name: str) -> np.ndarray:
    """Return the per-row values of attribute `name` (counts, row, or a 1-D numeric extra)."""
    if name == "row":
        return np.arange(len(emb))
    if name in ("counts", "count") and emb.counts is not None:
        return emb.counts
    arr = emb.extras.get(name)
    if arr is not None and np.ndim(arr) == 1 and len(arr) == len(emb) and np.asarray(arr).dtype.kind in "iufb":
        return np.asarray(arr)
    raise UnknownNameError(f"table {emb.name!r} has no per-key attribute {name!r}; valid names are: "
                           f"{', '.join(attribute_names(emb))}")


def as_filter(flt) -> Filter | None:
    """Return `flt` as a Filter: None, a Filter, a condition text, or a dict of Filter fields."""
    if flt is None or isinstance(flt, Filter):
        return flt
    if isinstance(flt, str):
        return Filter(where=[flt])
    if isinstance(flt, dict):
        try:
            return Filter(**flt)
        except TypeError as exc:
            raise InputError(f"bad filter {flt!r}: {exc}; fields are allow, deny, where, mask, missing") from None
    if isinstance(flt, np.ndarray) and flt.dtype == bool:
        return Filter(mask=flt)
    raise InputError(f"a filter is a Filter, a condition like 'counts >= 5', a dict or a boolean mask; "
                     f"got {type(flt).__name__}")
