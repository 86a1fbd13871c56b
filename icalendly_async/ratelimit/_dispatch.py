"""One credential's waiting calls, in priority order, and the task that grants them.

Both limiters queue a call that cannot start at once here. The queue holds one FIFO per
:class:`~icalendly_async.ratelimit.Priority` class; one dispatcher task per busy credential takes
the calls in grant order (:meth:`Queue.order`: the best effective class, then the longest
waiting) and asks the limiter's :class:`Grantor` to grant them: in memory for
``LocalLimiter``, one Lua script per batch for ``RedisLimiter``. What the grantor cannot grant
yet, it answers with a wait; the dispatcher sleeps that long on the limiter's clock (one timer,
not one per call) unless a call arrives that could go sooner.

Every ``aging`` seconds a call spends first in its class's queue, it counts one class higher: a
BULK call passed over by a steady INTERACTIVE stream outranks it after two bounds, so nothing
starves, while a BULK backlog as a whole stays behind interactive calls (only its first call
ages, and its clock starts when it reaches the front).

A call cancelled while queued takes nothing with it; one cancelled after its grant but before it
resumed gives the grant back. A call that resumes late after its grant (a stalled loop) has its
start moved to when it resumed, so the window counts from when the call went out.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import math
from collections.abc import Callable
from typing import Generic, Protocol, TypeVar

from .._clock import Clock, sleep_or_wake
from ..errors import ConfigurationError
from ._window import Reason
from .priority import Priority

__all__ = ["CLASSES", "CredentialHeld", "Grantor", "Outcome", "Queue", "Waiter"]

G = TypeVar("G")
CLASSES = len(Priority)  # priority classes: 0 .. CLASSES - 1


class CredentialHeld(Exception):
    """The server holds the credential for longer than the call may wait (``max_hold``).

    Raised by :meth:`~icalendly_async.ratelimit.Limiter.acquire`; nothing was granted. The
    pipeline turns it into a :class:`~icalendly_async.errors.RateLimitError` (longer than
    ``RetryPolicy.max_rate_limit_wait``) or a :class:`~icalendly_async.errors.TimeoutError`
    (longer than the call's time left).
    """

    def __init__(self, seconds: float) -> None:
        super().__init__(f"the credential is held for {seconds:.1f} s by the server")
        self.seconds = seconds


class Waiter:
    """One queued call."""

    __slots__ = (
        "cost",
        "future",
        "granted_at",
        "head_at",
        "max_hold",
        "priority",
        "queued",
        "since",
    )

    def __init__(
        self,
        future: asyncio.Future[object],
        cost: int,
        priority: int,
        since: float,
        max_hold: float,
    ) -> None:
        self.future = future
        self.cost = cost
        self.priority = priority
        self.since = since
        self.max_hold = max_hold
        self.head_at: float | None = None  # when it became the first of its class's queue
        self.granted_at = 0.0
        self.queued = True  # counted in its queue's `waiting`

    @property
    def bulk(self) -> bool:
        return self.priority == Priority.BULK


class Outcome(Generic[G]):
    """What a grantor did with a batch of waiters (in the order given).

    The first ``len(grants)`` waiters are granted (``grants`` holds what each needs to give its
    grant back); the next ``len(refusals)`` fail with those errors; the rest wait ``wait``
    seconds for ``reason``, of which ``held`` seconds the server holds the credential.
    """

    __slots__ = ("grants", "held", "reason", "refusals", "wait")

    def __init__(
        self,
        grants: list[G],
        wait: float = 0.0,
        reason: Reason = Reason.NONE,
        held: float = 0.0,
        refusals: list[BaseException] | None = None,
    ) -> None:
        self.grants = grants
        self.wait = wait
        self.reason = reason
        self.held = held
        self.refusals = refusals or []


class Grantor(Protocol[G]):
    """Where a credential's pacing state lives: decides grants, takes them back."""

    @property
    def restamp_after(self) -> float:
        """A call resuming more than this many seconds after its grant has its start moved."""
        ...

    async def grant(self, batch: list[Waiter], now: float) -> Outcome[G]: ...

    def give_back(self, grant: G, waiter: Waiter) -> None: ...

    def restamp(self, grant: G, waiter: Waiter, now: float) -> None: ...


class Queue(Generic[G]):
    """The waiting calls of one credential and their dispatcher."""

    __slots__ = (
        "_blocked",
        "_clock",
        "_grantor",
        "_on_idle",
        "_stopped",
        "aging",
        "batch",
        "queues",
        "task",
        "waiting",
        "wakeup",
    )

    def __init__(
        self,
        grantor: Grantor[G],
        clock: Clock,
        *,
        aging: Callable[[], float],
        batch: int,
        stopped: Callable[[], BaseException] | None = None,
        on_idle: Callable[[], None] = lambda: None,
    ) -> None:
        self._grantor = grantor
        self._clock = clock
        self.aging = aging  # seconds per class, read at each pick (the window may change)
        self.batch = batch
        # The error for calls left when the dispatcher is stopped (None: they are cancelled).
        self._stopped = stopped
        self._on_idle = on_idle  # called when the dispatcher ends
        self.queues: list[collections.deque[Waiter]] = [collections.deque() for _ in Priority]
        self.waiting = 0  # queued calls not granted, failed or cancelled yet
        self.task: asyncio.Task[None] | None = None
        self.wakeup: asyncio.Future[None] | None = None
        self._blocked: tuple[Reason, int, bool] | None = None  # what the head waits for

    # -- the calls' side -------------------------------------------------------------------

    async def wait(self, cost: int, priority: int, max_hold: float = math.inf) -> G:
        """Queue a call; its grant once the dispatcher grants it."""
        if not 0 <= priority < CLASSES:
            raise ConfigurationError(f"priority must be a Priority, got {priority!r}")
        loop = asyncio.get_running_loop()
        if self.task is not None and self.task.get_loop() is not loop:
            self._abandon_stopped_loop()
        waiter = Waiter(
            loop.create_future(), cost, int(priority), self._clock.monotonic(), max_hold
        )
        self.queues[waiter.priority].append(waiter)
        self.waiting += 1
        if self.task is None:
            self.task = loop.create_task(self._dispatch())
        elif self._could_go_sooner(waiter):
            self.wake()
        try:
            grant: G = await waiter.future  # type: ignore[assignment]
        except asyncio.CancelledError:
            self._cancelled(waiter)
            raise
        now = self._clock.monotonic()
        if now - waiter.granted_at > self._grantor.restamp_after:
            self._grantor.restamp(grant, waiter, now)
        return grant

    def _abandon_stopped_loop(self) -> None:
        """Forget a dispatcher whose event loop stopped while calls were queued.

        A loop closed without cancelling its tasks (a loop run in a thread and then stopped, as
        some frameworks do between runs) leaves its dispatcher and its queued calls suspended for
        good: none of them can resume. A limiter kept for the next loop (a sync job's next run)
        would otherwise queue every call behind them and never grant it. Their grants already
        given stay counted in the window, which only errs on the safe side.
        """
        assert self.task is not None
        other = self.task.get_loop()
        if other.is_running():  # a closed loop is not running
            raise ConfigurationError(
                "this limiter is in use by another event loop that is still running (another "
                "thread?); a limiter's state belongs to one loop at a time. Give each loop its "
                "own limiter, or share a credential's window across them with RedisLimiter."
            )
        for queue in self.queues:
            queue.clear()
        self.waiting = 0
        self.task = None
        self.wakeup = None
        self._blocked = None

    def _could_go_sooner(self, waiter: Waiter) -> bool:
        """Whether a new call might start before the one the dispatcher waits for: only when
        that one waits for room a smaller call does not need (every call of a credential waits
        for the same window, hold, budget or probe). Another arrival changes nothing."""
        if self._blocked is None:
            return False
        reason, cost, bulk = self._blocked
        return waiter.cost < cost or (reason is Reason.BULK and bulk and not waiter.bulk)

    def _cancelled(self, waiter: Waiter) -> None:
        future = waiter.future
        if future.done() and not future.cancelled():
            if future.exception() is None:  # granted, but cancelled before it could send
                self._grantor.give_back(future.result(), waiter)  # type: ignore[arg-type]
                self.wake()
            return
        future.cancel()  # still queued: the dispatcher skips it
        self._leave(waiter)
        self.wake()

    def _leave(self, waiter: Waiter) -> None:
        if waiter.queued:
            waiter.queued = False
            self.waiting -= 1

    def wake(self) -> None:
        """Make the dispatcher look again now (a grant was given back, feedback arrived)."""
        if self.wakeup is not None and not self.wakeup.done():
            self.wakeup.set_result(None)

    def fail(self, error: Callable[[], BaseException] | None) -> None:
        """End every queued call with an error (one object per call: raised in many tasks, a
        shared one would collect all their tracebacks), or cancel them (``None``)."""
        for queue in self.queues:
            while queue:
                waiter = queue.popleft()
                if not waiter.future.done():
                    self._leave(waiter)
                    if error is None:
                        waiter.future.cancel()
                    else:
                        waiter.future.set_exception(error())

    # -- the dispatcher --------------------------------------------------------------------

    def order(self, now: float, n: int) -> list[Waiter]:
        """Up to ``n`` queued calls in the order to grant them."""
        aging = self.aging()
        for queue in self.queues:
            while queue and queue[0].future.done():
                queue.popleft()  # cancelled while queued
        positions = [0] * CLASSES
        chosen: list[Waiter] = []
        while len(chosen) < n:
            best: Waiter | None = None
            best_class = -1
            best_rank = (CLASSES, math.inf)
            for cls, queue in enumerate(self.queues):
                i = positions[cls]
                while i < len(queue) and queue[i].future.done():
                    i += 1
                positions[cls] = i
                if i == len(queue):
                    continue
                head = queue[i]
                effective = head.priority
                if i == 0:  # only the first of its class's queue ages
                    if head.head_at is None:
                        head.head_at = now
                    effective = max(effective - int((now - head.head_at) // aging), 0)
                rank = (effective, head.since)
                if rank < best_rank:
                    best, best_class, best_rank = head, cls, rank
            if best is None:
                break
            chosen.append(best)
            positions[best_class] += 1
        return chosen

    async def _dispatch(self) -> None:
        clock = self._clock
        try:
            while self.waiting > 0:
                batch = self.order(clock.monotonic(), self.batch)
                if not batch:
                    self.waiting = 0  # every queued call was cancelled
                    break
                asked = clock.monotonic()
                outcome = await self._grantor.grant(batch, asked)
                self._settle(batch, outcome, asked)
                if outcome.wait > 0 and self.waiting > 0:
                    head = batch[len(outcome.grants) + len(outcome.refusals)]
                    self._blocked = (outcome.reason, head.cost, head.bulk)
                    try:
                        await self._sleep(outcome.wait)
                    finally:
                        self._blocked = None
        except asyncio.CancelledError:
            # Only the limiter's aclose() or the loop's shutdown cancels a dispatcher: nobody
            # is left to grant the queue, so end it with an error rather than leave it hanging.
            self.fail(self._stopped)
            raise
        except Exception as exc:  # a bug, or an outage the grantor did not handle
            failure = exc
            self.fail(lambda: _failed(failure))
            raise
        finally:
            self.task = None
            if self.waiting == 0:
                for queue in self.queues:
                    queue.clear()  # only cancelled calls are left
            self._on_idle()

    def _settle(self, batch: list[Waiter], outcome: Outcome[G], asked: float) -> None:
        """Hand ``outcome`` to ``batch``'s calls; ``asked``: when the grant was asked for.

        A grant counts from ``asked``, not from when its answer was read: on Redis the start is
        stamped while the script runs, and a busy loop may read the reply a while later; a call
        resumed late is measured from its stamp (:meth:`wait` moves it).
        """
        for waiter, grant in zip(batch, outcome.grants, strict=False):
            self._take(waiter)
            if waiter.future.done():  # cancelled while the grantor worked (Redis)
                self._grantor.give_back(grant, waiter)
            else:
                self._leave(waiter)
                waiter.granted_at = asked
                waiter.future.set_result(grant)
        rest = batch[len(outcome.grants) :]
        for waiter, error in zip(rest, outcome.refusals, strict=False):
            self._take(waiter)
            if not waiter.future.done():
                self._leave(waiter)
                waiter.future.set_exception(error)
        if outcome.held > 0:
            # The server holds the credential: calls that may not wait that long fail now.
            for queue in self.queues:
                for waiter in list(queue):
                    if not waiter.future.done() and waiter.max_hold < outcome.held:
                        self._take(waiter)
                        self._leave(waiter)
                        waiter.future.set_exception(CredentialHeld(outcome.held))

    def _take(self, waiter: Waiter) -> None:
        queue = self.queues[waiter.priority]
        if queue and queue[0] is waiter:
            queue.popleft()
        else:
            with contextlib.suppress(ValueError):  # already taken out
                queue.remove(waiter)

    async def _sleep(self, seconds: float) -> None:
        wakeup = self.wakeup = asyncio.get_running_loop().create_future()
        try:
            await sleep_or_wake(self._clock, seconds, wakeup)
        finally:
            self.wakeup = None


def _failed(exc: Exception) -> BaseException:
    error = RuntimeError(f"the rate limiter failed ({type(exc).__name__}: {exc})")
    error.__cause__ = exc
    return error
