"""Security: no secret in anything the library produces; no credential to another origin; TLS.

* Representative calls (successes, API errors, transport errors, decode errors, token refresh
  with rotation, a refused refresh, a redirect, connection refused) run with every logger at
  DEBUG, the logging, metrics and OpenTelemetry observers installed, and ``aiohttp`` tracing on
  a user-supplied session. Then every log record, exception (``str``, ``repr``, attributes, the
  traceback ``traceback.format_exception`` prints), ``repr`` of clients, views, credentials,
  token pairs, responses and the limiter, the metrics snapshot and every span is scanned for
  the secrets in play. The aiohttp trace params are not scanned (they carry the request
  headers, by design); they are checked to hold the secrets, which proves the scan meaningful.
* Redirects are never followed: 301/302/303/307/308 to another origin, to plain http and to
  the same origin each cost exactly one request and end in a typed error.
* TLS: verification is on by default (a certificate from an unknown CA is a typed
  ConnectionError naming certificate verification, after a bounded number of handshakes), and
  ``ICalendly(ssl=ctx)`` with a context trusting that CA succeeds.
"""

from __future__ import annotations

import asyncio
import json
import logging
import traceback
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import pytest
import trustme
from aiohttp import web

from icalendly_async import (
    AccessToken,
    ApiKey,
    ICalendly,
    PlatformClient,
    RetryPolicy,
    TokenPair,
    errors,
)
from icalendly_async.observability import LoggingObserver, MetricsObserver
from icalendly_async.testing import Emulator, Fault

from .conftest import (
    FAST,
    ROOMY,
    AttemptCounter,
    HostileServer,
    RawRequest,
    TLSServer,
    acquired,
    drain_loop,
    make_traced_session,
    reply,
)

LOGGERS = ("", "icalendly_async", "aiohttp", "asyncio")


class Collector(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def debug_logs() -> Iterator[Collector]:
    """Every logger at DEBUG, every record collected."""
    collector = Collector()
    previous = {name: logging.getLogger(name).level for name in LOGGERS}
    for name in LOGGERS:
        logging.getLogger(name).setLevel(logging.DEBUG)
    logging.getLogger().addHandler(collector)
    try:
        yield collector
    finally:
        logging.getLogger().removeHandler(collector)
        for name, level in previous.items():
            logging.getLogger(name).setLevel(level)


def _secret_forms(secret: str) -> list[str]:
    """The secret, and its first half (a truncated leak is a leak too)."""
    return [secret, secret[: max(8, len(secret) // 2)]]


def _exception_texts(exc: BaseException) -> list[str]:
    texts = [str(exc), repr(exc), "".join(traceback.format_exception(exc))]
    texts.append(repr({k: v for k, v in vars(exc).items() if not k.startswith("__")}))
    if isinstance(exc, errors.APIError):
        texts += [repr(exc.response), repr(exc.details), exc.message]
    if isinstance(exc, errors.DecodeError):
        texts.append(exc.body)
    return texts


async def _expect(
    outcomes: list[Any], call: Awaitable[Any], error: type[BaseException] | None = None
) -> Any:
    try:
        result = await call
    except Exception as exc:
        outcomes.append(exc)
        assert error is not None and isinstance(exc, error), repr(exc)
        return exc
    outcomes.append(result)
    assert error is None, f"expected {error}, got {result!r}"
    return result


async def test_no_secret_in_logs_errors_reprs_metrics_or_spans(
    debug_logs: Collector, closed_port_url: str, hostile: Callable[..., Awaitable[HostileServer]]
) -> None:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from icalendly_async.observability.otel import OpenTelemetryObserver

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    metrics = MetricsObserver()
    observers = [LoggingObserver(), metrics, OpenTelemetryObserver(provider), AttemptCounter()]
    trace_params: list[tuple[str, Any]] = []
    outcomes: list[Any] = []
    handed: list[TokenPair] = []
    shown: list[Any] = []  # objects whose repr is scanned

    async def redirect(request: RawRequest, writer: asyncio.StreamWriter) -> None:
        await reply(writer, 302, headers={"Location": "https://elsewhere.example/steal"})

    redirector = await hostile(redirect)

    async with Emulator(rate_limit=ROOMY) as emu, make_traced_session(trace_params) as session:
        pair = emu.issue_tokens()
        lost = emu.issue_tokens(user_id=424242)  # a token held without its refresh token
        wrong_key = "ical_" + "5ec7e7" * 6
        wrong_secret = "0123456789abcdef" * 4
        assert pair.refresh_token is not None
        secrets: dict[str, str] = {
            "api key": emu.api_key,
            "platform client secret": emu.client_secret,
            "access token": pair.access_token,
            "refresh token": pair.refresh_token,
            "lost access token": lost.access_token,
            "wrong api key": wrong_key,
            "wrong client secret": wrong_secret,
        }

        def client(credential: Any, **kwargs: Any) -> ICalendly:
            return ICalendly(
                credential,
                base_url=kwargs.pop("base_url", emu.base_url),
                allow_insecure_http=True,
                retry=FAST,
                session=session,
                observers=observers,
                **kwargs,
            )

        key = ApiKey(emu.api_key, rate_limit=ROOMY)
        api = client(key)
        shown += [api, key]
        # successes, with query and body
        shown.append(await _expect(outcomes, api.request_response("GET", "/v2/me")))
        shown.append(
            await _expect(outcomes, api.request_response("GET", "/v2/bookings", params={"take": 3}))
        )
        await _expect(
            outcomes,
            api.request("POST", "/v2/bookings", json={"start": "2030-01-01T09:00:00Z"}),
            errors.APIError,
        )
        # API errors, retries, transport and decode errors
        await _expect(outcomes, api.request("GET", "/v2/bookings/nope"), errors.NotFoundError)
        emu.inject(Fault("status", status=503, path="/v2/me", times=2))
        await _expect(outcomes, api.request("GET", "/v2/me"))
        emu.inject(Fault("reset", path="/v2/me", times=-1))
        await _expect(outcomes, api.request("GET", "/v2/me"), errors.ConnectionError)
        emu.clear_faults()
        emu.inject(Fault("hang", path="/v2/me", times=-1))
        await _expect(outcomes, api.request("GET", "/v2/me", timeout=0.2), errors.TimeoutError)
        emu.clear_faults()
        for kind in ("truncated", "no_envelope"):
            emu.inject(Fault(kind, path="/v2/me"))
            await _expect(outcomes, api.request("GET", "/v2/me"), errors.DecodeError)
        emu.inject(Fault("html", status=502, path="/v2/me", times=-1))
        await _expect(outcomes, api.request("GET", "/v2/me"), errors.ServerError)
        emu.clear_faults()
        short_429 = {"X-RateLimit-Remaining-Default": "0", "X-RateLimit-Reset-Default": "0.1"}
        emu.inject(Fault("status", status=429, path="/v2/me", times=-1, headers=short_429))
        await _expect(outcomes, api.request("GET", "/v2/me"), errors.RateLimitError)
        emu.clear_faults()
        # a wrong key
        await _expect(
            outcomes, client(ApiKey(wrong_key)).request("GET", "/v2/me"), errors.AuthenticationError
        )
        # the platform client, right and wrong
        platform = PlatformClient(emu.client_id, emu.client_secret, rate_limit=ROOMY)
        shown.append(platform)
        await _expect(
            outcomes, client(platform).request("GET", f"/v2/oauth-clients/{emu.client_id}/users")
        )
        await _expect(
            outcomes,
            client(PlatformClient(emu.client_id, wrong_secret)).request(
                "GET", f"/v2/oauth-clients/{emu.client_id}/users"
            ),
            errors.AuthenticationError,
        )
        # an access token: expired, refreshed with rotation, replayed
        emu.expire_access_tokens()
        token = AccessToken(
            pair.access_token,
            pair.refresh_token,
            client_id=emu.client_id,
            client_secret=emu.client_secret,
            on_refresh=handed.append,
            rate_limit=ROOMY,
        )
        user = api.with_credential(token)
        shown += [token, user, token.store]
        await _expect(outcomes, user.request("GET", "/v2/me"))
        shown.append(await token.current())
        # ... expired again, and the refresh refused (wrong secret)
        emu.expire_access_tokens()
        current = await token.current()
        refused = AccessToken(
            current.access_token,
            current.refresh_token,
            client_id=emu.client_id,
            client_secret=wrong_secret,
        )
        shown.append(refused)
        await _expect(
            outcomes, api.with_credential(refused).request("GET", "/v2/me"), errors.APIError
        )
        # an expired token that cannot be refreshed
        emu.expire_access_tokens()
        await _expect(
            outcomes,
            api.with_credential(AccessToken(lost.access_token)).request("GET", "/v2/me"),
            errors.AuthenticationError,
        )
        # connection refused, and a redirect
        await _expect(
            outcomes,
            client(key, base_url=closed_port_url).request("GET", "/v2/me"),
            errors.ConnectionError,
        )
        await _expect(
            outcomes,
            client(key, base_url=redirector.base_url).request("GET", "/v2/me"),
            errors.APIError,
        )
        shown += [api.limiter, api.limiter.snapshot(key.limit_key)]  # type: ignore[attr-defined]
        await api.aclose()
        assert not session.closed  # the user's session is the user's

    secrets.update({f"rotated access token {i}": p.access_token for i, p in enumerate(handed)})
    secrets.update(
        {f"rotated refresh token {i}": p.refresh_token or "" for i, p in enumerate(handed)}
    )
    assert len(handed) >= 1  # the rotation happened, so its pair is in play too

    # What we produce.
    produced: list[tuple[str, str]] = []
    formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")
    for record in debug_logs.records:
        produced.append((f"log {record.name}", formatter.format(record)))
        produced.append((f"log {record.name} fields", repr(record.__dict__)))
    for outcome in outcomes:
        if isinstance(outcome, BaseException):
            produced += [(f"{type(outcome).__name__}", text) for text in _exception_texts(outcome)]
        else:
            produced.append(("result", repr(outcome)))
    produced += [(f"repr {type(obj).__name__}", repr(obj)) for obj in shown]
    produced.append(("metrics", json.dumps(metrics.snapshot(), default=str)))
    for span in exporter.get_finished_spans():
        produced.append((f"span {span.name}", span.to_json()))

    assert any(name.startswith("log icalendly_async") for name, _ in produced)
    assert any(name.startswith("span") for name, _ in produced)
    assert sum(isinstance(o, errors.ICalendlyError) for o in outcomes) >= 12
    leaks = [
        (what, where)
        for what, secret in secrets.items()
        for form in _secret_forms(secret)
        for where, text in produced
        if form in text
    ]
    assert not leaks, leaks[:5]

    # ... and the scan is meaningful: the secrets did travel, in the request headers aiohttp
    # traced (which are not ours to scan).
    traced = repr([params for name, params in trace_params if name == "on_request_start"])
    for what in ("api key", "platform client secret", "access token"):
        assert secrets[what] in traced, what


# -- redirects -----------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
@pytest.mark.parametrize("method", ["GET", "POST"])
@pytest.mark.parametrize("where", ["other-origin", "plain-http", "same-origin"])
async def test_redirects_are_never_followed(
    throwaway_ca: trustme.CA,
    hostile: Callable[..., Awaitable[HostileServer]],
    status: int,
    method: str,
    where: str,
) -> None:
    """The API on https answers a redirect: to a server of another origin (which records any
    request it gets), to a plain-http URL, or to another path of its own. Exactly one request
    is made, none reaches the other server, and the call ends in a typed APIError."""
    elsewhere = await hostile()  # plain http on another port: another origin, and http://
    counter = AttemptCounter()
    targets = {
        "other-origin": f"https://localhost:{elsewhere.port}/v2/me",
        "plain-http": f"{elsewhere.base_url}/v2/me",
        "same-origin": "/v2/elsewhere",
    }

    async def redirecting(request: web.Request) -> web.StreamResponse:
        return web.Response(status=status, headers={"Location": targets[where]})

    api = await TLSServer(throwaway_ca, redirecting).start()
    try:
        async with ICalendly(
            ApiKey("ical_live_0123456789abcdef"),
            base_url=api.base_url,
            ssl=api.client_context(),
            retry=FAST,
            observers=[counter],
        ) as client:
            with pytest.raises(errors.APIError) as info:
                await client.request(method, "/v2/me", json={} if method == "POST" else None)
            await drain_loop()
            assert acquired(client) == 0
        assert info.value.status == status
        assert "redirect" in str(info.value) and "not followed" in str(info.value)
        assert api.requests == 1 and counter.attempts == 1
        assert elsewhere.connections == 0 and not elsewhere.requests
    finally:
        await api.stop()


# -- TLS -----------------------------------------------------------------------------------------


async def _ok(request: web.Request) -> web.StreamResponse:
    return web.json_response({"status": "success", "data": {"ok": True}})


@pytest.mark.parametrize("method", ["GET", "POST"])
async def test_tls_is_verified_by_default(throwaway_ca: trustme.CA, method: str) -> None:
    server = await TLSServer(throwaway_ca, _ok).start()
    counter = AttemptCounter()
    try:
        async with ICalendly(
            ApiKey("ical_live_0123456789abcdef"),
            base_url=server.base_url,
            retry=RetryPolicy(max_retries=5, backoff_base=0.01, backoff_max=0.05),
            observers=[counter],
        ) as client:
            started = asyncio.get_running_loop().time()
            with pytest.raises(errors.ConnectionError) as info:
                await client.request(method, "/v2/me", json={} if method == "POST" else None)
            assert asyncio.get_running_loop().time() - started < 1.0
            await drain_loop()
            assert acquired(client) == 0
        assert "certificate verification" in str(info.value)
        assert server.requests == 0  # nothing got through the handshake
        # no retry storm: a certificate does not fix itself, so one handshake, even with 5
        # retries allowed
        assert server.connections == 1
    finally:
        await server.stop()


async def test_a_certificate_failure_is_reported_to_observers(throwaway_ca: trustme.CA) -> None:
    server = await TLSServer(throwaway_ca, _ok).start()
    counter = AttemptCounter()
    metrics = MetricsObserver()
    try:
        async with ICalendly(
            ApiKey("ical_live_0123456789abcdef"),
            base_url=server.base_url,
            retry=FAST,
            observers=[counter, metrics],
        ) as client:
            with pytest.raises(errors.ConnectionError):
                await client.request("GET", "/v2/me")
        assert counter.calls == 1
        assert counter.attempts == 1 and counter.errors["ConnectionError"] == 1
        series = metrics.snapshot()["operations"]
        assert sum(s["attempts"] for s in series.values()) == 1
    finally:
        await server.stop()


async def test_a_custom_ssl_context_is_used(throwaway_ca: trustme.CA) -> None:
    server = await TLSServer(throwaway_ca, _ok).start()
    try:
        async with ICalendly(
            ApiKey("ical_live_0123456789abcdef"),
            base_url=server.base_url,
            ssl=server.client_context(),
            retry=FAST,
        ) as client:
            assert await client.request("GET", "/v2/me") == {"ok": True}
            await drain_loop()
            assert acquired(client) == 0
        assert server.requests == 1
    finally:
        await server.stop()


async def test_a_custom_ssl_context_is_used_with_a_supplied_session(
    throwaway_ca: trustme.CA,
) -> None:
    server = await TLSServer(throwaway_ca, _ok).start()
    trace: list[tuple[str, Any]] = []
    try:
        async with (
            make_traced_session(trace) as session,
            ICalendly(
                ApiKey("ical_live_0123456789abcdef"),
                base_url=server.base_url,
                ssl=server.client_context(),
                session=session,
                retry=FAST,
            ) as client,
        ):
            assert await client.request("GET", "/v2/me") == {"ok": True}
    finally:
        await server.stop()


async def test_plain_http_to_a_remote_host_is_refused_before_sending() -> None:
    for url in ("http://api.icalendly.com", "http://10.1.2.3", "http://[2001:db8::1]:8080"):
        with pytest.raises(errors.ConfigurationError, match="http"):
            ICalendly(ApiKey("ical_0123456789abcdef"), base_url=url, allow_insecure_http=True)
