"""The pipeline every call runs through, and the only module that does network I/O.

::

    1 tier gate   operation tier vs the client's plan -> PlanTierError, nothing sent
    2 limiter     await limiter.acquire(credential.limit_key, credential.rate_limit)
    3 credential  headers for this attempt (taken after the wait, so a refreshed token is used)
    4 send        one aiohttp.ClientSession, explicit timeouts, response read and released
    5 feedback    limiter.observe(key, X-RateLimit-* headers), exactly once per acquire
    6 retry       RetryPolicy.decide(...); 429 -> limiter.penalize (every caller holds), 401/498
                  -> single-flight refresh and one replay
    7 decode      the envelope -> Response (data, pagination, headers); errors -> exception types
"""

from __future__ import annotations

import asyncio
import datetime
import email.utils
import ipaddress
import math
import platform
import ssl as _ssl
import time
from collections.abc import Mapping

import aiohttp
import attrs
from yarl import URL

from . import errors
from ._encode import encode_body, format_path
from ._hooks import NULL_TRACKER, CallCounter, Events, Observer, Tracker, count_calls
from ._version import __version__
from .auth import Credential, FixedCredential, TokenPair, TokenRefresher, _digest
from .endpoints._operation import AuthRequirement
from .models.converter import parse_datetime
from .models.envelope import decode_error, decode_success
from .plans import Plan, Tier
from .ratelimit import Limiter, Priority, RateLimit, RateLimitState
from .ratelimit.headers import NO_RESPONSE as _NO_RESPONSE
from .ratelimit.headers import parse_headers
from .response import Response
from .retry import Outcome, OutcomeKind, RetryPolicy

__all__ = ["DEFAULT_BASE_URL", "DEFAULT_TIMEOUT", "CallOptions", "RequestSpec", "Transport"]

DEFAULT_BASE_URL = "https://api.icalendly.com"
# No separate read timeout by default: the total bounds every read anyway, and a read timer is
# re-armed on every chunk received (measurable at thousands of calls per second).
DEFAULT_TIMEOUT = aiohttp.ClientTimeout(total=60.0, connect=10.0)
USER_AGENT = (
    f"icalendly-async/{__version__} (python {platform.python_version()}; "
    f"aiohttp {aiohttp.__version__})"
)
_REQUEST_ID_HEADERS = ("x-request-id", "request-id", "x-amzn-requestid")


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
    if url.scheme == "http":
        if not allow_insecure_http:
            raise errors.ConfigurationError(
                f"refusing plain-http base_url {base_url!r}: the service is HTTPS-only and "
                "credentials would travel in clear text. For a local test server (the emulator) "
                "pass allow_insecure_http=True."
            )
        if not _is_loopback(url.host):
            raise errors.ConfigurationError(
                f"allow_insecure_http only allows loopback hosts (127.0.0.1, ::1, localhost), "
                f"not {url.host!r}; use https:// for any other host"
            )
    return url


def _is_loopback(host: str) -> bool:
    if host.lower() in ("localhost", "localhost."):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class RequestSpec:
    """One call, ready to send: everything but the credential's headers.

    A plain slotted class rather than an attrs one: one is built for every call, and treated
    as immutable once built.
    """

    __slots__ = (
        "auth",
        "body",
        "content_type",
        "envelope",
        "headers",
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
        name: str,  # "bookings.get" or "GET /v2/me": for messages and logs
        tier: Tier = Tier.EVERYONE,
        auth: AuthRequirement = AuthRequirement.ANY,
        query: tuple[tuple[str, str], ...] = (),
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        template: str | None = None,  # the path template, for logs and metrics (no ids)
        operation_id: str | None = None,
        *,
        content_type: str = "application/json",
        envelope: bool = True,
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
        # The body's media type (the OAuth token endpoint also takes a form), and whether the
        # answer is the service's envelope (False: the body is the data, as RFC 6749's is).
        self.content_type = content_type
        self.envelope = envelope

    def __repr__(self) -> str:
        return f"RequestSpec({self.method} {self.path}, name={self.name!r})"


@attrs.frozen
class CallOptions:
    """The per-view settings a call runs with."""

    timeout: aiohttp.ClientTimeout = DEFAULT_TIMEOUT
    retry: RetryPolicy = attrs.field(factory=RetryPolicy)
    headers: Mapping[str, str] = attrs.field(factory=dict)
    priority: Priority = Priority.NORMAL


class _Anonymous(FixedCredential):
    """No credential: public endpoints only, 120 requests / 60 s per IP."""

    __slots__ = ()

    kind = "anonymous"

    def __init__(self) -> None:
        super().__init__("anonymous", RateLimit(120, 60))

    def __repr__(self) -> str:
        return "<no credential>"


ANONYMOUS: Credential = _Anonymous()


class _ClientSecret(FixedCredential):
    """The OAuth client's secret alone: what the token-refresh endpoint takes."""

    __slots__ = ("_secret",)

    kind = "client_secret"

    def __init__(self, client_id: str, secret: str) -> None:
        super().__init__(_digest("client_secret", client_id, secret), RateLimit(500, 60))
        self._secret = secret

    async def auth_headers(self, refresher: TokenRefresher) -> dict[str, str]:
        return {"x-cal-secret-key": self._secret}

    def __repr__(self) -> str:
        return "<OAuth client secret>"


class _Failure(Exception):
    """An attempt that produced no response; carries the outcome and the error to raise."""

    def __init__(self, outcome_kind: OutcomeKind, error: errors.TransportError) -> None:
        self.outcome_kind = outcome_kind
        self.error = error


def _retry_after(headers: Mapping[str, str], state: RateLimitState) -> float | None:
    """Seconds to wait: the reset of an exhausted limit (else the tightest), or Retry-After."""
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
                waits.append(max(0.0, when.timestamp() - time.time()))
        else:
            if math.isfinite(seconds):
                waits.append(max(0.0, seconds))
    return max(waits) if waits else None


def _request_id(headers: Mapping[str, str]) -> str | None:
    for name in _REQUEST_ID_HEADERS:
        value = headers.get(name)
        if value:
            return value
    return None


class Transport:
    """Owns the connection pool and the limiter; shared by a client and all its views."""

    def __init__(
        self,
        *,
        base_url: URL,
        limiter: Limiter,
        session: aiohttp.ClientSession | None,
        ssl: _ssl.SSLContext | bool,
        connection_limit: int,
        observers: tuple[Observer, ...] = (),
    ) -> None:
        self.base_url = base_url
        self.set_observers(observers)
        self._base_path = base_url.raw_path.rstrip("/")
        self._host = base_url.host or ""
        self._urls: dict[str, tuple[URL, str]] = {}
        self.limiter = limiter
        self._held_for = getattr(limiter, "hold_remaining", None)
        # A limiter's optional synchronous fast paths (LocalLimiter, Unlimited): a call granted
        # at once and its feedback then cost no coroutine each.
        self._try_acquire = getattr(limiter, "try_acquire", None)
        self._observe_nowait = getattr(limiter, "observe_nowait", None)
        self._session = session
        self._owns_session = session is None
        if session is not None and hasattr(session, "_retry_connection"):
            # As on the sessions we create (see `session`): every attempt must go through the
            # limiter and the retry policy, so aiohttp's own silent resend is switched off.
            session._retry_connection = False
        self._ssl = ssl
        self._connection_limit = connection_limit
        self._closed = False

    def set_observers(self, observers: tuple[Observer, ...]) -> None:
        """Replace the observers of every later call (the benchmarks toggle them this way)."""
        self.observers = observers
        self._events = Events(observers)
        self._subsets: dict[tuple[Observer, ...], Events] = {}  # the active ones, per call

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
            )
            # aiohttp silently resends an idempotent request once when a reused connection
            # drops. That send would bypass the limiter and the retry policy, which own every
            # attempt here, so it is switched off on the sessions we create.
            if hasattr(self._session, "_retry_connection"):
                self._session._retry_connection = False
        return self._session

    def _url(self, path: str) -> tuple[URL, str]:
        """The URL of ``path`` (already quoted) and its text, built once per distinct path
        while few."""
        url = self._urls.get(path)
        if url is None:
            built = self.base_url.with_path(self._base_path + path, encoded=True)
            url = (built, str(built))
            if len(self._urls) >= 4096:  # paths with ids are endless: keep the cache bounded
                self._urls.clear()
            self._urls[path] = url
        return url

    @property
    def connector(self) -> aiohttp.BaseConnector | None:
        """The connection pool, once created (for diagnostics and tests)."""
        return self._session.connector if self._session is not None else None

    async def aclose(self) -> None:
        self._closed = True
        if self._owns_session and self._session is not None and not self._session.closed:
            await self._session.close()

    # -- the pipeline ---------------------------------------------------------------------------

    async def send(
        self,
        spec: RequestSpec,
        credential: Credential,
        plan: Plan | None,
        options: CallOptions,
        timeout: aiohttp.ClientTimeout | None = None,
    ) -> Response:
        if not spec.tier.allows(plan):
            assert plan is not None
            raise errors.PlanTierError(spec.name, plan, spec.tier.plans)
        self._check_auth(spec, credential)
        if not self.observers:
            return await self._send(spec, credential, options, timeout, NULL_TRACKER, ())
        events = self._events
        if events.conditional:
            active = self._active_events()
            if active is None:  # no observer active for this call
                return await self._send(spec, credential, options, timeout, NULL_TRACKER, ())
            events = active
        if not events.tracked:  # only counters (MetricsObserver): the pipeline reports to them
            return await self._send(
                spec, credential, options, timeout, NULL_TRACKER, events.counters
            )
        tracker = Tracker(
            spec, credential.limit_key, plan, options.priority, self._host, time.monotonic()
        )
        tracker.events = events
        if events.call_start:
            tracker.start()
        try:
            response = await self._send(
                spec, credential, options, timeout, tracker, events.counters
            )
        except BaseException as exc:
            tracker.end(exc)
            raise
        tracker.end(None)
        return response

    def _active_events(self) -> Events | None:
        """The events of the observers active for a call starting now (``None``: none is)."""
        observers = self.observers
        if len(observers) == 1:
            return self._events if observers[0].active() else None
        active = tuple(o for o in observers if o.active())
        if not active:
            return None
        if len(active) == len(observers):
            return self._events
        try:
            events = self._subsets.get(active)
            if events is None:  # a few observers: a few subsets, each computed once
                events = self._subsets[active] = Events(active)
        except TypeError:  # an observer that cannot be hashed: computed for this call
            events = Events(active)
        return events

    async def _send(
        self,
        spec: RequestSpec,
        credential: Credential,
        options: CallOptions,
        timeout: aiohttp.ClientTimeout | None,
        tracker: Tracker,
        counters: tuple[CallCounter, ...],
    ) -> Response:
        session = self.session
        url, url_text = self._url(spec.path)
        clock = time.monotonic  # durations only; cheaper than loop.time(), a Python method
        observed = tracker is not NULL_TRACKER
        started = tracker.started if observed else clock()
        policy = options.retry
        limiter = self.limiter
        key = tracker.credential if observed else credential.limit_key  # the same digest
        rate_limit, priority = credential.rate_limit, options.priority
        timeout = timeout or options.timeout
        held_for, try_acquire, observe_nowait = (
            self._held_for,
            self._try_acquire,
            self._observe_nowait,
        )
        # Attempt durations are measured only for observers of attempts.
        timed = observed and tracker.events.attempt_end != ()
        attempt = 0
        replayed = False
        # The call's counters live here. When the call ends they reach its tracker (an observed
        # call touches it only at its start and end; per-attempt events get their figures as
        # arguments) and the counters (MetricsObserver), which need no tracker at all.
        counted, sent_count, waited_total, last_status = 0, 0, 0.0, None
        retries = rate_limited = holds = 0
        error: BaseException | None = None
        ended: float | None = None
        try:
            while True:
                attempt += 1
                if try_acquire is not None and try_acquire(key, rate_limit, priority):
                    waited = 0.0  # granted at once (so the credential is not held either)
                    sent = clock() if timed else 0.0
                else:
                    if held_for is not None:
                        held = held_for(key)
                        if held > policy.max_rate_limit_wait:
                            raise errors.RateLimitError(
                                429,
                                None,
                                f"{spec.name}: the credential is held for {held:.1f} s by the "
                                f"server's rate limit, more than max_rate_limit_wait="
                                f"{policy.max_rate_limit_wait:g} s; nothing was sent",
                                retry_after=held,
                            )
                    asked = clock() if observed else 0.0
                    await limiter.acquire(key, rate_limit, priority=priority)
                    sent = clock() if observed else 0.0
                    waited = sent - asked
                counted, sent_count, waited_total = attempt, sent_count + 1, waited_total + waited
                if observed and tracker.events.attempt_start:
                    tracker.attempt_start(attempt, waited)
                state = _NO_RESPONSE
                failure: _Failure | None = None
                try:
                    auth = await self._auth_headers(spec, credential)
                    if options.headers:
                        headers = {**options.headers, **auth, **spec.headers}
                    elif spec.headers:
                        headers = {**auth, **spec.headers}
                    else:
                        headers = auth  # aiohttp copies it; nobody writes to it
                    status, resp_headers, body = await self._attempt(
                        session, spec, url, headers, timeout
                    )
                    state, exhausted = parse_headers(resp_headers)
                except _Failure as exc:
                    failure = exc
                finally:
                    if observe_nowait is not None:
                        observe_nowait(key, state)
                    else:
                        await limiter.observe(key, state)
                if failure is not None:
                    if timed:
                        tracker.attempt_failed(
                            attempt, waited, clock() - sent, type(failure.error).__name__
                        )
                    decision = policy.decide(attempt, Outcome(failure.outcome_kind, spec.method))
                    if not decision.retry:
                        raise failure.error from None
                    retries += 1
                    tracker.retry(attempt, decision.delay, decision.reason)
                    await asyncio.sleep(decision.delay)
                    continue

                request_id = _request_id(resp_headers)
                last_status = status
                if status == 429:
                    rate_limited += 1
                elif exhausted is not None:  # "Remaining: 0" holds the calls: a hold too
                    holds += 1
                    tracker.hold(exhausted, "remaining 0")
                if timed:
                    tracker.attempt_answered(attempt, waited, clock() - sent, status, request_id)
                if 200 <= status < 300:
                    decoded = decode_success(status, body, envelope=spec.envelope)
                    ended = clock()
                    return Response(
                        status,
                        spec.method,
                        url_text,
                        resp_headers,
                        decoded.data,
                        decoded.pagination,
                        request_id,
                        state,
                        attempt,
                        ended - started,
                        body,
                    )
                if status in (401, 498) and credential.can_refresh and not replayed:
                    replayed = True
                    attempt -= 1  # the replay after a refresh is not a retry
                    try:
                        refreshed = await credential.refresh(self._refresh_tokens, auth)
                    except BaseException:
                        tracker.refresh(False)
                        raise
                    if refreshed is not False:  # False: another caller's new pair, nothing sent
                        tracker.refresh(True)
                    continue
                retry_after = (
                    _retry_after(resp_headers, state) if status in (408, 429, 503) else None
                )
                if status == 429:
                    await limiter.penalize(key, retry_after or 0.0)
                    holds += 1
                    tracker.hold(retry_after or 0.0, "429")
                decision = policy.decide(
                    attempt, Outcome(OutcomeKind.STATUS, spec.method, status, retry_after)
                )
                if decision.retry:
                    # After a 429 the limiter holds every caller of this credential too; this call
                    # sleeps itself as well, so the wait is kept even by a limiter that ignores it.
                    retries += 1
                    tracker.retry(attempt, decision.delay, decision.reason)
                    await asyncio.sleep(decision.delay)
                    continue
                failed = Response(
                    status,
                    spec.method,
                    url_text,
                    resp_headers,
                    None,
                    None,
                    request_id,
                    state,
                    attempt,
                    clock() - started,
                    body,
                )
                raise self._api_error(status, body, failed, retry_after)
        except BaseException as exc:
            error = exc
            raise
        finally:
            if observed or counters:
                # The call's duration, from its start (the tracker's) to its end: on success
                # the Response's elapsed.
                duration = (clock() if ended is None else ended) - started
            if observed:
                tracker.duration = duration
                tracker.attempts = counted
                tracker.sent = sent_count
                tracker.limiter_wait = waited_total
                tracker.status = last_status
                tracker.retries, tracker.rate_limited, tracker.holds = retries, rate_limited, holds
            if counters:
                count_calls(
                    counters,
                    spec.name,
                    key,
                    duration,
                    waited_total,
                    sent_count,
                    retries,
                    rate_limited,
                    holds,
                    error,
                )
            error = None  # not kept alive by this frame through its own traceback

    @staticmethod
    def _check_auth(spec: RequestSpec, credential: Credential) -> None:
        if spec.auth is AuthRequirement.PLATFORM_CLIENT and credential.kind != "platform_client":
            raise errors.ConfigurationError(
                f"{spec.name} needs a PlatformClient credential (x-cal-client-id and "
                f"x-cal-secret-key); this client holds {credential!r}. Use "
                "client.with_credential(PlatformClient(client_id, secret_key))."
            )
        if (
            spec.auth is AuthRequirement.CLIENT_SECRET
            and credential.client_secret_headers() is None
        ):
            raise errors.ConfigurationError(
                f"{spec.name} needs the OAuth client's secret: use a PlatformClient, or an "
                "AccessToken created with client_id and client_secret"
            )

    async def _auth_headers(self, spec: RequestSpec, credential: Credential) -> dict[str, str]:
        if spec.auth is AuthRequirement.CLIENT_SECRET:
            return credential.client_secret_headers() or {}
        return await credential.auth_headers(self._refresh_tokens)

    async def _attempt(
        self,
        session: aiohttp.ClientSession,
        spec: RequestSpec,
        url: URL,
        headers: Mapping[str, str],
        timeout: aiohttp.ClientTimeout,
    ) -> tuple[int, Mapping[str, str], bytes]:
        where = f"{spec.method} {spec.path}"
        try:
            async with session.request(
                spec.method,
                url,
                params=spec.query or None,
                data=spec.body,
                headers=(
                    {**headers, "Content-Type": spec.content_type}
                    if spec.body is not None
                    else headers
                ),
                timeout=timeout,
                allow_redirects=False,  # never carry credentials to another origin
                # True defers to the session's connector; a context (or False) given to
                # ICalendly(ssl=...) applies to a user-supplied session too
                ssl=self._ssl,
            ) as resp:
                body = await resp.read()
                return resp.status, resp.headers, body
        except aiohttp.ClientConnectorCertificateError as exc:
            # Not retried: another attempt would meet the same certificate. Still a _Failure,
            # so that the attempt is observed (logs, metrics, spans) and the limiter told.
            raise _Failure(
                OutcomeKind.FATAL,
                errors.ConnectionError(
                    f"{where}: TLS certificate verification failed ({exc.certificate_error}); "
                    "pass ICalendly(ssl=context) with a context that trusts the server's CA"
                ),
            ) from None
        except aiohttp.ConnectionTimeoutError:
            raise _Failure(
                OutcomeKind.NOT_SENT,
                errors.TimeoutError(f"{where}: could not connect within {timeout.connect} s"),
            ) from None
        except aiohttp.ClientConnectorError as exc:
            raise _Failure(
                OutcomeKind.NOT_SENT, errors.ConnectionError(f"{where}: cannot connect: {exc}")
            ) from None
        except (aiohttp.ServerTimeoutError, asyncio.TimeoutError):
            raise _Failure(
                OutcomeKind.TRANSPORT,
                errors.TimeoutError(
                    f"{where}: no complete response within the timeout "
                    f"(total={timeout.total}"
                    + (f", read={timeout.sock_read}" if timeout.sock_read is not None else "")
                    + ")"
                ),
            ) from None
        except aiohttp.ClientError as exc:
            raise _Failure(
                OutcomeKind.TRANSPORT,
                errors.ConnectionError(
                    f"{where}: connection broke before a full response ({type(exc).__name__})"
                ),
            ) from None

    @staticmethod
    def _api_error(
        status: int, body: bytes, response: Response, retry_after: float | None
    ) -> errors.APIError:
        if 300 <= status < 400:
            location = response.headers.get("Location", "?")
            return errors.APIError(
                status, None, f"unexpected redirect to {location}; redirects are not followed"
            )
        err = decode_error(status, body)
        cls = errors.error_for_status(status)
        if cls is errors.RateLimitError:
            return errors.RateLimitError(
                status,
                err.code,
                err.message,
                err.details,
                response.request_id,
                response,
                retry_after=retry_after,
            )
        return cls(status, err.code, err.message, err.details, response.request_id, response)

    async def _refresh_tokens(self, client_id: str, secret: str, refresh_token: str) -> TokenPair:
        """``POST /v2/oauth/{clientId}/refresh``: the new (rotated) pair."""
        spec = RequestSpec(
            method="POST",
            path=format_path("/v2/oauth/{clientId}/refresh", ("clientId",), (client_id,)),
            name="token refresh",
            body=encode_body({"refreshToken": refresh_token}),
            template="/v2/oauth/{clientId}/refresh",
        )
        response = await self.send(spec, _ClientSecret(client_id, secret), None, CallOptions())
        data = response.data
        if not isinstance(data, dict) or not isinstance(data.get("accessToken"), str):
            raise errors.DecodeError("token refresh answered without an accessToken")
        expires = data.get("accessTokenExpiresAt")
        return TokenPair(
            access_token=data["accessToken"],
            refresh_token=data.get("refreshToken") or refresh_token,
            expires_at=parse_datetime(expires) if expires is not None else None,
        )
