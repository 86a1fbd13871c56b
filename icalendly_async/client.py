"""``ICalendly``: the client users hold. Cheap views share one pool and one limiter."""

from __future__ import annotations

import difflib
import ssl as _ssl
from collections.abc import Coroutine, Mapping, Sequence
from types import TracebackType
from typing import Any

import aiohttp
import attrs

from ._clock import SYSTEM_CLOCK, Clock
from ._encode import encode_body, encode_query, format_path, is_dot_segment
from ._hooks import Observer
from ._http import DEFAULT_MAX_RESPONSE_BYTES, HttpTransport
from ._pipeline import Pipeline
from ._request import (
    DEFAULT_BASE_URL,
    CallOptions,
    RequestSpec,
    check_base_url,
    check_header_text,
    to_timeout,
)
from .auth import ANONYMOUS, Credential
from .endpoints._generated import OPERATIONS, GeneratedGroups
from .endpoints._match import match_operation
from .endpoints._operation import AuthRequirement, Operation
from .errors import ConfigurationError
from .observability.logs import LoggingObserver, configure_from_env
from .plans import Plan, tier_for_path
from .ratelimit import Limiter, LocalLimiter, Priority
from .response import Response
from .retry import RetryPolicy

__all__ = ["ICalendly"]

_METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"})


class _Default:
    def __repr__(self) -> str:
        return "<default>"


_DEFAULT: Any = _Default()


def _headers(value: Mapping[str, str] | None, what: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise ConfigurationError(f"{what} must be a mapping of header names to strings")
    for name, text in value.items():
        if not name or any(c in name for c in " \t:"):
            raise ConfigurationError(f"{what}: {name!r} is not a header name")
        check_header_text(f"{what}: the name {name!r}", name)
        check_header_text(f"{what}: the value of {name!r}", text)
    return dict(value)


def _api_versions(value: Mapping[str, str] | None) -> dict[str, str]:
    versions = dict(value or {})
    for key, version in versions.items():
        if not isinstance(version, str):
            raise ConfigurationError(f"api_versions[{key!r}] must be a string, got {version!r}")
        check_header_text(f"api_versions[{key!r}]", version)
        _check_version_key(key)
    return versions


def _check_version_key(key: object) -> None:
    """``key`` is a tag or an operation id of the document; a pin that names neither would be
    ignored without a word, so it is refused, naming the closest tags."""
    tags = {operation.tag for operation in OPERATIONS}
    if key in tags or any(key == operation.operation_id for operation in OPERATIONS):
        return
    text = key if isinstance(key, str) else repr(key)
    by_lower = {tag.lower(): tag for tag in tags}
    close = difflib.get_close_matches(text.lower(), list(by_lower), n=3, cutoff=0.6)
    hint = f"; did you mean {' or '.join(repr(by_lower[c]) for c in close)}?" if close else ""
    raise ConfigurationError(
        f"api_versions: {text!r} is neither a tag nor an operation id of the API{hint} (keys are "
        "tags such as 'Bookings' or 'Orgs / Teams', as docs/api.md lists them, or the "
        "document's operationIds)"
    )


class ICalendly(GeneratedGroups):
    """An asyncio client for the iCalendly API v2.

    ::

        async with ICalendly(ApiKey("ical_live_…"), plan=Plan.TEAMS) as client:
            me = await client.request("GET", "/v2/me")

    ``credential`` is an :class:`ApiKey`, :class:`PlatformClient` or :class:`AccessToken` (or
    ``None`` for public endpoints). ``plan`` enables the tier check before sending (``None``: the
    server decides). ``limiter`` paces every credential (default: a :class:`LocalLimiter`; for
    many processes a ``RedisLimiter``). ``session`` is an ``aiohttp.ClientSession`` you own and
    close (give it ``cookie_jar=aiohttp.DummyCookieJar()`` if it serves several credentials);
    otherwise the client creates one on first use, which keeps no cookies, and closes it in
    :meth:`aclose`.
    ``timeout`` is seconds or an ``aiohttp.ClientTimeout``: its total bounds each whole call
    (waiting for the limiter, every attempt, every backoff); the default is 60 s, at most 10 s
    of it to connect (an ``aiohttp.ClientTimeout`` with ``sock_read`` also bounds the gap
    between reads). ``api_versions`` maps an operation id or tag to the
    ``cal-api-version`` to send instead of the operation's own. ``observers`` receive every
    call's events (default: a :class:`~icalendly_async.observability.LoggingObserver`, silent
    until the ``icalendly_async`` logger is enabled; ``[]`` for none). ``clock`` is what the
    pipeline's deadlines and backoffs read (tests pass a virtual one). ``max_response_bytes``
    caps a response body (64 MiB by default; over it:
    :class:`~icalendly_async.errors.ResponseTooLargeError`, the body not read whole).

    A client belongs to the event loop of its first call: create it inside the coroutine that
    uses it (one client per ``asyncio.run()``); a call from another loop raises
    :class:`~icalendly_async.errors.ConfigurationError`.
    """

    def __init__(
        self,
        credential: Credential | None = None,
        *,
        plan: Plan | None = None,
        base_url: str = DEFAULT_BASE_URL,
        allow_insecure_http: bool = False,
        timeout: float | aiohttp.ClientTimeout | None = None,
        max_retries: int | None = None,
        retry: RetryPolicy | None = None,
        limiter: Limiter = _DEFAULT,
        session: aiohttp.ClientSession | None = None,
        headers: Mapping[str, str] | None = None,
        api_versions: Mapping[str, str] | None = None,
        ssl: _ssl.SSLContext | bool = True,
        connection_limit: int = 100,
        observers: Sequence[Observer] | None = None,
        clock: Clock = SYSTEM_CLOCK,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
    ) -> None:
        configure_from_env()
        if credential is not None and not isinstance(credential, Credential):
            raise ConfigurationError(
                f"credential must be an ApiKey, PlatformClient or AccessToken, got "
                f"{type(credential).__name__} (wrap a key string as ApiKey('ical_…'))"
            )
        if plan is not None and not isinstance(plan, Plan):
            raise ConfigurationError(f"plan must be a Plan (e.g. Plan.TEAMS) or None, got {plan!r}")
        if limiter is _DEFAULT:
            limiter = LocalLimiter(clock=clock)
        elif limiter is None:
            raise ConfigurationError(
                "limiter=None would send without pacing and get the credential blocked; to turn "
                "pacing off on purpose pass icalendly_async.ratelimit.Unlimited()"
            )
        elif not isinstance(limiter, Limiter):
            raise ConfigurationError(
                "limiter must implement the Limiter protocol: try_acquire, acquire, observe, "
                "penalize and hold_remaining"
            )
        if not isinstance(clock, Clock):
            raise ConfigurationError("clock must have monotonic(), time() and sleep()")
        if (
            isinstance(max_response_bytes, bool)
            or not isinstance(max_response_bytes, int)
            or max_response_bytes < 1
        ):
            raise ConfigurationError(
                f"max_response_bytes must be a positive whole number, got {max_response_bytes!r}"
            )
        if session is not None and not isinstance(session, aiohttp.ClientSession):
            raise ConfigurationError("session must be an aiohttp.ClientSession")
        if isinstance(connection_limit, bool) or not isinstance(connection_limit, int):
            raise ConfigurationError("connection_limit must be a whole number (0: unlimited)")
        if not isinstance(ssl, (bool, _ssl.SSLContext)):
            raise ConfigurationError("ssl must be True, False or an ssl.SSLContext")
        if observers is None:
            observers = [LoggingObserver()]
        elif not all(isinstance(o, Observer) for o in observers):
            raise ConfigurationError(
                "observers must be Observer instances "
                "(subclass icalendly_async.observability.Observer)"
            )
        policy = retry if retry is not None else RetryPolicy()
        if max_retries is not None:
            policy = attrs.evolve(policy, max_retries=max_retries)
        http = HttpTransport(
            check_base_url(base_url, allow_insecure_http),
            session=session,
            ssl=ssl,
            connection_limit=connection_limit,
            max_response_bytes=max_response_bytes,
        )
        self._pipeline = Pipeline(http, limiter, clock, tuple(observers))
        self._credential: Credential = credential if credential is not None else ANONYMOUS
        self._plan = plan
        self._options = CallOptions(
            timeout=to_timeout(timeout) or CallOptions().timeout,
            retry=policy,
            headers=_headers(headers, "headers"),
        )
        self._pipeline.refresh_options = self._options  # a token refresh runs as the client's
        self._api_versions = _api_versions(api_versions)
        self._specs: dict[str, RequestSpec] = {}  # see _call
        self._is_view = False

    # -- views ----------------------------------------------------------------------------------

    def _view(
        self, credential: Credential, options: CallOptions, api_versions: dict[str, str]
    ) -> ICalendly:
        view = object.__new__(type(self))
        view._pipeline = self._pipeline
        view._credential = credential
        view._plan = self._plan
        view._options = options
        view._api_versions = api_versions
        view._specs = {}
        view._is_view = True
        return view

    def with_options(
        self,
        *,
        timeout: float | aiohttp.ClientTimeout | None = None,
        max_retries: int | None = None,
        retry: RetryPolicy | None = None,
        headers: Mapping[str, str] | None = None,
        api_versions: Mapping[str, str] | None = None,
        priority: Priority | None = None,
    ) -> ICalendly:
        """A view with other settings, sharing this client's connections and limiter.

        ``priority`` orders this view's calls in each credential's queue: ``Priority.INTERACTIVE``
        overtakes ``NORMAL`` and ``BULK`` calls waiting on the same credential.
        """
        if priority is not None and not isinstance(priority, Priority):
            raise ConfigurationError(f"priority must be a Priority, got {priority!r}")
        options = self._options
        policy = retry if retry is not None else options.retry
        if max_retries is not None:
            policy = attrs.evolve(policy, max_retries=max_retries)
        options = CallOptions(
            timeout=to_timeout(timeout) or options.timeout,
            retry=policy,
            headers={**options.headers, **_headers(headers, "headers")},
            priority=priority if priority is not None else options.priority,
        )
        return self._view(
            self._credential, options, {**self._api_versions, **_api_versions(api_versions)}
        )

    def with_credential(self, credential: Credential) -> ICalendly:
        """A view acting as ``credential`` (one managed user, say), sharing pool and limiter."""
        if not isinstance(credential, Credential):
            raise ConfigurationError(
                f"with_credential takes an ApiKey, PlatformClient or AccessToken, got "
                f"{type(credential).__name__}"
            )
        return self._view(credential, self._options, self._api_versions)

    # -- properties -----------------------------------------------------------------------------

    @property
    def credential(self) -> Credential:
        return self._credential

    @property
    def plan(self) -> Plan | None:
        return self._plan

    @property
    def limiter(self) -> Limiter:
        return self._pipeline.limiter

    @property
    def base_url(self) -> str:
        return str(self._pipeline.http.base_url)

    @property
    def connector(self) -> aiohttp.BaseConnector | None:
        """The shared connection pool, once the first request created it."""
        return self._pipeline.http.connector

    # -- lifecycle ------------------------------------------------------------------------------

    async def __aenter__(self) -> ICalendly:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connection pool if this client created it. Views leave it open."""
        if not self._is_view:
            await self._pipeline.http.aclose()

    def __repr__(self) -> str:
        kind = "view of ICalendly" if self._is_view else "ICalendly"
        plan = f"Plan.{self._plan.name}" if self._plan else None
        return f"<{kind} {self.base_url} credential={self._credential!r} plan={plan}>"

    # -- calls ----------------------------------------------------------------------------------

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, object] | None = None,
        json: object = None,
        headers: Mapping[str, str] | None = None,
        api_version: str | None = None,
        timeout: float | aiohttp.ClientTimeout | None = None,
    ) -> Any:
        """Call any endpoint; returns the envelope's decoded ``data``.

        The escape hatch for what the typed methods do not cover. It runs the same pipeline:
        tier check, pacing, retries, errors. When the path matches an operation of the API, its
        ``cal-api-version`` is sent unless ``api_version`` says otherwise.
        """
        response = await self.request_response(
            method,
            path,
            params=params,
            json=json,
            headers=headers,
            api_version=api_version,
            timeout=timeout,
        )
        return response.data

    async def request_response(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, object] | None = None,
        json: object = None,
        headers: Mapping[str, str] | None = None,
        api_version: str | None = None,
        timeout: float | aiohttp.ClientTimeout | None = None,
    ) -> Response:
        """Like :meth:`request`, but returns the whole :class:`Response` (headers, pagination)."""
        verb = method.upper() if isinstance(method, str) else ""
        if verb not in _METHODS:
            raise ConfigurationError(f"method must be one of {sorted(_METHODS)}, got {method!r}")
        if not isinstance(path, str) or not path.startswith("/"):
            raise ConfigurationError(f"path must start with '/', e.g. '/v2/me'; got {path!r}")
        if "?" in path:
            raise ConfigurationError("pass query parameters as params=, not in the path")
        check_header_text("path", path)
        if any(is_dot_segment(segment) for segment in path.split("/")):
            raise ConfigurationError(
                f"path {path!r} has a '.' or '..' segment; a server or proxy that normalises "
                "paths would send it elsewhere. Write the path of the resource itself."
            )
        operation = match_operation(verb, path)
        if api_version is None and operation is not None:
            api_version = self._api_version(operation, None)
        spec = RequestSpec(
            method=verb,
            path=path,
            name=operation.python_name if operation else f"{verb} {path}",
            tier=operation.tier if operation else tier_for_path(path),
            auth=operation.auth if operation else AuthRequirement.ANY,
            query=tuple(encode_query(params)),
            body=encode_body(json) if json is not None else None,
            headers=self._call_headers(headers, api_version),
            template=operation.path if operation else path,
            operation_id=operation.operation_id if operation else None,
            lenient=operation is not None and not operation.envelope_declared,
        )
        return await self._pipeline.send(
            spec, self._credential, self._plan, self._options, to_timeout(timeout)
        )

    def _api_version(self, operation: Operation, override: str | None) -> str | None:
        return (
            override
            or self._api_versions.get(operation.operation_id)
            or self._api_versions.get(operation.tag)
            or operation.api_version
        )

    def _call(
        self,
        operation: Operation,
        path_params: tuple[object, ...] = (),
        *,
        query: Mapping[str, object] | None = None,
        body: object = None,
        extra_headers: Mapping[str, str] | None = None,
        extra_query: Mapping[str, object] | None = None,
        timeout: float | aiohttp.ClientTimeout | None = None,
        api_version: str | None = None,
    ) -> Coroutine[Any, Any, Response]:
        """Run one generated operation (the generated endpoint methods await this).

        A plain method returning the pipeline's coroutine: one coroutine layer fewer per call
        (see benchmarks/README.md, "Round 5"). Bad arguments still raise when it is called.
        """
        if path_params or query or body is not None or extra_headers or extra_query or api_version:
            spec = self._spec(
                operation, path_params, query, body, extra_headers, extra_query, api_version
            )
        else:
            # A call with nothing of its own reuses its operation's spec (the view's version
            # header included). Measured (client.me.get() against
            # benchmarks/_common.canned_network, callgrind): 152,500 -> 145,300 instructions
            # per call (-4.8 %; building the spec, its headers and the path per call).
            spec = self._specs.get(operation.operation_id) or self._plain_spec(operation)
        return self._pipeline.send(
            spec, self._credential, self._plan, self._options, to_timeout(timeout)
        )

    def _spec(
        self,
        operation: Operation,
        path_params: tuple[object, ...] = (),
        query: Mapping[str, object] | None = None,
        body: object = None,
        extra_headers: Mapping[str, str] | None = None,
        extra_query: Mapping[str, object] | None = None,
        api_version: str | None = None,
    ) -> RequestSpec:
        """One call of ``operation`` ready to send (bad arguments raise here)."""
        version = self._api_version(operation, api_version)
        return RequestSpec(
            operation.method.upper(),
            format_path(operation.path, operation.path_params, path_params)
            if path_params or operation.path_params
            else operation.path,
            operation.python_name,
            operation.tier,
            operation.auth,
            tuple(encode_query(query, extra_query)) if query or extra_query else (),
            encode_body(body) if body is not None else None,
            self._call_headers(extra_headers, version),
            operation.path,
            operation.operation_id,
            lenient=not operation.envelope_declared,
        )

    def _plain_spec(self, operation: Operation) -> RequestSpec:
        """The spec of a call of ``operation`` with no arguments, kept for the next one."""
        spec = self._spec(operation)
        self._specs[operation.operation_id] = spec
        return spec

    @staticmethod
    def _call_headers(headers: Mapping[str, str] | None, api_version: str | None) -> dict[str, str]:
        if headers is None:
            if api_version is None:
                return {}
            return {"cal-api-version": check_header_text("api_version", api_version)}
        result = _headers(headers, "headers")
        if api_version is not None:
            result["cal-api-version"] = check_header_text("api_version", api_version)
        return result
