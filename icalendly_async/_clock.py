"""Time, injected: every wait and every expiry in the library reads a :class:`Clock`.

The pipeline, the limiters, the retry backoff and token expiry take a clock instead of calling
``time`` and ``asyncio.sleep`` themselves, so tests run them on :class:`VirtualClock` (virtual
seconds pass in no wall time) and production on :data:`SYSTEM_CLOCK`.

- ``monotonic()``: seconds on a clock that never goes back (durations, deadlines, windows);
- ``time()``: seconds since the Unix epoch (token expiry, which servers state as wall time);
- ``sleep(seconds)``: wait that long on this clock.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import sys
import time as _time
from collections.abc import Awaitable
from typing import Protocol, TypeVar, runtime_checkable

if sys.version_info >= (3, 11):
    from asyncio import timeout as _timeout
else:  # pragma: no cover - Python 3.10
    from async_timeout import timeout as _timeout

__all__ = [
    "SYSTEM_CLOCK",
    "Clock",
    "SystemClock",
    "VirtualClock",
    "settle",
    "sleep_or_wake",
    "wait_for",
]

T = TypeVar("T")


@runtime_checkable
class Clock(Protocol):
    """What the library asks of a clock."""

    def monotonic(self) -> float: ...

    def time(self) -> float: ...

    async def sleep(self, seconds: float) -> None: ...


class SystemClock:
    """The machine's clocks and the running loop's ``asyncio.sleep``."""

    __slots__ = ()

    monotonic = staticmethod(_time.monotonic)
    time = staticmethod(_time.time)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)

    def __repr__(self) -> str:
        return "SYSTEM_CLOCK"


SYSTEM_CLOCK = SystemClock()


class VirtualClock:
    """A clock whose time moves only when told to (:meth:`advance`), for tests.

    ``sleep()`` parks the caller until :meth:`advance` moves the clock past its deadline;
    sleepers wake in deadline order, and the loop runs everything they set in motion before
    the clock moves on to the next deadline. ``time()`` is ``epoch + monotonic()``.

    ::

        clock = VirtualClock()
        task = asyncio.create_task(limiter_user(clock))
        await clock.advance(60)        # a minute passes at once

    :meth:`run` moves the clock by itself instead: whenever nothing is left to run but
    sleepers of this clock, it jumps to the next deadline (``await clock.run(main())``).
    """

    def __init__(self, start: float = 0.0, *, epoch: float = 1_800_000_000.0) -> None:
        self._now = float(start)
        self._epoch = float(epoch)
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._order = itertools.count()
        self._calls = 0  # sleep() calls so far: how run() tells that something happened

    def monotonic(self) -> float:
        return self._now

    def time(self) -> float:
        return self._epoch + self._now

    async def sleep(self, seconds: float) -> None:
        if not seconds > 0:  # zero, negative or NaN: yield once, as asyncio.sleep(0) does
            await asyncio.sleep(0)
            return
        self._calls += 1
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self._now + seconds, next(self._order), future))
        await future

    async def run(
        self, awaitable: Awaitable[T], *, limit: float = 86_400.0, grace: float = 0.0
    ) -> T:
        """Await ``awaitable`` while the clock moves on by itself (auto-advancing).

        Whenever the loop has run everything that is ready and the awaitable still waits, the
        clock jumps to the earliest sleeper's deadline: an hour of pacing takes milliseconds,
        and no sleeper ever wakes early. ``RuntimeError`` if nothing sleeps on this clock while
        the awaitable waits (it waits for something that will not come), or if it still runs
        after ``limit`` virtual seconds.

        For code that also waits for real I/O (a server on loopback), pass ``grace``: the real
        seconds to wait before each jump, so that answers on their way arrive first; while
        nothing sleeps on the clock, it then waits for the I/O instead of failing.
        """
        task = asyncio.ensure_future(awaitable)
        end = self._now + limit
        try:
            while not task.done():
                await self._quiesce(task)
                if grace > 0 and not task.done():
                    await asyncio.wait((task,), timeout=grace)
                if task.done():
                    break
                deadline = self.next_deadline()
                if deadline is None:
                    if grace > 0:
                        continue  # waiting for I/O
                    raise RuntimeError(
                        "deadlock: the awaitable waits, and nothing sleeps on the VirtualClock"
                    )
                if deadline > end:
                    raise RuntimeError(f"still running after {limit:g} virtual seconds")
                await self.advance(deadline - self._now)
            return task.result()
        finally:
            if not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    async def _quiesce(self, task: asyncio.Future[T]) -> None:
        """Run the loop until the clock's sleepers stop changing (what was woken has run)."""
        seen: tuple[int, float | None] | None = None
        for _ in range(100):
            await settle()
            now = (self._calls, self.next_deadline())
            if now == seen or task.done():
                return
            seen = now

    @property
    def sleepers(self) -> int:
        """How many callers are waiting on this clock now."""
        return sum(1 for _, _, future in self._sleepers if not future.done())

    def next_deadline(self) -> float | None:
        """When the earliest sleeper wakes (``None``: nobody sleeps)."""
        self._drop_cancelled()
        return self._sleepers[0][0] if self._sleepers else None

    async def advance(self, seconds: float) -> None:
        """Move the clock ``seconds`` ahead, waking every sleeper due on the way, in order."""
        if seconds < 0:
            raise ValueError(f"a clock does not go back (advance({seconds}))")
        target = self._now + seconds
        await settle()
        while True:
            self._drop_cancelled()
            if not self._sleepers or self._sleepers[0][0] > target:
                break
            deadline, _, future = heapq.heappop(self._sleepers)
            self._now = max(self._now, deadline)
            future.set_result(None)
            await settle()
        self._now = target
        await settle()

    async def run_until_idle(self, limit: float = 86_400.0) -> None:
        """Advance from deadline to deadline until nobody sleeps (at most ``limit`` seconds)."""
        end = self._now + limit
        while (deadline := self.next_deadline()) is not None and deadline <= end:
            await self.advance(deadline - self._now)
        await settle()

    def _drop_cancelled(self) -> None:
        while self._sleepers and self._sleepers[0][2].done():
            heapq.heappop(self._sleepers)

    def __repr__(self) -> str:
        return f"VirtualClock(now={self._now:g}, sleepers={self.sleepers})"


async def settle(rounds: int = 20) -> None:
    """Let the loop run what is ready (tasks woken by a clock step and what they start)."""
    for _ in range(rounds):
        await asyncio.sleep(0)


async def wait_for(clock: Clock, awaitable: Awaitable[T], seconds: float) -> T:
    """``awaitable``'s result, or ``asyncio.TimeoutError`` once ``seconds`` pass on ``clock``
    (the awaitable is then cancelled)."""
    if isinstance(clock, SystemClock):
        # In the caller's task, not a task of its own (as asyncio.wait_for on 3.11): a call
        # granted by the limiter then goes on to send in the same step. Resumed a loop iteration
        # later instead, after the rest of its burst had sent, the calls of a burst went out up
        # to 60 ms after the limiter last saw them (2 loaded cores), too late to be moved, and a
        # fleet of four started 41-71 calls in one 4-s window of limit 40
        # (tests/test_redis_fleet.py).
        async with _timeout(seconds):
            return await awaitable
    task = asyncio.ensure_future(awaitable)
    timer = asyncio.ensure_future(clock.sleep(seconds))
    try:
        await asyncio.wait((task, timer), return_when=asyncio.FIRST_COMPLETED)
    finally:
        timer.cancel()
        if not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task  # let it finish its cancellation (a limiter gives its slot back)
    if task.cancelled():
        raise asyncio.TimeoutError
    return task.result()


async def sleep_or_wake(clock: Clock, seconds: float, wakeup: asyncio.Future[None]) -> None:
    """Sleep ``seconds`` on ``clock``, or less if ``wakeup`` is resolved first."""
    if isinstance(clock, SystemClock):  # one timer handle instead of a task
        handle = asyncio.get_running_loop().call_later(seconds, _resolve, wakeup)
        try:
            await wakeup
        finally:
            handle.cancel()
        return
    sleeper = asyncio.ensure_future(clock.sleep(seconds))
    try:
        await asyncio.wait((sleeper, wakeup), return_when=asyncio.FIRST_COMPLETED)
    finally:
        sleeper.cancel()


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)
