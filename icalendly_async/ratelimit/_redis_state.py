"""The state ``RedisLimiter`` keeps in each process: waiting calls, what it knows of each
credential, and the views of the server's answers it may still have to share.

Only what cannot live in Redis lives here: the futures of waiting calls, the requests this process
has in flight, and which feedback it already wrote (to skip echoes).
"""

from __future__ import annotations

import asyncio
import collections

import attrs

from .headers import RateLimit
from .priority import Priority

__all__ = [
    "CLASSES",
    "FALLBACK",
    "Credential",
    "Outcome",
    "RedisLimiterStats",
    "UseFallback",
    "View",
    "Waiter",
    "set_if_pending",
]

CLASSES = len(Priority)


class UseFallback:
    """The result a waiter gets when Redis is down and the local fallback takes over."""


FALLBACK = UseFallback()


@attrs.define(slots=True, eq=False)
class Waiter:
    future: asyncio.Future[tuple[str, ...] | UseFallback]
    cost: int
    priority: int
    since: float
    head_at: float | None = None  # when it became the first of its class's queue
    granted_at: float = 0.0  # loop time when the grant script's answer arrived


@attrs.define(slots=True)
class View:
    """What one answer said of one named limit, and how many grants this process had made."""

    limit: int | None
    grants: int
    budget: float | None = None  # Remaining minus this process's requests in flight
    reset_at: float | None = None  # loop time

    def same_window(self, other: View, margin: float) -> bool:
        return (
            self.reset_at is not None
            and other.reset_at is not None
            and self.budget is not None
            and other.budget is not None
            and abs(self.reset_at - other.reset_at) < 1.0 + margin
        )

    def news(self, written: View | None, grants: int, margin: float) -> bool:
        """Whether Redis could learn anything from this view, given the last one written."""
        if written is None or self.limit != written.limit:
            return True
        if self.budget is None:
            return False  # only the limit, and that is unchanged
        if not self.same_window(written, margin):
            return True
        assert written.budget is not None
        return self.budget < written.budget - (grants - written.grants)


@attrs.define(slots=True, eq=False)
class Credential:
    """What one process knows about one credential."""

    keys: list[str]
    config: RateLimit
    margin: float
    queues: list[collections.deque[Waiter]] = attrs.field(
        factory=lambda: [collections.deque() for _ in range(CLASSES)]
    )
    waiting: int = 0  # waiters whose future is not done yet
    dispatcher: asyncio.Task[None] | None = None
    wakeup: asyncio.Future[None] | None = None
    in_flight: int = 0  # Redis grants not yet observed
    fallback_in_flight: int = 0  # fallback grants not yet observed
    hold_until: float = 0.0  # this process's copy of the latest penalty (loop time)
    probe: str | None = None  # the member of our probe, while it is out
    grants: int = 0  # Redis grants so far (to tell news from echoes in feedback)
    last_grant: float = 0.0  # loop time
    pending: dict[str, View] | None = None  # feedback not written yet, per named limit
    written: dict[str, View] = attrs.field(factory=dict)  # the last feedback written
    probe_answered: bool = False  # our probe's answer is due to be written
    blocked: tuple[int, int, bool] | None = None  # the dispatcher's wait: (reason, cost, bulk)
    flushing: bool = False
    # The server's window, when its Default limit differs from the configured one: the longest
    # Reset it announced outside a block (a window's first answer announces all of it).
    server_window: float = 0.0
    follows_server: bool = False

    @property
    def window(self) -> float:
        """The window in force: the server's when it is followed, else the configured one."""
        if self.follows_server and self.server_window > 0:
            return self.server_window
        return self.config.window_seconds

    def wake(self) -> None:
        if self.wakeup is not None and not self.wakeup.done():
            self.wakeup.set_result(None)

    def idle(self, now: float) -> bool:
        """Nothing waiting or in flight, and a whole window since the last grant (before
        that, what ``written`` remembers still saves feedback writes)."""
        return (
            self.waiting == 0
            and self.dispatcher is None
            and self.in_flight == 0
            and self.fallback_in_flight == 0
            and not self.flushing
            and now >= self.hold_until
            and now >= self.last_grant + self.window + self.margin
        )


@attrs.define
class RedisLimiterStats:
    """What one :class:`RedisLimiter` asked of Redis (for diagnostics and benchmarks)."""

    grants: int = 0  # calls granted through Redis
    grant_calls: int = 0  # grant scripts run (one grants up to ``batch`` calls, or says how long)
    feedback_calls: int = 0  # feedback scripts (answers of one credential are coalesced)
    penalty_calls: int = 0
    release_calls: int = 0  # slots given back by cancelled calls
    restamp_calls: int = 0  # grants whose calls resumed late, their starts moved to then

    @property
    def calls(self) -> int:
        """Every script call."""
        return (
            self.grant_calls
            + self.feedback_calls
            + self.penalty_calls
            + self.release_calls
            + self.restamp_calls
        )


@attrs.frozen
class Outcome:
    """What one grant script said: how many went, and how long the next one waits."""

    granted: int
    wait: float
    reason: int
    probe: bool
    members: tuple[tuple[str, ...], ...]


def set_if_pending(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_result(None)
