"""OpenTelemetry tracing (extra ``otel``): a span per logical call, a child span per attempt.

::

    from icalendly_async.observability.otel import OpenTelemetryObserver
    client = ICalendly(key, observers=[OpenTelemetryObserver()])

Call spans carry the operation (``icalendly.operation``, ``icalendly.operation_id``), the plan, the
priority, the total limiter wait and the retry count; attempt spans carry the HTTP
semantic-convention attributes (``http.request.method``, ``url.template``, ``server.address``,
``http.response.status_code``, ``http.request.resend_count``) and the attempt's limiter wait.
"""

from __future__ import annotations

from typing import Any

from opentelemetry import trace
from opentelemetry.trace import SpanKind, Status, StatusCode

from .._hooks import AttemptInfo, CallInfo, Observer
from .._version import __version__

__all__ = ["OpenTelemetryObserver"]

_CALL = "otel.call"
_ATTEMPT = "otel.attempt"


class OpenTelemetryObserver(Observer):
    """Records spans with the given tracer provider (default: the global one)."""

    def __init__(self, tracer_provider: Any = None) -> None:
        self._tracer = trace.get_tracer("icalendly_async", __version__, tracer_provider)

    def on_call_start(self, call: CallInfo) -> None:
        span = self._tracer.start_span(
            call.name,
            kind=SpanKind.CLIENT,
            attributes={
                "icalendly.operation": call.name,
                "icalendly.operation_id": call.operation_id or "",
                "icalendly.plan": call.plan or "",
                "icalendly.priority": call.priority,
                "http.request.method": call.method,
                "url.template": call.path,
                "server.address": call.server,
            },
        )
        call.extra[_CALL] = span

    def on_attempt_start(self, call: CallInfo, attempt: int, limiter_wait: float) -> None:
        parent = call.extra.get(_CALL)
        if parent is None:
            return
        attributes: dict[str, Any] = {
            "http.request.method": call.method,
            "url.template": call.path,
            "server.address": call.server,
            "icalendly.attempt": attempt,
            "icalendly.limiter_wait_ms": limiter_wait * 1000,
        }
        if attempt > 1:
            attributes["http.request.resend_count"] = attempt - 1
        call.extra[_ATTEMPT] = self._tracer.start_span(
            f"{call.method} {call.path}",
            context=trace.set_span_in_context(parent),
            kind=SpanKind.CLIENT,
            attributes=attributes,
        )

    def on_attempt_end(self, call: CallInfo, attempt: AttemptInfo) -> None:
        span = call.extra.pop(_ATTEMPT, None)
        if span is None:
            return
        if attempt.status is not None:
            span.set_attribute("http.response.status_code", attempt.status)
            if attempt.status >= 400:
                span.set_status(Status(StatusCode.ERROR))
        if attempt.error is not None:
            span.set_attribute("error.type", attempt.error)
            span.set_status(Status(StatusCode.ERROR))
        if attempt.request_id:
            span.set_attribute("icalendly.request_id", attempt.request_id)
        span.end()

    def on_retry(self, call: CallInfo, attempt: int, delay: float, reason: str) -> None:
        span = call.extra.get(_CALL)
        if span is not None:
            span.add_event("retry", {"attempt": attempt, "delay_s": delay, "reason": reason})

    def on_hold(self, call: CallInfo, seconds: float, reason: str) -> None:
        span = call.extra.get(_CALL)
        if span is not None:
            span.add_event("rate_limit_hold", {"seconds": seconds, "reason": reason})

    def on_call_end(self, call: CallInfo, error: BaseException | None) -> None:
        attempt_span = call.extra.pop(_ATTEMPT, None)
        if attempt_span is not None:  # cancelled mid-attempt
            attempt_span.end()
        span = call.extra.pop(_CALL, None)
        if span is None:
            return
        span.set_attribute("icalendly.limiter_wait_ms", call.limiter_wait * 1000)
        span.set_attribute("icalendly.retry_count", call.retries)
        span.set_attribute("icalendly.attempts", call.attempts)
        if call.status is not None:
            span.set_attribute("http.response.status_code", call.status)
        if error is not None:
            span.set_attribute("error.type", type(error).__name__)
            span.set_status(Status(StatusCode.ERROR, type(error).__name__))
        span.end()
