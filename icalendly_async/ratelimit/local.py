"""The in-process limiter: each credential's pacing state in this process's memory.

The rules are :mod:`._window`'s (a sliding log of start times, the server's holds and budgets,
the calibration probe, the bulk share, even spacing with ``pacing="smooth"``), the queue of
waiting calls is :mod:`._dispatch`'s; ``RedisLimiter`` shares both and keeps its state in Redis.

A call that finds its credential free and nobody waiting is granted at once, without a task or a
future (:meth:`LocalLimiter.try_acquire`). Otherwise it queues, and one dispatcher task per busy
credential grants the queue in order, sleeping on a single timer of the limiter's clock. Idle
credentials are forgotten, so memory follows the credentials in use.
"""

from __future__ import annotations

import math

from .._clock import SYSTEM_CLOCK, Clock
from ..errors import ConfigurationError
from ._dispatch import CLASSES, CredentialHeld, Outcome, Queue, Waiter
from ._window import Pacing, Window, WindowPolicy, check_cost, default_margin
from .headers import RateLimit, RateLimitState
from .priority import Priority

__all__ = ["BucketSnapshot", "LocalLimiter", "default_margin"]

_BATCH = 64  # the most queued calls one pass of the dispatcher grants
# Priority.BULK as a module name: reading a member off an enum class costs about 80 ns on
# CPython 3.11 (see ``_window._FREE``: with the two in ``Window.delay``, the scale benchmark's
# free acquire took 1.69-1.70 µs instead of 1.38-1.42).
_BULK = Priority.BULK


class BucketSnapshot:
    """A read-only look at one credential's state (for tests and diagnostics)."""

    __slots__ = ("hold_remaining", "in_flight", "limit", "recent_starts", "waiting")

    def __init__(
        self, limit: int, waiting: int, in_flight: int, recent_starts: int, hold_remaining: float
    ) -> None:
        self.limit = limit
        self.waiting = waiting
        self.in_flight = in_flight
        self.recent_starts = recent_starts
        self.hold_remaining = hold_remaining

    def __repr__(self) -> str:
        return (
            f"BucketSnapshot(limit={self.limit}, waiting={self.waiting}, "
            f"in_flight={self.in_flight}, recent_starts={self.recent_starts}, "
            f"hold_remaining={self.hold_remaining:.3f})"
        )


class _Credential(Window):
    """One credential in memory: its window and, while calls wait, their queue. It grants
    the queue's calls itself (the dispatcher's :class:`~._dispatch.Grantor`)."""

    __slots__ = ("queue",)

    restamp_after = 0.0  # moving a start in memory is cheap: every late call is moved

    def __init__(self, config: RateLimit, policy: WindowPolicy) -> None:
        Window.__init__(self, config, policy)  # named, not super(): see Window.__init__
        self.queue: Queue[float] | None = None

    def take_now(self, now: float, cost: int, bulk: bool) -> bool:
        """Grant ``cost`` at once if nothing waits and nothing holds it back."""
        if self.queue is not None and self.queue.waiting:
            return False
        if self.delay(now, cost, bulk)[0] > 0:
            return False
        self.take(now, cost, bulk)
        return True

    async def grant(self, batch: list[Waiter], now: float) -> Outcome[float]:
        grants: list[float] = []
        for waiter in batch:
            error = self.never(waiter.cost, waiter.bulk)
            if error is not None:
                return Outcome(grants, refusals=[error])
            wait, reason = self.delay(now, waiter.cost, waiter.bulk)
            if wait > 0:
                return Outcome(grants, wait, reason, self.held(now))
            grants.append(self.take(now, waiter.cost, waiter.bulk))
        return Outcome(grants)

    def give_back(self, grant: float, waiter: Waiter) -> None:
        self.untake(grant, waiter.cost, waiter.bulk)
        if self.queue is not None:
            self.queue.wake()

    def restamp(self, grant: float, waiter: Waiter, now: float) -> None:
        self.move(grant, now, waiter.cost, waiter.bulk)

    def aging(self) -> float:
        return self.policy.aging_for(self.window)

    def drop_queue(self) -> None:
        if self.queue is not None and self.queue.waiting == 0 and self.queue.task is None:
            self.queue = None


class LocalLimiter:
    """The default :class:`~icalendly_async.ratelimit.Limiter`: state per credential, in memory.

    ``pacing``: ``"window"`` (the default: the limit at once, then the limit again as each window
    ends) or ``"smooth"`` (one start every ``(window + margin) / (limit - 1)`` seconds).
    ``margin`` (seconds added to each window; default 0.25 s, at most 1% of the window) absorbs
    the difference between when we start a request and when the server counts it.
    ``calibrate`` sends a new credential's first request alone and waits for its headers (at
    most ``calibration_timeout`` seconds). ``aging`` (seconds; default two windows): each time a
    call has waited this long first in its class's queue, it is served as one priority class
    higher. ``bulk_share`` (0 < share <= 1) lets ``BULK`` calls use at most that share of each
    window, keeping the rest for everyone else. Credentials idle for a whole window are
    forgotten (``sweep_every`` acquisitions look at that many). ``clock``: what the windows,
    holds and waits are measured on (tests pass a ``VirtualClock``).
    """

    def __init__(
        self,
        *,
        pacing: Pacing = "window",
        margin: float | None = None,
        calibrate: bool = True,
        calibration_timeout: float = 5.0,
        aging: float | None = None,
        bulk_share: float | None = None,
        sweep_every: int = 4096,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        self._policy = WindowPolicy(
            pacing=pacing,
            margin=margin,
            calibrate=calibrate,
            calibration_timeout=calibration_timeout,
            aging=aging,
            bulk_share=bulk_share,
        )
        if isinstance(sweep_every, bool) or not isinstance(sweep_every, int) or sweep_every < 1:
            raise ConfigurationError(
                f"sweep_every must be a whole number >= 1, got {sweep_every!r}"
            )
        self._pacing = pacing
        self._clock = clock
        self._sweep_every = sweep_every
        self._credentials: dict[str, _Credential] = {}
        self._acquisitions = 0
        self._sweep_keys: list[str] = []  # the pass of the sweep in progress
        self._sweep_at = 0

    def __len__(self) -> int:
        """How many credentials have state now."""
        return len(self._credentials)

    def __repr__(self) -> str:
        return f"LocalLimiter(pacing={self._pacing!r}, credentials={len(self._credentials)})"

    @property
    def clock(self) -> Clock:
        return self._clock

    def _grant_now(
        self, key: str, rate_limit: RateLimit, now: float, cost: int, bulk: bool
    ) -> _Credential | None:
        """Grant ``cost`` starts of ``key`` at ``now`` if nothing holds them back (``None``);
        else ``key``'s state, set up for ``rate_limit``, to queue on. Counts one acquisition."""
        self._acquisitions += 1
        if self._acquisitions % self._sweep_every == 0:
            self._sweep(now)
        cred = self._credentials.get(key)
        if cred is None:
            cred = self._credentials[key] = _Credential(rate_limit, self._policy)
            if cost == 1:
                # A credential's first start of cost 1 is always free: its window is empty,
                # nothing holds it, and every limit and share is at least 1. No look at the
                # rules (scale benchmark, a new credential's first acquire: 26,900 -> 24,000
                # instructions per call, callgrind).
                cred.take(now, 1, bulk)
                return None
        elif cred.config is not rate_limit:
            cred.configure(rate_limit)
        return None if cred.take_now(now, cost, bulk) else cred

    # -- the protocol ---------------------------------------------------------------------------

    def try_acquire(self, key: str, rate_limit: RateLimit, priority: int = Priority.NORMAL) -> bool:
        """Take one request of ``key`` if it may start right now, without waiting.

        ``True`` counts the request as started, exactly as a returned :meth:`acquire` does (an
        :meth:`observe` must follow). ``False`` takes nothing: call :meth:`acquire`, which
        queues. The pipeline tries this first, which spares a coroutine per call when nothing
        is waiting.
        """
        now = self._clock.monotonic()
        return self._grant_now(key, rate_limit, now, 1, priority == _BULK) is None

    async def acquire(
        self,
        key: str,
        rate_limit: RateLimit,
        cost: int = 1,
        *,
        priority: int = Priority.NORMAL,
        max_hold: float = math.inf,
    ) -> None:
        check_cost(cost, rate_limit.limit)
        if not 0 <= priority < CLASSES:
            raise ConfigurationError(f"priority must be a Priority, got {priority!r}")
        now = self._clock.monotonic()
        bulk = priority == _BULK
        cred = self._grant_now(key, rate_limit, now, cost, bulk)
        if cred is None:
            return
        # Only now: a call that can never start is never free (never() costs 4 % of a free
        # acquire; callgrind, scale benchmark's path: 15,800 -> 15,170 instructions).
        error = cred.never(cost, bulk)
        if error is not None:
            raise error
        held = cred.held(now)
        if held > max_hold:
            raise CredentialHeld(held)
        if cred.queue is None:
            cred.queue = Queue(
                cred, self._clock, aging=cred.aging, batch=_BATCH, on_idle=cred.drop_queue
            )
        await cred.queue.wait(cost, priority, max_hold)

    async def observe(self, key: str, state: RateLimitState) -> None:
        cred = self._credentials.get(key)
        if cred is None:
            return
        cred.observe(state, self._clock.monotonic())
        if cred.queue is not None:
            cred.queue.wake()  # a probe's answer, a new budget: a waiting call may go now

    async def penalize(self, key: str, seconds: float) -> None:
        cred = self._credentials.get(key)
        if cred is None:
            return
        cred.penalize(self._clock.monotonic(), seconds)
        if cred.queue is not None:
            cred.queue.wake()  # calls that may not wait that long fail now

    def hold_remaining(self, key: str) -> float:
        """Seconds ``key`` is held beyond ordinary pacing (0: not held): after a 429, or by a
        limit at ``Remaining: 0`` whose reset lies beyond a window (a daily limit, a proxy).
        :meth:`acquire` raises :class:`CredentialHeld` when this exceeds its ``max_hold``."""
        cred = self._credentials.get(key)
        return 0.0 if cred is None else cred.held(self._clock.monotonic())

    # -- diagnostics ----------------------------------------------------------------------------

    def snapshot(self, key: str) -> BucketSnapshot | None:
        """What the state of ``key`` holds now, or ``None`` if it has none."""
        cred = self._credentials.get(key)
        if cred is None:
            return None
        now = self._clock.monotonic()
        return BucketSnapshot(
            limit=cred.limit,
            waiting=cred.queue.waiting if cred.queue is not None else 0,
            in_flight=cred.in_flight,
            recent_starts=cred.recent_starts(now),
            hold_remaining=max(0.0, cred.hold_until - now),
        )

    def _sweep(self, now: float) -> None:
        """Forget idle credentials, ``sweep_every`` of them looked at per call.

        One pass over all credentials is spread over many calls, so an acquisition pays for
        about one look however many credentials there are: a full scan every ``sweep_every``
        acquisitions would cost O(credentials) each time and stall the loop (the scale
        benchmark's slowest acquire with 100,000 credentials).
        """
        if self._sweep_at >= len(self._sweep_keys):
            self._sweep_keys = list(self._credentials)
            self._sweep_at = 0
        end = self._sweep_at + self._sweep_every
        credentials = self._credentials
        for key in self._sweep_keys[self._sweep_at : end]:
            cred = credentials.get(key)
            if cred is not None and cred.queue is None and cred.idle(now):
                del credentials[key]
        self._sweep_at = end
