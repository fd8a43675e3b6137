"""Command-line options generated from a learner's declared parameters.

    @learner_command(train_app, "word2vec", short={"architecture": "-a"})
    def train_word2vec(corpus: Path = typer.Argument(...), output: Path = typer.Option(..., "-o"),
                       learner: Any = None) -> None:
        learner.fit(corpus)...

registers ``omnivec train word2vec`` with the command's own arguments and one
option per parameter the learner declares in ``_constraints``: its type, its
default (from the learner's constructor), its help and domain (from the
declaration), ``--x/--no-x`` for bools.  The command receives the learner
built from those options; a bad value is refused by the learner's own check,
so the command line prints the same message as Python.  Parameters without a
command-line form (callbacks) get no option.
"""

from __future__ import annotations

import functools
import inspect
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Optional, Sequence

import typer

from .._params import Choice, Rule

LEARNER_ARG = "learner"   # the command function's parameter that receives the built learner
_PREFIX = "learner_param__"  # keeps generated names apart from the command's own


@dataclass(frozen=True)
class LearnerOption:
    """One generated option: the learner parameter, its option names, its rule and default."""

    param: str
    decls: tuple[str, ...]
    rule: Rule
    default: Any

    @property
    def flags(self) -> tuple[str, ...]:
        """Return every switch that sets the parameter ("--dim", "-d", "--progress", "--no-progress")."""
        return tuple(f for d in self.decls for f in d.split("/") if f)

    @property
    def help(self) -> str:
        """Return the help line: the declared help and, where the placeholder does not list it, the domain."""
        if self.rule.type is bool or isinstance(self.rule, Choice):
            return self.rule.help
        return f"{self.rule.help} ({self.rule.describe()})"

    def option(self, panel: str) -> Any:
        """Return the typer option."""
        if self.rule.type is bool:
            return typer.Option(self.default, *self.decls, help=self.help, rich_help_panel=panel)
        return typer.Option(self.default, *self.decls, help=self.help, metavar=self.rule.metavar,
                            parser=self.rule.parse, rich_help_panel=panel)

    @property
    def annotation(self) -> Any:
        """Return the type typer sees."""
        if self.rule.none_ok or self.default is None:
            return Optional[self.rule.type]
        return self.rule.type


def learner_options(cls: type, *, short: Mapping[str, str] | None = None,
                    rename: Mapping[str, str | Sequence[str]] | None = None,
                    skip: Sequence[str] = ()) -> list[LearnerOption]:
    """Return the options of `cls`'s declared parameters, in constructor order.

    `rename` gives a parameter other long names (a bool's may be one
    "--on/--off" pair), `short` adds a one-letter switch, `skip` leaves
    parameters out.  A constructor parameter without a declaration is an error.
    """
    short, rename, skip = dict(short or {}), dict(rename or {}), tuple(skip)
    declared = cls._constraints
    for what, names in (("short", short), ("rename", rename), ("skip", skip)):
        unknown = [n for n in names if n not in declared]
        if unknown:
            raise ValueError(f"{what}: {cls.__name__} declares no parameter {', '.join(map(repr, unknown))}")
    out = []
    for name, p in inspect.signature(cls.__init__).parameters.items():
        if name == "self" or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        rule = declared.get(name)
        if rule is None:
            raise TypeError(f"{cls.__name__}.__init__ takes {name!r}, which is not declared in _constraints")
        if name in skip or not rule.cli:
            continue
        long = rename.get(name, "--" + name.replace("_", "-"))
        decls = (long,) if isinstance(long, str) else tuple(long)
        if rule.type is bool and not any("/" in d for d in decls):
            decls = tuple(f"{d}/--no-{d[2:]}" for d in decls)
        if name in short:
            decls += (short[name],)
        default = ... if p.default is p.empty else p.default
        out.append(LearnerOption(name, decls, rule, default))
    return out


def learner_command(app: typer.Typer, name: str, learner: type | None = None, *,
                    short: Mapping[str, str] | None = None,
                    rename: Mapping[str, str | Sequence[str]] | None = None,
                    skip: Sequence[str] = (), **command_kw: Any) -> Callable:
    """Register the decorated function as command `name` of `app`, with an option per learner parameter.

    `learner` is the learner class (default: the one registered as `name` in
    `omnivec.learn.LEARNERS`).  The function takes its own arguments plus
    ``learner``, which receives the learner built from the options.  The
    returned command carries ``learner`` (the class) and ``learner_options``
    (parameter -> LearnerOption).
    """

    def decorate(fn: Callable) -> Callable:
        from ..learn import get_learner

        cls = learner if learner is not None else get_learner(name)
        opts = learner_options(cls, short=short, rename=rename, skip=skip)
        sig = inspect.signature(fn, eval_str=True)
        if LEARNER_ARG not in sig.parameters:
            raise TypeError(f"{fn.__name__} needs a {LEARNER_ARG!r} parameter to receive the {cls.__name__}")
        own = [p.replace(kind=p.KEYWORD_ONLY) for p in sig.parameters.values() if p.name != LEARNER_ARG]
        panel = f"{cls.__name__} parameters"
        generated = [inspect.Parameter(_PREFIX + o.param, inspect.Parameter.KEYWORD_ONLY,
                                       default=o.option(panel), annotation=o.annotation) for o in opts]

        @functools.wraps(fn)
        def command(**kwargs: Any) -> Any:
            values = {o.param: kwargs.pop(_PREFIX + o.param) for o in opts}
            return fn(**kwargs, **{LEARNER_ARG: cls(**values)})

        params = own + generated
        command.__signature__ = inspect.Signature(params)
        command.__annotations__ = {p.name: p.annotation for p in params if p.annotation is not p.empty}
        command.learner = cls
        command.learner_options = {o.param: o for o in opts}
        app.command(name, **command_kw)(command)
        return command

    return decorate
