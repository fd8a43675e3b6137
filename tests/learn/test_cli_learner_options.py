"""`learner_command`: a command's options come from the learner's declared parameters."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest
import typer

from omnivec._params import Bool, Callables, Choice, Float, Int, Registered, bad_value_message
from omnivec._registry import Registry
from omnivec.cli._learner_options import learner_command, learner_options
from omnivec.errors import InputError, UnknownNameError
from omnivec.learn import Learner

SHAPES: Registry[str] = Registry("shape")
SHAPES.register("Circle", "round")
SHAPES.register("Square", "boxy", aliases=("box",))


class Toy(Learner):
    """A learner with one parameter of every kind."""

    name = "toy"
    _constraints = {
        "dim": Int(1, 64, help="Vector width."),
        "rate": Float(0.0, 1.0, open_lo=True, none_ok=True, help="Step size."),
        "mode": Choice(("fast", "slow"), (("quick", "fast"),), help="How hard to try."),
        "shape": Registered(registry=SHAPES, help="Shape of the thing."),
        "shuffle": Bool(help="Shuffle the input."),
        "progress": Bool(none_ok=True, help="Show a bar."),
        "num_items": Int(0, help="Items per step."),
        "callbacks": Callables(help="Called after each step."),
    }

    def __init__(self, dim: int = 8, *, rate: float | None = None, mode: str = "fast", shape: str = "Circle",
                 shuffle: bool = True, progress: bool | None = None, num_items: int = 3,
                 callbacks=()) -> None:
        super().__init__(dim=dim, rate=rate, mode=mode, shape=shape, shuffle=shuffle, progress=progress,
                         num_items=num_items, callbacks=callbacks)


def _app(**kw):
    """Return (app, seen): a one-command app whose command records what it received."""
    app = typer.Typer()
    seen: dict[str, Any] = {}

    @app.callback()
    def _root() -> None:
        """Toy tool."""

    @learner_command(app, "toy", Toy, **kw)
    def train_toy(source: str = typer.Argument(..., help="What to learn from."),
                  out: str = typer.Option("out.bin", "--out", "-o", help="Where to write."),
                  learner: Any = None) -> None:
        """Train a toy."""
        seen.update(source=source, out=out, learner=learner)

    return app, seen, train_toy


def _run(app, *args):
    return app(["toy", *args], standalone_mode=False)


def test_no_options_give_the_constructor_defaults():
    app, seen, _ = _app()
    _run(app, "data.txt")
    assert seen["source"] == "data.txt" and seen["out"] == "out.bin"
    assert isinstance(seen["learner"], Toy) and seen["learner"].get_params() == Toy().get_params()
    assert seen["learner"].progress is None      # neither --progress nor --no-progress: None


def test_options_are_named_after_the_parameters_and_typed_by_their_rules():
    app, seen, _ = _app()
    _run(app, "data.txt", "--dim", "16", "--rate", "0.25", "--mode", "QUICK", "--shape", "box",
         "--no-shuffle", "--progress", "--num-items", "0", "-o", "m.bin")
    got = seen["learner"].get_params()
    assert got == {**Toy().get_params(), "dim": 16, "rate": 0.25, "mode": "fast", "shape": "Square",
                   "shuffle": False, "num_items": 0}
    assert seen["learner"].progress is True and seen["out"] == "m.bin"
    assert type(got["dim"]) is int and type(got["rate"]) is float
    _run(app, "data.txt", "--rate", "none")
    assert seen["learner"].rate is None


def test_short_rename_and_skip():
    app, seen, command = _app(short={"dim": "-d"}, rename={"num_items": "--items",
                                                           "shuffle": "--shuffle/--keep-order"},
                              skip=("mode",))
    _run(app, "x", "-d", "5", "--items", "7", "--keep-order")
    assert (seen["learner"].dim, seen["learner"].num_items, seen["learner"].shuffle) == (5, 7, False)
    assert "mode" not in command.learner_options
    with pytest.raises(Exception, match="No such option"):
        _run(app, "x", "--mode", "slow")
    with pytest.raises(Exception, match="No such option"):
        _run(app, "x", "--num-items", "7")
    assert command.learner_options["shuffle"].flags == ("--shuffle", "--keep-order")


@pytest.mark.parametrize("param,word", [("dim", "0"), ("dim", "2.5"), ("dim", "wide"), ("rate", "0"),
                                        ("rate", "nan"), ("mode", "medium"), ("shape", "triangle"),
                                        ("num_items", "-1")])
def test_a_bad_value_gets_the_message_python_gives(param, word):
    app, _, command = _app()
    rule = Toy._constraints[param]
    with pytest.raises(InputError) as err:
        _run(app, "x", command.learner_options[param].flags[0], word)
    assert str(err.value) == bad_value_message("Toy", param, rule, rule.parse(word))
    with pytest.raises(InputError) as py_err:
        Toy(**{param: rule.parse(word)})
    assert str(py_err.value) == str(err.value)
    assert isinstance(err.value, UnknownNameError) == (param == "shape")


def test_help_shows_each_parameter_with_its_help_domain_and_default(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    app, _, command = _app()
    with pytest.raises(SystemExit):
        app(["toy", "--help"])
    out = capsys.readouterr().out
    for text in ("Vector width. (an int in [1, 64])", "[default: 8]", "<fast|slow>", "How hard to try.",
                 "valid names are: Circle, Square", "--shuffle", "--no-shuffle", "--progress", "--no-progress",
                 "--num-items", "Where to write.", "Toy parameters"):
        assert text in out, text
    assert "callbacks" not in out and "callbacks" not in command.learner_options


def test_options_follow_the_constructor_order():
    assert [o.param for o in learner_options(Toy)] == ["dim", "rate", "mode", "shape", "shuffle", "progress",
                                                        "num_items"]


def test_mistakes_in_the_declaration_are_caught_when_the_command_is_made():
    with pytest.raises(ValueError, match="declares no parameter 'dimm'"):
        learner_options(Toy, short={"dimm": "-d"})
    with pytest.raises(ValueError, match="declares no parameter 'x'"):
        learner_options(Toy, skip=("x",))

    class Undeclared(Toy):
        def __init__(self, dim: int = 8, extra: int = 1) -> None:
            super().__init__(dim=dim)

    with pytest.raises(TypeError, match="'extra', which is not declared"):
        learner_options(Undeclared)
    with pytest.raises(TypeError, match="needs a 'learner' parameter"):
        learner_command(typer.Typer(), "toy", Toy)(lambda source: None)


def test_the_learner_defaults_to_the_registered_one():
    from omnivec.learn.word2vec import Word2Vec

    app = typer.Typer()
    command = learner_command(app, "word2vec")(lambda corpus="c", learner=None: learner)
    assert command.learner is Word2Vec


def test_loading_the_command_line_loads_no_compiler():
    code = ("import sys; from omnivec.cli import _load_stages; _load_stages(); "
            "import omnivec.learn.word2vec, omnivec.learn.fasttext, omnivec.learn.kge.train; "
            "print('numba' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_choices_fold_names_as_registries_do():
    from omnivec._registry import normalize_name

    rule = Choice(("skip_gram", "cbow"))
    for spelling in ("Skip-Gram", "SKIPGRAM", "skip gram", "skip.gram"):
        assert normalize_name(spelling) == normalize_name("skip_gram")
        assert rule.check(spelling) == "skip_gram"
    with pytest.raises(ValueError):
        rule.check("skip_grams")
