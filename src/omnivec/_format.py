"""Helpers the shells share (the CLI and the demo): human sizes and durations, a console, a timer.

Output for people goes through rich (tables, colour only on a terminal),
which loads only when a console is asked for.
"""

from __future__ import annotations

import sys
import time
from contextlib import contextmanager
from typing import Iterator


def console(stderr: bool = False):
    """Return a rich Console on stdout (or stderr); plain text when not a terminal."""
    from rich.console import Console

    # Off a terminal (pipes, files, tests) text is never wrapped: a line printed is a line
    # written, so `query --vector > f` gives one line per key; tables are laid out 120 wide.
    tty = (sys.stderr if stderr else sys.stdout).isatty()
    return Console(stderr=stderr, width=None if tty else 120, highlight=False, soft_wrap=not tty)


def human_bytes(n: int) -> str:
    """Return a byte count as a short human string ('80.3 MB')."""
    size = float(n)
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if size < 1000 or unit == "TB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{n} B"


def human_seconds(s: float) -> str:
    """Return a duration as a short human string ('850 µs', '12.3 ms', '4.21 s')."""
    if s < 1e-3:
        return f"{s * 1e6:.0f} µs"
    if s < 1:
        return f"{s * 1e3:.1f} ms"
    return f"{s:.2f} s"


class Timer:
    """Seconds elapsed inside a `timed()` block (`.seconds`)."""

    seconds: float = 0.0


@contextmanager
def timed() -> Iterator[Timer]:
    """Yield a Timer whose `.seconds` holds the block's wall time once it ends."""
    t = Timer()
    start = time.perf_counter()
    try:
        yield t
    finally:
        t.seconds = time.perf_counter() - start
