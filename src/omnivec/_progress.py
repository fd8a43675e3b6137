"""Progress bars for long work: rate and ETA on anything over a second.

One helper for every stage (import, training, index builds) so they all look
and behave alike.  Bars go to stderr and only when it is a terminal (or when
asked for), so scripts and tests stay quiet; Ctrl-C stops the bar cleanly and
the KeyboardInterrupt reaches the caller, which keeps what it has.
"""

from __future__ import annotations

import sys
import time
from contextlib import contextmanager
from typing import Iterator


class Task:
    """A handle on one running bar: advance it, set its total, show extra fields."""

    def __init__(self, bar, task_id, unit: str) -> None:
        self._bar = bar
        self._id = task_id
        self.unit = unit
        self.completed = 0.0
        self.started = time.perf_counter()

    def advance(self, n: float = 1) -> None:
        """Add n units of done work."""
        self.completed += n
        if self._bar is not None:
            self._bar.update(self._id, advance=n)

    def update(self, completed: float | None = None, total: float | None = None, **fields) -> None:
        """Set the done work, the total, or extra fields shown after the bar (loss=..., lr=...)."""
        if completed is not None:
            self.completed = completed
        if self._bar is not None:
            kw = {}
            if completed is not None:
                kw["completed"] = completed
            if total is not None:
                kw["total"] = total
            if fields:
                kw["info"] = "  ".join(f"{k} {_fmt(v)}" for k, v in fields.items())
            self._bar.update(self._id, **kw)

    @property
    def rate(self) -> float:
        """Return units per second so far."""
        dt = time.perf_counter() - self.started
        return self.completed / dt if dt > 0 else 0.0


def _fmt(v) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


def _enabled(enabled: bool | None) -> bool:
    if enabled is not None:
        return enabled
    return sys.stderr.isatty()


@contextmanager
def progress(description: str, total: float | None = None, *, unit: str = "rows",
             enabled: bool | None = None) -> Iterator[Task]:
    """Yield a Task whose bar shows done/total, rate in `unit`/s, ETA and extra fields.

    enabled=None shows the bar only when stderr is a terminal.
    """
    if not _enabled(enabled):
        yield Task(None, None, unit)
        return
    from rich.console import Console
    from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn,
                               TimeElapsedColumn, TimeRemainingColumn)

    columns = [TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
               TextColumn("[cyan]{task.fields[rate]}"), TimeElapsedColumn(), TextColumn("ETA"),
               TimeRemainingColumn(), TextColumn("{task.fields[info]}")]
    bar = Progress(*columns, console=Console(stderr=True), transient=False, refresh_per_second=4)

    class _RateTask(Task):
        def advance(self, n: float = 1) -> None:
            super().advance(n)
            self._bar.update(self._id, rate=f"{self.rate:,.0f} {unit}/s")

        def update(self, completed=None, total=None, **fields) -> None:
            super().update(completed, total, **fields)
            self._bar.update(self._id, rate=f"{self.rate:,.0f} {unit}/s")

    with bar:
        tid = bar.add_task(description, total=total, info="", rate="")
        yield _RateTask(bar, tid, unit)
