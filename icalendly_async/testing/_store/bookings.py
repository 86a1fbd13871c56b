"""Bookings, indexed for the list filters and for conflicts.

Rows are kept sorted by start (then id), overall and per host; a host's *active* bookings
(``accepted``/``pending``) are kept apart, sorted by start, to find conflicts with a bisection.
Every change bumps :attr:`BookingStore.version`, which keys the cache of list selections (a walk
over 20,000 bookings filters and sorts once, then slices).
"""

from __future__ import annotations

import bisect
import time
from collections.abc import Callable, Hashable, Iterable
from typing import Any

import attrs

from .._envelope import encode
from .._time import iso

__all__ = ["ACTIVE", "BookingRow", "BookingStore"]

JSONObject = dict[str, Any]

ACTIVE = frozenset({"accepted", "pending"})
_CACHE_SIZE = 32
_CACHE_TTL = 1.0


@attrs.define(slots=True, eq=False)
class BookingRow:
    """A booking: its body (``data``, as the API sends it) and what the filters need."""

    uid: str
    start: float  # epoch seconds
    end: float
    status: str
    recurring: bool
    data: JSONObject
    encoded: bytes | None = None
    id: int = 0
    host_id: int = 0
    event_type_id: int = 0
    created: float = 0.0
    updated: float = 0.0

    def json(self) -> bytes:
        """The encoded body (cached; :meth:`touch` after changing ``data``)."""
        if self.encoded is None:
            self.encoded = encode(self.data)
        return self.encoded

    @property
    def active(self) -> bool:
        """``accepted`` or ``pending``: it holds its time."""
        return self.status in ACTIVE

    def touch(self, moment: float) -> None:
        """Mark the body changed at ``moment``."""
        self.updated = moment
        self.data["updatedAt"] = iso(moment)
        self.encoded = None


def _start(row: BookingRow) -> float:
    return row.start


def _order(row: BookingRow) -> tuple[float, int]:
    return (row.start, row.id)


class BookingStore:
    """Every booking, with the indexes the resources need."""

    def __init__(self) -> None:
        self.rows: list[BookingRow] = []
        self.by_uid: dict[str, BookingRow] = {}
        self._by_host: dict[int, list[BookingRow]] = {}
        self._busy: dict[int, list[BookingRow]] = {}
        self._longest = 0.0
        self._next_id = 1
        self.version = 0
        self._cache: dict[Hashable, tuple[int, float, list[BookingRow]]] = {}

    def __len__(self) -> int:
        return len(self.rows)

    def new_id(self) -> int:
        """The next booking id."""
        self._next_id += 1
        return self._next_id - 1

    def load(self, rows: Iterable[BookingRow]) -> None:
        """Add many rows at once (sorting once)."""
        for row in rows:
            self.rows.append(row)
            self.by_uid[row.uid] = row
            self._by_host.setdefault(row.host_id, []).append(row)
            if row.active:
                self._busy.setdefault(row.host_id, []).append(row)
            self._longest = max(self._longest, row.end - row.start)
            self._next_id = max(self._next_id, row.id + 1)
        self.rows.sort(key=_order)
        for index in (self._by_host, self._busy):
            for hosted in index.values():
                hosted.sort(key=_order)
        self.version += 1

    def add(self, row: BookingRow) -> None:
        """Add one booking."""
        bisect.insort(self.rows, row, key=_order)
        self.by_uid[row.uid] = row
        bisect.insort(self._by_host.setdefault(row.host_id, []), row, key=_order)
        if row.active:
            bisect.insort(self._busy.setdefault(row.host_id, []), row, key=_order)
        self._longest = max(self._longest, row.end - row.start)
        self._next_id = max(self._next_id, row.id + 1)
        self.version += 1

    def set_status(self, row: BookingRow, status: str, moment: float) -> None:
        """Change the status of ``row`` (and whether it holds its time)."""
        was_active = row.active
        row.status = status
        row.data["status"] = status
        row.touch(moment)
        if was_active and not row.active:
            busy = self._busy.get(row.host_id, [])
            index = bisect.bisect_left(busy, _order(row), key=_order)
            while index < len(busy) and busy[index] is not row:
                index += 1
            if index < len(busy):
                del busy[index]
        elif row.active and not was_active:
            bisect.insort(self._busy.setdefault(row.host_id, []), row, key=_order)
        self.version += 1

    def changed(self) -> None:
        """Something in a body changed (no status or time): drop cached selections."""
        self.version += 1

    def hosted_by(self, host_id: int) -> list[BookingRow]:
        """The bookings of ``host_id``, by start (do not modify)."""
        return self._by_host.get(host_id, [])

    def busy(self, host_id: int, start: float, end: float) -> list[BookingRow]:
        """The active bookings of ``host_id`` that overlap ``[start, end)``, by start."""
        rows = self._busy.get(host_id)
        if not rows:
            return []
        high = bisect.bisect_left(rows, end, key=_start)
        low = bisect.bisect_left(rows, start - self._longest, key=_start)
        return [row for row in rows[low:high] if row.end > start]

    def conflict(
        self, host_id: int, start: float, end: float, *, ignore: BookingRow | None = None
    ) -> BookingRow | None:
        """An active booking of ``host_id`` overlapping ``[start, end)`` (not ``ignore``)."""
        for row in self.busy(host_id, start, end):
            if row is not ignore:
                return row
        return None

    def cached(
        self, key: Hashable, build: Callable[[], list[BookingRow]], *, ttl: float = _CACHE_TTL
    ) -> list[BookingRow]:
        """The selection ``build()`` makes, cached under ``key`` until the next change (and at
        most ``ttl`` seconds: the status filters depend on the time)."""
        now = time.monotonic()
        hit = self._cache.get(key)
        if hit is not None and hit[0] == self.version and now - hit[1] < ttl:
            return hit[2]
        rows = build()
        if len(self._cache) >= _CACHE_SIZE:
            self._cache.pop(next(iter(self._cache)))
        self._cache[key] = (self.version, now, rows)
        return rows
