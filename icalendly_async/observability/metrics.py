"""In-process metrics: counters and histograms per operation and per credential digest.

``snapshot()`` returns plain JSON-able data a health endpoint can serve; with ``prometheus_client``
installed (extra ``prometheus``), :meth:`MetricsObserver.register` exposes the same numbers to a
Prometheus registry.

What each metric means:

* ``calls``: logical calls finished (all attempts of one call count once);
* ``attempts``: HTTP attempts sent (calls + retries + replays after a token refresh);
* ``errors``: calls that ended in an exception, by class (``NotFoundError``, ``TimeoutError``…);
* ``rate_limited``: 429 responses received; ``retries``: retries scheduled;
* ``holds``: times the credential was held (after a 429 or ``Remaining: 0``);
* ``limiter_wait_seconds``: time calls spent waiting for the limiter (histogram);
* ``latency_seconds``: time from a call's start to its end, waits and retries included.
"""

from __future__ import annotations

import bisect
import time
from collections import Counter
from typing import Any

from .._hooks import CallInfo, Observer

__all__ = ["Histogram", "MetricsObserver"]

_bucket = bisect.bisect_left
_monotonic = time.monotonic

BUCKETS: tuple[float, ...] = (
    0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
)  # fmt: skip


class Histogram:
    """Cumulative-bucket histogram (Prometheus style): counts per upper bound, sum, count."""

    __slots__ = ("counts", "sum")

    def __init__(self) -> None:
        self.counts = [0] * (len(BUCKETS) + 1)  # the last one is +Inf
        self.sum = 0.0

    @property
    def count(self) -> int:
        return sum(self.counts)

    def observe(self, value: float) -> None:
        self.counts[_bucket(BUCKETS, value)] += 1
        self.sum += value

    def snapshot(self) -> dict[str, Any]:
        cumulative, running = {}, 0
        for bound, count in zip((*BUCKETS, float("inf")), self.counts, strict=True):
            running += count
            cumulative["+Inf" if bound == float("inf") else repr(bound)] = running
        return {"count": self.count, "sum": self.sum, "buckets": cumulative}


class _Series:
    __slots__ = (
        "attempts",
        "calls",
        "errors",
        "holds",
        "latency",
        "rate_limited",
        "retries",
        "wait",
    )

    def __init__(self) -> None:
        self.calls = 0
        self.attempts = 0
        self.retries = 0
        self.rate_limited = 0
        self.holds = 0
        self.errors: Counter[str] = Counter()
        self.wait = Histogram()
        self.latency = Histogram()

    @classmethod
    def total(cls, parts: list[_Series]) -> _Series:
        """One series counting what ``parts`` counted."""
        total = cls()
        for part in parts:
            total.calls += part.calls
            total.attempts += part.attempts
            total.retries += part.retries
            total.rate_limited += part.rate_limited
            total.holds += part.holds
            total.errors.update(part.errors)
            for mine, theirs in ((total.wait, part.wait), (total.latency, part.latency)):
                mine.counts = [a + b for a, b in zip(mine.counts, theirs.counts, strict=True)]
                mine.sum += theirs.sum
        return total

    def snapshot(self) -> dict[str, Any]:
        return {
            "calls": self.calls,
            "attempts": self.attempts,
            "retries": self.retries,
            "rate_limited": self.rate_limited,
            "holds": self.holds,
            "errors": dict(self.errors),
            "limiter_wait_seconds": self.wait.snapshot(),
            "latency_seconds": self.latency.snapshot(),
        }


class MetricsObserver(Observer):
    """Counts every call, per operation and per credential digest (never a secret).

    While a single credential has been seen (one client, one key: the usual case), its series
    is the sum of the operations' and is not kept twice: a call then updates one series, not
    two. The second credential to appear gets the first one's series written out, and from
    then on every call updates both.
    """

    def __init__(self) -> None:
        self._by_operation: dict[str, _Series] = {}
        self._by_credential: dict[str, _Series] = {}
        self._sole: str | None = None  # the only credential seen so far, if only one

    def _series(self, table: dict[str, _Series], key: str) -> _Series:
        series = table.get(key)
        if series is None:
            series = table[key] = _Series()
        return series

    def on_call_end(self, call: CallInfo, error: BaseException | None) -> None:
        # Everything is counted once, here, from what the call gathered (attempts, retries,
        # 429s, holds): one update per series per call, whatever the number of attempts.
        latency = _monotonic() - call.started
        wait = call.limiter_wait
        wait_bucket = _bucket(BUCKETS, wait)
        latency_bucket = _bucket(BUCKETS, latency)
        sent = call.sent
        unusual = error is not None or call.retries or call.rate_limited or call.holds
        by_operation = self._by_operation.get(call.name)
        if by_operation is None:
            by_operation = self._series(self._by_operation, call.name)
        credential = call.credential
        if credential == self._sole:
            updated: tuple[_Series, ...] = (by_operation,)
        elif self._sole is None and not self._by_credential:
            self._sole = credential  # the first call: its credential is the only one so far
            updated = (by_operation,)
        else:
            if self._sole is not None:  # a second credential: the first one's series, apart
                self._by_credential[self._sole] = _Series.total(list(self._by_operation.values()))
                self._sole = None
            by_credential = self._by_credential.get(credential)
            if by_credential is None:
                by_credential = self._series(self._by_credential, credential)
            updated = (by_operation, by_credential)
        for series in updated:
            series.calls += 1
            series.attempts += sent
            if unusual:
                series.retries += call.retries
                series.rate_limited += call.rate_limited
                series.holds += call.holds
                if error is not None:
                    series.errors[type(error).__name__] += 1
            histogram = series.wait
            histogram.counts[wait_bucket] += 1
            histogram.sum += wait
            histogram = series.latency
            histogram.counts[latency_bucket] += 1
            histogram.sum += latency

    def snapshot(self) -> dict[str, Any]:
        """Everything counted so far, as plain data (safe to serve as JSON)."""
        operations = sorted(self._by_operation.items())
        sole = self._sole
        if sole is not None:
            credentials = [(sole, _Series.total([series for _, series in operations]))]
        else:
            credentials = sorted(self._by_credential.items())
        return {
            "operations": {k: v.snapshot() for k, v in operations},
            "credentials": {k: v.snapshot() for k, v in credentials},
        }

    def reset(self) -> None:
        self._by_operation.clear()
        self._by_credential.clear()
        self._sole = None

    def register(self, registry: Any = None) -> Any:
        """Expose these metrics to a ``prometheus_client`` registry (default: the global one).

        Needs the ``prometheus`` extra. Returns the collector that was registered.
        """
        from ._prometheus import MetricsCollector

        return MetricsCollector.register(self, registry)
