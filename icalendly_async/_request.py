"""What a call is before it runs: the request, the settings it runs with, the checks on both.

Nothing here does I/O. :class:`RequestSpec` is one call ready to send (everything but the
credential's headers); :class:`CallOptions` the settings of the client or view that makes it;
:func:`to_timeout` and :func:`check_base_url` turn user input into those, or refuse it with a
:class:`~icalendly_async.errors.ConfigurationError`.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping

import aiohttp
import attrs
from yarl import URL

from . import errors
from .endpoints._operation import AuthRequirement
from .plans import Tier
from .ratelimit import Priority
from .retry import RetryPolicy

__all__ = [
    "DEFAULT_BASE_URL",
    "DEFAULT_TIMEOUT",
    "CallOptions",
    "RequestSpec",
    "check_base_url",
    "check_header_text",
    "is_loopback",
    "to_timeout",
]

DEFAULT_BASE_URL = "https://api.icalendly.com"
# 60 s for the whole call (limiter wait, attempts, backoffs), at most 10 s of it to connect.
# No separate read timeout: the total bounds every read.
DEFAULT_TIMEOUT = aiohttp.ClientTimeout(total=60.0, connect=10.0)


def to_timeout(value: float | aiohttp.ClientTimeout | None) -> aiohttp.ClientTimeout | None:
    """Seconds (total; connect at most 10 s of it) or a ready ``aiohttp.ClientTimeout``."""
    if value is None or isinstance(value, aiohttp.ClientTimeout):
        return value
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise errors.ConfigurationError(
            "timeout must be a positive number of seconds or an aiohttp.ClientTimeout, "
            f"got {value!r}"
        )
    seconds = float(value)
    return aiohttp.ClientTimeout(total=seconds, connect=min(10.0, seconds))


def check_base_url(base_url: str, allow_insecure_http: bool) -> URL:
    """HTTPS only, unless ``allow_insecure_http`` and the host is this machine (the emulator)."""
    try:
        url = URL(base_url)
    except (TypeError, ValueError):
        raise errors.ConfigurationError(f"base_url {base_url!r} is not a URL") from None
    if url.scheme not in ("https", "http") or not url.host:
        raise errors.ConfigurationError(
            f"base_url must be an absolute https:// URL such as {DEFAULT_BASE_URL}, "
            f"got {base_url!r}"
        )
    if url.user or url.password:
        raise errors.ConfigurationError("base_url must not carry credentials; pass a credential")
    if url.query_string or url.fragment:
        raise errors.ConfigurationError("base_url must not have a query or fragment")
    if url.path.rstrip("/").endswith("/v2"):
        raise errors.ConfigurationError(
            f"base_url {base_url!r} ends in /v2, but every path already begins with /v2/ "
            f"(/v2/me): pass the host alone, such as {DEFAULT_BASE_URL}"
        )
    if url.scheme == "http":
        if not allow_insecure_http:
            raise errors.ConfigurationError(
                f"refusing plain-http base_url {base_url!r}: the service is HTTPS-only and "
                "credentials would travel in clear text. For a local test server (the emulator) "
                "pass allow_insecure_http=True."
            )
        if not is_loopback(url.host):
            raise errors.ConfigurationError(
                f"allow_insecure_http only allows loopback hosts (127.0.0.1, ::1, localhost), "
                f"not {url.host!r}; use https:// for any other host"
            )
    return url


_CONTROL = ("\r", "\n", "\0")


def check_header_text(what: str, value: str) -> str:
    """``value`` when it can go into an HTTP header (or a request line) as it is.

    CR, LF and NUL could end the header early and smuggle another one in (header injection):
    refused before anything is sent, naming where the value came from.
    """
    for char in _CONTROL:
        if char in value:
            raise errors.ConfigurationError(
                f"{what} contains a {char!r} character; a header value or path cannot hold CR, "
                "LF or NUL (it would split the request). Remove it."
            )
    return value


def is_loopback(host: str) -> bool:
    """Whether ``host`` names this machine (``localhost``, ``127.0.0.0/8``, ``::1``)."""
    if host.lower() in ("localhost", "localhost."):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class RequestSpec:
    """One call, ready to send: everything but the credential's headers.

    ``name`` names the call in messages and logs (``"bookings.get"``, or ``"GET /v2/me"``);
    ``template`` is the path template, for logs and metrics (never ids). ``content_type`` is
    the body's media type (the OAuth token endpoint also takes a form); ``envelope=False``
    marks an endpoint whose answer is not the service's envelope (RFC 6749's token endpoint),
    so that the whole JSON body is the data. ``lenient=True`` marks an operation whose published
    document does not declare the envelope: an empty body is then no data, and a JSON body
    that is not the envelope is the data itself.
    """

    __slots__ = (
        "auth",
        "body",
        "content_type",
        "envelope",
        "headers",
        "lenient",
        "method",
        "name",
        "operation_id",
        "path",
        "query",
        "template",
        "tier",
    )

    def __init__(
        self,
        method: str,
        path: str,
        name: str,
        tier: Tier = Tier.EVERYONE,
        auth: AuthRequirement = AuthRequirement.ANY,
        query: tuple[tuple[str, str], ...] = (),
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        template: str | None = None,
        operation_id: str | None = None,
        *,
        content_type: str = "application/json",
        envelope: bool = True,
        lenient: bool = False,
    ) -> None:
        self.method = method
        self.path = path
        self.name = name
        self.tier = tier
        self.auth = auth
        self.query = query
        self.body = body
        self.headers: Mapping[str, str] = headers if headers is not None else {}
        self.template = template
        self.operation_id = operation_id
        self.content_type = content_type
        self.envelope = envelope
        self.lenient = lenient

    def __repr__(self) -> str:
        return f"RequestSpec({self.method} {self.path}, name={self.name!r})"


@attrs.frozen
class CallOptions:
    """The per-view settings a call runs with."""

    timeout: aiohttp.ClientTimeout = DEFAULT_TIMEOUT
    retry: RetryPolicy = attrs.field(factory=RetryPolicy)
    headers: Mapping[str, str] = attrs.field(factory=dict)
    priority: Priority = Priority.NORMAL
