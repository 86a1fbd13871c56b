"""What the pipeline tells observers, and how: events, the :class:`Observer` base, safe dispatch.

The session creates one :class:`CallInfo` per logical call and reports to every installed
observer at call start and end, at each attempt's start (after the limiter's wait) and end, before
a retry, on a token refresh, and when the credential is held (429, or ``Remaining: 0``). With no
observer installed the session uses :data:`NULL_TRACKER`, whose methods do nothing. Counters
(observers whose ``on_call_end`` is marked with :func:`counts_calls`, such as
``MetricsObserver``) get a call's figures as arguments when it ends: a call observed only by
counters builds no :class:`CallInfo`.

An observer that raises never breaks a call: its error is logged (type only, never the message,
which could quote a request) and the call goes on.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._session import RequestSpec
    from .plans import Plan
    from .ratelimit import Priority

__all__ = [
    "AttemptInfo",
    "CallCounter",
    "CallInfo",
    "NULL_TRACKER",
    "Events",
    "Observer",
    "Tracker",
    "count_calls",
    "counts_calls",
]

log = logging.getLogger("icalendly_async.observers")


class CallInfo:
    """One logical call (all its attempts). Observers may keep their own state in ``extra``.

    The counters (``attempts``, ``sent``, ``retries``, ``rate_limited``, ``holds``,
    ``limiter_wait``, ``status`` and ``duration``) are written when the call ends, before
    ``on_call_end``. Per-attempt events carry their own figures as arguments.

    What the call is (``method``, ``path``, ``operation_id``, ``api_version``, ``plan``,
    ``priority``) is read from the request when asked: one is built for every observed call,
    and most observers read only a few of these.
    """

    __slots__ = (
        "_extra",
        "_plan",
        "_priority",
        "_spec",
        "attempts",
        "credential",
        "duration",
        "holds",
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
    ) -> None:
        self._spec = spec
        self.name = spec.name  # "bookings.get", or "GET /v2/me" for raw requests
        self.credential = credential  # the credential's digest (its limit key)
        self._plan = plan
        self._priority = priority
        self.server = server  # the API host
        self.started = started  # time.monotonic()
        self.attempts = 0
        self.retries = 0
        self.sent = 0  # attempts sent: retries and the replay after a token refresh included
        self.rate_limited = 0  # 429 answers among the attempts
        self.holds = 0  # times the credential was held during the call
        self.limiter_wait = 0.0  # seconds, all attempts
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
        return plan._value_ if plan is not None else None

    @property
    def priority(self) -> str:
        """``"INTERACTIVE"``, ``"NORMAL"`` or ``"BULK"``."""
        return self._priority._name_

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


#: What the pipeline calls when a call ends, for an observer that only counts (see
#: :class:`Events`): name, credential digest, duration, limiter wait, attempts sent, retries,
#: 429s, holds, and the error the call ended with (``None`` on success).
CallCounter = Callable[[str, str, float, float, int, int, int, int, "BaseException | None"], None]


def count_calls(counters: Sequence[CallCounter], *figures: Any) -> None:
    """Hand a finished call's figures (in :data:`CallCounter`'s order) to each counter; like
    any observer, one that raises is logged and never breaks the call."""
    for counter in counters:
        try:
            counter(*figures)
        except Exception as exc:
            _failed(getattr(counter, "__self__", counter), "_count_call", exc)


def _failed(observer: object, method: str, exc: Exception) -> None:
    log.warning(
        "observer %s failed in %s (%s); the call goes on",
        type(observer).__name__,
        method,
        type(exc).__name__,
    )


def counts_calls(on_call_end: Callable[..., None]) -> Callable[..., None]:
    """Mark an observer's ``on_call_end`` as a wrapper of its ``_count_call`` (a
    :data:`CallCounter`): the pipeline then calls ``_count_call`` with the call's figures,
    and builds no :class:`CallInfo` for it. A subclass that overrides ``on_call_end`` again
    is an ordinary observer."""
    on_call_end._counts_calls = True  # type: ignore[attr-defined]
    return on_call_end


class Events:
    """For each event, the installed observers that override its method (computed once).

    An observer that only counts calls (``MetricsObserver``) is then not called, nor are event
    objects built for it, at every attempt. One whose ``on_call_end`` is marked with
    :func:`counts_calls` is a *counter*: the pipeline hands it the call's figures as arguments,
    and a call observed only by counters builds no tracker at all (``tracked`` is false).
    """

    __slots__ = (
        "attempt_end",
        "attempt_start",
        "call_end",
        "call_start",
        "conditional",
        "counters",
        "hold",
        "observers",
        "refresh",
        "retry",
        "tracked",
    )

    def __init__(self, observers: Sequence[Observer]) -> None:
        self.observers = tuple(observers)

        def overriding(method: str) -> tuple[Observer, ...]:
            base = getattr(Observer, method)
            return tuple(o for o in self.observers if getattr(type(o), method, base) is not base)

        self.call_start = overriding("on_call_start")
        self.attempt_start = overriding("on_attempt_start")
        self.attempt_end = overriding("on_attempt_end")
        self.retry = overriding("on_retry")
        self.refresh = overriding("on_refresh")
        self.hold = overriding("on_hold")
        counting = tuple(
            o
            for o in self.observers
            if getattr(type(o).on_call_end, "_counts_calls", False) and hasattr(o, "_count_call")
        )
        self.counters: tuple[CallCounter, ...] = tuple(o._count_call for o in counting)
        self.call_end = tuple(o for o in overriding("on_call_end") if o not in counting)
        # Observers that may be off for a call (their `active()` is asked at every call).
        self.conditional = overriding("active")
        # Whether a call needs a tracker: some observer wants more than the counters get.
        self.tracked = any(
            (
                self.call_start,
                self.attempt_start,
                self.attempt_end,
                self.retry,
                self.refresh,
                self.hold,
                self.call_end,
            )
        )


class Tracker(CallInfo):
    """A call's :class:`CallInfo` that also reports its events to the installed observers (an
    observer's error is logged). One object per observed call: the session builds it with
    :class:`CallInfo`'s arguments, then sets ``events``; observers see it as the ``CallInfo``.
    """

    __slots__ = ("events",)

    events: Events

    def start(self) -> None:
        for observer in self.events.call_start:
            try:
                observer.on_call_start(self)
            except Exception as exc:  # an observer never breaks a call
                _failed(observer, "on_call_start", exc)

    # The session keeps the call's counters (attempts, sent, limiter_wait, status,
    # rate_limited) itself and calls the three methods below only when an observer listens
    # to per-attempt events: an observer that only counts calls costs no call here.

    def attempt_start(self, attempt: int, limiter_wait: float) -> None:
        call = self
        for observer in self.events.attempt_start:
            try:
                observer.on_attempt_start(call, attempt, limiter_wait)
            except Exception as exc:
                _failed(observer, "on_attempt_start", exc)

    def attempt_failed(self, attempt: int, waited: float, duration: float, error: str) -> None:
        """An attempt ended without a response."""
        self._attempt_end(AttemptInfo(attempt, waited, duration, None, None, error))

    def attempt_answered(
        self, attempt: int, waited: float, duration: float, status: int, request_id: str | None
    ) -> None:
        """An attempt got an answer."""
        self._attempt_end(AttemptInfo(attempt, waited, duration, status, request_id, None))

    def _attempt_end(self, info: AttemptInfo) -> None:
        for observer in self.events.attempt_end:
            try:
                observer.on_attempt_end(self, info)
            except Exception as exc:
                _failed(observer, "on_attempt_end", exc)

    def retry(self, attempt: int, delay: float, reason: str) -> None:
        for observer in self.events.retry:
            try:
                observer.on_retry(self, attempt, delay, reason)
            except Exception as exc:
                _failed(observer, "on_retry", exc)

    def refresh(self, ok: bool) -> None:
        for observer in self.events.refresh:
            try:
                observer.on_refresh(self, ok)
            except Exception as exc:
                _failed(observer, "on_refresh", exc)

    def hold(self, seconds: float, reason: str) -> None:
        for observer in self.events.hold:
            try:
                observer.on_hold(self, seconds, reason)
            except Exception as exc:
                _failed(observer, "on_hold", exc)

    def end(self, error: BaseException | None) -> None:
        for observer in self.events.call_end:
            try:
                observer.on_call_end(self, error)
            except Exception as exc:
                _failed(observer, "on_call_end", exc)


class _NullTracker(Tracker):
    """The tracker when no observer is installed: every report is a no-op."""

    __slots__ = ()

    def __init__(self) -> None:
        self.events = Events(())

    def start(self) -> None:
        pass

    def attempt_start(self, attempt: int, limiter_wait: float) -> None:
        pass

    def attempt_failed(self, attempt: int, waited: float, duration: float, error: str) -> None:
        pass

    def attempt_answered(
        self, attempt: int, waited: float, duration: float, status: int, request_id: str | None
    ) -> None:
        pass

    def retry(self, attempt: int, delay: float, reason: str) -> None:
        pass

    def refresh(self, ok: bool) -> None:
        pass

    def hold(self, seconds: float, reason: str) -> None:
        pass

    def end(self, error: BaseException | None) -> None:
        pass


NULL_TRACKER: Tracker = _NullTracker()
