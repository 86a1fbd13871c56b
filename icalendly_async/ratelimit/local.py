"""The in-process limiter: one bucket per credential, FIFO, paced to the service's window.

Why a sliding log and not a plain token bucket (DESIGN.md, "The limiter's arithmetic"): the
service counts a fixed window that opens at a credential's first request and blocks it for 60 s
after an overrun. A token bucket with burst ``B`` and rate ``r`` admits ``B + r·W`` per window, so
aiolimiter's ``AsyncLimiter(L, W)`` lets about ``2L`` through the first window, and the safe bucket
(``B = 1``) spreads a burst of ``N`` over ``(N-1)·W/L`` instead of ``(ceil(N/L)-1)·W``. The log of
the last ``L`` start times is both safe (never more than ``L`` starts in any window of
``W + margin``) and ideal (``L`` at once, ``L`` more as each window ends). It is the default,
``pacing="window"``. ``pacing="smooth"`` paces through aiolimiter's bucket with burst 1 and rate
``(L-1)/(W+margin)`` for users who want even spacing rather than bursts.

Three more rules sit on top of the pacing:

* **calibration**: a credential we have not heard from may already be partly spent (another
  process, a restart) or limited lower than configured, so its first request goes out alone and
  the rest wait for that response's ``X-RateLimit-*`` headers (or ``calibration_timeout``);
* **server feedback**: every response's headers set a budget per named limit (``Remaining``
  minus requests still in flight) until its ``Reset``; ``Remaining: 0`` holds the credential until
  then, and a ``Limit`` that differs from the configured one replaces it;
* **penalties**: after a 429 the credential is held for the block the server announced.

One coroutine per credential (the head of its FIFO) sleeps on a timer; the others wait on their
own future and are woken one by one, so 10,000 waiting calls cost one timer. A call cancelled
while waiting takes nothing with it. Idle buckets are evicted, so memory follows the credentials
in use, not every credential ever seen.
"""

from __future__ import annotations

import asyncio
import collections
import enum
from typing import Literal

from aiolimiter import AsyncLimiter

from ..errors import ConfigurationError
from .headers import RateLimit, RateLimitState

__all__ = ["BucketSnapshot", "LocalLimiter"]

Pacing = Literal["window", "smooth"]


class _Calibration(enum.IntEnum):
    FRESH = 0  # never heard from the server: the next grant is a probe
    PROBING = 1  # the probe is out; others wait for its headers
    CALIBRATED = 2


class BucketSnapshot:
    """A read-only look at one credential's bucket (for tests and diagnostics)."""

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
            f"in_flight={self.in_flight}, "
            f"recent_starts={self.recent_starts}, hold_remaining={self.hold_remaining:.3f})"
        )


class _Bucket:
    __slots__ = (
        "budgets",
        "calibration",
        "config",
        "hold_until",
        "in_flight",
        "log",
        "margin",
        "prepaid",
        "probe_started",
        "server_limit",
        "smooth",
        "waiters",
        "wakeup",
        "window",
    )

    def __init__(self, config: RateLimit, margin: float, smooth: bool) -> None:
        self.config = config
        self.window = config.window_seconds
        self.margin = margin
        self.server_limit: int | None = None
        self.log: list[float] = []  # start times, ascending; only the last `limit` matter
        self.waiters: collections.deque[asyncio.Future[None]] = collections.deque()
        self.wakeup: asyncio.Future[None] | None = None
        self.in_flight = 0
        self.hold_until = 0.0
        self.budgets: dict[str, list[float]] = {}  # name -> [budget, reset_at]
        self.calibration = _Calibration.FRESH
        self.probe_started = 0.0
        self.smooth: AsyncLimiter | None = _smooth_bucket(config, margin) if smooth else None
        self.prepaid = False

    @property
    def limit(self) -> int:
        return self.server_limit or self.config.limit

    def reconfigure(self, config: RateLimit, margin: float) -> None:
        self.config = config
        self.window = config.window_seconds
        self.margin = margin
        if self.smooth is not None:
            self.smooth = _smooth_bucket(config, margin)

    def delay(self, now: float, cost: int, calibration_timeout: float) -> float:
        """Seconds until ``cost`` more starts are allowed (0: now)."""
        wait = self.hold_until - now
        if self.calibration is _Calibration.PROBING:
            probe_wait = self.probe_started + calibration_timeout - now
            if probe_wait <= 0:
                self.calibration = _Calibration.CALIBRATED  # the probe is slow; go on without it
            elif probe_wait > wait:
                wait = probe_wait
        limit = self.limit
        if cost > limit:
            raise ConfigurationError(
                f"a request of cost {cost} can never start under a limit of {limit} per window"
            )
        log = self.log
        index = len(log) - (limit - cost) - 1
        if index >= 0:
            free_at = log[index] + self.window + self.margin
            if free_at - now > wait:
                wait = free_at - now
        if self.budgets:
            for name, (budget, reset_at) in list(self.budgets.items()):
                if now >= reset_at:
                    del self.budgets[name]
                elif budget < cost and reset_at - now > wait:
                    wait = reset_at - now
        return wait

    def commit(self, now: float, cost: int, calibrate: bool) -> None:
        log = self.log
        if calibrate:
            if (
                self.calibration is _Calibration.CALIBRATED
                and log
                and (log[-1] + self.window + self.margin < now)
            ):
                # Idle for a whole window: what the server has seen since is unknown again.
                self.calibration = _Calibration.FRESH
            if self.calibration is _Calibration.FRESH:
                self.calibration = _Calibration.PROBING
                self.probe_started = now
        log.extend([now] * cost)
        keep = max(self.limit, 1)
        if len(log) >= 2 * keep:
            del log[: len(log) - keep]
        for entry in self.budgets.values():
            entry[0] -= cost
        self.in_flight += 1
        self.prepaid = False

    def wake(self) -> None:
        if self.wakeup is not None and not self.wakeup.done():
            self.wakeup.set_result(None)

    def idle(self, now: float) -> bool:
        return (
            not self.waiters
            and self.in_flight == 0
            and now >= self.hold_until
            and (not self.log or self.log[-1] + self.window + self.margin <= now)
        )


def _smooth_bucket(config: RateLimit, margin: float) -> AsyncLimiter:
    # Burst 1, one start every (W + margin) / (L - 1) seconds: at most L in any window.
    spacing = (config.window_seconds + margin) / max(config.limit - 1, 1)
    return AsyncLimiter(1, spacing)


def _set_if_pending(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_result(None)


def default_margin(window_seconds: float) -> float:
    """The default safety margin per window: 2% of it, at most 250 ms."""
    return min(0.25, 0.02 * window_seconds)


class LocalLimiter:
    """The default :class:`~icalendly_async.ratelimit.Limiter`: a bucket per credential, in process.

    ``margin`` (seconds added to each window; default 2% of the window, at most 0.25 s) absorbs
    the difference between when we start a request and when the server counts it.
    ``calibrate`` sends a new credential's first request alone (see the module docs).
    Buckets idle for a whole window are dropped every ``sweep_every`` acquisitions.
    """

    def __init__(
        self,
        *,
        pacing: Pacing = "window",
        margin: float | None = None,
        calibrate: bool = True,
        calibration_timeout: float = 5.0,
        sweep_every: int = 4096,
    ) -> None:
        if pacing not in ("window", "smooth"):
            raise ConfigurationError(f"pacing must be 'window' or 'smooth', got {pacing!r}")
        if margin is not None and not margin >= 0:
            raise ConfigurationError(f"margin must be >= 0 seconds, got {margin!r}")
        if not calibration_timeout > 0:
            raise ConfigurationError("calibration_timeout must be > 0 seconds")
        self._pacing: Pacing = pacing
        self._margin = margin
        self._calibrate = calibrate
        self._calibration_timeout = calibration_timeout
        self._sweep_every = max(1, sweep_every)
        self._buckets: dict[str, _Bucket] = {}
        self._acquisitions = 0

    def __len__(self) -> int:
        """How many credentials have a bucket now."""
        return len(self._buckets)

    def __repr__(self) -> str:
        return f"LocalLimiter(pacing={self._pacing!r}, buckets={len(self._buckets)})"

    def _margin_for(self, config: RateLimit) -> float:
        return self._margin if self._margin is not None else default_margin(config.window_seconds)

    def _bucket(self, key: str, config: RateLimit) -> _Bucket:
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = _Bucket(config, self._margin_for(config), self._pacing == "smooth")
            if not self._calibrate:
                bucket.calibration = _Calibration.CALIBRATED
            self._buckets[key] = bucket
        elif bucket.config is not config and bucket.config != config:
            bucket.reconfigure(config, self._margin_for(config))
        return bucket

    async def acquire(self, key: str, rate_limit: RateLimit, cost: int = 1) -> None:
        loop = asyncio.get_running_loop()
        self._acquisitions += 1
        if self._acquisitions % self._sweep_every == 0:
            self._sweep(loop.time())
        bucket = self._bucket(key, rate_limit)
        if not bucket.waiters:
            now = loop.time()
            if bucket.delay(now, cost, self._calibration_timeout) <= 0 and (
                bucket.smooth is None or bucket.smooth.has_capacity(cost)
            ):
                if bucket.smooth is not None:
                    await bucket.smooth.acquire(cost)  # has capacity: returns without waiting
                bucket.commit(now, cost, self._calibrate)
                return
        await self._wait(bucket, cost, loop)

    async def _wait(self, bucket: _Bucket, cost: int, loop: asyncio.AbstractEventLoop) -> None:
        turn: asyncio.Future[None] = loop.create_future()
        bucket.waiters.append(turn)
        if len(bucket.waiters) == 1:
            turn.set_result(None)
        try:
            await turn  # our turn at the head of the FIFO
            while True:
                now = loop.time()
                wait = bucket.delay(now, cost, self._calibration_timeout)
                if wait <= 0 and bucket.smooth is not None and not bucket.prepaid:
                    await bucket.smooth.acquire(cost)  # even spacing, aiolimiter's bucket
                    bucket.prepaid = True
                    continue  # constraints may have changed while we waited
                if wait <= 0:
                    break
                wakeup = bucket.wakeup = loop.create_future()
                timer = loop.call_later(wait, _set_if_pending, wakeup)
                try:
                    await wakeup
                finally:
                    timer.cancel()
                    bucket.wakeup = None
            bucket.commit(now, cost, self._calibrate)
        finally:
            self._next_turn(bucket, turn)

    @staticmethod
    def _next_turn(bucket: _Bucket, turn: asyncio.Future[None]) -> None:
        waiters = bucket.waiters
        if not waiters or waiters[0] is not turn:
            return  # cancelled before its turn: skipped when the head reaches it
        waiters.popleft()
        while waiters and waiters[0].done():
            waiters.popleft()  # cancelled while waiting
        if waiters:
            waiters[0].set_result(None)

    async def observe(self, key: str, state: RateLimitState) -> None:
        bucket = self._buckets.get(key)
        if bucket is None:
            return
        if bucket.in_flight > 0:
            bucket.in_flight -= 1
        if not state.received:
            if bucket.calibration is _Calibration.PROBING:
                bucket.calibration = _Calibration.FRESH  # the probe taught us nothing
            bucket.wake()
            return
        if bucket.calibration is _Calibration.PROBING:
            bucket.calibration = _Calibration.CALIBRATED
        if state.limits:
            self._apply(bucket, state, asyncio.get_running_loop().time())
        bucket.wake()

    @staticmethod
    def _apply(bucket: _Bucket, state: RateLimitState, now: float) -> None:
        for named in state.limits:
            name = named.name.lower()
            if name == "default" and named.limit is not None:
                bucket.server_limit = None if named.limit == bucket.config.limit else named.limit
            if named.remaining is None or named.reset_seconds is None:
                continue
            budget = float(named.remaining - bucket.in_flight)
            reset_at = now + named.reset_seconds + bucket.margin
            entry = bucket.budgets.get(name)
            if (
                entry is not None
                and now < entry[1]
                and abs(reset_at - entry[1]) < 1.0 + bucket.margin
            ):
                # The same server window: keep the most conservative view. Responses can arrive
                # out of order, so a later one may carry an older (higher) Remaining.
                entry[0] = min(entry[0], budget)
                entry[1] = min(entry[1], reset_at)
            else:
                bucket.budgets[name] = [budget, reset_at]

    async def penalize(self, key: str, seconds: float) -> None:
        bucket = self._buckets.get(key)
        if bucket is None:
            return
        until = asyncio.get_running_loop().time() + max(0.0, seconds) + bucket.margin
        if until > bucket.hold_until:
            bucket.hold_until = until
        bucket.budgets.clear()
        bucket.wake()

    def snapshot(self, key: str) -> BucketSnapshot | None:
        """What the bucket of ``key`` holds now, or ``None`` if it has none."""
        bucket = self._buckets.get(key)
        if bucket is None:
            return None
        now = asyncio.get_running_loop().time()
        horizon = now - bucket.window - bucket.margin
        return BucketSnapshot(
            limit=bucket.limit,
            waiting=sum(1 for w in bucket.waiters if not w.done() or w is bucket.waiters[0]),
            in_flight=bucket.in_flight,
            recent_starts=sum(1 for t in bucket.log if t > horizon),
            hold_remaining=max(0.0, bucket.hold_until - now),
        )

    def _sweep(self, now: float) -> None:
        idle = [key for key, bucket in self._buckets.items() if bucket.idle(now)]
        for key in idle:
            del self._buckets[key]
