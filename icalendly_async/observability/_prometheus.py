"""Prometheus exposition of :class:`MetricsObserver` (needs ``prometheus_client``)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from ..errors import ConfigurationError

if TYPE_CHECKING:
    from .metrics import MetricsObserver

__all__ = ["MetricsCollector"]


class MetricsCollector:
    """A custom collector: reads the observer's snapshot at scrape time."""

    def __init__(self, observer: MetricsObserver) -> None:
        self._observer = observer

    @classmethod
    def register(cls, observer: MetricsObserver, registry: Any = None) -> MetricsCollector:
        try:
            import prometheus_client
        except ImportError:  # pragma: no cover - depends on the environment
            raise ConfigurationError(
                "Prometheus exposition needs prometheus_client: "
                "pip install 'icalendly-async[prometheus]'"
            ) from None
        collector = cls(observer)
        (registry or prometheus_client.REGISTRY).register(collector)
        return collector

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily

        snapshot = self._observer.snapshot()["operations"]
        counters = {
            "calls": "Logical calls finished",
            "attempts": "HTTP attempts sent",
            "retries": "Retries scheduled",
            "rate_limited": "429 responses received",
            "holds": "Times the credential was held",
        }
        for name, doc in counters.items():
            family = CounterMetricFamily(f"icalendly_{name}", doc, labels=["operation"])
            for operation, series in snapshot.items():
                family.add_metric([operation], series[name])
            yield family
        errors = CounterMetricFamily(
            "icalendly_errors", "Calls that ended in an error", labels=["operation", "error"]
        )
        for operation, series in snapshot.items():
            for error, count in series["errors"].items():
                errors.add_metric([operation, error], count)
        yield errors
        for name, doc in (
            ("limiter_wait_seconds", "Time waiting for the rate limiter"),
            ("latency_seconds", "Call latency, waits and retries included"),
        ):
            histograms = HistogramMetricFamily(f"icalendly_{name}", doc, labels=["operation"])
            for operation, series in snapshot.items():
                histogram = series[name]
                buckets = list(histogram["buckets"].items())
                histograms.add_metric([operation], buckets, histogram["sum"])
            yield histograms
