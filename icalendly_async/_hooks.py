"""What the pipeline tells observers: the per-call record, the :class:`Observer` base, dispatch.

The pipeline builds one :class:`CallInfo` per logical call: what the call is and what happened
to it (attempts, waits, retries, holds, where its time went). It reports to the installed
observers at call start and end, at each attempt's start (after the limiter's wait) and end,
before a retry, on a token refresh, and when the credential is held (429, or
``Remaining: 0``). :class:`Events` knows, per event, which observers want it, so that an event
nobody listens to costs nothing but a check of an empty tuple.

An observer that raises never breaks a call: its error is logged (type only, never the message,
which could quote a request) and the call goes on.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._request import RequestSpec
    from .plans import Plan
    from .ratelimit import Priority

__all__ = ["AttemptInfo", "CallInfo", "Events", "Observer"]

log = logging.getLogger("icalendly_async.observers")


class CallInfo:
    """One logical call (all its attempts). Observers may keep their own state in ``extra``.

    The pipeline updates the figures (``attempts``, ``sent``, ``retries``, ``rate_limited``,
    ``holds``, ``limiter_wait``, ``in_flight``, ``backing_off``, ``status``) as the call goes,
    and sets ``duration`` just before ``on_call_end``. Per-attempt events carry their own
    figures as arguments.

    What the call is (``method``, ``path``, ``operation_id``, ``api_version``, ``plan``,
    ``priority``) is read from the request when asked.
    """

    __slots__ = (
        "_extra",
        "_plan",
        "_priority",
        "_spec",
        "attempts",
        "backing_off",
        "credential",
        "deadline",
        "duration",
        "holds",
        "in_flight",
        "limiter_wait",
        "name",
        "rate_limited",
        "retries",
        "sent",
        "server",
        "started",
        "status",
    )

    def __init__(
        self,
        spec: RequestSpec,
        credential: str,
        plan: Plan | None,
        priority: Priority,
        server: str,
        started: float,
        deadline: float | None = None,
    ) -> None:
        self._spec = spec
        self.name = spec.name  # "bookings.get", or "GET /v2/me" for raw requests
        self.credential = credential  # the credential's digest (its limit key)
        self._plan = plan
        self._priority = priority
        self.server = server  # the API host
        self.started = started  # on the pipeline's clock (monotonic seconds)
        self.deadline = deadline  # when the call's timeout runs out (None: no total timeout)
        self.attempts = 0
        self.retries = 0
        self.sent = 0  # attempts sent: retries and the replay after a token refresh included
        self.rate_limited = 0  # 429 answers among the attempts
        self.holds = 0  # times the credential was held during the call
        self.limiter_wait = 0.0  # seconds queued for the limiter, all attempts
        self.in_flight = 0.0  # seconds connecting, sending and reading, all attempts
        self.backing_off = 0.0  # seconds slept between attempts
        self.status: int | None = None  # the last HTTP status seen
        self.duration = 0.0  # seconds from start to end, set just before on_call_end
        self._extra: dict[object, Any] | None = None

    @property
    def operation_id(self) -> str | None:
        """The OpenAPI operation id (``None`` for raw requests)."""
        return self._spec.operation_id

    @property
    def method(self) -> str:
        return self._spec.method

    @property
    def path(self) -> str:
        """The path template: never ids, query strings or secrets."""
        spec = self._spec
        return spec.template or spec.path

    @property
    def api_version(self) -> str | None:
        """The ``cal-api-version`` header the call sends, if any."""
        return self._spec.headers.get("cal-api-version")

    @property
    def plan(self) -> str | None:
        """The client's plan (``"platform"``…), ``None`` when none was given."""
        plan = self._plan
        return plan.value if plan is not None else None

    @property
    def priority(self) -> str:
        """``"INTERACTIVE"``, ``"NORMAL"`` or ``"BULK"``."""
        return self._priority.name

    @property
    def extra(self) -> dict[object, Any]:
        """Where observers keep their own state for this call (created on first use)."""
        extra = self._extra
        if extra is None:
            extra = self._extra = {}
        return extra

    def __repr__(self) -> str:
        return f"<CallInfo {self.name} attempts={self.attempts}>"


class AttemptInfo:
    """How one attempt went: an HTTP status, or the error that replaced it."""

    __slots__ = ("duration", "error", "limiter_wait", "number", "request_id", "status")

    def __init__(
        self,
        number: int,
        limiter_wait: float,
        duration: float,
        status: int | None,
        request_id: str | None,
        error: str | None,
    ) -> None:
        self.number = number
        self.limiter_wait = limiter_wait  # seconds this attempt waited for the limiter
        self.duration = duration  # seconds from send to the end of the body (or the failure)
        self.status = status
        self.request_id = request_id
        self.error = error  # the error class name when no response came

    def __repr__(self) -> str:
        return f"<AttemptInfo #{self.number} status={self.status} error={self.error}>"


class Observer:
    """Subclass and override what you need; every method does nothing by default.

    Methods are called on the event loop, in the call's task: keep them quick.
    """

    def active(self) -> bool:
        """Whether this observer wants the events of a call starting now (checked per call).

        An observer that is off (``LoggingObserver`` with its logger disabled) returns
        ``False``, and a call with no active observer builds no event objects at all.
        """
        return True

    def on_call_start(self, call: CallInfo) -> None:
        """The call entered the pipeline (after the tier check)."""

    def on_attempt_start(self, call: CallInfo, attempt: int, limiter_wait: float) -> None:
        """Attempt ``attempt`` (1-based) was granted by the limiter after ``limiter_wait`` s."""

    def on_attempt_end(self, call: CallInfo, attempt: AttemptInfo) -> None:
        """An attempt ended with a response or a transport error."""

    def on_retry(self, call: CallInfo, attempt: int, delay: float, reason: str) -> None:
        """Attempt ``attempt`` failed and will be retried after ``delay`` seconds."""

    def on_refresh(self, call: CallInfo, ok: bool) -> None:
        """The credential was refreshed (or the refresh failed) after a 401/498."""

    def on_hold(self, call: CallInfo, seconds: float, reason: str) -> None:
        """The credential is held for ``seconds``: ``"429"`` or ``"remaining 0"``."""

    def on_call_end(self, call: CallInfo, error: BaseException | None) -> None:
        """The call finished: ``error`` is ``None`` on success."""


def _failed(observer: object, method: str, exc: Exception) -> None:
    log.warning(
        "observer %s failed in %s (%s); the call goes on",
        type(observer).__name__,
        method,
        type(exc).__name__,
    )


class Events:
    """The installed observers, and for each event the ones that override its method.

    ``for_call()`` gives the events of the observers active for a call starting now (an
    inactive ``LoggingObserver`` is skipped); each reporting method calls the observers that
    want that event, logging any error they raise.
    """

    __slots__ = (
        "_attempt_end",
        "_attempt_start",
        "_call_end",
        "_call_start",
        "_conditional",
        "_hold",
        "_refresh",
        "_retry",
        "_subsets",
        "observers",
    )

    def __init__(self, observers: Sequence[Observer]) -> None:
        self.observers = tuple(observers)

        def overriding(method: str) -> tuple[Observer, ...]:
            base = getattr(Observer, method)
            return tuple(o for o in self.observers if getattr(type(o), method, base) is not base)

        self._call_start = overriding("on_call_start")
        self._attempt_start = overriding("on_attempt_start")
        self._attempt_end = overriding("on_attempt_end")
        self._retry = overriding("on_retry")
        self._refresh = overriding("on_refresh")
        self._hold = overriding("on_hold")
        self._call_end = overriding("on_call_end")
        self._conditional = overriding("active")  # asked at every call
        self._subsets: dict[tuple[Observer, ...], Events] = {}

    @property
    def wants_attempts(self) -> bool:
        """Whether an observer listens to attempts' ends (the pipeline then times them)."""
        return bool(self._attempt_end)

    def for_call(self) -> Events:
        """The events of the observers active for a call starting now."""
        off: tuple[Observer, ...] = ()
        for observer in self._conditional:
            if not observer.active():
                off += (observer,)
        if not off:
            return self
        try:
            events = self._subsets.get(off)
            if events is None:  # a few observers: a few subsets, each computed once
                events = self._subsets[off] = self._without(off)
        except TypeError:  # an observer that cannot be hashed: computed for this call
            events = self._without(off)
        return events

    def _without(self, off: tuple[Observer, ...]) -> Events:
        return Events([o for o in self.observers if not any(o is x for x in off)])

    def call_start(self, call: CallInfo) -> None:
        for observer in self._call_start:
            try:
                observer.on_call_start(call)
            except Exception as exc:  # an observer never breaks a call
                _failed(observer, "on_call_start", exc)

    def attempt_start(self, call: CallInfo, attempt: int, limiter_wait: float) -> None:
        for observer in self._attempt_start:
            try:
                observer.on_attempt_start(call, attempt, limiter_wait)
            except Exception as exc:
                _failed(observer, "on_attempt_start", exc)

    def attempt_end(self, call: CallInfo, info: AttemptInfo) -> None:
        for observer in self._attempt_end:
            try:
                observer.on_attempt_end(call, info)
            except Exception as exc:
                _failed(observer, "on_attempt_end", exc)

    def retry(self, call: CallInfo, attempt: int, delay: float, reason: str) -> None:
        for observer in self._retry:
            try:
                observer.on_retry(call, attempt, delay, reason)
            except Exception as exc:
                _failed(observer, "on_retry", exc)

    def refresh(self, call: CallInfo, ok: bool) -> None:
        for observer in self._refresh:
            try:
                observer.on_refresh(call, ok)
            except Exception as exc:
                _failed(observer, "on_refresh", exc)

    def hold(self, call: CallInfo, seconds: float, reason: str) -> None:
        for observer in self._hold:
            try:
                observer.on_hold(call, seconds, reason)
            except Exception as exc:
                _failed(observer, "on_hold", exc)

    def call_end(self, call: CallInfo, error: BaseException | None) -> None:
        for observer in self._call_end:
            try:
                observer.on_call_end(call, error)
            except Exception as exc:
                _failed(observer, "on_call_end", exc)
