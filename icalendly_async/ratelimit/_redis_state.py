"""The state ``RedisLimiter`` keeps in each process: waiting calls, what it knows of each
credential, and the views of the server's answers it may still have to share.

Only what cannot live in Redis lives here: the futures of waiting calls, the requests this process
has in flight, and which feedback it already wrote (to skip echoes).
"""

from __future__ import annotations

import asyncio

import attrs

from ._dispatch import Queue
from ._window import Following, WindowPolicy, same_window
from .headers import RateLimit

__all__ = ["FALLBACK", "Credential", "Grant", "RedisLimiterStats", "UseFallback", "View"]


class UseFallback:
    """The grant a waiting call gets when Redis is down and the local fallback takes over."""

    def __repr__(self) -> str:
        return "FALLBACK"


FALLBACK = UseFallback()

Grant = tuple[str, ...] | UseFallback
"""What a granted call holds: the members of its starts in the Redis log, or FALLBACK."""


@attrs.define(slots=True)
class View:
    """What one answer said of one named limit, and how many grants this process had made."""

    limit: int | None
    grants: int
    budget: float | None = None  # Remaining minus this process's requests in flight
    reset_at: float | None = None  # on the limiter's clock

    def same_window(self, other: View, margin: float) -> bool:
        return (
            self.reset_at is not None
            and other.reset_at is not None
            and self.budget is not None
            and other.budget is not None
            and same_window(self.reset_at, other.reset_at, margin)
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


class Credential(Following):
    """What one process knows about one credential (the log itself lives in Redis)."""

    __slots__ = (
        "fallback_in_flight",
        "flushing",
        "grants",
        "hold_until",
        "in_flight",
        "keys",
        "last_grant",
        "late",
        "pending",
        "probe",
        "probe_answered",
        "queue",
        "restamping",
        "written",
    )

    def __init__(self, keys: list[str], config: RateLimit, policy: WindowPolicy) -> None:
        super().__init__(config, policy)
        self.keys = keys
        self.queue: Queue[Grant] | None = None
        self.in_flight = 0  # Redis grants not yet observed
        self.fallback_in_flight = 0  # fallback grants not yet observed
        self.hold_until = 0.0  # this process's copy of the latest hold it heard of
        self.probe: str | None = None  # the member of our probe, while it is out
        self.grants = 0  # Redis grants so far (to tell news from echoes in feedback)
        self.last_grant = 0.0
        self.pending: dict[str, View] | None = None  # feedback not written yet, per named limit
        self.written: dict[str, View] = {}  # the last feedback written
        self.probe_answered = False  # our probe's answer is due to be written
        self.late: list[str] = []  # members of late-resumed calls whose starts are to move
        self.restamping: asyncio.Task[None] | None = None  # the task writing ``late``
        self.flushing = False

    def held(self, now: float) -> float:
        """Seconds this process knows the credential to be held (``0.0``: not held)."""
        wait = self.hold_until - self.margin - now
        return wait if wait > 0.0 else 0.0

    def idle(self, now: float) -> bool:
        """Nothing waiting or in flight, and a whole window since the last grant (before
        that, what ``written`` remembers still saves feedback writes)."""
        return (
            self.queue is None
            and self.in_flight == 0
            and self.fallback_in_flight == 0
            and not self.flushing
            and now >= self.hold_until
            and now >= self.last_grant + self.span
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
