"""The `omnivec` command line: one typer app, a module per stage.

Each stage module adds its commands to `app` or to one of the command groups
below (`omnivec train ...`, `omnivec eval ...`, `omnivec index ...`);
STAGES lists the modules loaded.  A stage whose optional dependencies are
missing still loads: it raises MissingDependencyError when its command runs.
"""

from __future__ import annotations

import importlib
import signal
import sys
import threading

import typer

# Plain help (click's formatter): it wraps at the terminal's width and never cuts an option
# name or a list of valid values, as rich's tables do at 80 columns.
PLAIN = dict(rich_markup_mode=None, pretty_exceptions_enable=False)
app = typer.Typer(name="omnivec", no_args_is_help=True, add_completion=False, **PLAIN,
                  help="Learn, store, query, search and evaluate vector embeddings.")
train_app = typer.Typer(no_args_is_help=True, **PLAIN,
                        help="Learn embeddings from text (word2vec, fastText), triples (KGE), graphs "
                             "(DeepWalk, node2vec, LINE) or hierarchies (Poincaré).")
eval_app = typer.Typer(no_args_is_help=True, **PLAIN, help="Evaluate embeddings on standard benchmarks.")
index_app = typer.Typer(no_args_is_help=True, **PLAIN, help="Build, search and evaluate nearest-neighbour indexes.")


def _version(value: bool) -> None:
    if value:
        from .. import __version__
        typer.echo(f"omnivec {__version__}")
        raise typer.Exit()


@app.callback()
def _options(version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                          help="Print the version and exit.")) -> None:
    """Learn, store, query, search and evaluate vector embeddings."""


app.add_typer(train_app, name="train")
app.add_typer(eval_app, name="eval")
app.add_typer(index_app, name="index")

# Stage modules (omnivec.cli.<name>); each registers its commands on import.
STAGES = ["store", "query", "kge", "index", "train_words", "evaluate_words", "explore",
          "evaluate_retrieval", "encode", "distill", "retrieve", "evaluate_nodes", "train_graph",
          "train_poincare", "evaluate_hierarchy", "transform", "serve", "distributed"]


def _load_stages() -> None:
    for name in STAGES:
        importlib.import_module(f"{__name__}.{name}")


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; OmnivecError becomes a one-line message and exit status 1."""
    from ..errors import OmnivecError

    _load_stages()
    terminated = []

    def _on_term(signum, frame):
        # SIGTERM takes Ctrl-C's path: temporaries removed, a training run keeps its model.
        # A second SIGTERM while cleaning up is ignored, so the clean-up finishes.
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        terminated.append(signum)
        raise KeyboardInterrupt

    main_thread = threading.current_thread() is threading.main_thread()
    old = signal.signal(signal.SIGTERM, _on_term) if main_thread else None
    try:
        # Without standalone mode typer returns the code of a typer.Exit raised by a command.
        rv = app(args=argv, standalone_mode=False)
    except OmnivecError as exc:
        typer.echo(f"omnivec: error: {exc}", err=True)
        return 1
    except KeyboardInterrupt:
        typer.echo("omnivec: terminated" if terminated else "omnivec: interrupted", err=True)
        return 128 + (terminated[0] if terminated else signal.SIGINT)
    except SystemExit as exc:  # typer/click exits for --help and usage errors
        return int(exc.code or 0)
    except Exception as exc:  # click usage errors
        if isinstance(exc, _click_exception()):
            exc.show()
            return exc.exit_code
        raise
    finally:
        if main_thread:
            signal.signal(signal.SIGTERM, old)
    if terminated or rv == 130:   # typer turns a KeyboardInterrupt into exit status 130
        typer.echo("omnivec: terminated" if terminated else "omnivec: interrupted", err=True)
        return 128 + (terminated[0] if terminated else signal.SIGINT)
    return rv if isinstance(rv, int) else 0


def _click_exception() -> type:
    # typer >= 0.20 vendors click as typer._click (and `click` may be absent or a different copy).
    try:
        from typer._click.exceptions import ClickException
    except ImportError:
        from click import ClickException
    return ClickException


if __name__ == "__main__":
    sys.exit(main())
