"""The one place that does network I/O: an ``aiohttp.ClientSession`` and one HTTP attempt.

:class:`HttpTransport` owns (or borrows) the session and its connection pool, binds them to the
event loop of the first call, and sends one attempt: :meth:`HttpTransport.send` returns an
:class:`Answer` (status, headers, body read whole) or raises :class:`AttemptFailed`, which says
whether the request may have reached the server (the retry policy needs to know) and carries
the library error to raise if it is not retried.
"""

from __future__ import annotations

import asyncio
import platform
import ssl as _ssl
from collections.abc import Mapping

import aiohttp
from yarl import URL

from . import errors
from ._request import DEFAULT_TIMEOUT, RequestSpec
from ._version import __version__
from .retry import OutcomeKind

__all__ = ["DEFAULT_MAX_RESPONSE_BYTES", "USER_AGENT", "Answer", "AttemptFailed", "HttpTransport"]

#: The largest response body read by default (64 MiB): far above any page the API sends, far
#: below what would exhaust a worker's memory when a server (or a proxy) misbehaves.
DEFAULT_MAX_RESPONSE_BYTES = 64 * 1024 * 1024
_CHUNK = 256 * 1024

USER_AGENT = (
    f"icalendly-async/{__version__} (python {platform.python_version()}; "
    f"aiohttp {aiohttp.__version__})"
)


class Answer:
    """An HTTP response, read whole."""

    __slots__ = ("body", "headers", "status")

    def __init__(self, status: int, headers: Mapping[str, str], body: bytes) -> None:
        self.status = status
        self.headers = headers
        self.body = body


class AttemptFailed(Exception):
    """An attempt that produced no response: how it failed, and the error to raise."""

    def __init__(self, kind: OutcomeKind, error: errors.TransportError) -> None:
        super().__init__(str(error))
        self.kind = kind
        self.error = error


class HttpTransport:
    """The aiohttp session of a client and all its views."""

    def __init__(
        self,
        base_url: URL,
        *,
        session: aiohttp.ClientSession | None,
        ssl: _ssl.SSLContext | bool,
        connection_limit: int,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
    ) -> None:
        self.base_url = base_url
        self.max_response_bytes = max_response_bytes
        self.host = base_url.host or ""
        # The base URL without its trailing slash: a call's URL is this and the call's path.
        self._prefix = str(base_url.with_path(base_url.raw_path.rstrip("/"), encoded=True))
        self._session = session
        self._owns_session = session is None
        if session is not None:
            _no_silent_resend(session)
        self._ssl = ssl
        self._connection_limit = connection_limit
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closed = False

    def check_loop(self) -> None:
        """Refuse a call from another event loop than the one the client is bound to.

        The connection pool (like every asyncio object) belongs to the loop it was created in;
        used from another loop, asyncio fails deep inside with ``Event loop is closed`` or
        ``attached to a different loop``. The client binds to the loop of its first call.
        """
        if self._closed:
            raise errors.ConfigurationError("this client is closed; create a new ICalendly")
        loop = asyncio.get_running_loop()
        if self._loop is loop:
            return
        if self._loop is None:
            self._loop = loop
            return
        state = "has closed" if self._loop.is_closed() else "is another one"
        raise errors.ConfigurationError(
            "this client was first used in an event loop that "
            f"{state}: a client (its connection pool, its limiter) belongs to one loop. Create "
            "the client inside the loop that uses it, e.g. in the coroutine you pass to "
            "asyncio.run(), and use one client per asyncio.run()."
        )

    @property
    def session(self) -> aiohttp.ClientSession:
        """The aiohttp session, created on first use inside the running loop."""
        if self._closed:
            raise errors.ConfigurationError("this client is closed; create a new ICalendly")
        if self._session is None:
            connector = aiohttp.TCPConnector(limit=self._connection_limit, ssl=self._ssl)
            self._session = aiohttp.ClientSession(
                connector=connector,
                timeout=DEFAULT_TIMEOUT,
                headers={"User-Agent": USER_AGENT, "Accept": "application/json"},
                trust_env=False,
                # No cookies kept: every call is authorized by its own credential, and one pool
                # serves all of a client's credentials (with_credential), so a cookie set in
                # one user's answer would go out with the next user's calls.
                cookie_jar=aiohttp.DummyCookieJar(),
            )
            _no_silent_resend(self._session)
        return self._session

    @property
    def connector(self) -> aiohttp.BaseConnector | None:
        """The connection pool, once created (for diagnostics and tests)."""
        return self._session.connector if self._session is not None else None

    def url(self, path: str) -> str:
        """The URL of ``path`` (already quoted) under the base URL."""
        return self._prefix + path

    async def aclose(self) -> None:
        self._closed = True
        if self._owns_session and self._session is not None and not self._session.closed:
            await self._session.close()

    async def send(
        self,
        spec: RequestSpec,
        url: str,
        headers: Mapping[str, str],
        timeout: aiohttp.ClientTimeout,
    ) -> Answer:
        """One attempt: the whole response, or :class:`AttemptFailed`."""
        if spec.body is not None:
            headers = {**headers, "Content-Type": spec.content_type}
        try:
            async with self.session.request(
                spec.method,
                URL(url, encoded=True),  # quoted already: sent as it is
                params=spec.query or None,
                data=spec.body,
                headers=headers,
                timeout=timeout,
                allow_redirects=False,  # never carry credentials to another origin
                # True defers to the session's connector; a context (or False) given to
                # ICalendly(ssl=...) applies to a user-supplied session too
                ssl=self._ssl,
            ) as resp:
                return Answer(resp.status, resp.headers, await self._read(spec, resp))
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            raise _failure(f"{spec.method} {spec.path}", exc, timeout) from None

    async def _read(self, spec: RequestSpec, resp: aiohttp.ClientResponse) -> bytes:
        """The body, never more than ``max_response_bytes`` of it (else AttemptFailed)."""
        limit = self.max_response_bytes
        declared = resp.content_length
        if declared is not None and declared <= limit:
            return await resp.read()  # aiohttp reads no more than the declared length
        if declared is not None:
            raise self._too_large(spec, declared)
        body = bytearray()
        async for chunk in resp.content.iter_chunked(_CHUNK):
            body += chunk
            if len(body) > limit:
                raise self._too_large(spec, None)
        return bytes(body)

    def _too_large(self, spec: RequestSpec, size: int | None) -> AttemptFailed:
        limit = self.max_response_bytes
        told = f"{size:,} bytes" if size is not None else f"more than {limit:,} bytes"
        return AttemptFailed(
            OutcomeKind.FATAL,  # the same request would get the same body
            errors.ResponseTooLargeError(
                f"{spec.method} {spec.path}: the response body is {told}, over "
                f"max_response_bytes={limit:,}; it was not read whole (raise the limit with "
                "ICalendly(max_response_bytes=…) if this is expected)",
                limit=limit,
                size=size,
            ),
        )


def _failure(
    where: str, exc: aiohttp.ClientError | asyncio.TimeoutError, timeout: aiohttp.ClientTimeout
) -> AttemptFailed:
    """What an aiohttp error means for the retry policy, and the error to raise for it."""
    if isinstance(exc, aiohttp.ClientConnectorCertificateError):
        # Not retried: another attempt would meet the same certificate.
        return AttemptFailed(
            OutcomeKind.FATAL,
            errors.ConnectionError(
                f"{where}: TLS certificate verification failed ({exc.certificate_error}); "
                "pass ICalendly(ssl=context) with a context that trusts the server's CA"
            ),
        )
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        return AttemptFailed(
            OutcomeKind.NOT_SENT,
            errors.TimeoutError(f"{where}: could not connect within {timeout.connect} s"),
        )
    if isinstance(exc, aiohttp.ClientConnectorError):
        return AttemptFailed(
            OutcomeKind.NOT_SENT, errors.ConnectionError(f"{where}: cannot connect: {exc}")
        )
    if isinstance(exc, (aiohttp.ServerTimeoutError, asyncio.TimeoutError)):
        if isinstance(exc, aiohttp.ServerTimeoutError) and timeout.sock_read is not None:
            limit = f"the read timeout (sock_read={timeout.sock_read:g} s)"
        else:  # the attempt's total: what was left of the call's budget
            limit = "the call's timeout"
        return AttemptFailed(
            OutcomeKind.TRANSPORT,
            errors.TimeoutError(f"{where}: no complete response within {limit}"),
        )
    return AttemptFailed(
        OutcomeKind.TRANSPORT,
        errors.ConnectionError(
            f"{where}: connection broke before a full response ({type(exc).__name__})"
        ),
    )


def _no_silent_resend(session: aiohttp.ClientSession) -> None:
    """Switch off aiohttp's silent resend of an idempotent request over a dropped keep-alive
    connection: that send would bypass the limiter and the retry policy, which own every
    attempt here."""
    if hasattr(session, "_retry_connection"):
        session._retry_connection = False
