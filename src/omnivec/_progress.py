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
        return f"{v:.3g}"
    return str(v)


def human_count(x: float) -> str:
    """Return a count in 4 significant characters or so: 950, 12.3k, 6.39M, 1.2G."""
    x = float(x)
    for limit, div, suffix in ((1e9, 1e9, "G"), (1e6, 1e6, "M"), (1e4, 1e3, "k")):
        if abs(x) >= limit:
            v = x / div
            return f"{v:.3g}{suffix}" if abs(v) < 100 else f"{v:.0f}{suffix}"
    return f"{x:.0f}" if x == int(x) or abs(x) >= 100 else f"{x:.3g}"


def human_duration(seconds: float | None) -> str:
    """Return m:ss or h:mm:ss ('?' when unknown)."""
    if seconds is None or seconds != seconds or seconds == float("inf") or seconds < 0:
        return "?"
    s = int(round(seconds))
    h, rest = divmod(s, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def status_line(done: float, total: float | None, rate: float, elapsed: float, unit: str,
                info: str = "", width: int = 80) -> str:
    """Return the text after the bar: percent, done/total, rate, elapsed and ETA, fitted to `width`.

    Counts are in human units; when the line would not fit, the counts go
    first, then the extra fields, so the rate and ETA always show.
    """
    pct = f"{100.0 * done / total:.0f}%" if total else ""
    counts = f"{human_count(done)}/{human_count(total)}" if total else human_count(done)
    eta = (total - done) / rate if total and rate > 0 else None
    times = f"{human_duration(elapsed)} ETA {human_duration(eta)}" if total else human_duration(elapsed)
    rate_s = f"{human_count(rate)} {unit}/s" if done else ""
    if not total and not done:
        counts = ""
    for parts in ((pct, counts, rate_s, times, info), (pct, rate_s, times, info),
                  (pct, counts, rate_s, times), (pct, rate_s, times), (pct, times)):
        line = " ".join(p for p in parts if p)
        if len(line) <= width:
            return line
    return line[:width]


def _enabled(enabled: bool | None) -> bool:
    if enabled is not None:
        return enabled
    return sys.stderr.isatty()


DESCRIPTION_WIDTH = 22
MIN_BAR = 6


@contextmanager
def progress(description: str, total: float | None = None, *, unit: str = "rows",
             enabled: bool | None = None) -> Iterator[Task]:
    """Yield a Task whose bar shows percent, done/total, rate in `unit`/s, elapsed, ETA and extra fields.

    enabled=None shows the bar only when stderr is a terminal.  The line fits
    the terminal (80 columns and up): the description is shortened, the bar
    narrows, and the extra fields are dropped before the rate and ETA.
    total=None shows a spinner with the elapsed time (work of unknown size).
    """
    if not _enabled(enabled):
        yield Task(None, None, unit)
        return
    from rich.console import Console
    from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn

    console = Console(stderr=True)
    if len(description) > DESCRIPTION_WIDTH:
        description = description[:DESCRIPTION_WIDTH - 1] + "…"
    bar_col = BarColumn(bar_width=MIN_BAR) if total is not None else SpinnerColumn()
    columns = [TextColumn("[bold]{task.description}"), bar_col, TextColumn("{task.fields[status]}")]
    bar = Progress(*columns, console=console, transient=False, refresh_per_second=4)
    width = max(40, console.width)

    class _LineTask(Task):
        info = ""

        def _refresh(self) -> None:
            total_now = bar.tasks[0].total if bar.tasks else total
            room = width - len(description) - 2
            status = status_line(self.completed, total_now, self.rate, time.perf_counter() - self.started,
                                 unit, self.info, width=max(10, room - MIN_BAR - 1))
            if isinstance(bar_col, BarColumn):
                bar_col.bar_width = max(MIN_BAR, min(30, room - len(status) - 1))
            self._bar.update(self._id, status=status)

        def advance(self, n: float = 1) -> None:
            super().advance(n)
            self._refresh()

        def update(self, completed=None, total=None, **fields) -> None:
            if fields:
                self.info = " ".join(f"{k} {_fmt(v)}" for k, v in fields.items())
            super().update(completed, total)
            self._refresh()

    with bar:
        tid = bar.add_task(description, total=total, status="")
        task = _LineTask(bar, tid, unit)
        task._refresh()
        yield task
