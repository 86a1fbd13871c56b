"""The client against the emulator over real loopback HTTP."""

from __future__ import annotations

import asyncio
import random
import time
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from icalendly_async import (
    AccessToken,
    ApiKey,
    ICalendly,
    Plan,
    PlanTierError,
    PlatformClient,
    RateLimit,
    RetryPolicy,
    TokenPair,
    errors,
)
from icalendly_async.observability import CallInfo, Observer
from icalendly_async.ratelimit import LocalLimiter, Unlimited
from icalendly_async.testing import Emulator, Fault

from ._limits import Starts, max_in_window
from .conftest import RecordingServer

FAST_RETRY = RetryPolicy(max_retries=2, backoff_base=0.01, backoff_max=0.05)


def _client(emu: Emulator, **kwargs: Any) -> ICalendly:
    credential = kwargs.pop("credential", None) or ApiKey(
        emu.api_key, rate_limit=kwargs.pop("rate_limit", None)
    )
    kwargs.setdefault("retry", FAST_RETRY)
    return ICalendly(credential, base_url=emu.base_url, allow_insecure_http=True, **kwargs)


# -- construction --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    ["http://api.icalendly.com", "http://10.0.0.1:8080", "ftp://127.0.0.1", "api.icalendly.com"],
)
def test_insecure_or_odd_base_urls_are_refused(url: str) -> None:
    with pytest.raises(errors.ConfigurationError) as info:
        ICalendly(ApiKey("ical_0123456789abcdef"), base_url=url, allow_insecure_http=True)
    assert "http" in str(info.value)


@pytest.mark.parametrize(
    "url",
    ["https://api.icalendly.com/v2", "https://api.icalendly.com/v2/", "http://127.0.0.1:1/v2"],
)
def test_a_base_url_ending_in_the_api_version_is_refused(url: str) -> None:
    # Paths already begin with /v2: every call would go to /v2/v2/... and answer 404.
    with pytest.raises(errors.ConfigurationError, match="/v2") as info:
        ICalendly(ApiKey("ical_0123456789abcdef"), base_url=url, allow_insecure_http=True)
    assert "https://api.icalendly.com" in str(info.value)  # what to pass instead


async def test_a_base_url_with_a_proxy_prefix_keeps_it(recording_server: RecordingServer) -> None:
    async with ICalendly(
        ApiKey("ical_0123456789abcdef"),
        base_url=recording_server.base_url + "/icalendly",
        allow_insecure_http=True,
    ) as client:
        await client.request("GET", "/v2/me")
    assert [r["path"] for r in recording_server.requests] == ["/icalendly/v2/me"]


def test_plain_http_needs_the_explicit_flag() -> None:
    with pytest.raises(errors.ConfigurationError, match="allow_insecure_http"):
        ICalendly(ApiKey("ical_0123456789abcdef"), base_url="http://127.0.0.1:8080")
    ICalendly(base_url="http://localhost:1", allow_insecure_http=True)
    ICalendly(base_url="http://[::1]:1", allow_insecure_http=True)


def test_bad_arguments_are_typed_errors() -> None:
    with pytest.raises(errors.ConfigurationError, match="ApiKey"):
        ICalendly("ical_0123456789abcdef")  # type: ignore[arg-type]
    with pytest.raises(errors.ConfigurationError, match="Unlimited"):
        ICalendly(limiter=None)  # type: ignore[arg-type]
    with pytest.raises(errors.ConfigurationError, match="timeout"):
        ICalendly(timeout=-1)
    with pytest.raises(errors.ConfigurationError, match="plan"):
        ICalendly(plan="teams")  # type: ignore[arg-type]


# -- basic calls, headers, sessions ---------------------------------------------------------------


async def test_quick_start_shape() -> None:
    async with (
        Emulator() as emu,
        ICalendly(
            ApiKey(emu.api_key), plan=Plan.PLATFORM, base_url=emu.base_url, allow_insecure_http=True
        ) as client,
    ):
        me = await client.request("GET", "/v2/me")
        assert isinstance(me, dict) and "email" in me
        page = await client.request_response("GET", "/v2/bookings", params={"take": 5})
        assert len(page.data) == 5
        assert page.pagination is not None and page.pagination["hasNextPage"] is True
        assert page.request_id and page.rate_limit.get("Default") is not None
        assert emu.api_key not in repr(client) and emu.api_key not in repr(page)


async def test_user_agent_api_version_and_content_type(recording_server: RecordingServer) -> None:
    async with ICalendly(
        ApiKey("ical_0123456789abcdef"),
        base_url=recording_server.base_url,
        allow_insecure_http=True,
        headers={"X-Team": "a"},
    ) as client:
        await client.request("POST", "/v2/x", json={"a": 1}, api_version="2024-08-13")
    sent = recording_server.requests[0]["headers"]
    assert sent["User-Agent"].startswith("icalendly-async/")
    assert sent["cal-api-version"] == "2024-08-13"
    assert sent["Content-Type"] == "application/json"
    assert sent["Authorization"] == "Bearer ical_0123456789abcdef"
    assert sent["X-Team"] == "a"


async def test_a_cookie_one_credentials_answer_sets_rides_along_with_no_later_call(
    recording_server: RecordingServer,
) -> None:
    # One connection pool serves every credential of a client (with_credential): a cookie set
    # in user A's answer (a load balancer's, a session's) must not reach the server with B's.
    async def sets_a_cookie(request: web.Request) -> web.StreamResponse:
        response = web.json_response({"status": "success", "data": {"ok": True}})
        response.set_cookie("session", "user-a", path="/")
        return response

    recording_server.handler = sets_a_cookie
    by_name = recording_server.base_url.replace("127.0.0.1", "localhost")  # no cookies for IPs
    async with ICalendly(
        ApiKey("ical_aaaaaaaaaaaaaaaa"), base_url=by_name, allow_insecure_http=True
    ) as client:
        await client.request("GET", "/v2/me")
        await client.with_credential(ApiKey("ical_bbbbbbbbbbbbbbbb")).request("GET", "/v2/me")
        await client.request("GET", "/v2/me")
    assert [r["headers"].get("Cookie") for r in recording_server.requests] == [None] * 3


@pytest.mark.parametrize(
    "body",
    [
        # cut short on the way
        b'{"status": "success", "data": {"id": 7, "secret": "whsec_do_not_log_me_0123", "acti',
        # JSON, but not the envelope
        b'{"id": 7, "accessToken": "eyJhbGciOiJIUzI1NiJ9.do_not_log_me.sig", "ok": true}',
    ],
)
async def test_a_body_that_fails_to_decode_shows_no_secret_in_the_error(
    recording_server: RecordingServer, body: bytes
) -> None:
    async def answer(request: web.Request) -> web.StreamResponse:
        return web.Response(body=body, status=201, content_type="application/json")

    recording_server.handler = answer
    async with ICalendly(
        ApiKey("ical_0123456789abcdef"),
        base_url=recording_server.base_url,
        allow_insecure_http=True,
    ) as client:
        with pytest.raises(errors.DecodeError) as failed:
            await client.request("POST", "/v2/webhooks", json={"active": True})
    error = failed.value
    shown = [str(error), repr(error), str(error.body)]
    assert not [text for text in shown if "do_not_log_me" in text]
    assert '"id": 7' in str(error)  # the rest of the body is still shown


async def test_a_bare_form_call_keeps_its_media_type_and_reads_a_bare_body(
    recording_server: RecordingServer,
) -> None:
    """The OAuth token endpoint's shape: a form body in, JSON without the envelope out."""
    from icalendly_async._request import CallOptions, RequestSpec

    async def token(request: web.Request) -> web.StreamResponse:
        form = await request.post()
        if form.get("grant_type") != "refresh_token":
            return web.json_response({"error": "unsupported_grant_type"}, status=400)
        return web.json_response({"access_token": "at", "token_type": "bearer"})

    recording_server.handler = token
    async with ICalendly(base_url=recording_server.base_url, allow_insecure_http=True) as client:
        transport, anonymous = client._pipeline, client.credential

        def spec(grant: str) -> RequestSpec:
            return RequestSpec(
                "POST",
                "/v2/auth/oauth2/token",
                "oauth token",
                body=f"grant_type={grant}".encode(),
                content_type="application/x-www-form-urlencoded",
                envelope=False,
            )

        ok = await transport.send(spec("refresh_token"), anonymous, None, CallOptions())
        assert ok.data == {"access_token": "at", "token_type": "bearer"}
        assert ok.content.startswith(b"{") and "content" not in repr(ok)
        with pytest.raises(errors.BadRequestError) as info:
            await transport.send(spec("password"), anonymous, None, CallOptions())
        assert info.value.code == "unsupported_grant_type"
    sent = recording_server.requests[0]["headers"]
    assert sent["Content-Type"] == "application/x-www-form-urlencoded"


async def test_redirects_are_not_followed(recording_server: RecordingServer) -> None:
    async def redirect(request: web.Request) -> web.StreamResponse:
        raise web.HTTPFound("https://elsewhere.example/steal")

    recording_server.handler = redirect
    async with ICalendly(
        ApiKey("ical_0123456789abcdef"),
        base_url=recording_server.base_url,
        allow_insecure_http=True,
    ) as client:
        with pytest.raises(errors.APIError, match="redirect"):
            await client.request("GET", "/v2/me")
    assert len(recording_server.requests) == 1


async def test_a_supplied_session_is_never_closed() -> None:
    async with Emulator() as emu:
        async with aiohttp.ClientSession() as session:
            async with _client(emu, session=session) as client:
                await client.request("GET", "/v2/me")
            assert not session.closed
        owned = _client(emu)
        await owned.request("GET", "/v2/me")
        connector = owned.connector
        await owned.aclose()
        assert connector is not None and connector.closed
        with pytest.raises(errors.ConfigurationError, match="closed"):
            await owned.request("GET", "/v2/me")


async def test_views_share_the_pool_and_the_limiter() -> None:
    async with Emulator() as emu, _client(emu) as client:
        view = client.with_options(timeout=5, max_retries=0, headers={"X-A": "1"})
        other = client.with_credential(PlatformClient(emu.client_id, emu.client_secret))
        await view.request("GET", "/v2/me")
        await other.request("GET", "/v2/oauth-clients/" + emu.client_id + "/users")
        assert view.connector is client.connector is other.connector
        assert view.limiter is client.limiter is other.limiter
        await view.aclose()  # a view never closes the shared pool
        await client.request("GET", "/v2/me")


# -- plan tiers -----------------------------------------------------------------------------------


async def test_plan_tier_refused_before_sending() -> None:
    async with Emulator() as emu, _client(emu, plan=Plan.TEAMS) as client:
        with pytest.raises(PlanTierError) as info:
            await client.request("GET", "/v2/organizations/1/teams")
        assert "Plan.TEAMS" in str(info.value) and "Plan.ORGANIZATIONS" in str(info.value)
        assert emu.stats.requests == 0
        assert client.connector is None  # not even a connection pool was made


async def test_plan_tier_enforced_by_the_server_too() -> None:
    async with Emulator() as emu:
        key = emu.add_api_key(plan=Plan.TEAMS)
        async with _client(emu, credential=ApiKey(key)) as client:  # plan=None: server decides
            with pytest.raises(errors.PermissionDeniedError):
                await client.request("GET", "/v2/organizations/1/teams")


# -- retries --------------------------------------------------------------------------------------


async def test_get_retries_a_5xx_burst() -> None:
    async with Emulator() as emu:
        emu.inject(Fault("status", status=503, path="/v2/me", times=2))
        async with _client(emu) as client:
            response = await client.request_response("GET", "/v2/me")
        assert response.attempts == 3 and emu.stats.requests == 3


async def test_retries_are_bounded() -> None:
    async with Emulator() as emu:
        emu.inject(Fault("status", status=502, path="/v2/me", times=-1))
        async with _client(emu) as client:
            with pytest.raises(errors.ServerError) as info:
                await client.request("GET", "/v2/me")
            assert info.value.status == 502 and emu.stats.requests == 3
            with pytest.raises(errors.ServerError):
                await client.with_options(max_retries=0).request("GET", "/v2/me")
            assert emu.stats.requests == 4


async def test_post_is_never_sent_twice() -> None:
    async with Emulator() as emu:
        async with _client(emu) as client:
            emu.inject(Fault("status", status=503, path="/v2/bookings", method="POST"))
            with pytest.raises(errors.ServerError):
                await client.request("POST", "/v2/bookings", json={"start": "x"})
            emu.inject(Fault("reset", path="/v2/bookings", method="POST"))
            with pytest.raises(errors.ConnectionError):
                await client.request("POST", "/v2/bookings", json={"start": "x"})
            emu.inject(Fault("hang", path="/v2/bookings", method="POST"))
            with pytest.raises(errors.TimeoutError):
                await client.request("POST", "/v2/bookings", json={"start": "x"}, timeout=0.3)
        assert [r.method for r in emu.request_log].count("POST") == 3


async def test_get_retries_resets_and_timeouts() -> None:
    async with Emulator() as emu, _client(emu) as client:
        emu.inject(Fault("reset", path="/v2/me"))
        emu.inject(Fault("reset_mid_body", path="/v2/me"))
        assert (await client.request_response("GET", "/v2/me")).attempts == 3
        emu.inject(Fault("hang", path="/v2/me", times=-1))
        started = time.perf_counter()
        with pytest.raises(errors.TimeoutError):
            await client.request("GET", "/v2/me", timeout=0.2)
        assert time.perf_counter() - started < 2.0  # 3 attempts of 0.2 s plus backoff
        with pytest.raises(asyncio.TimeoutError):  # also the asyncio type
            await client.request("GET", "/v2/me", timeout=0.2)


async def test_connection_refused_is_retried_for_every_method(closed_port_url: str) -> None:
    async with ICalendly(
        ApiKey("ical_0123456789abcdef"),
        base_url=closed_port_url,
        allow_insecure_http=True,
        retry=FAST_RETRY,
    ) as client:
        with pytest.raises(errors.ConnectionError, match="cannot connect"):
            await client.request("POST", "/v2/bookings", json={})
        with pytest.raises(ConnectionError):  # also the builtin type
            await client.request("GET", "/v2/me")


async def test_bad_bodies_are_decode_errors() -> None:
    async with Emulator() as emu, _client(emu) as client:
        for kind in ("truncated", "invalid_json", "no_envelope"):
            emu.inject(Fault(kind, path="/v2/me"))
            with pytest.raises(errors.DecodeError) as info:
                await client.request("GET", "/v2/me")
            assert "200" in str(info.value)
        emu.inject(Fault("html", status=502, path="/v2/me", times=3))
        with pytest.raises(errors.ServerError) as html:
            await client.request("GET", "/v2/me")
        assert "unexpected error body" in str(html.value)


async def test_api_errors_carry_the_envelope() -> None:
    async with Emulator() as emu:
        async with _client(emu) as client:
            with pytest.raises(errors.NotFoundError) as info:
                await client.request("GET", "/v2/bookings/no-such-uid")
        err = info.value
        assert err.status == 404 and err.request_id and err.response is not None
        assert emu.stats.requests == 1  # 4xx are not retried


async def test_wrong_key_is_an_authentication_error() -> None:
    async with Emulator() as emu:
        async with _client(emu, credential=ApiKey("ical_" + "0" * 32)) as client:
            with pytest.raises(errors.AuthenticationError) as info:
                await client.request("GET", "/v2/me")
        assert info.value.status == 401 and "0" * 32 not in str(info.value)


# -- 429s --------------------------------------------------------------------------------


async def _spend(emu: Emulator, n: int) -> None:
    async with aiohttp.ClientSession() as raw:
        for _ in range(n):
            async with raw.get(
                f"{emu.base_url}/v2/me", headers={"Authorization": f"Bearer {emu.api_key}"}
            ) as resp:
                await resp.read()


async def test_429_waits_for_the_announced_reset_then_retries() -> None:
    # Another process spent the window and got the credential blocked for a second.
    async with Emulator(rate_limit=RateLimit(3, 1), block_seconds=1) as emu:
        await _spend(emu, 4)
        async with _client(emu, rate_limit=RateLimit(3, 1)) as client:
            started = time.perf_counter()
            response = await client.request_response("GET", "/v2/me")
        assert time.perf_counter() - started >= 0.9
        assert response.attempts == 2


async def test_429_longer_than_the_cap_raises_rate_limit_error() -> None:
    async with Emulator(rate_limit=RateLimit(3, 1), block_seconds=5) as emu:
        await _spend(emu, 4)
        policy = RetryPolicy(max_rate_limit_wait=1.0)
        async with _client(emu, retry=policy) as client:
            with pytest.raises(errors.RateLimitError) as info:
                await client.request("GET", "/v2/me")
        assert info.value.retry_after is not None and info.value.retry_after >= 4
        assert emu.stats.requests == 5


async def test_429_is_honoured_even_without_a_limiter() -> None:
    async with Emulator(rate_limit=RateLimit(3, 1), block_seconds=0.5) as emu:
        await _spend(emu, 4)
        async with _client(emu, limiter=Unlimited()) as client:
            response = await client.request_response("GET", "/v2/me")
        assert response.attempts == 2


# -- pacing against the service's window ----------------------------------------------------------


@pytest.mark.slow
async def test_window_guarantee_90_calls_at_30_per_3s() -> None:
    limit = RateLimit(30, 3)
    starts = Starts()
    async with Emulator(rate_limit=limit) as emu:
        async with _client(emu, rate_limit=limit, observers=[starts]) as client:
            started = time.perf_counter()
            await asyncio.gather(*(client.request("GET", "/v2/me") for _ in range(90)))
            elapsed = time.perf_counter() - started
        # The guarantee is about starts: never more than 30 in any 3-s window. When the
        # server counts a request (on arrival) depends on the network and, with the emulator
        # in this process, on how busy the event loop is; what keeps the server's own windows
        # unbroken then is the headers' feedback (the next test), and the server saw no
        # overrun: no 429.
        assert len(starts.times) == 90
        assert max_in_window(starts.times, 3.0) <= 30
        assert emu.stats.rate_limited == 0
        # The ideal is (ceil(90 / 30) - 1) x 3 s = 6 s: two windows after the first.
        assert 5.9 <= elapsed < 7.5


@pytest.mark.slow
async def test_a_window_opened_late_at_the_server_is_not_overrun() -> None:
    # The first request reaches the server 0.4 s after it starts (a slow handshake, a busy
    # loop): the server's window opens then and ends 0.4 s later than the limiter's own log
    # says, far more than the default margin (1 % of 3 s). The answers' Remaining/Reset
    # headers must hold the second window's calls until the server's window has ended.
    limit = RateLimit(30, 3)
    async with Emulator(rate_limit=limit) as emu:
        emu.inject(Fault("latency", delay=0.4, path="/v2/me", times=1))
        async with _client(emu, rate_limit=limit) as client:
            await asyncio.gather(*(client.request("GET", "/v2/me") for _ in range(60)))
        assert emu.stats.rate_limited == 0
        assert emu.stats.requests == 60


@pytest.mark.slow
async def test_follows_a_server_limit_lower_than_configured() -> None:
    async with Emulator(rate_limit=RateLimit(10, 2)) as emu:
        async with _client(emu, rate_limit=RateLimit(30, 2)) as client:
            started = time.perf_counter()
            await asyncio.gather(*(client.request("GET", "/v2/me") for _ in range(30)))
            elapsed = time.perf_counter() - started
        assert emu.stats.rate_limited <= 1
        assert elapsed < 7.0  # 3 server windows, not a block


@pytest.mark.slow
async def test_credentials_are_independent() -> None:
    limit = RateLimit(5, 2)
    async with Emulator(rate_limit=limit) as emu:
        other_key = emu.add_api_key()
        async with _client(emu, rate_limit=limit) as client:
            busy = [asyncio.create_task(client.request("GET", "/v2/me")) for _ in range(15)]
            await asyncio.sleep(0.2)
            other = client.with_credential(ApiKey(other_key, rate_limit=limit))
            started = time.perf_counter()
            await asyncio.gather(*(other.request("GET", "/v2/me") for _ in range(5)))
            assert time.perf_counter() - started < 1.0
            await asyncio.gather(*busy)
        assert emu.stats.rate_limited == 0


# -- access tokens ----------------------------------------------------------------------


async def test_single_flight_refresh_under_1000_concurrent_calls() -> None:
    limit = RateLimit(5000, 60)
    async with Emulator(rate_limit=limit) as emu:
        pair = emu.issue_tokens()
        emu.expire_access_tokens()
        handed: list[TokenPair] = []

        async def persist(new: TokenPair) -> None:
            handed.append(new)

        token = AccessToken(
            pair.access_token,
            pair.refresh_token,
            client_id=emu.client_id,
            client_secret=emu.client_secret,
            on_refresh=persist,
            rate_limit=limit,
        )
        async with _client(emu, credential=token) as client:
            results = await asyncio.gather(*(client.request("GET", "/v2/me") for _ in range(1000)))
        assert len(results) == 1000 and all("email" in r for r in results)
        assert emu.stats.refreshes == 1
        assert len(handed) == 1 and handed[0].access_token != pair.access_token
        assert (await token.current()).refresh_token == handed[0].refresh_token


async def test_refresh_before_expiry_sends_no_expired_token() -> None:
    async with Emulator() as emu:
        pair = emu.issue_tokens()
        token = AccessToken(
            pair.access_token,
            pair.refresh_token,
            expires_at=time.time() + 5,  # inside the 60-s refresh margin
            client_id=emu.client_id,
            client_secret=emu.client_secret,
        )
        async with _client(emu, credential=token) as client:
            await client.request("GET", "/v2/me")
        assert emu.stats.refreshes == 1 and emu.stats.by_status[498] == 0


async def test_expired_token_without_refresh_is_an_authentication_error() -> None:
    async with Emulator() as emu:
        pair = emu.issue_tokens()
        emu.expire_access_tokens()
        async with _client(emu, credential=AccessToken(pair.access_token)) as client:
            with pytest.raises(errors.AuthenticationError) as info:
                await client.request("GET", "/v2/me")
        assert info.value.status == 498 and info.value.code == "ACCESS_TOKEN_IS_EXPIRED"
        assert pair.access_token not in str(info.value)


async def test_a_refused_refresh_fails_every_waiting_call_once() -> None:
    async with Emulator() as emu:
        pair = emu.issue_tokens()
        emu.expire_access_tokens()
        token = AccessToken(
            pair.access_token,
            pair.refresh_token,
            client_id=emu.client_id,
            client_secret="wrong-secret-0000",
        )
        async with _client(emu, credential=token) as client:
            results = await asyncio.gather(
                *(client.request("GET", "/v2/me") for _ in range(20)), return_exceptions=True
            )
        assert all(isinstance(r, errors.AuthenticationError) for r in results)
        assert emu.stats.refreshes == 0


# -- cancellation ---------------------------------------------------------------------------------


async def test_cancelling_1000_waiting_calls_leaks_nothing() -> None:
    limit = RateLimit(5, 2)
    limiter = LocalLimiter()
    async with Emulator(rate_limit=limit) as emu:
        emu.inject(Fault("latency", delay=0.5, path="/v2/me", times=3))  # some are in flight
        async with _client(emu, rate_limit=limit, limiter=limiter) as client:
            tasks = [asyncio.create_task(client.request("GET", "/v2/me")) for _ in range(1000)]
            await asyncio.sleep(0.2)
            random.Random(7).shuffle(tasks)
            for task in tasks:
                task.cancel()
            results = await asyncio.gather(*tasks, return_exceptions=True)
            assert sum(isinstance(r, asyncio.CancelledError) for r in results) >= 990
            await asyncio.sleep(0)
            connector = client.connector
            assert connector is not None
            assert len(connector._acquired) == 0  # no connection left checked out
            key = ApiKey(emu.api_key).limit_key
            snap = limiter.snapshot(key)
            assert snap is not None and snap.waiting == 0 and snap.in_flight == 0
            assert snap.recent_starts <= 5
            # The bucket still paces: the next calls succeed without a 429.
            await asyncio.gather(*(client.request("GET", "/v2/me") for _ in range(5)))
        assert emu.stats.rate_limited == 0


@pytest.mark.slow
async def test_follows_the_servers_window_too() -> None:
    # The key is left at its default (120 per 60 s); the server says 10, and its window (1 s)
    # shows in the Reset of a window's first answer.
    async with Emulator(rate_limit=RateLimit(10, 1)) as emu:
        async with _client(emu) as client:

            async def worker() -> None:
                for _ in range(15):
                    await client.request("GET", "/v2/me")

            started = time.perf_counter()
            await asyncio.gather(worker(), worker())
            elapsed = time.perf_counter() - started
        assert emu.stats.rate_limited == 0
        assert elapsed < 4.0  # (ceil(30 / 10) - 1) x 1 s = 2 s ideal; 60-s windows would take 2 min


async def test_raw_requests_know_their_operation(recording_server: RecordingServer) -> None:
    templates: list[str] = []

    class Templates(Observer):
        def on_call_end(self, call: CallInfo, error: BaseException | None) -> None:
            templates.append(call.path)

    async with ICalendly(
        ApiKey("ical_0123456789abcdef"),
        base_url=recording_server.base_url,
        allow_insecure_http=True,
        observers=[Templates()],
    ) as client:
        await client.request("GET", "/v2/bookings/abc")  # bookings.get: cal-api-version 2024-08-13
        await client.request("GET", "/v2/bookings/abc", api_version="2024-04-15")
        await client.request("GET", "/v2/not-in-the-document")
        await client.request("GET", "/v2/bookings")  # bookings.list, a path without parameters
        # a literal segment wins over a parameter: schedules.get_default, not schedules.get
        await client.request("GET", "/v2/schedules/default")
        with pytest.raises(errors.ConfigurationError, match="PlatformClient"):
            await client.request("GET", "/v2/oauth-clients/c1/users")  # needs the client's secret
    sent = [r["headers"].get("cal-api-version") for r in recording_server.requests]
    assert sent == ["2024-08-13", "2024-04-15", None, "2024-08-13", "2024-06-11"]
    assert templates[2:5] == ["/v2/not-in-the-document", "/v2/bookings", "/v2/schedules/default"]
