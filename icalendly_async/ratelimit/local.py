"""The in-process limiter: one bucket per credential, paced to the service's window.

Why a sliding log and not a plain token bucket (DESIGN.md, "The limiter's arithmetic"): the
service counts a fixed window that opens at a credential's first request and blocks it for 60 s
after an overrun. A token bucket with burst ``B`` and rate ``r`` admits ``B + r·W`` per window, so
aiolimiter's ``AsyncLimiter(L, W)`` lets about ``2L`` through the first window, and the safe bucket
(``B = 1``) spreads a burst of ``N`` over ``(N-1)·W/L`` instead of ``(ceil(N/L)-1)·W``. The log of
the last ``L`` start times is both safe (never more than ``L`` starts in any window of
``W + margin``) and ideal (``L`` at once, ``L`` more as each window ends). It is the default,
``pacing="window"``. ``pacing="smooth"`` adds aiolimiter's bucket with burst 1 and rate
``(L-1)/(W+margin)`` for users who want even spacing rather than bursts.

On top of the pacing:

* **calibration**: a credential we have not heard from may already be partly spent (another
  process, a restart) or limited lower than configured, so its first request goes out alone and
  the rest wait for that response's ``X-RateLimit-*`` headers (or ``calibration_timeout``);
* **server feedback**: every response's headers set a budget per named limit (``Remaining``
  minus requests still in flight) until its ``Reset``; ``Remaining: 0`` holds the credential until
  then, and a ``Limit`` that differs from the configured one replaces it;
* **penalties**: after a 429 the credential is held for the block the server announced;
* **priorities**: waiting calls are granted ``INTERACTIVE`` before ``NORMAL`` before ``BULK``,
  FIFO within a class; every ``aging`` seconds a call waits (default two windows) it counts one
  class higher, so nothing starves; ``bulk_share`` caps ``BULK`` starts per window.

A call that finds its credential free and nobody waiting is granted at once, without a task or a
future. Otherwise it queues, and one dispatcher task per busy credential grants the queue in
order, sleeping on a single timer; a call cancelled while queued takes nothing with it, and one
cancelled just after its grant gives the slot back. Idle buckets are evicted, so memory follows
the credentials in use.
"""

from __future__ import annotations

import asyncio
import bisect
import collections
import enum
import math
from typing import Literal

from aiolimiter import AsyncLimiter

from ..errors import ConfigurationError
from .headers import MAX_TRACKED_LIMITS, RateLimit, RateLimitState, forget_oldest
from .priority import Priority

__all__ = ["BucketSnapshot", "LocalLimiter", "default_margin"]

Pacing = Literal["window", "smooth"]
_CLASSES = len(Priority)


class _Calibration(enum.IntEnum):
    FRESH = 0  # never heard from the server: the next grant is a probe
    PROBING = 1  # the probe is out; others wait for its headers
    CALIBRATED = 2


def default_margin(window_seconds: float) -> float:
    """The default safety margin per window: 2% of it, at most 250 ms."""
    return min(0.25, 0.02 * window_seconds)


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
            f"in_flight={self.in_flight}, recent_starts={self.recent_starts}, "
            f"hold_remaining={self.hold_remaining:.3f})"
        )


class _Waiter:
    __slots__ = ("bulk", "cost", "future", "granted_at", "head_at", "priority", "since")

    def __init__(
        self, future: asyncio.Future[None], cost: int, priority: int, since: float
    ) -> None:
        self.future = future
        self.cost = cost
        self.priority = priority
        self.bulk = priority == Priority.BULK
        self.since = since
        self.granted_at = 0.0
        self.head_at: float | None = None  # when it became the first of its class's queue


class _Bucket:
    __slots__ = (
        "budgets",
        "bulk_log",
        "calibration",
        "config",
        "dispatcher",
        "fixed_margin",
        "hold_until",
        "in_flight",
        "log",
        "margin",
        "prepaid",
        "probe_started",
        "queues",
        "server_limit",
        "server_window",
        "smooth",
        "waiting",
        "wakeup",
        "window",
    )

    def __init__(
        self, config: RateLimit, margin: float | None, smooth: bool, calibrated: bool
    ) -> None:
        self.config = config
        self.fixed_margin = margin  # None: default_margin() of the window in force
        self.window = config.window_seconds
        self.margin = margin if margin is not None else default_margin(self.window)
        self.server_limit: int | None = None
        self.server_window = 0.0  # the longest Reset announced: a window's first answer says W
        self.log: list[float] = []  # start times, ascending; only the last `limit` matter
        self.bulk_log: list[float] | None = None  # BULK start times, when a bulk share is set
        self.queues: list[collections.deque[_Waiter]] | None = None  # one per Priority, lazily
        self.waiting = 0
        self.dispatcher: asyncio.Task[None] | None = None
        self.wakeup: asyncio.Future[None] | None = None
        self.in_flight = 0
        self.hold_until = 0.0
        self.budgets: dict[str, list[float]] | None = None  # name -> [budget, reset_at]
        self.calibration = _Calibration.CALIBRATED if calibrated else _Calibration.FRESH
        self.probe_started = 0.0
        self.smooth: AsyncLimiter | None = _smooth_bucket(config, self.margin) if smooth else None
        self.prepaid = False

    @property
    def limit(self) -> int:
        return self.server_limit or self.config.limit

    def reconfigure(self, config: RateLimit) -> None:
        self.config = config
        self._set_window()
        if self.smooth is not None:
            self.smooth = _smooth_bucket(config, self.margin)

    def follow_server(self, limit: int, remaining: int | None, reset: float | None) -> None:
        """The server's ``Limit`` replaces the configured one; so does its window.

        The server does not send its window, but a window's first answer announces all of it
        as ``Reset``: the longest ``Reset`` seen outside a block (``Remaining`` > 0) is the
        window. It is used only when the server's limit differs from the configured one, since
        then the configured window is known to describe another limit.
        """
        self.server_limit = None if limit == self.config.limit else limit
        if reset is not None and remaining is not None and remaining > 0:
            self.server_window = max(self.server_window, reset)
        self._set_window()

    def _set_window(self) -> None:
        if self.server_limit is not None and self.server_window > 0:
            self.window = self.server_window
        else:
            self.window = self.config.window_seconds
        fixed = self.fixed_margin
        self.margin = fixed if fixed is not None else default_margin(self.window)

    def delay(self, now: float, cost: int, calibration_timeout: float, bulk_cap: int) -> float:
        """Seconds until ``cost`` more starts are allowed (0: now).

        ``bulk_cap`` (>= 0) is the most BULK starts allowed per window, for a BULK call.
        """
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
        span = self.window + self.margin
        log = self.log
        index = len(log) - (limit - cost) - 1
        if index >= 0 and log[index] + span - now > wait:
            wait = log[index] + span - now
        if bulk_cap >= 0:
            bulk_log = self.bulk_log or []
            if cost > bulk_cap:
                raise ConfigurationError(
                    f"a BULK request of cost {cost} can never start under a bulk share of "
                    f"{bulk_cap} per window"
                )
            index = len(bulk_log) - (bulk_cap - cost) - 1
            if index >= 0 and bulk_log[index] + span - now > wait:
                wait = bulk_log[index] + span - now
        if self.budgets:
            budget_wait = self.budget_wait(now, cost)
            if budget_wait > wait:
                wait = budget_wait
        return wait

    def budget_wait(self, now: float, cost: int) -> float:
        """Seconds until every server budget in force has ``cost`` left (expired ones go)."""
        budgets = self.budgets
        assert budgets is not None
        wait = 0.0
        expired = None
        for name, (budget, reset_at) in budgets.items():
            if now >= reset_at:
                expired = [name] if expired is None else [*expired, name]
            elif budget < cost and reset_at - now > wait:
                wait = reset_at - now
        for name in expired or ():
            del budgets[name]
        return wait

    def commit(self, now: float, cost: int, calibrate: bool, bulk: bool) -> None:
        log = self.log
        if calibrate and self.calibration is not _Calibration.PROBING:
            if (
                self.calibration is _Calibration.CALIBRATED
                and log
                and log[-1] + self.window + self.margin < now
            ):
                # Idle for a whole window: what the server has seen since is unknown again.
                self.calibration = _Calibration.FRESH
            if self.calibration is _Calibration.FRESH:
                self.calibration = _Calibration.PROBING
                self.probe_started = now
        if cost == 1:
            log.append(now)
            if len(log) >= 2 * (self.server_limit or self.config.limit):
                del log[: len(log) - self.limit]
        else:
            _append(log, now, cost, self.limit)
        if bulk and self.bulk_log is not None:
            _append(self.bulk_log, now, cost, self.limit)
        if self.budgets:
            for entry in self.budgets.values():
                entry[0] -= cost
        self.in_flight += 1
        self.prepaid = False

    def restamp(self, granted: float, started: float, cost: int, bulk: bool) -> None:
        """A queued call granted at ``granted`` resumed at ``started``: pace from that time.

        A loaded event loop (a GC pause, a long callback) can resume the calls of a burst well
        after their grant; stamped at grant time, the next burst could then be granted less
        than a window after those calls actually went out.
        """
        for log in (self.log, self.bulk_log if bulk else None):
            if log is None:
                continue
            for _ in range(cost):
                index = bisect.bisect_left(log, granted)
                if index < len(log) and log[index] == granted:
                    del log[index]
                    bisect.insort(log, started)

    def give_back(self, when: float, cost: int, bulk: bool) -> None:
        """Undo a grant whose call was cancelled before it could send anything."""
        _remove(self.log, when, cost)
        if bulk and self.bulk_log is not None:
            _remove(self.bulk_log, when, cost)
        if self.budgets:
            for entry in self.budgets.values():
                entry[0] += cost
        if self.in_flight > 0:
            self.in_flight -= 1

    def wake(self) -> None:
        if self.wakeup is not None and not self.wakeup.done():
            self.wakeup.set_result(None)

    def idle(self, now: float) -> bool:
        return (
            self.waiting == 0
            and self.dispatcher is None
            and self.in_flight == 0
            and now >= self.hold_until
            and (not self.log or self.log[-1] + self.window + self.margin <= now)
        )


def _append(log: list[float], now: float, cost: int, keep: int) -> None:
    log.extend([now] * cost)
    if len(log) >= 2 * max(keep, 1):
        del log[: len(log) - keep]


def _remove(log: list[float], when: float, cost: int) -> None:
    for _ in range(cost):
        for i in range(len(log) - 1, -1, -1):
            if log[i] == when:
                del log[i]
                break


def _smooth_bucket(config: RateLimit, margin: float) -> AsyncLimiter:
    # Burst 1, one start every (W + margin) / (L - 1) seconds: at most L in any window.
    spacing = (config.window_seconds + margin) / max(config.limit - 1, 1)
    return AsyncLimiter(1, spacing)


def _set_if_pending(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_result(None)


class LocalLimiter:
    """The default :class:`~icalendly_async.ratelimit.Limiter`: a bucket per credential.

    ``margin`` (seconds added to each window; default 2% of the window, at most 0.25 s) absorbs
    the difference between when we start a request and when the server counts it.
    ``calibrate`` sends a new credential's first request alone (see the module docs).
    ``aging`` (seconds; default two windows): each time a call has waited this long, it is served
    as one priority class higher. ``bulk_share`` (0 < share <= 1) lets ``BULK`` calls use at
    most that share of each window, keeping the rest for everyone else.
    Buckets idle for a whole window are dropped every ``sweep_every`` acquisitions.
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
    ) -> None:
        if pacing not in ("window", "smooth"):
            raise ConfigurationError(f"pacing must be 'window' or 'smooth', got {pacing!r}")
        if margin is not None and not margin >= 0:
            raise ConfigurationError(f"margin must be >= 0 seconds, got {margin!r}")
        if not calibration_timeout > 0:
            raise ConfigurationError("calibration_timeout must be > 0 seconds")
        if aging is not None and not aging > 0:
            raise ConfigurationError(f"aging must be > 0 seconds, got {aging!r}")
        if bulk_share is not None and not 0 < bulk_share <= 1:
            raise ConfigurationError(
                f"bulk_share must be a fraction in (0, 1], e.g. 0.8; got {bulk_share!r}"
            )
        self._pacing: Pacing = pacing
        self._margin = margin
        self._calibrate = calibrate
        self._calibration_timeout = calibration_timeout
        self._aging = aging
        self._bulk_share = bulk_share
        self._sweep_every = max(1, sweep_every)
        self._buckets: dict[str, _Bucket] = {}
        self._acquisitions = 0
        self._sweep_keys: list[str] = []  # the pass of the sweep in progress
        self._sweep_at = 0

    def __len__(self) -> int:
        """How many credentials have a bucket now."""
        return len(self._buckets)

    def __repr__(self) -> str:
        return f"LocalLimiter(pacing={self._pacing!r}, buckets={len(self._buckets)})"

    def _take_bucket(self, key: str, rate_limit: RateLimit, now: float) -> _Bucket:
        """Count one acquisition (every ``sweep_every``-th sweeps idle buckets out) and return
        ``key``'s bucket, created or set up for ``rate_limit``."""
        self._acquisitions += 1
        if self._acquisitions % self._sweep_every == 0:
            self._sweep(now)
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = _Bucket(
                rate_limit, self._margin, self._pacing == "smooth", not self._calibrate
            )
            if self._bulk_share is not None:
                bucket.bulk_log = []
            self._buckets[key] = bucket
        elif bucket.config is not rate_limit and bucket.config != rate_limit:
            bucket.reconfigure(rate_limit)
        return bucket

    def _bulk_cap(self, bucket: _Bucket, bulk: bool) -> int:
        if not bulk or self._bulk_share is None:
            return -1
        return max(1, math.floor(bucket.limit * self._bulk_share))

    # -- the protocol ---------------------------------------------------------------------------

    def try_acquire(self, key: str, rate_limit: RateLimit, priority: int = Priority.NORMAL) -> bool:
        """Take one request of ``key`` if it is free right now, without waiting.

        ``True`` counts the request as started, exactly as a returned :meth:`acquire` does (an
        :meth:`observe` must follow). ``False`` takes nothing (the try counts only towards
        sweeping idle buckets): call :meth:`acquire`. The session tries this first, which
        spares a coroutine per call when nothing is waiting. Call it from the event loop's
        thread.
        """
        now = asyncio.get_running_loop().time()
        bucket = self._take_bucket(key, rate_limit, now)
        if bucket.waiting or bucket.smooth is not None or priority == Priority.BULK:
            return False
        # Free now if the call `limit` starts back is out of the window, nothing holds the
        # credential and every server budget has a request left.
        log = bucket.log
        index = len(log) - (bucket.server_limit or bucket.config.limit)
        if (
            (index < 0 or log[index] + bucket.window + bucket.margin <= now)
            and bucket.hold_until <= now
            and bucket.calibration is not _Calibration.PROBING
            and (bucket.budgets is None or bucket.budget_wait(now, 1) <= 0)
        ):
            bucket.commit(now, 1, self._calibrate, False)
            return True
        return False

    async def acquire(
        self, key: str, rate_limit: RateLimit, cost: int = 1, *, priority: int = Priority.NORMAL
    ) -> None:
        if cost == 1 and self.try_acquire(key, rate_limit, priority):
            return
        loop = asyncio.get_running_loop()
        if cost == 1:
            bucket = self._buckets[key]  # counted and set up by try_acquire
        else:
            bucket = self._take_bucket(key, rate_limit, loop.time())
        bulk = priority == Priority.BULK
        now = loop.time()
        if (
            bucket.waiting == 0
            and bucket.delay(now, cost, self._calibration_timeout, self._bulk_cap(bucket, bulk))
            <= 0
            and (bucket.smooth is None or bucket.smooth.has_capacity(cost))
        ):
            if bucket.smooth is not None:
                await bucket.smooth.acquire(cost)  # has capacity: returns without waiting
            bucket.commit(now, cost, self._calibrate, bulk)
            return
        await self._queue(bucket, cost, priority, loop)

    async def _queue(
        self, bucket: _Bucket, cost: int, priority: int, loop: asyncio.AbstractEventLoop
    ) -> None:
        if not 0 <= priority < _CLASSES:
            raise ConfigurationError(f"priority must be a Priority, got {priority!r}")
        future: asyncio.Future[None] = loop.create_future()
        waiter = _Waiter(future, cost, int(priority), loop.time())
        if bucket.queues is None:
            bucket.queues = [collections.deque() for _ in range(_CLASSES)]
        bucket.queues[waiter.priority].append(waiter)
        bucket.waiting += 1
        if bucket.dispatcher is None:
            bucket.dispatcher = loop.create_task(self._dispatch(bucket))
        else:
            bucket.wake()  # a new call may outrank the one the dispatcher is waiting for
        try:
            await future
            started = loop.time()
            if started > waiter.granted_at:
                bucket.restamp(waiter.granted_at, started, cost, waiter.bulk)
        except asyncio.CancelledError:
            if future.done() and not future.cancelled():
                if future.exception() is None:
                    # Granted, but cancelled before it could use the grant: give the slot back.
                    bucket.give_back(waiter.granted_at, cost, waiter.bulk)
                    bucket.wake()
            else:
                future.cancel()  # still queued: the dispatcher skips it
                bucket.waiting -= 1
                bucket.wake()
            raise

    def _pick(self, bucket: _Bucket, now: float) -> _Waiter | None:
        """The next call to grant: highest effective class, then longest waiting."""
        queues = bucket.queues
        if queues is None:
            return None
        aging = self._aging if self._aging is not None else 2 * bucket.window
        best: _Waiter | None = None
        best_rank = (_CLASSES, math.inf)
        for queue in queues:
            while queue and queue[0].future.done():
                queue.popleft()  # cancelled while queued
            if not queue:
                continue
            head = queue[0]
            if head.head_at is None:
                head.head_at = now
            # One class higher for every `aging` seconds spent first in its class's queue: a
            # BULK call passed over by a steady INTERACTIVE stream outranks it after two bounds,
            # so nothing starves, while a bulk backlog as a whole stays behind interactive calls
            # (only its first call ages, and its clock starts when it reaches the front).
            effective = head.priority - int((now - head.head_at) // aging)
            rank = (max(effective, 0), head.since)
            if rank < best_rank:
                best, best_rank = head, rank
        return best

    async def _dispatch(self, bucket: _Bucket) -> None:
        loop = asyncio.get_running_loop()
        try:
            while bucket.waiting > 0:
                now = loop.time()
                waiter = self._pick(bucket, now)
                if waiter is None:
                    break
                try:
                    wait = bucket.delay(
                        now,
                        waiter.cost,
                        self._calibration_timeout,
                        self._bulk_cap(bucket, waiter.bulk),
                    )
                except ConfigurationError as exc:
                    self._remove(bucket, waiter)
                    waiter.future.set_exception(exc)
                    continue
                if wait <= 0 and bucket.smooth is not None and not bucket.prepaid:
                    await bucket.smooth.acquire(waiter.cost)  # even spacing, aiolimiter's bucket
                    bucket.prepaid = True
                    continue  # someone of a higher class may have arrived meanwhile
                if wait > 0:
                    await self._sleep(bucket, wait, loop)
                    continue
                self._remove(bucket, waiter)
                bucket.commit(now, waiter.cost, self._calibrate, waiter.bulk)
                waiter.granted_at = now
                waiter.future.set_result(None)
        finally:
            bucket.dispatcher = None
            if bucket.waiting == 0:
                bucket.queues = None

    @staticmethod
    def _remove(bucket: _Bucket, waiter: _Waiter) -> None:
        assert bucket.queues is not None
        queue = bucket.queues[waiter.priority]
        if queue and queue[0] is waiter:
            queue.popleft()
        bucket.waiting -= 1

    @staticmethod
    async def _sleep(bucket: _Bucket, wait: float, loop: asyncio.AbstractEventLoop) -> None:
        wakeup = bucket.wakeup = loop.create_future()
        timer = loop.call_later(wait, _set_if_pending, wakeup)
        try:
            await wakeup
        finally:
            timer.cancel()
            bucket.wakeup = None

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
        if bucket.wakeup is not None:
            bucket.wake()

    @staticmethod
    def _apply(bucket: _Bucket, state: RateLimitState, now: float) -> None:
        for named in state.limits:
            name = named.name.lower()
            remaining, reset = named.remaining, named.reset_seconds
            # The server's Limit and window are followed when they say something new.
            if (
                name == "default"
                and named.limit is not None
                and (
                    named.limit != (bucket.server_limit or bucket.config.limit)
                    or reset is None
                    or reset > bucket.server_window
                )
            ):
                bucket.follow_server(named.limit, remaining, reset)
            if remaining is None or reset is None:
                continue
            budget = float(remaining - bucket.in_flight)
            reset_at = now + reset + bucket.margin
            budgets = bucket.budgets
            if budgets is None:
                budgets = bucket.budgets = {}
            entry = budgets.get(name)
            if (
                entry is not None
                and now < entry[1]
                and abs(reset_at - entry[1]) < 1.0 + bucket.margin
            ):
                # The same server window: keep the most conservative view. Responses can arrive
                # out of order, so a later one may carry an older (higher) Remaining.
                if budget < entry[0]:
                    entry[0] = budget
                if reset_at < entry[1]:
                    entry[1] = reset_at
            else:
                if name not in budgets and len(budgets) >= MAX_TRACKED_LIMITS:
                    forget_oldest(budgets)
                budgets[name] = [budget, reset_at]

    async def penalize(self, key: str, seconds: float) -> None:
        bucket = self._buckets.get(key)
        if bucket is None:
            return
        until = asyncio.get_running_loop().time() + max(0.0, seconds) + bucket.margin
        if until > bucket.hold_until:
            bucket.hold_until = until
        bucket.budgets = None
        bucket.wake()

    def hold_remaining(self, key: str) -> float:
        """Seconds ``key`` is held beyond ordinary pacing (0: not held): after a 429, or by a
        limit at ``Remaining: 0`` whose reset lies beyond a window (a daily limit, a proxy).

        The pipeline raises :class:`~icalendly_async.errors.RateLimitError` instead of waiting
        when this exceeds ``RetryPolicy.max_rate_limit_wait``.
        """
        bucket = self._buckets.get(key)
        if bucket is None:
            return 0.0
        now = asyncio.get_running_loop().time()
        wait = bucket.hold_until - bucket.margin - now
        if bucket.budgets:
            for budget, reset_at in bucket.budgets.values():
                if budget < 1 and reset_at - now > bucket.window + bucket.margin:
                    wait = max(wait, reset_at - bucket.margin - now)
        return wait if wait > 0.0 else 0.0

    # -- diagnostics ----------------------------------------------------------------------------

    def snapshot(self, key: str) -> BucketSnapshot | None:
        """What the bucket of ``key`` holds now, or ``None`` if it has none."""
        bucket = self._buckets.get(key)
        if bucket is None:
            return None
        now = asyncio.get_running_loop().time()
        horizon = now - bucket.window - bucket.margin
        return BucketSnapshot(
            limit=bucket.limit,
            waiting=bucket.waiting,
            in_flight=bucket.in_flight,
            recent_starts=sum(1 for t in bucket.log if t > horizon),
            hold_remaining=max(0.0, bucket.hold_until - now),
        )

    def _sweep(self, now: float) -> None:
        """Drop idle buckets, ``sweep_every`` of them looked at per call.

        One pass over all buckets is spread over many calls, so an acquisition pays for about
        one look at a bucket however many credentials there are (a full scan every
        ``sweep_every`` acquisitions would cost O(buckets) each time and stall the loop).
        """
        if self._sweep_at >= len(self._sweep_keys):
            self._sweep_keys = list(self._buckets)
            self._sweep_at = 0
        end = self._sweep_at + self._sweep_every
        buckets = self._buckets
        for key in self._sweep_keys[self._sweep_at : end]:
            bucket = buckets.get(key)
            if bucket is not None and bucket.idle(now):
                del buckets[key]
        self._sweep_at = end
