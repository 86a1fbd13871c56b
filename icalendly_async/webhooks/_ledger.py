"""Which deliveries are being processed, and which are done: processing each one exactly once.

A sender retries a delivery its receiver did not accept (and may send one twice anyway). A
receiver must therefore run its handler once per delivery, and only count a delivery as done
once the handler succeeded:

- :meth:`DeliveryLedger.claim` takes a *lease* on a delivery (``CLAIMED``); a copy arriving while
  the lease is held gets ``IN_PROGRESS``, one arriving after the handler succeeded ``DONE``;
- :meth:`~DeliveryLedger.commit` marks it done (for ``done_ttl`` seconds) once the handler
  succeeded; :meth:`~DeliveryLedger.release` drops the lease when the handler failed, so that
  the sender's retry is processed; a lease not committed or released (a crashed worker) expires
  after ``lease`` seconds. :meth:`~DeliveryLedger.extend` keeps a lease while a slow handler runs.

:class:`InMemoryLedger` serves one process; ``RedisLedger`` (``webhooks.redis``) a fleet.
"""

from __future__ import annotations

import collections
import enum
import secrets
from typing import Protocol, runtime_checkable

import attrs

from .._clock import SYSTEM_CLOCK, Clock
from ..errors import ConfigurationError

__all__ = ["Claim", "ClaimState", "DeliveryLedger", "InMemoryLedger", "check_ledger_times"]


class ClaimState(enum.Enum):
    CLAIMED = "claimed"  # this copy is to be processed (the caller holds the lease)
    IN_PROGRESS = "in_progress"  # another copy holds the lease right now
    DONE = "done"  # processed already (within done_ttl)


@attrs.frozen
class Claim:
    """The answer to a claim: the state, and the lease's token when ``CLAIMED``."""

    state: ClaimState
    token: str = attrs.field(default="", repr=False)


@runtime_checkable
class DeliveryLedger(Protocol):
    """Leases and done marks of deliveries, keyed by a delivery id."""

    async def claim(self, delivery_id: str) -> Claim: ...

    async def extend(self, delivery_id: str, token: str) -> bool: ...

    async def commit(self, delivery_id: str, token: str) -> bool: ...

    async def release(self, delivery_id: str, token: str) -> None: ...


def check_ledger_times(lease: float, done_ttl: float) -> tuple[float, float]:
    for name, value in (("lease", lease), ("done_ttl", done_ttl)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
            raise ConfigurationError(f"{name} must be a positive number of seconds, got {value!r}")
    return float(lease), float(done_ttl)


class InMemoryLedger:
    """A :class:`DeliveryLedger` for one process: a bounded table, oldest entries dropped first.

    ``lease``: seconds a claim is held without a commit or release (a handler that runs longer
    has it extended by the processor); ``done_ttl``: seconds a done mark is kept (a sender's
    retries end long before a day by default); ``max_entries`` bounds memory.
    """

    def __init__(
        self,
        *,
        lease: float = 60.0,
        done_ttl: float = 86_400.0,
        max_entries: int = 100_000,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        self._lease, self._done_ttl = check_ledger_times(lease, done_ttl)
        if isinstance(max_entries, bool) or not isinstance(max_entries, int) or max_entries < 1:
            raise ConfigurationError(
                f"max_entries must be a whole number >= 1, got {max_entries!r}"
            )
        self._max = max_entries
        self._clock = clock
        # delivery id -> (token, or "" for done; until when the entry holds)
        self._entries: collections.OrderedDict[str, tuple[str, float]] = collections.OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def _live(self, delivery_id: str, now: float) -> tuple[str, float] | None:
        entry = self._entries.get(delivery_id)
        if entry is not None and entry[1] <= now:
            del self._entries[delivery_id]
            return None
        return entry

    def _put(self, delivery_id: str, token: str, until: float) -> None:
        self._entries[delivery_id] = (token, until)
        self._entries.move_to_end(delivery_id)
        while len(self._entries) > self._max:
            self._entries.popitem(last=False)

    async def claim(self, delivery_id: str) -> Claim:
        now = self._clock.monotonic()
        entry = self._live(delivery_id, now)
        if entry is not None:
            return Claim(ClaimState.DONE if entry[0] == "" else ClaimState.IN_PROGRESS)
        token = secrets.token_hex(8)
        self._put(delivery_id, token, now + self._lease)
        return Claim(ClaimState.CLAIMED, token)

    async def extend(self, delivery_id: str, token: str) -> bool:
        now = self._clock.monotonic()
        entry = self._live(delivery_id, now)
        if entry is None or entry[0] != token:
            return False
        self._put(delivery_id, token, now + self._lease)
        return True

    async def commit(self, delivery_id: str, token: str) -> bool:
        """Mark done; ``False`` when the lease was lost meanwhile (then marked done all the
        same: the handler did succeed)."""
        now = self._clock.monotonic()
        entry = self._live(delivery_id, now)
        self._put(delivery_id, "", now + self._done_ttl)
        return entry is not None and entry[0] == token

    async def release(self, delivery_id: str, token: str) -> None:
        entry = self._live(delivery_id, self._clock.monotonic())
        if entry is not None and entry[0] == token:
            del self._entries[delivery_id]

    def __repr__(self) -> str:
        return f"InMemoryLedger(entries={len(self._entries)}, lease={self._lease:g})"
