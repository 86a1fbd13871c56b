"""The exception tree. Every call ends in a result or one of these.

::

    ICalendlyError
    ├── ConfigurationError            bad arguments; raised before anything is sent
    │   └── ParameterError            an endpoint argument of the wrong type or name
    ├── PlanTierError                 the operation is outside the client's plan; nothing sent
    ├── ReauthorizationRequired       a user's grant is gone (``invalid_grant``): send them through
    │                                 the OAuth flow again (``user_key`` says who)
    ├── OAuthStateError               the ``state`` of an OAuth callback is not the one issued
    ├── TokenStoreWriteError          a refreshed token pair could not be stored (still in use here)
    ├── TransportError                no usable HTTP response
    │   ├── TimeoutError              (also an ``asyncio.TimeoutError``)
    │   └── ConnectionError           (also a builtin ``ConnectionError``)
    ├── DecodeError                   a body that is not the envelope, or data of the wrong type
    └── APIError                      the server answered with an error status
        ├── BadRequestError           400
        ├── AuthenticationError       401, 498
        ├── PermissionDeniedError     403
        ├── NotFoundError             404
        ├── ConflictError             409
        ├── UnprocessableEntityError  422
        ├── RateLimitError            429 (``retry_after`` seconds)
        └── ServerError               5xx

No message built here contains a credential: callers pass redacted values only, and the
response kept on :class:`APIError` is the library's own response object, whose repr is safe.
"""

from __future__ import annotations

import asyncio
import builtins
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .plans import Plan
    from .response import Response

__all__ = [
    "APIError",
    "AuthenticationError",
    "BadRequestError",
    "ConfigurationError",
    "ConflictError",
    "ConnectionError",
    "DecodeError",
    "ICalendlyError",
    "NotFoundError",
    "OAuthStateError",
    "ParameterError",
    "PermissionDeniedError",
    "PlanTierError",
    "RateLimitError",
    "ReauthorizationRequired",
    "ServerError",
    "TimeoutError",
    "TokenStoreWriteError",
    "TransportError",
    "UnprocessableEntityError",
    "error_for_status",
]


class ICalendlyError(Exception):
    """Base class of every error this library raises."""


class ConfigurationError(ICalendlyError, ValueError):
    """An argument or setting is wrong; the message says which and how to fix it."""


class ParameterError(ConfigurationError, TypeError):
    """An argument of an endpoint method (a path or query parameter, or a field of the body) has
    the wrong type or name. Raised before anything is sent.

    ``parameter`` names it (the method's argument name, or the body field's path such as
    ``attendee.timeZone``), ``expected`` says what it should be, and ``suggestions`` lists the
    closest valid names when the name itself is unknown.
    """

    def __init__(
        self,
        message: str,
        *,
        parameter: str,
        expected: str | None = None,
        suggestions: tuple[str, ...] = (),
    ) -> None:
        super().__init__(message)
        self.parameter = parameter
        self.expected = expected
        self.suggestions = suggestions

    @classmethod
    def unknown_key(
        cls, where: str, key: object, valid: list[str], accepted: list[str] | None = None
    ) -> ParameterError:
        """``where`` is a key the body does not have; the message names the closest of
        ``accepted`` (default ``valid``) and lists ``valid``."""
        import difflib

        text = key if isinstance(key, str) else repr(key)
        close = tuple(difflib.get_close_matches(text, accepted or valid, n=3, cutoff=0.5))
        hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
        return cls(
            f"body field {where!r} is unknown{hint} (the fields: {', '.join(valid)})",
            parameter=where,
            suggestions=close,
        )


class PlanTierError(ICalendlyError):
    """The operation is not part of the client's plan. Raised before any byte is sent."""

    def __init__(self, operation: str, plan: Plan, allowed: Iterable[Plan]) -> None:
        self.operation = operation
        self.plan = plan
        self.allowed = tuple(sorted(allowed, key=lambda p: p.value))
        names = ", ".join(f"Plan.{p.name}" for p in self.allowed)
        super().__init__(
            f"{operation} is not available on Plan.{plan.name}; it needs {names}. "
            "Nothing was sent. Create the client with the plan your account has "
            "(or plan=None to let the server decide)."
        )


class ReauthorizationRequired(ICalendlyError):
    """The user's tokens can no longer be refreshed: send them through the OAuth flow again.

    Raised when the token endpoint refuses a refresh with ``invalid_grant`` (the user revoked the
    app, the refresh token expired or was used twice), and by every later call for the same user:
    the token store forgets the dead pair, so no other process tries it again. ``user_key`` is the
    key the pair was stored under (your user's id); ``error`` the server's RFC 6749 error code when
    one was given.
    """

    def __init__(self, user_key: str, reason: str, *, error: str | None = None) -> None:
        self.user_key = user_key
        self.error = error
        super().__init__(
            f"user {user_key!r} must authorize the app again: {reason}. Send them to "
            "OAuthApp.authorization_url() and store the new pair with exchange_code()."
        )


class OAuthStateError(ICalendlyError):
    """The ``state`` the OAuth callback carries is not the one this browser was sent with.

    Raised by :meth:`~icalendly_async.OAuthApp.exchange_code` before anything is sent: the
    callback may be forged (CSRF) or belong to another login attempt. Answer 400 and start over.
    """


class TokenStoreWriteError(ICalendlyError):
    """A refreshed token pair could not be written to the token store.

    The refresh itself succeeded and the old refresh token is now dead on the server, so the new
    pair is the only one that works: it was handed to ``on_refresh`` first, it is kept in this
    process (the next call uses it, and writing it is tried again), and the store write was
    retried. ``user_key`` names the pair; the cause is the store's own error.
    """

    def __init__(self, user_key: str, message: str) -> None:
        self.user_key = user_key
        super().__init__(message)


class TransportError(ICalendlyError):
    """The request did not produce a usable HTTP response."""


class TimeoutError(TransportError, asyncio.TimeoutError):  # noqa: A001 - deliberate, namespaced
    """The call's ``timeout`` ran out: nothing more is sent for it.

    A call's timeout bounds all of it: waiting for the rate limiter, every attempt, every
    backoff between attempts. ``phase`` says where the time ran out (``"queued"``: waiting for
    the limiter; ``"in_flight"``: connecting, sending or reading; ``"backing_off"``: the next
    retry would start after the deadline), and ``queued``, ``in_flight`` and ``backing_off``
    how many seconds the call spent in each, over its ``attempts``.
    """

    def __init__(
        self,
        message: str,
        *,
        phase: str = "in_flight",
        timeout: float | None = None,
        queued: float = 0.0,
        in_flight: float = 0.0,
        backing_off: float = 0.0,
        attempts: int = 0,
    ) -> None:
        super().__init__(message)
        self.phase = phase
        self.timeout = timeout
        self.queued = queued
        self.in_flight = in_flight
        self.backing_off = backing_off
        self.attempts = attempts


class ConnectionError(TransportError, builtins.ConnectionError):  # noqa: A001 - deliberate, namespaced
    """The connection could not be made, or broke before a full response arrived."""


class ResponseTooLargeError(TransportError):
    """The response body is larger than ``ICalendly(max_response_bytes=…)``; it was not read
    whole (a ``Content-Length`` over the limit is refused before reading anything)."""

    def __init__(self, message: str, *, limit: int, size: int | None) -> None:
        super().__init__(message)
        self.limit = limit
        self.size = size


class DecodeError(ICalendlyError):
    """The body is not the documented envelope (HTML error page, truncated JSON, ...), or its data
    does not fit the operation's documented type.

    For the latter, ``operation`` names the method, ``path`` the place in the JSON
    (``data.attendees[2].email``), ``expected`` the type the document gives it, and
    ``content`` holds the raw body as received (``response`` the whole response). ``body`` is a
    short preview of what was received.
    """

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        body: str = "",
        operation: str | None = None,
        path: str | None = None,
        expected: str | None = None,
        content: bytes = b"",
        response: Response | None = None,
    ) -> None:
        self.status = status
        self.body = body
        self.operation = operation
        self.path = path
        self.expected = expected
        self.content = content
        self.response = response
        super().__init__(message)


class APIError(ICalendlyError):
    """The server answered with an error status and (usually) the error envelope."""

    def __init__(
        self,
        status: int,
        code: str | None,
        message: str,
        details: Any = None,
        request_id: str | None = None,
        response: Response | None = None,
    ) -> None:
        self.status = status
        self.code = code
        self.message = message
        self.details = details
        self.request_id = request_id
        self.response = response
        parts = [f"HTTP {status}"]
        if code:
            parts.append(code)
        text = " ".join(parts) + (f": {message}" if message else "")
        if request_id:
            text += f" (request id {request_id})"
        super().__init__(text)


class BadRequestError(APIError):
    """400: the request was malformed or failed validation."""


class AuthenticationError(APIError):
    """401 or 498: the credential is missing, wrong, or expired."""


class PermissionDeniedError(APIError):
    """403: the credential may not do this (often: outside the account's plan)."""


class NotFoundError(APIError):
    """404: no such resource."""


class ConflictError(APIError):
    """409: the request conflicts with the current state (e.g. a taken slot)."""


class UnprocessableEntityError(APIError):
    """422: the request was understood but cannot be processed."""


class RateLimitError(APIError):
    """429, or a wait for the rate limit longer than the configured cap.

    ``retry_after`` is how many seconds until the credential may send again.
    """

    def __init__(
        self,
        status: int,
        code: str | None,
        message: str,
        details: Any = None,
        request_id: str | None = None,
        response: Response | None = None,
        *,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(status, code, message, details, request_id, response)
        self.retry_after = retry_after


class ServerError(APIError):
    """5xx: the server failed."""


_BY_STATUS: dict[int, type[APIError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    422: UnprocessableEntityError,
    429: RateLimitError,
    498: AuthenticationError,
}


def error_for_status(status: int) -> type[APIError]:
    """The exception class for an HTTP error status."""
    if status in _BY_STATUS:
        return _BY_STATUS[status]
    if status >= 500:
        return ServerError
    return APIError
