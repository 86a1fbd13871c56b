"""``RedisLimiter``: one credential's rate limit shared by every process and host, on Redis.

Eight workers of a bulk job, or sixteen web workers on four hosts, share one credential's 120
or 500 requests per minute. Each with its own :class:`~icalendly_async.ratelimit.LocalLimiter`
would let N times the limit through, and the service blocks the credential for 60 s after an
overrun. This limiter keeps the same sliding log as ``LocalLimiter`` (never more than ``limit``
starts in any window of ``window + margin``, ``limit`` at once and ``limit`` more as each window
ends; :mod:`._window` says why) in a Redis sorted set, and decides every grant in
one atomic Lua script (``_redis_lua.py``) on the server's clock. A denial writes nothing and
returns the exact wait, so a caller sleeps once instead of polling.

The rules are ``LocalLimiter``'s (:mod:`._window`; the Lua script is the same rule on Redis),
and so is the queue (:mod:`._dispatch`): in each process, one dispatcher task per busy
credential talks to Redis; the calls waiting on it are ordered by
:class:`~icalendly_async.ratelimit.Priority` (FIFO within a class, with the same aging) and
granted in batches of up to ``batch`` per script call, so a burst of waiting calls costs one
round trip per ``batch`` grants and one per wait, not a herd of pollers. A call cancelled after
its grant but before it could send gives its slot back (``ZREM``). The keys of a credential
share one Redis Cluster hash tag and expire when it goes idle. Create one limiter per process
(and event loop), after any fork.

On top of the log, as in ``LocalLimiter`` and now for the whole fleet at once:

* **calibration**: when nobody in the fleet has heard from the server for a window, the next
  grant is a probe that goes out alone; the fleet waits for its ``X-RateLimit-*`` headers (or
  ``calibration_timeout``). Other processes poll every ``probe_poll`` seconds while it is out.
* **server feedback**: ``observe`` writes a budget per named limit (``Remaining`` minus this
  process's requests in flight; the other processes' in-flight requests are unknown here, the
  log covers them) until its ``Reset``, and a server ``Limit`` that differs from the configured
  one. Concurrent answers of one process are coalesced into one write, and an answer that only
  echoes this process's own grants is not written at all (a steady trickle writes once per
  window).
* **penalties**: ``penalize`` (after a 429) holds the credential for every worker.

**When Redis fails** (refused, timed out after ``timeout`` seconds, or erroring), the policy is
the user's:

* ``fallback="raise"`` (the default, fail closed): waiting and new calls raise
  :class:`LimiterUnavailableError` (a ``TransportError``; nothing was sent). Sending without the
  shared log could overrun the limit for the whole fleet.
* ``fallback="local"`` with ``expected_workers=N``: the process paces itself with a
  ``LocalLimiter`` at ``limit // N`` per window until Redis answers again (checked at most every
  ``recheck_after`` seconds); its grants in the meantime are written into the log when it does.

Either way no call waits on a dead Redis longer than ``timeout`` seconds per attempt.

**Clock**: the log's times come from the Redis server's ``TIME`` (one clock for the fleet). A
server that refuses ``TIME`` in scripts (very old or restricted ones) is detected and the limiter
switches to each process's wall clock, clamped so it never runs behind the log;
``clock="client"`` forces it. Then the hosts' clocks must agree within the margin (NTP does).
``clock=`` a :class:`~icalendly_async._clock.Clock` (a ``VirtualClock`` in tests) runs the
limiter on that clock: its waits, and the log's times (as ``"client"`` does).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import math
import secrets
from collections.abc import Sequence
from types import TracebackType
from typing import Any, Literal

from .._clock import SYSTEM_CLOCK, Clock
from ..errors import ConfigurationError
from ..tokenstore_redis import RedisTokenStore
from . import _redis_lua as lua
from ._dispatch import CLASSES, CredentialHeld, Outcome, Queue, Waiter
from ._redis_common import (
    LimiterUnavailableError,
    RedisClient,
    RedisUnavailableError,
    TokenStoreUnavailableError,
    bounded,
    check_prefix,
    check_timeout,
    connect,
    credential_keys,
)
from ._redis_state import FALLBACK, Credential, Grant, RedisLimiterStats, UseFallback, View
from ._window import MARGIN_CAP, MARGIN_SHARE, Reason, WindowPolicy, check_cost
from .headers import MAX_TRACKED_LIMITS, RateLimit, RateLimitState, forget_oldest
from .local import LocalLimiter
from .priority import Priority

__all__ = [
    "LimiterUnavailableError",
    "RedisLimiter",
    "RedisLimiterStats",
    "RedisTokenStore",
    "RedisUnavailableError",
    "TokenStoreUnavailableError",
]

log = logging.getLogger("icalendly_async.ratelimit.redis")

Fallback = Literal["raise", "local"]
TimeSource = Literal["redis", "client"]

_US = 1_000_000
# The default margin's rule, for the grant script to apply to the server's window.
_MARGIN_RULE = f"{round(MARGIN_CAP * _US)}:{round(MARGIN_SHARE * _US)}"
_KEY_PARTS = ("log", "hold", "budgets", "limit", "cal", "bulk")


class RedisLimiter:
    """A :class:`~icalendly_async.ratelimit.Limiter` shared through Redis (see the module docs).

    ``redis``: a URL (``"redis://host:6379/0"``; the limiter creates the client and closes it
    in :meth:`aclose`) or a ``redis.asyncio.Redis`` / ``RedisCluster`` you own.
    ``prefix``: the start of every key. ``margin``: seconds added to each window (default 0.25 s,
    at most 1% of the window). ``calibrate``/``calibration_timeout``: the fleet-wide probe;
    ``probe_poll``: how often other processes look whether it is back.
    ``timeout``: seconds any one Redis call may take. ``fallback``/``expected_workers``: the
    failure policy. ``recheck_after``: after a failure, seconds before Redis is tried again
    (meanwhile calls fail fast or go to the fallback). ``clock``: ``"redis"`` (server ``TIME``),
    ``"client"`` (this host's wall clock) or a ``Clock``. ``aging``/``bulk_share``: priorities
    as in ``LocalLimiter``; the bulk share holds across the fleet. ``batch``: the most waiting
    calls one script call grants.
    """

    def __init__(
        self,
        redis: str | RedisClient,
        *,
        prefix: str = "icalendly:rl",
        margin: float | None = None,
        calibrate: bool = True,
        calibration_timeout: float = 5.0,
        probe_poll: float = 0.05,
        timeout: float = 2.0,
        fallback: Fallback = "raise",
        expected_workers: int | None = None,
        recheck_after: float = 1.0,
        clock: TimeSource | Clock = "redis",
        aging: float | None = None,
        bulk_share: float | None = None,
        batch: int = 64,
    ) -> None:
        self._timeout = check_timeout(timeout, "timeout")
        self._prefix = check_prefix(prefix)
        self._policy = WindowPolicy(
            margin=margin,
            calibrate=calibrate,
            calibration_timeout=calibration_timeout,
            aging=aging,
            bulk_share=bulk_share,
        )
        self._probe_poll = check_timeout(probe_poll, "probe_poll")
        self._recheck_after = check_timeout(recheck_after, "recheck_after")
        if fallback not in ("raise", "local"):
            raise ConfigurationError(f"fallback must be 'raise' or 'local', got {fallback!r}")
        if fallback == "local":
            if (
                isinstance(expected_workers, bool)
                or not isinstance(expected_workers, int)
                or expected_workers < 1
            ):
                raise ConfigurationError(
                    "fallback='local' needs expected_workers: how many processes share each "
                    "credential (each then paces itself at limit // expected_workers)"
                )
        elif expected_workers is not None:
            raise ConfigurationError("expected_workers only applies with fallback='local'")
        if isinstance(clock, str):
            if clock not in ("redis", "client"):
                raise ConfigurationError(
                    f"clock must be 'redis', 'client' or a Clock, got {clock!r}"
                )
            self._clock: Clock = SYSTEM_CLOCK
            self._server_time = clock == "redis"
        elif isinstance(clock, Clock):
            self._clock = clock
            self._server_time = False
        else:
            raise ConfigurationError(f"clock must be 'redis', 'client' or a Clock, got {clock!r}")
        if isinstance(batch, bool) or not isinstance(batch, int) or batch < 1:
            raise ConfigurationError(f"batch must be a whole number >= 1, got {batch!r}")
        self._client, self._owns_client = connect(redis, self._timeout)
        self._fallback: Fallback = fallback
        self._expected_workers = expected_workers or 1
        self._batch = batch
        self._grant = self._client.register_script(lua.GRANT)
        self._feedback = self._client.register_script(lua.FEEDBACK)
        self._penalize = self._client.register_script(lua.PENALIZE)
        self._release = self._client.register_script(lua.RELEASE)
        self._restamp = self._client.register_script(lua.RESTAMP)
        self._token = secrets.token_hex(6)  # this process's members: unique in the log
        self._sequence = itertools.count()
        self._credentials: dict[str, Credential] = {}
        self._acquisitions = 0
        self._sweep_every = 4096  # acquisitions between sweeps of idle credentials
        self._local: LocalLimiter | None = None
        self._backfill: set[str] = set()
        self._down_until = 0.0
        self._down_error: RedisUnavailableError | None = None
        self._background: set[asyncio.Task[Any]] = set()
        self._closed = False
        self.stats = RedisLimiterStats()

    def __repr__(self) -> str:
        return (
            f"RedisLimiter(prefix={self._prefix!r}, fallback={self._fallback!r}, "
            f"credentials={len(self._credentials)})"
        )

    @property
    def redis(self) -> RedisClient:
        """The Redis client in use."""
        return self._client

    @property
    def clock(self) -> Clock:
        """What this process's waits are measured on."""
        return self._clock

    # -- lifecycle ------------------------------------------------------------------------------

    async def __aenter__(self) -> RedisLimiter:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Stop the dispatchers, finish pending slot releases, close the client if ours."""
        if self._closed:
            return
        self._closed = True
        tasks: list[asyncio.Task[Any]] = []
        for cred in self._credentials.values():
            if cred.queue is not None:
                cred.queue.fail(lambda: LimiterUnavailableError("the RedisLimiter was closed"))
                if cred.queue.task is not None:
                    cred.queue.task.cancel()
                    tasks.append(cred.queue.task)
        tasks.extend(self._background)
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        if self._owns_client:
            await self._client.aclose()

    # -- keys and configuration -----------------------------------------------------------------

    def _credential(self, key: str, config: RateLimit) -> Credential:
        cred = self._credentials.get(key)
        if cred is None:
            keys = credential_keys(self._prefix, key, *_KEY_PARTS)
            cred = self._credentials[key] = Credential(keys, config, self._policy)
        elif cred.config is not config:
            cred.configure(config)  # it travels with every script call: it applies at once
        return cred

    def _queue(self, key: str, cred: Credential) -> Queue[Grant]:
        if cred.queue is None:

            def idle() -> None:
                queue = cred.queue
                if queue is not None and queue.waiting == 0 and queue.task is None:
                    cred.queue = None
                self._forget_if_idle(key, cred)

            cred.queue = Queue(
                _Grantor(self, key, cred),
                self._clock,
                aging=lambda: self._policy.aging_for(cred.window),
                batch=self._batch,
                stopped=lambda: LimiterUnavailableError("the RedisLimiter was stopped"),
                on_idle=idle,
            )
        return cred.queue

    @property
    def _margin_us(self) -> int:
        """The margin for the grant script: -1 means the default for the window in force."""
        margin = self._policy.margin
        return -1 if margin is None else math.ceil(margin * _US)

    def _sweep(self, now: float) -> None:
        idle = [key for key, cred in self._credentials.items() if cred.idle(now)]
        for key in idle:
            del self._credentials[key]

    def _forget_if_idle(self, key: str, cred: Credential) -> None:
        if cred.idle(self._clock.monotonic()) and self._credentials.get(key) is cred:
            del self._credentials[key]

    def _now_us(self) -> int:
        return math.floor(self._clock.time() * _US)

    async def _script(self, script: Any, keys: Sequence[str], args: Sequence[object]) -> Any:
        """One bounded script call; switches to the client clock if the server refuses TIME."""
        stats = self.stats
        if script is self._grant:
            stats.grant_calls += 1
        elif script is self._feedback:
            stats.feedback_calls += 1
        elif script is self._restamp:
            stats.restamp_calls += 1
        else:
            stats.penalty_calls += 1
        try:
            return await bounded(
                script(keys=keys, args=[self._now_us(), "1" if self._server_time else "0", *args]),
                self._timeout,
                "rate-limit script",
                LimiterUnavailableError,
            )
        except LimiterUnavailableError as exc:
            text = str(exc).lower()
            if self._server_time and (
                "non deterministic" in text or ("not allowed" in text and "script" in text)
            ):
                log.warning(
                    "Redis refuses TIME in scripts (%s); pacing on the hosts' clocks instead", exc
                )
                self._server_time = False
                return await self._script(script, keys, args)
            raise

    # -- the protocol ---------------------------------------------------------------------------

    def try_acquire(self, key: str, rate_limit: RateLimit, priority: int = Priority.NORMAL) -> bool:
        """Never grants without asking Redis: every grant is decided there, for the fleet."""
        return False

    def hold_remaining(self, key: str) -> float:
        """Seconds this process knows ``key`` to be held: after a 429 it saw, or a hold any
        worker of the fleet reported that a grant script answered; ``0.0`` when not held."""
        cred = self._credentials.get(key)
        return 0.0 if cred is None else cred.held(self._clock.monotonic())

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
        if self._closed:
            raise ConfigurationError("this RedisLimiter is closed")
        now = self._clock.monotonic()
        self._acquisitions += 1
        if self._acquisitions % self._sweep_every == 0:
            self._sweep(now)
        cred = self._credential(key, rate_limit)
        held = cred.held(now)
        if held > max_hold:
            raise CredentialHeld(held)
        if now < self._down_until:
            await self._use_fallback(key, cred, cost, priority)
            return
        grant = await self._queue(key, cred).wait(cost, priority, max_hold)
        if isinstance(grant, UseFallback):
            await self._use_fallback(key, cred, cost, priority)

    async def observe(self, key: str, state: RateLimitState) -> None:
        cred = self._credentials.get(key)
        if cred is None:
            return
        if cred.fallback_in_flight > 0:
            cred.fallback_in_flight -= 1
            if self._local is not None:
                await self._local.observe(key, state)
            if state.received and state.limits:
                self._merge_feedback(cred, state)  # written once Redis answers
            self._forget_if_idle(key, cred)
            return
        if cred.in_flight > 0:
            cred.in_flight -= 1
        probe = cred.probe
        if probe is not None:
            cred.probe = None
        if not state.received:
            if probe is not None:
                # The probe taught nothing: free the fleet to probe again.
                await self._write_feedback(cred, received=False, probe=probe)
        elif state.limits or probe is not None:
            if probe is not None:
                cred.probe_answered = True  # the fleet learns it is calibrated
            self._merge_feedback(cred, state)
            if cred.pending is not None and not cred.flushing:
                await self._flush_feedback(cred)
        if probe is not None and cred.queue is not None:
            # Our probe is back: the calls waiting for it may go. Other answers only ever
            # lengthen a wait, which the dispatcher learns at its next grant; waking it for
            # them would cost a Redis call each.
            cred.queue.wake()
        self._forget_if_idle(key, cred)

    async def penalize(self, key: str, seconds: float) -> None:
        cred = self._credentials.get(key)
        if cred is None:
            return
        now = self._clock.monotonic()
        hold = max(0.0, seconds) + cred.margin
        cred.hold_until = max(cred.hold_until, now + hold)  # this process, whatever Redis says
        cred.written.clear()  # the penalty clears the budgets in Redis
        if self._local is not None:
            await self._local.penalize(key, seconds)
        if now >= self._down_until:
            try:
                await self._script(self._penalize, cred.keys[1:3], [math.ceil(hold * _US)])
            except LimiterUnavailableError as exc:
                self._outage(exc)  # this process holds all the same
        if cred.queue is not None:
            cred.queue.wake()  # calls that may not wait that long fail now

    # -- granting (the dispatcher's side) -------------------------------------------------------

    async def _grant_batch(
        self, key: str, cred: Credential, batch: list[Waiter], now: float
    ) -> Outcome[Grant]:
        """One grant script for ``batch``: the members of each call granted, or the wait."""
        prefix = f"{self._token}:{next(self._sequence)}"
        share = self._policy.bulk_share if self._policy.bulk_share is not None else -1
        args: list[object] = [
            cred.config.limit,
            f"{math.ceil(cred.span * _US)}:{self._margin_us}:{_MARGIN_RULE}",
            "1" if self._policy.calibrate else "0",
            math.ceil(self._policy.calibration_timeout * _US),
            repr(float(share)),
            self._backfill_count(key),
            prefix,
        ]
        for waiter in batch:
            args.append(waiter.cost)
            args.append("1" if waiter.bulk else "0")
        try:
            reply = await self._script(self._grant, cred.keys, args)
        except asyncio.CancelledError:
            # The script may have granted before the cancellation reached us: give it back.
            every = [m for i, w in enumerate(batch) for m in _members(prefix, i, w.cost)]
            self._spawn(self._release_members(cred, every))
            raise
        self._backfill.discard(key)
        granted, wait_us, reason, _now, probe, _limit = (int(x) for x in reply)
        if granted < 0:
            error = ConfigurationError(
                f"a request of cost {batch[0].cost} can never start under the server's limit "
                "for this credential"
            )
            return Outcome([], refusals=[error])
        grants: list[Grant] = [_members(prefix, i, batch[i].cost) for i in range(granted)]
        cred.in_flight += granted
        cred.grants += granted
        cred.last_grant = now
        self.stats.grants += granted
        if probe == 1 and grants:
            cred.probe = grants[0][0]  # type: ignore[index]
        wait, why = wait_us / _US, Reason(reason)
        held = 0.0
        if why is Reason.HOLD:  # a hold any worker of the fleet reported
            cred.hold_until = max(cred.hold_until, now + wait)
            held = cred.held(now)
        elif why is Reason.PROBE and cred.probe is None:
            wait = min(wait, self._probe_poll)  # another process's probe is out: look again
        return Outcome(grants, wait, why, held)

    def _outage_outcome(self, batch: list[Waiter]) -> Outcome[Grant]:
        """What waiting calls get while Redis is down: the fallback, or the error."""
        if self._fallback == "local":
            return Outcome([FALLBACK for _ in batch])
        error = self._down_error or LimiterUnavailableError("Redis is unavailable")
        return Outcome([], refusals=[self._closed_error(error) for _ in batch])

    def _backfill_count(self, key: str) -> int:
        """After an outage: how many starts the local fallback made in the last window."""
        if key not in self._backfill or self._local is None:
            return 0
        snapshot = self._local.snapshot(key)
        return snapshot.recent_starts if snapshot is not None else 0

    # -- giving slots back ----------------------------------------------------------------------

    def _give_back(self, cred: Credential, members: tuple[str, ...]) -> None:
        cred.in_flight = max(0, cred.in_flight - 1)
        if cred.probe is not None and cred.probe == members[0]:
            cred.probe = None
        self._spawn(self._release_members(cred, list(members)))

    async def _release_members(self, cred: Credential, members: list[str]) -> None:
        """ZREM a grant nobody used; then the dispatcher may grant the slot to the next call."""
        try:
            keys = [cred.keys[0], cred.keys[5], cred.keys[2], cred.keys[4]]
            self.stats.release_calls += 1
            await bounded(
                self._release(keys=keys, args=members),
                self._timeout,
                "releasing a slot",
                LimiterUnavailableError,
            )
        except LimiterUnavailableError as exc:
            log.warning("could not give a cancelled call's slot back: %s", exc)
        if cred.queue is not None:
            cred.queue.wake()

    def _restamp_later(self, cred: Credential, members: tuple[str, ...]) -> None:
        """Queue a late call's starts to be moved to now (see :class:`_Grantor`).

        A stalled loop makes many calls late at once (2,000 after one pause in the 10,000-call
        test): they are written in one script call, not one each, which would exhaust the
        connection pool and leave the starts where they were."""
        cred.late.extend(members)
        if cred.restamping is None:
            cred.restamping = self._spawn(self._restamp_pending(cred))

    async def _restamp_pending(self, cred: Credential) -> None:
        """Write every queued late start, in one script call per batch, until none is left."""
        try:
            while cred.late:
                members, cred.late = cred.late, []
                try:
                    await self._script(self._restamp, [cred.keys[0], cred.keys[5]], members)
                except LimiterUnavailableError as exc:
                    log.warning(
                        "could not move %d late calls' starts in Redis: %s", len(members), exc
                    )
        finally:
            cred.restamping = None

    def _spawn(self, coro: Any) -> asyncio.Task[None]:
        task: asyncio.Task[None] = asyncio.get_running_loop().create_task(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        return task

    # -- feedback -------------------------------------------------------------------------------

    def _merge_feedback(self, cred: Credential, state: RateLimitState) -> None:
        """Queue what this answer says that Redis does not know yet.

        Unsent views of one server window merge to the most conservative. A budget no tighter
        than the last one this process wrote, less this process's grants since, is skipped: Redis
        has decremented that budget for every grant of the fleet and keeps the minimum, so the
        write would change nothing. A steady trickle then writes once per window, not per call.
        """
        now = self._clock.monotonic()
        pending = cred.pending if cred.pending is not None else {}
        for named in state.limits:
            name = named.name.lower()
            if name == "default":
                cred.follow(named)
            old = pending.get(name)
            view = View(
                limit=named.limit if named.limit is not None else (old.limit if old else None),
                grants=cred.grants,
            )
            if named.remaining is not None and named.reset_seconds is not None:
                view.budget = float(named.remaining - cred.in_flight)
                view.reset_at = now + named.reset_seconds
            if old is not None and view.same_window(old, cred.margin):
                assert view.budget is not None and old.budget is not None
                assert view.reset_at is not None and old.reset_at is not None
                view.budget = min(view.budget, old.budget)
                view.reset_at = min(view.reset_at, old.reset_at)
            if old is None and not view.news(cred.written.get(name), cred.grants, cred.margin):
                continue
            if name not in cred.written and len(cred.written) >= MAX_TRACKED_LIMITS:
                forget_oldest(cred.written)
            pending[name] = view
        if pending or cred.probe_answered:
            cred.pending = pending

    async def _flush_feedback(self, cred: Credential) -> None:
        """Write pending feedback; answers arriving meanwhile are written by the next round."""
        cred.flushing = True
        try:
            while cred.pending is not None:
                pending, cred.pending = cred.pending, None
                cred.probe_answered = False
                if await self._write_feedback(cred, received=True, pending=pending):
                    cred.written.update(pending)
        finally:
            cred.flushing = False

    async def _write_feedback(
        self,
        cred: Credential,
        *,
        received: bool,
        probe: str | None = None,
        pending: dict[str, View] | None = None,
    ) -> bool:
        """One feedback script call; whether Redis took it."""
        now = self._clock.monotonic()
        if now < self._down_until:
            return False  # Redis just failed: the caller's answer must not wait on it again
        args: list[object] = [
            cred.config.limit,
            math.ceil(cred.span * _US),
            math.ceil(cred.margin * _US),
            "1" if received else "0",
            probe or "",
        ]
        for name, view in (pending or {}).items():
            args.append(name)
            args.append("" if view.limit is None else view.limit)
            args.append("" if view.budget is None else math.floor(view.budget))
            reset = view.reset_at
            args.append("" if reset is None else math.ceil(max(0.0, reset - now) * _US))
        try:
            await self._script(self._feedback, [cred.keys[2], cred.keys[3], cred.keys[4]], args)
        except LimiterUnavailableError as exc:
            self._outage(exc)
            return False
        return True

    # -- failure policy -------------------------------------------------------------------------

    def _outage(self, exc: LimiterUnavailableError) -> None:
        self._down_until = self._clock.monotonic() + self._recheck_after
        self._down_error = exc
        how = "pacing locally" if self._fallback == "local" else "failing closed"
        log.warning("Redis rate limiter unavailable (%s); %s", exc, how)

    @staticmethod
    def _closed_error(exc: RedisUnavailableError) -> LimiterUnavailableError:
        error = LimiterUnavailableError(
            f"{exc}. Nothing was sent: the limiter fails closed, because without the shared log "
            "the fleet could overrun the credential's limit (pass fallback='local' and "
            "expected_workers=N to pace each process at limit // N instead)"
        )
        error.__cause__ = exc.__cause__
        return error

    async def _use_fallback(self, key: str, cred: Credential, cost: int, priority: int) -> None:
        if self._fallback == "raise":
            error = self._down_error or LimiterUnavailableError("Redis is unavailable")
            raise self._closed_error(error)
        if self._local is None:
            self._local = LocalLimiter(
                margin=self._policy.margin, calibrate=self._policy.calibrate, clock=self._clock
            )
        config = cred.config
        share = RateLimit(max(1, config.limit // self._expected_workers), config.window_seconds)
        await self._local.acquire(key, share, min(cost, share.limit), priority=priority)
        cred.fallback_in_flight += 1
        self._backfill.add(key)  # the log learns of these starts once Redis answers


class _Grantor:
    """Grants one credential's queued calls through Redis (the dispatcher's Grantor)."""

    __slots__ = ("cred", "key", "limiter")

    def __init__(self, limiter: RedisLimiter, key: str, cred: Credential) -> None:
        self.limiter = limiter
        self.key = key
        self.cred = cred

    @property
    def restamp_after(self) -> float:
        # A call resumed later than half the margin after its grant (a GC pause, a long
        # callback) has its starts moved to when it went out. The margin absorbs smaller
        # delays; this one is written back, without the call waiting for it: the new stamp
        # lands a round trip after the send, which only errs on the safe side.
        return self.cred.margin / 2

    async def grant(self, batch: list[Waiter], now: float) -> Outcome[Grant]:
        limiter, cred = self.limiter, self.cred
        if now < limiter._down_until:
            return limiter._outage_outcome(batch)
        if cred.hold_until > now:
            return Outcome([], cred.hold_until - now, Reason.HOLD, cred.held(now))
        try:
            if cred.restamping is not None:  # this process's late starts count first
                await asyncio.shield(cred.restamping)
            return await limiter._grant_batch(self.key, cred, batch, now)
        except LimiterUnavailableError as exc:
            limiter._outage(exc)
            return limiter._outage_outcome(batch)

    def give_back(self, grant: Grant, waiter: Waiter) -> None:
        if not isinstance(grant, UseFallback):
            self.limiter._give_back(self.cred, grant)

    def restamp(self, grant: Grant, waiter: Waiter, now: float) -> None:
        if not isinstance(grant, UseFallback):
            self.limiter._restamp_later(self.cred, grant)


def _members(prefix: str, index: int, cost: int) -> tuple[str, ...]:
    # The same names the grant script gives: prefix:<waiter index>.<entry>
    return tuple(f"{prefix}:{index}.{j}" for j in range(cost))
