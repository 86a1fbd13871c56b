"""What a sync did, per resource: rows, requests, 429s, time; and the resources left out.

The resources run on dlt's event loop in a background thread while whoever shows progress reads
these figures from another thread: every change holds one lock and ends with a call to
``on_change`` (keep it quick: it runs in the resource's thread).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from .._hooks import CallInfo, Observer

__all__ = ["ResourceStats", "SyncStats"]


class ResourceStats:
    """One resource's figures so far (read them under :attr:`SyncStats.lock`, or after the
    run)."""

    __slots__ = (
        "expected",
        "finished",
        "keys",
        "left_out",
        "name",
        "rate_limited",
        "requests",
        "rows",
        "started",
    )

    def __init__(self, name: str) -> None:
        self.name = name
        self.rows = 0  # rows handed to dlt (a row changed during the walk may come twice)
        self.keys: set[object] = set()  # the distinct primary keys among them
        self.requests = 0  # HTTP requests sent (retries included)
        self.rate_limited = 0  # 429 answers among them
        self.expected: int | None = None  # rows the server said it holds, when it said
        self.started: float | None = None  # time.monotonic()
        self.finished: float | None = None
        self.left_out: str | None = None  # why the resource was not synced

    @property
    def seconds(self) -> float:
        """Seconds from the first request to the last row (so far)."""
        if self.started is None:
            return 0.0
        return (self.finished or time.monotonic()) - self.started


class SyncStats:
    """The figures of every resource of one source, shared by its runs."""

    def __init__(self, on_change: Callable[[ResourceStats], None] | None = None) -> None:
        self.lock = threading.Lock()
        self.resources: dict[str, ResourceStats] = {}
        self.on_change = on_change

    def __getitem__(self, name: str) -> ResourceStats:
        with self.lock:
            stats = self.resources.get(name)
            if stats is None:
                stats = self.resources[name] = ResourceStats(name)
            return stats

    def _changed(self, stats: ResourceStats) -> None:
        if self.on_change is not None:
            self.on_change(stats)

    def start(self, name: str) -> None:
        stats = self[name]
        with self.lock:
            if stats.started is None:
                stats.started = time.monotonic()
            stats.finished = None
        self._changed(stats)

    def finish(self, name: str) -> None:
        stats = self[name]
        with self.lock:
            stats.finished = time.monotonic()
        self._changed(stats)

    def add_rows(self, name: str, keys: list[object]) -> None:
        stats = self[name]
        with self.lock:
            stats.rows += len(keys)
            stats.keys.update(keys)
        self._changed(stats)

    def expect(self, name: str, rows: int) -> None:
        stats = self[name]
        with self.lock:
            stats.expected = rows
        self._changed(stats)

    def leave_out(self, name: str, reason: str) -> None:
        stats = self[name]
        with self.lock:
            stats.left_out = reason
        self._changed(stats)

    def observer(self, name: str) -> Observer:
        """An observer that counts a resource's requests and 429s."""
        return _Counter(self, name)

    def _count(self, name: str, sent: int, rate_limited: int) -> None:
        stats = self[name]
        with self.lock:
            stats.requests += sent
            stats.rate_limited += rate_limited
        self._changed(stats)

    @property
    def rate_limited(self) -> int:
        """429 answers, all resources."""
        with self.lock:
            return sum(stats.rate_limited for stats in self.resources.values())


class _Counter(Observer):
    def __init__(self, stats: SyncStats, name: str) -> None:
        self._stats = stats
        self._name = name

    def on_call_end(self, call: CallInfo, error: BaseException | None) -> None:
        self._stats._count(self._name, call.sent, call.rate_limited)
