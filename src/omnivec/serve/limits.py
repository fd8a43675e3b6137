"""Back-pressure and rate limits: a bounded work queue with deadlines, and per-key token buckets.

`Admission.run(fn, deadline)` runs `fn` on the worker's thread pool when a
slot is free.  At most `concurrency` run at once and `queue` wait; a request
beyond that is refused at once (`Overloaded`: 429 with Retry-After), the same
for one key or a batch.  A request still waiting when its deadline passes is
dropped before any work is done (`DeadlineExpired`), and one whose work
outlives its deadline is answered 504 (`TimedOut`) while the work finishes in
the background, holding its slot.
"""

from __future__ import annotations

import asyncio
import contextvars
import math
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable


#: true while cheap work runs inline on the event loop: whatever would wait raises WouldBlock instead
INLINE: contextvars.ContextVar[bool] = contextvars.ContextVar("omnivec_serve_inline", default=False)


class WouldBlock(Exception):
    """Inline work met a lock another thread holds: it goes to the thread pool instead."""


class Overloaded(Exception):
    """The queue is full; `retry_after` seconds is a fair time to come back."""

    def __init__(self, retry_after: float, why: str) -> None:
        super().__init__(why)
        self.retry_after = retry_after


class DeadlineExpired(Exception):
    """The request's deadline passed while it waited: no work was done."""


class TimedOut(Exception):
    """The work did not finish before the request's deadline."""


class Admission:
    """A bounded queue in front of a thread pool of `concurrency` workers."""

    def __init__(self, concurrency: int, queue: int) -> None:
        self.concurrency = max(1, int(concurrency))
        self.queue = max(0, int(queue))
        self.pool = ThreadPoolExecutor(max_workers=self.concurrency, thread_name_prefix="omnivec-serve")
        self._sem: asyncio.Semaphore | None = None
        self._loop = None
        self.running = 0
        self.waiting = 0
        self._mean = 0.005          # running mean of the work time, for Retry-After

    @property
    def depth(self) -> int:
        return self.running + self.waiting

    def retry_after(self) -> float:
        return max(1.0, math.ceil(self.depth * self._mean / self.concurrency))

    def inline(self, fn: Callable[[], Any], deadline: float) -> tuple[bool, Any]:
        """Return (True, fn()) run on the event loop's thread, or (False, None) if it would wait.

        For cheap work (a few keys, a small scan): handing it to a thread costs more than
        doing it; work that meets a lock another thread holds goes to the pool instead.
        """
        if time.monotonic() >= deadline:
            raise DeadlineExpired()
        token = INLINE.set(True)
        try:
            return True, fn()
        except WouldBlock:
            return False, None
        finally:
            INLINE.reset(token)

    async def run(self, fn: Callable[[], Any], deadline: float) -> Any:
        """Return fn() run on the pool; raise Overloaded, DeadlineExpired or TimedOut."""
        loop = asyncio.get_running_loop()
        if self._sem is None or self._loop is not loop:     # a semaphore belongs to one event loop
            self._sem, self._loop = asyncio.Semaphore(self.concurrency), loop
        if self.running >= self.concurrency and self.waiting >= self.queue:
            raise Overloaded(self.retry_after(), f"the server's queue is full ({self.queue} waiting "
                                                 f"behind {self.concurrency} running)")
        self.waiting += 1
        try:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise DeadlineExpired()
            try:
                async with asyncio.timeout(remaining):
                    await self._sem.acquire()
            except TimeoutError:
                raise DeadlineExpired() from None
        finally:
            self.waiting -= 1
        if time.monotonic() >= deadline:
            self._sem.release()
            raise DeadlineExpired()
        self.running += 1
        t0 = time.monotonic()

        def done(_):
            self.running -= 1
            self._mean = 0.9 * self._mean + 0.1 * (time.monotonic() - t0)
            self._sem.release()

        fut = loop.run_in_executor(self.pool, fn)
        fut.add_done_callback(done)
        try:
            async with asyncio.timeout(max(0.0, deadline - time.monotonic())):
                return await asyncio.shield(fut)
        except TimeoutError:
            raise TimedOut() from None

    def close(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)


class TokenBucket:
    """`rate` requests a second with bursts of `burst`; take() returns 0 or the seconds to wait."""

    __slots__ = ("rate", "burst", "tokens", "stamp")

    def __init__(self, rate: float, burst: int) -> None:
        self.rate = float(rate)
        self.burst = float(max(1, burst))
        self.tokens = self.burst
        self.stamp = time.monotonic()

    def take(self) -> float:
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return 0.0
        return (1.0 - self.tokens) / self.rate


class RateLimits:
    """One token bucket per key name (the limits of each worker process)."""

    def __init__(self, default_rate: float, default_burst: int | None) -> None:
        self.default_rate = float(default_rate)
        self.default_burst = default_burst
        self.buckets: dict[str, TokenBucket] = {}

    def wait(self, key) -> float:
        """Return 0 when `key` may go on now, else the seconds until it may."""
        rate = self.default_rate if key.rate is None else key.rate
        if not rate:
            return 0.0
        b = self.buckets.get(key.name)
        if b is None:
            burst = key.burst or self.default_burst or max(1, int(2 * rate))
            b = self.buckets[key.name] = TokenBucket(rate, burst)
        return b.take()
