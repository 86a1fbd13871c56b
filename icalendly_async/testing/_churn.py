"""Data churn: the owner's bookings change while a client reads them, as on a live account.

Each change is one of: an update (an attendee marked absent or present again), a cancellation,
a new booking in a free slot. Each goes through the same steps as the API's (the webhooks fire)
and is stamped with the time it was made. A share of them (``late_share``) become visible only
later, up to ``max_delay`` seconds after their stamp, while changes stamped after them land at
once: what a database's commit order or a read replica does to a service, and what a sync's
lookback window is for. A change that can no longer be made when it lands (its booking was
cancelled meanwhile) is dropped.
"""

from __future__ import annotations

import asyncio
import random
import time
from typing import TYPE_CHECKING

from . import _lifecycle
from ._data import OWNER_ID
from ._envelope import ApiError
from ._scheduling import free_slots
from ._seed import FIRST_NAMES, LAST_NAMES, attendee
from ._store.bookings import BookingRow

if TYPE_CHECKING:
    from ._state import EmulatorState

__all__ = ["Churn"]

_DAY = 86_400.0
_KINDS = ("update", "update", "cancel", "cancel", "create")


class Churn:
    """Makes changes to the owner's bookings: :meth:`change` one now, :meth:`run` ``rate`` per
    second until cancelled."""

    def __init__(
        self,
        state: EmulatorState,
        *,
        rate: float,
        seed: int | None = None,
        late_share: float = 0.25,
        max_delay: float = 2.0,
    ) -> None:
        self._state = state
        self.rate = rate
        self.late_share = late_share
        self.max_delay = max_delay
        self._rng = random.Random(seed)
        self._late: set[asyncio.TimerHandle] = set()
        self._landed = asyncio.Event()
        self.made = 0  # changes that landed
        self.dropped = 0  # late changes that could no longer be made when they landed

    @property
    def pending(self) -> int:
        """Late changes stamped but not visible yet."""
        return len(self._late)

    async def run(self) -> None:
        """``rate`` changes per second until cancelled (then late ones still land on time)."""
        if self.rate <= 0:
            return
        period = 1.0 / self.rate
        loop = asyncio.get_running_loop()
        next_at = loop.time()
        while True:
            next_at += period
            await asyncio.sleep(max(0.0, next_at - loop.time()))
            late = self._rng.random() < self.late_share
            self.change(delay=self._rng.uniform(0.1, self.max_delay) if late else 0.0)

    def change(self, *, delay: float = 0.0, backdate: float = 0.0) -> None:
        """Make one change, stamped ``backdate`` seconds ago, visible after ``delay`` seconds
        (0: at once)."""
        kind = self._rng.choice(_KINDS)
        stamp = time.time() - backdate
        if delay <= 0:
            self._make(kind, stamp)
            return
        loop = asyncio.get_running_loop()
        handle: asyncio.TimerHandle | None = None

        def land() -> None:
            assert handle is not None
            self._late.discard(handle)
            self._make(kind, stamp)
            if not self._late:
                self._landed.set()

        handle = loop.call_later(delay, land)
        self._late.add(handle)
        self._landed.clear()

    async def settle(self) -> None:
        """Wait until every late change has landed."""
        if self._late:
            await self._landed.wait()

    def abandon(self) -> None:
        """Drop the late changes that have not landed (the server is going away)."""
        for handle in self._late:
            handle.cancel()
        self._late.clear()
        self._landed.set()

    # -- the changes --------------------------------------------------------------------------

    def _make(self, kind: str, stamp: float) -> None:
        try:
            if kind == "create":
                done = self._create(stamp)
            else:
                row = self._active()
                done = row is not None
                if row is not None and kind == "cancel":
                    _lifecycle.cancel(
                        self._state,
                        row,
                        reason="Churn: plans changed",
                        by_email=str(row.data["attendees"][0]["email"]),
                        now=stamp,
                    )
                elif row is not None:
                    attendee = row.data["attendees"][0]
                    _lifecycle.mark_absent(
                        self._state,
                        row,
                        host=None,
                        attendees=[(str(attendee["email"]), not attendee["absent"])],
                        now=stamp,
                    )
        except ApiError:
            done = False
        if done:
            self.made += 1
        else:
            self.dropped += 1

    def _active(self) -> BookingRow | None:
        rows = self._state.data.booking_store.hosted_by(OWNER_ID)
        for _ in range(50):
            if not rows:
                return None
            row = rows[self._rng.randrange(len(rows))]
            if row.active:
                return row
        return None

    def _create(self, stamp: float) -> bool:
        data = self._state.data
        event_types = data.event_types.of(OWNER_ID)
        if not event_types:
            return False
        rng = self._rng
        for _ in range(10):
            event_type = rng.choice(event_types)
            day = stamp + rng.randint(1, 90) * _DAY
            slots = free_slots(data, event_type, day, day + _DAY, stamp)
            if not slots:
                continue
            start, _end = rng.choice(slots)
            first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
            email = f"{first}.{last}.{rng.randrange(10**6)}@churn.example.com".lower()
            name = f"{first} {last}"
            _lifecycle.create(
                self._state,
                event_type,
                start=start,
                minutes=event_type.length,
                attendee=attendee(name, email, rng),
                guests=[],
                responses={"name": name, "email": email},
                metadata={},
                now=stamp,
            )
            return True
        return False
