"""Run numbered chunks of training on lock-free threads (Hogwild), with progress and a clean Ctrl-C.

Every learner that trains in chunks (word2vec and fastText, the graph
walks, LINE, Poincaré) hands its chunks to `run_chunks`: chunk numbers come
from one shared counter, each thread owns one state object (statistics,
buffers), and the main thread reports progress while the workers run.  With
one state no thread is started, so a Ctrl-C reaches the loop between
chunks.  A Ctrl-C stops the workers after the chunks in flight (the model
keeps what they trained); an error in a worker stops the others and is
raised in the caller's thread.
"""

from __future__ import annotations

import threading
from typing import Any, Callable, Sequence

import numpy as np


def run_chunks(limit: int, next_chunk: Callable[[], int], run_chunk: Callable[[int, Any], None],
               states: Sequence[Any], *, tick: Callable[[], None], stop: np.ndarray, name: str,
               tick_every: int = 16) -> bool:
    """Run every chunk number `next_chunk()` gives below `limit`; return True when interrupted (Ctrl-C).

    `run_chunk(c, state)` trains chunk c; `stop` (a one-element int array the
    kernels also read) is set to 1 to stop; `tick()` reports progress: every
    `tick_every` chunks on one thread, every 0.25 s from the main thread
    with several.
    """
    if len(states) == 1:
        try:
            while True:
                c = next_chunk()
                if c >= limit:
                    return False
                run_chunk(c, states[0])
                if c % tick_every == 0:
                    tick()
        except KeyboardInterrupt:
            stop[0] = 1
            return True
    errors: list[BaseException] = []

    def worker(state: Any) -> None:
        try:
            while not stop[0]:
                c = next_chunk()
                if c >= limit:
                    return
                run_chunk(c, state)
        except BaseException as exc:  # surfaced in the main thread below
            errors.append(exc)
            stop[0] = 1

    threads = [threading.Thread(target=worker, args=(st,), daemon=True, name=f"omnivec-{name}-{i}")
               for i, st in enumerate(states)]
    interrupted = False
    try:
        # starting is inside: Ctrl-C can land while start() waits for a thread
        for t in threads:
            t.start()
        while any(t.is_alive() for t in threads):
            threads[0].join(0.25)
            tick()
    except KeyboardInterrupt:
        interrupted = True
        stop[0] = 1
        for t in threads:
            if t.ident is not None:  # started (a thread never started cannot be joined)
                t.join()
    if errors:
        raise errors[0]
    return interrupted


def end_of_epoch(report: Any, interrupted: bool, callbacks: Sequence[Callable[[Any], None]], log, epoch: int,
                 epochs: int) -> bool:
    """Close an epoch: say so when it was interrupted, else run the callbacks; return True to stop training.

    A callback that raises KeyboardInterrupt stops training after this epoch
    (the model keeps what was trained).
    """
    if interrupted:
        log.warning("training interrupted in epoch %d of %d; keeping the model trained so far", epoch + 1, epochs)
        return True
    try:
        for cb in callbacks:
            cb(report)
    except KeyboardInterrupt:
        log.warning("training interrupted after epoch %d of %d; keeping the model trained so far", epoch + 1,
                    epochs)
        return True
    return False
