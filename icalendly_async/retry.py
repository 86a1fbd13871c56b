"""The retry policy: which outcomes are retried, and how long to wait first. Pure: no I/O, no sleep.

The session describes each failed attempt as an :class:`Outcome`, asks :meth:`RetryPolicy.decide`,
and does what it says. ``429`` waits are not sleeps of the calling task: the session hands them
to the limiter, so every call of that credential holds back together.
"""

from __future__ import annotations

import datetime
import email.utils
import enum
import math
import random
from collections.abc import Mapping
from typing import TYPE_CHECKING

import attrs

from .errors import ConfigurationError
from .ratelimit.headers import clamp_server_wait

if TYPE_CHECKING:
    from .ratelimit.headers import RateLimitState

__all__ = ["Decision", "Outcome", "OutcomeKind", "RetryPolicy", "server_wait"]

_IDEMPOTENT = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})


class OutcomeKind(enum.Enum):
    STATUS = "status"  # an HTTP response with an error status
    NOT_SENT = "not_sent"  # the connection could not be made: the server never saw the request
    TRANSPORT = "transport"  # broke or timed out after the request may have been sent
    FATAL = "fatal"  # fails the same way every time (a rejected TLS certificate): never retried


@attrs.frozen
class Outcome:
    """How one attempt failed."""

    kind: OutcomeKind
    method: str
    status: int | None = None
    retry_after: float | None = None  # from Retry-After or the rate-limit Reset headers


@attrs.frozen
class Decision:
    retry: bool
    delay: float = 0.0
    reason: str = ""


def _non_negative_int(instance: object, attribute: attrs.Attribute[int], value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ConfigurationError(f"{attribute.name} must be a whole number >= 0, got {value!r}")


def _non_negative(instance: object, attribute: attrs.Attribute[float], value: float) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
        raise ConfigurationError(f"{attribute.name} must be a number >= 0, got {value!r}")


@attrs.frozen
class RetryPolicy:
    """Bounded retries with exponential backoff and jitter.

    * connection failures before the request was sent: every method;
    * timeouts and broken connections after sending, and 500/502/503/504: idempotent methods only
      (GET, HEAD, PUT, DELETE, OPTIONS), so a POST is never sent twice;
    * 408 and 429 (the server did not process the request): every method; a 429 waits for the
      reset the server announced, and a wait longer than ``max_rate_limit_wait`` raises
      :class:`~icalendly_async.errors.RateLimitError` instead of sleeping.
    """

    max_retries: int = attrs.field(default=2, validator=_non_negative_int)
    backoff_base: float = attrs.field(default=0.5, validator=_non_negative)
    backoff_max: float = attrs.field(default=8.0, validator=_non_negative)
    max_rate_limit_wait: float = attrs.field(default=60.0, validator=_non_negative)
    server_error_statuses: frozenset[int] = frozenset({500, 502, 503, 504})

    def backoff(self, attempt: int) -> float:
        """Exponential backoff with "equal jitter" before retry number ``attempt`` (1-based)."""
        ceiling: float = min(self.backoff_max, self.backoff_base * 2.0 ** (attempt - 1))
        return ceiling / 2 + random.uniform(0, ceiling / 2)

    def decide(self, attempt: int, outcome: Outcome) -> Decision:
        """Whether to retry after failed attempt ``attempt`` (1-based), and after how long."""
        if attempt > self.max_retries:
            return Decision(False, reason=f"gave up after {attempt} attempts")
        idempotent = outcome.method.upper() in _IDEMPOTENT
        if outcome.kind is OutcomeKind.FATAL:
            return Decision(False, reason="not retryable")
        if outcome.kind is OutcomeKind.NOT_SENT:
            return Decision(True, self.backoff(attempt), "connection failed before sending")
        if outcome.kind is OutcomeKind.TRANSPORT:
            if idempotent:
                return Decision(True, self.backoff(attempt), "transport error")
            return Decision(False, reason=f"{outcome.method} may have reached the server")
        status = outcome.status
        if status == 429:
            wait = outcome.retry_after if outcome.retry_after is not None else self.backoff(attempt)
            if wait > self.max_rate_limit_wait:
                return Decision(False, wait, "rate-limit wait exceeds max_rate_limit_wait")
            return Decision(True, wait, "rate limited")
        if status == 408:
            return Decision(True, self._server_delay(attempt, outcome), "request timeout")
        if status in self.server_error_statuses:
            if not idempotent:
                return Decision(False, reason=f"{outcome.method} may have been processed")
            return Decision(True, self._server_delay(attempt, outcome), f"server error {status}")
        return Decision(False, reason=f"status {status} is not retried")

    def _server_delay(self, attempt: int, outcome: Outcome) -> float:
        if outcome.retry_after is not None:
            return min(outcome.retry_after, self.max_rate_limit_wait)
        return self.backoff(attempt)


def server_wait(headers: Mapping[str, str], state: RateLimitState, now: float) -> float | None:
    """Seconds the server asks to wait: the reset of an exhausted limit (else the tightest
    limit's), or ``Retry-After`` (seconds or an HTTP date; ``now`` is the epoch time); never
    more than ``MAX_SERVER_WAIT`` (an hour)."""
    waits: list[float] = []
    exhausted = state.exhausted_for
    tightest = state.tightest
    if exhausted is not None:
        waits.append(exhausted)
    elif tightest is not None and tightest.reset_seconds is not None:
        waits.append(tightest.reset_seconds)
    value = headers.get("Retry-After")
    if value and value.strip():
        try:
            seconds = float(value)
        except ValueError:
            try:
                when = email.utils.parsedate_to_datetime(value)
            except (TypeError, ValueError):
                when = None  # neither seconds nor an HTTP date: a proxy's noise, ignored
            if when is not None:
                if when.tzinfo is None:  # "-0000": UTC by RFC 5322
                    when = when.replace(tzinfo=datetime.timezone.utc)
                waits.append(max(0.0, when.timestamp() - now))
        else:
            if math.isfinite(seconds):
                waits.append(max(0.0, seconds))
    return clamp_server_wait(max(waits), "Retry-After") if waits else None
