"""What every learner is: a name, parameters declared as data and checked at construction, `fit(source)`.

A learner class sets

- ``name``: its name in `omnivec.learn.LEARNERS` (and ``omnivec train <name>``);
- ``_constraints``: parameter name -> rule (`omnivec._params`), one per
  constructor parameter, each with its help text; the command-line options are
  generated from them (`omnivec.cli._learner_options`);
- optionally ``_check_together(values)``: rules that join several parameters.

The constructor only stores the checked parameters (as attributes of the same
name); `fit(source)` does the work and returns an `Embeddings` or a `Model`.
"""

from __future__ import annotations

from typing import Any, ClassVar

from .._params import Rule, check_params


class Learner:
    """Base of the learners: parameters checked once at construction, returned by `get_params`."""

    name: ClassVar[str] = ""
    _constraints: ClassVar[dict[str, Rule]] = {}
    # parameters that change how a run is shown, not what it learns: left out of get_params and provenance
    _not_recorded: ClassVar[tuple[str, ...]] = ("callbacks", "progress")

    def __init__(self, **params: Any) -> None:
        for k, v in self.check_params(params).items():
            setattr(self, k, v)

    @classmethod
    def check_params(cls, params: dict[str, Any]) -> dict[str, Any]:
        """Return `params` normalised, or raise InputError with the one message for the first bad value."""
        values = check_params(cls.__name__, cls._constraints, params)
        cls._check_together(values)
        return values

    @classmethod
    def _check_together(cls, values: dict[str, Any]) -> None:
        """Raise InputError when parameters that are each valid do not go together."""

    def get_params(self) -> dict[str, Any]:
        """Return the constructor parameters (callbacks and progress left out), JSON-able."""
        return {k: getattr(self, k) for k in self._constraints if k not in self._not_recorded}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({args})"

    def fit(self, source: Any) -> Any:
        """Return the tables learnt from `source` (an `Embeddings` or a `Model`)."""
        raise NotImplementedError
