"""Every registered learner (omnivec.learn.LEARNERS) is held to the same bar.

A new learner gets these tests by adding one row to FIXTURES: parameters
that make a fit take a moment, a tiny real source, an empty source and the
command line that trains it.  A meta-test fails when a registered learner has
no row.
"""

from __future__ import annotations

import gzip
import inspect
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pytest

from omnivec import Embeddings, Model
from omnivec._params import bad_value_message
from omnivec.cli import _load_stages, main, train_app
from omnivec.errors import OmnivecError
from omnivec.learn import LEARNERS, Learner, get_learner

DATA = Path(__file__).resolve().parents[1] / "data"


def _glosses(tmp: Path) -> str:
    """Return a text file of the first 400 WordNet glosses (real English, about 5,000 words)."""
    path = tmp / "glosses.txt"
    with gzip.open(DATA / "words" / "wordnet_glosses.txt.gz", "rt", encoding="utf-8") as f:
        path.write_text("".join(line for _, line in zip(range(400), f)), encoding="utf-8")
    return str(path)


def _nations(tmp: Path):
    from omnivec.learn.kge import load_triples

    return load_triples(DATA / "kg" / "nations")


def _no_triples(tmp: Path):
    from omnivec.learn.kge import TripleSet

    return TripleSet.from_labels({"train": []})


def _empty_file(tmp: Path) -> str:
    path = tmp / "empty.txt"
    path.write_text("", encoding="utf-8")
    return str(path)


def _karate(tmp: Path) -> str:
    return str(DATA / "graphs" / "karate" / "karate.adjlist")


@dataclass(frozen=True)
class Fixture:
    """How the conformance tests drive one learner."""

    fast: dict[str, Any]                      # parameters for a fit of a moment (one worker, a seed)
    source: Callable[[Path], Any]             # a tiny real source
    empty: Callable[[Path], Any]              # a source with nothing to learn from
    command: Callable[[Path], list[str]]      # the command line, before the learner's options


FIXTURES = {
    "word2vec": Fixture(dict(dim=8, epochs=1, min_count=2, workers=1, seed=3, progress=False),
                        _glosses, _empty_file,
                        lambda tmp: ["train", "word2vec", str(tmp / "c.txt"), "-o", str(tmp / "m.omv")]),
    "fasttext": Fixture(dict(dim=8, epochs=1, min_count=2, bucket=5000, workers=1, seed=3, progress=False),
                        _glosses, lambda tmp: [],
                        lambda tmp: ["train", "fasttext", str(tmp / "c.txt"), "-o", str(tmp / "m.omv")]),
    "kge": Fixture(dict(model="DistMult", dim=8, epochs=2, batch_size=64, workers=1, seed=3, progress=False),
                   _nations, _no_triples,
                   lambda tmp: ["train", "kge", str(tmp / "kg"), "-o", str(tmp / "m.omv")]),
    "deepwalk": Fixture(dict(dim=8, num_walks=2, walk_length=10, workers=1, seed=3, progress=False),
                        _karate, _empty_file,
                        lambda tmp: ["train", "deepwalk", str(tmp / "g.tsv"), "-o", str(tmp / "m.omv")]),
    "node2vec": Fixture(dict(dim=8, num_walks=2, walk_length=10, p=0.5, q=2.0, workers=1, seed=3, progress=False),
                        _karate, _empty_file,
                        lambda tmp: ["train", "node2vec", str(tmp / "g.tsv"), "-o", str(tmp / "m.omv")]),
    "line": Fixture(dict(dim=8, samples=20000, workers=1, seed=3, progress=False),
                    _karate, _empty_file,
                    lambda tmp: ["train", "line", str(tmp / "g.tsv"), "-o", str(tmp / "m.omv")]),
}

NAMES = LEARNERS.names()


def _tables(result) -> dict[str, np.ndarray]:
    if isinstance(result, Embeddings):
        return {"": result.vectors}
    assert isinstance(result, Model), f"fit returned {type(result).__name__}, not Embeddings or Model"
    return {name: result[name].vectors for name in result}


def _command(name: str):
    _load_stages()
    for info in train_app.registered_commands:
        if info.name == name:
            return info.callback
    raise AssertionError(f"no `omnivec train {name}` command")


def _bad_cases():
    for name in NAMES:
        cls = get_learner(name)
        for param, rule in cls._constraints.items():
            for bad in rule.bad_values():
                yield pytest.param(name, param, bad, id=f"{name}-{param}-{bad!r}")


def _bad_words():
    for name in NAMES:
        cls = get_learner(name)
        for param, rule in cls._constraints.items():
            if not rule.cli or rule.type is bool:   # a flag carries no value to get wrong
                continue
            for bad in rule.bad_values():
                if bad is not None and not isinstance(bad, bool):
                    yield pytest.param(name, param, str(bad), id=f"{name}-{param}-{bad!r}")


def test_every_registered_learner_has_a_fixture():
    assert sorted(FIXTURES) == sorted(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_the_learner_protocol(name):
    cls = get_learner(name)
    assert issubclass(cls, Learner) and cls.name == name and LEARNERS.canonical(cls.name) == name
    params = [p for p in inspect.signature(cls.__init__).parameters if p != "self"]
    assert params == [p for p in params if p in cls._constraints] and set(params) == set(cls._constraints)
    for p in inspect.signature(cls.__init__).parameters.values():
        assert p.name == "self" or p.default is not p.empty, f"{name}: {p.name} has no default"
    assert callable(cls.fit) and callable(cls.get_params)


@pytest.mark.parametrize("name", NAMES)
def test_parameters_round_trip(name):
    cls = get_learner(name)
    for kw in ({}, FIXTURES[name].fast):
        learner = cls(**kw)
        params = learner.get_params()
        assert json.loads(json.dumps(params)) == params                  # JSON-able
        assert cls(**params).get_params() == params
        assert {k: params[k] for k in kw if k in params} == {k: v for k, v in kw.items() if k in params}
        for k, v in params.items():
            assert getattr(learner, k) == v


@pytest.mark.parametrize("name,param,bad", list(_bad_cases()))
def test_every_constraint_refuses_bad_values_with_the_one_message(name, param, bad):
    cls = get_learner(name)
    with pytest.raises(OmnivecError) as err:
        cls(**{param: bad})
    assert str(err.value) == bad_value_message(cls.__name__, param, cls._constraints[param], bad)


@pytest.mark.parametrize("name,param,word", list(_bad_words()))
def test_the_command_line_refuses_bad_values_with_the_same_message(name, param, word, tmp_path, capsys):
    cls = get_learner(name)
    rule = cls._constraints[param]
    flag = _command(name).learner_options[param].flags[0]
    assert main(FIXTURES[name].command(tmp_path) + [flag, word]) == 1
    expected = bad_value_message(cls.__name__, param, rule, rule.parse(word))
    assert capsys.readouterr().err.strip() == f"omnivec: error: {expected}"
    assert not list(tmp_path.iterdir())   # refused before reading or writing anything


@pytest.mark.parametrize("name", NAMES)
def test_fit_on_a_tiny_real_source(name, tmp_path):
    cls = get_learner(name)
    learner = cls(**FIXTURES[name].fast)
    result = learner.fit(FIXTURES[name].source(tmp_path))
    tables = _tables(result)
    for table, vectors in tables.items():
        assert len(vectors) > 10 and np.isfinite(vectors).all(), table
        assert np.abs(vectors).max() > 0
    first = result if isinstance(result, Embeddings) else result[next(iter(result))]
    assert first.meta["learner"] == name


@pytest.mark.parametrize("name", NAMES)
def test_one_worker_and_a_seed_give_bit_identical_vectors(name, tmp_path):
    cls = get_learner(name)
    fast = FIXTURES[name].fast
    source = FIXTURES[name].source(tmp_path)
    a, b = _tables(cls(**fast).fit(source)), _tables(cls(**fast).fit(source))
    c = _tables(cls(**{**fast, "seed": fast["seed"] + 1}).fit(source))
    assert a.keys() == b.keys()
    for table in a:
        np.testing.assert_array_equal(a[table], b[table])
    assert any(not np.array_equal(a[t], c[t]) for t in a), "the seed changes nothing"


@pytest.mark.parametrize("name", NAMES)
def test_empty_input_is_refused(name, tmp_path):
    cls = get_learner(name)
    with pytest.raises(OmnivecError):
        cls(**FIXTURES[name].fast).fit(FIXTURES[name].empty(tmp_path))


@pytest.mark.parametrize("name", NAMES)
def test_every_parameter_has_help_and_a_command_line_switch(name, capsys, monkeypatch):
    cls = get_learner(name)
    command = _command(name)
    assert command.learner is cls
    monkeypatch.setenv("COLUMNS", "240")
    assert main(["train", name, "--help"]) == 0
    shown = capsys.readouterr().out
    defaults = {p.name: p.default for p in inspect.signature(cls.__init__).parameters.values()}
    for param, rule in cls._constraints.items():
        assert rule.help.strip(), f"{cls.__name__}: {param!r} has no help text"
        assert rule.describe()
        if rule.type is None:          # Python-only values (callbacks) have no command-line form
            assert param not in command.learner_options
            continue
        option = command.learner_options[param]
        assert option.default == defaults[param]
        for flag in option.flags:
            assert flag in shown, f"{flag} missing from `omnivec train {name} --help`"
