"""The pacing rules both limiters follow; only where a credential's state lives differs.

Why a sliding log and not a plain token bucket: the service counts a fixed window that opens at
a credential's first request and blocks it for 60 s after an overrun. A token bucket with burst
``B`` and rate ``r`` admits ``B + r·W`` per window, so a bucket with ``B = L`` lets about ``2L``
through the first window, and the safe bucket (``B = 1``) spreads a burst of ``N`` over
``(N-1)·W/L`` instead of ``(ceil(N/L)-1)·W``. The log of the last ``L`` start times is both safe
(never more than ``L`` starts in any window of ``W + margin``) and ideal (``L`` at once, ``L``
more as each window ends).

A call of cost ``c`` (BULK or not) may start at ``now`` when none of these holds it back
(:class:`Reason` names each; :meth:`Window.delay` is the rule, ``_redis_lua.GRANT`` the same rule
on Redis):

1. ``WINDOW``: the log already has ``limit - c + 1`` starts less than ``window + margin`` ago;
2. ``HOLD``: the server holds the credential (a 429's block, announced by ``Reset``);
3. ``BUDGET``: a named limit's ``Remaining`` (less the requests in flight when it was read) has
   less than ``c`` left before its ``Reset``;
4. ``PROBE``: a credential nobody has heard from yet sends its first request alone and the rest
   wait for that answer's headers (at most ``calibration_timeout``): it may already be partly
   spent, or limited lower than configured;
5. ``BULK``: a BULK call past the BULK share of the window (``bulk_share``);
6. ``SPACING``: ``pacing="smooth"``: one start every ``(window + margin) / (limit - 1)``
   seconds, for users who want even spacing rather than bursts.

The server's ``Default`` limit replaces the configured one when they differ, and so does its
window (the longest ``Reset`` it announced outside a block: a window's first answer announces all
of it). The margin (default 0.25 s, at most 1 % of the window: :func:`default_margin`) absorbs
the difference between when we start a request and when the server counts it.
"""

from __future__ import annotations

import bisect
import enum
import math
from typing import Literal

from ..errors import ConfigurationError
from .headers import MAX_TRACKED_LIMITS, NamedLimit, RateLimit, RateLimitState, forget_oldest

__all__ = [
    "Budget",
    "MARGIN_CAP",
    "MARGIN_SHARE",
    "Following",
    "Pacing",
    "Reason",
    "Window",
    "WindowPolicy",
    "check_cost",
    "default_margin",
    "fold_budget",
    "same_window",
]

Pacing = Literal["window", "smooth"]


class Reason(enum.IntEnum):
    """Why a call may not start yet (the Lua script answers the same numbers)."""

    NONE = 0
    WINDOW = 1
    HOLD = 2
    BUDGET = 3
    PROBE = 4
    BULK = 5
    SPACING = 6


# The reasons as module names for :meth:`Window.delay`, which every grant runs: reading a member
# off an enum class costs about 80 ns on CPython 3.11 (``EnumType.__getattr__``). With
# ``Reason.HOLD``/``Reason.NONE`` read here and ``Priority.BULK`` in ``LocalLimiter.acquire``, the
# scale benchmark's free acquire took 1.69-1.70 µs instead of 1.38-1.42 (callgrind: 17,900
# instructions instead of 14,900).
_FREE = (0.0, Reason.NONE)
_WINDOW, _HOLD, _BUDGET, _PROBE, _BULK, _SPACING = (
    Reason.WINDOW,
    Reason.HOLD,
    Reason.BUDGET,
    Reason.PROBE,
    Reason.BULK,
    Reason.SPACING,
)


MARGIN_CAP = 0.25
"""The default margin's size in seconds (:func:`default_margin`; the Redis script is given it)."""
MARGIN_SHARE = 0.01
"""The default margin's cap as a share of the window (:func:`default_margin`)."""


def default_margin(window_seconds: float) -> float:
    """The default safety margin per window: 250 ms, at most 1 % of the window.

    The margin covers how much later than we stamped it the server may count the request that
    opened a window, compared with the one that opens the next: transit jitter, which does not
    grow with the window. At the service's 60-s window it is 0.25 s (0.42 % of the window), which
    covers a retransmitted packet (Linux waits at least 200 ms before resending). On shorter
    windows it is capped at 1 % of the window, so that it never costs more than 1 % of the
    throughput; the cap was 2 %, which alone held the benchmarks' windows (the service's scaled
    from 60 s to 2 s) to 1/1.02 = 0.980 of the ideal pace. Windows under 25 s over a slow network
    want ``margin=`` set (the limiters take it).
    """
    return min(MARGIN_CAP, MARGIN_SHARE * window_seconds)


class WindowPolicy:
    """The settings every credential of one limiter is paced by (checked once, here)."""

    __slots__ = (
        "_spans",
        "aging",
        "bulk_share",
        "calibrate",
        "calibration_timeout",
        "margin",
        "smooth",
    )

    def __init__(
        self,
        *,
        margin: float | None = None,
        calibrate: bool = True,
        calibration_timeout: float = 5.0,
        aging: float | None = None,
        bulk_share: float | None = None,
        pacing: Pacing = "window",
    ) -> None:
        if pacing not in ("window", "smooth"):
            raise ConfigurationError(f"pacing must be 'window' or 'smooth', got {pacing!r}")
        if margin is not None and not _number(margin) >= 0:
            raise ConfigurationError(f"margin must be >= 0 seconds, got {margin!r}")
        if not _number(calibration_timeout) > 0:
            raise ConfigurationError(
                f"calibration_timeout must be > 0 seconds, got {calibration_timeout!r}"
            )
        if aging is not None and not _number(aging) > 0:
            raise ConfigurationError(f"aging must be > 0 seconds, got {aging!r}")
        if bulk_share is not None and not 0 < _number(bulk_share) <= 1:
            raise ConfigurationError(
                f"bulk_share must be a fraction in (0, 1], e.g. 0.8; got {bulk_share!r}"
            )
        self.margin = margin
        self.calibrate = calibrate
        self.calibration_timeout = float(calibration_timeout)
        self.aging = aging
        self.bulk_share = bulk_share
        self.smooth = pacing == "smooth"
        self._spans: dict[float, tuple[float, float]] = {}

    def span_for(self, window: float) -> tuple[float, float]:
        """The margin for ``window`` and the span (window and margin) a start counts for.

        One pair per window, shared by every credential paced by this policy: a float of its
        own would add 24 bytes to each idle credential (scale benchmark: 628 B, not 604).
        """
        span = self._spans.get(window)
        if span is None:
            if len(self._spans) >= 64:  # windows the servers announced: keep a few
                self._spans.clear()
            margin = self.margin if self.margin is not None else default_margin(window)
            span = self._spans[window] = (margin, window + margin)
        return span

    def aging_for(self, window: float) -> float:
        """Seconds a call waits first in its class's queue to count one class higher."""
        return self.aging if self.aging is not None else 2 * window

    def bulk_cap(self, limit: int) -> int:
        """The most BULK starts per window (``-1``: no cap)."""
        if self.bulk_share is None:
            return -1
        return max(1, math.floor(limit * self.bulk_share))


def _number(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return math.nan
    return float(value)


def check_cost(cost: object, limit: int) -> int:
    """``cost`` when it is a whole number that can ever start under ``limit``."""
    if type(cost) is not int or cost < 1:  # an int itself: not a bool
        raise ConfigurationError(f"cost must be a whole number >= 1, got {cost!r}")
    if cost > limit:
        raise ConfigurationError(
            f"a request of cost {cost} can never start under a limit of {limit} per window"
        )
    return cost


class Budget:
    """What one named limit has left (``left``) until ``reset_at`` (the limiter's clock)."""

    __slots__ = ("left", "reset_at")

    def __init__(self, left: float, reset_at: float) -> None:
        self.left = left
        self.reset_at = reset_at

    def __repr__(self) -> str:
        return f"Budget(left={self.left:g}, reset_at={self.reset_at:g})"


def same_window(reset_at: float, other: float, margin: float) -> bool:
    """Whether two answers' resets describe the same server window (``Reset`` counts whole
    seconds, and answers travel for a while)."""
    return abs(reset_at - other) < 1.0 + margin


def fold_budget(
    budgets: dict[str, Budget], name: str, left: float, reset_at: float, now: float, margin: float
) -> None:
    """Record what an answer said of limit ``name``: ``left`` until ``reset_at``.

    Within one server window the most conservative view wins: answers can arrive out of order,
    so a later one may carry an older (higher) ``Remaining``. A new window replaces the old one.
    At most :data:`MAX_TRACKED_LIMITS` names are kept; the oldest goes first.
    """
    old = budgets.get(name)
    # Every answer comes here: comparisons, not min(), which costs ~1,250 instructions a call
    # (callgrind: try_acquire + observe of one Default limit 24,800 -> 22,300; client.me.get()
    # against a canned answer, cgcm.sh, 158,900 -> 156,500 per call).
    if old is not None and now < old.reset_at and same_window(reset_at, old.reset_at, margin):
        if left < old.left:
            old.left = left
        if reset_at < old.reset_at:
            old.reset_at = reset_at
        return
    if old is None and len(budgets) >= MAX_TRACKED_LIMITS:
        forget_oldest(budgets)
    budgets[name] = Budget(left, reset_at)


class Following:
    """One credential's configured limit, and the server's ``Default`` limit and window when
    they differ from it. ``limit`` is the limit in force: the server's, else the configured."""

    __slots__ = ("config", "limit", "margin", "policy", "server_window", "span", "window")

    def __init__(self, config: RateLimit, policy: WindowPolicy) -> None:
        self.policy = policy
        self.config = config
        self.limit = config.limit
        self.server_window = 0.0  # the longest Reset announced outside a block
        self.window = config.window_seconds
        # span: how long a start counts against the limit, the window and the margin (an
        # attribute, not a property: read by every grant; scale benchmark, free acquire: 15,900
        # instructions with the property, 14,900 without)
        self.margin, self.span = policy.span_for(self.window)

    @property
    def server_limit(self) -> int | None:
        """The server's ``Default`` limit when it differs from the configured one."""
        return None if self.limit == self.config.limit else self.limit

    def configure(self, config: RateLimit) -> None:
        """Use ``config`` from now on (a credential's limit can be changed at any time)."""
        if config != self.config:
            server_limit = self.server_limit
            self.config = config
            self.limit = server_limit or config.limit
            self._set_window()

    def follow(self, named: NamedLimit) -> None:
        """What the server's ``Default`` limit says: its ``Limit`` replaces the configured one,
        and its window (the longest ``Reset`` seen outside a block) the configured window, when
        that limit differs from the configured one (the configured window then describes
        another limit)."""
        if named.limit is None:
            return
        server_window = self.server_window
        reset, remaining = named.reset_seconds, named.remaining
        if reset is not None and remaining is not None and remaining > 0:
            server_window = max(server_window, reset)
        if named.limit != self.limit or server_window != self.server_window:
            self.limit = named.limit
            self.server_window = server_window
            self._set_window()

    def _set_window(self) -> None:
        if self.limit != self.config.limit and self.server_window > 0:
            self.window = self.server_window
        else:
            self.window = self.config.window_seconds
        self.margin, self.span = self.policy.span_for(self.window)


class Window(Following):
    """One credential's pacing state, in this process's memory (:class:`LocalLimiter`)."""

    __slots__ = (
        "budgets",
        "bulk_log",
        "calibrated",
        "hold_until",
        "in_flight",
        "log",
        "probe_until",
    )

    def __init__(self, config: RateLimit, policy: WindowPolicy) -> None:
        # Named, not super(): no super object per credential (scale benchmark, 100,000 new
        # credentials: with LocalLimiter's own, 26,000 instructions per first acquire, not 27,600).
        Following.__init__(self, config, policy)
        self.log: list[float] = []  # start times, ascending; only the last `limit` matter
        # the same for BULK starts, when a bulk share is set
        self.bulk_log: list[float] | None = [] if policy.bulk_share is not None else None
        self.hold_until = 0.0
        self.budgets: dict[str, Budget] = {}
        self.in_flight = 0  # grants not observed yet
        self.calibrated = not policy.calibrate
        self.probe_until: float | None = None  # while a probe is out: when to stop waiting

    # -- the rule --------------------------------------------------------------------------

    def never(self, cost: int, bulk: bool) -> ConfigurationError | None:
        """The error for a call that can never start under the limit in force, if it can't
        (the server's limit may be lower than the configured one)."""
        if cost > self.limit:
            return ConfigurationError(
                f"a request of cost {cost} can never start under the limit of {self.limit} "
                "per window in force for this credential"
            )
        if bulk and 0 <= self.policy.bulk_cap(self.limit) < cost:
            return ConfigurationError(
                f"a BULK request of cost {cost} can never start under a bulk share of "
                f"{self.policy.bulk_cap(self.limit)} per window"
            )
        return None

    def delay(self, now: float, cost: int, bulk: bool) -> tuple[float, Reason]:
        """Seconds until ``cost`` more starts are allowed (``0.0``: now), and why; forever
        when the call can never start (:meth:`never` says why)."""
        until, reason = self.hold_until, _HOLD  # the latest time a rule names, and that rule
        if self.probe_until is not None and self.probe_until > until:
            until, reason = self.probe_until, _PROBE
        log = self.log
        n = self.limit - cost + 1  # this newest start must have left the window
        if n <= 0:
            return math.inf, _WINDOW
        if n <= len(log) and log[-n] + self.span > until:
            until, reason = log[-n] + self.span, _WINDOW
        if bulk and self.bulk_log is not None:
            n = self.policy.bulk_cap(self.limit) - cost + 1
            if n <= 0:
                return math.inf, _BULK
            if n <= len(self.bulk_log) and self.bulk_log[-n] + self.span > until:
                until, reason = self.bulk_log[-n] + self.span, _BULK
        for budget in self.budgets.values():
            if budget.left < cost and budget.reset_at > until:
                until, reason = budget.reset_at, _BUDGET
        if self.policy.smooth and log:
            spacing = self.span / max(self.limit - 1, 1)
            if log[-1] + spacing > until:
                until, reason = log[-1] + spacing, _SPACING
        return (until - now, reason) if until > now else _FREE

    def held(self, now: float) -> float:
        """Seconds the server holds the credential beyond ordinary pacing (``0.0``: not held):
        a 429's block, or a limit at ``Remaining: 0`` whose reset lies beyond a window (a
        daily limit, a proxy's)."""
        wait = self.hold_until - self.margin - now
        for budget in self.budgets.values():
            if budget.left < 1 and budget.reset_at - now > self.span:
                wait = max(wait, budget.reset_at - self.margin - now)
        return wait if wait > 0.0 else 0.0

    # -- what changes it -------------------------------------------------------------------

    def take(self, now: float, cost: int, bulk: bool) -> float:
        """Count ``cost`` starts at ``now``; returns the grant (its time, to give it back)."""
        log = self.log
        if self.probe_until is not None and now >= self.probe_until:
            self.probe_until = None  # the probe is slow: go on without it
            self.calibrated = True
        if log and log[-1] + self.span < now and self.policy.calibrate:
            self.calibrated = False  # idle for a whole window: what the server saw is unknown
        if not self.calibrated and self.probe_until is None:
            self.probe_until = now + self.policy.calibration_timeout
        _record(log, now, cost, self.limit)
        if bulk and self.bulk_log is not None:
            _record(self.bulk_log, now, cost, self.limit)
        for budget in self.budgets.values():
            budget.left -= cost
        self.in_flight += 1
        return now

    def untake(self, granted: float, cost: int, bulk: bool) -> None:
        """Undo a grant whose call was cancelled before it could send anything."""
        _remove(self.log, granted, cost)
        if bulk and self.bulk_log is not None:
            _remove(self.bulk_log, granted, cost)
        for budget in self.budgets.values():
            budget.left += cost
        self.in_flight = max(0, self.in_flight - 1)

    def move(self, granted: float, started: float, cost: int, bulk: bool) -> None:
        """A call granted at ``granted`` resumed at ``started``: pace from then.

        A loaded event loop (a GC pause, a long callback) can resume the calls of a burst well
        after their grant; stamped at grant time, the next burst could then be granted less
        than a window after those calls actually went out.
        """
        for log in (self.log, self.bulk_log if bulk else None):
            if log is not None and _remove(log, granted, cost):
                for _ in range(cost):
                    bisect.insort(log, started)

    def observe(self, state: RateLimitState, now: float) -> None:
        """What one attempt's answer said (or that none came)."""
        self.in_flight = max(0, self.in_flight - 1)
        if not state.received:
            if self.probe_until is not None:
                self.probe_until = None  # the probe taught us nothing: the next call probes
            return
        self.calibrated = True
        self.probe_until = None
        for named in state.limits:
            name = named.name.lower()
            if name == "default":
                self.follow(named)
            if named.remaining is not None and named.reset_seconds is not None:
                left = named.remaining - self.in_flight
                reset_at = now + named.reset_seconds + self.margin
                fold_budget(self.budgets, name, left, reset_at, now, self.margin)

    def penalize(self, now: float, seconds: float) -> None:
        """Hold everything for ``seconds`` (and the margin); the budgets are void."""
        self.hold_until = max(self.hold_until, now + max(0.0, seconds) + self.margin)
        self.budgets.clear()

    def idle(self, now: float) -> bool:
        """Nothing in flight, nothing held, and no start within the last window."""
        return (
            self.in_flight == 0
            and now >= self.hold_until
            and (not self.log or self.log[-1] + self.span <= now)
        )

    def recent_starts(self, now: float) -> int:
        horizon = now - self.span
        return sum(1 for t in self.log if t > horizon)


def _record(log: list[float], now: float, cost: int, keep: int) -> None:
    log.extend([now] * cost)  # a new credential's list sized 1, not 4 as by append()
    if len(log) >= 2 * max(keep, 1):  # only the last `keep` matter: trim now and then
        del log[: len(log) - keep]


def _remove(log: list[float], when: float, cost: int) -> bool:
    """Remove ``cost`` entries stamped ``when``; whether any was there."""
    found = False
    for _ in range(cost):
        index = bisect.bisect_left(log, when)
        if index < len(log) and log[index] == when:
            del log[index]
            found = True
    return found
