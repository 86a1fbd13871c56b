"""The client against a broken or hostile server, and against input that would split a request.

Each test plays the attacker (or the broken server) and checks what the client does: waits the
server announces are capped and count against the call's budget, invented named limits do not
grow the limiter's state, an oversized body is refused before it is read whole, and values that
would split a request or address another resource are refused before anything is sent.
"""

from __future__ import annotations

import logging
import time

import pytest
from aiohttp import web

from icalendly_async import ApiKey, ICalendly, RetryPolicy, errors
from icalendly_async.ratelimit import LocalLimiter
from icalendly_async.ratelimit.headers import MAX_NAMED_LIMITS, MAX_SERVER_WAIT, MAX_TRACKED_LIMITS

from .conftest import RecordingServer

KEY = "ical_0123456789abcdef"
OK = {"status": "success", "data": {"email": "a@example.com"}}


def _client(server: RecordingServer, **kwargs: object) -> ICalendly:
    return ICalendly(
        ApiKey(KEY),
        base_url=server.base_url,
        allow_insecure_http=True,
        **kwargs,  # type: ignore[arg-type]
    )


async def test_a_reset_of_1e18_is_capped_and_fails_fast(
    recording_server: RecordingServer, caplog: pytest.LogCaptureFixture
) -> None:
    async def exhausted(request: web.Request) -> web.StreamResponse:
        headers = {
            "X-RateLimit-Limit-Default": "5",  # a changed limit, spent, "reset" never
            "X-RateLimit-Remaining-Default": "0",
            "X-RateLimit-Reset-Default": "1e18",
        }
        return web.json_response(OK, headers=headers)

    recording_server.handler = exhausted
    caplog.set_level(logging.WARNING, logger="icalendly_async")
    async with _client(recording_server) as client:
        await client.request("GET", "/v2/me")
        held = client.limiter.hold_remaining(client.credential.limit_key)
        assert 0 < held <= MAX_SERVER_WAIT
        started = time.perf_counter()
        with pytest.raises(errors.RateLimitError, match="max_rate_limit_wait"):
            await client.request("GET", "/v2/me")
        patient = client.with_options(retry=RetryPolicy(max_rate_limit_wait=MAX_SERVER_WAIT * 2))
        with pytest.raises(errors.TimeoutError, match="held for"):
            await patient.request("GET", "/v2/me", timeout=5)
        assert time.perf_counter() - started < 1.0  # neither waited
    assert len(recording_server.requests) == 1
    assert any("waiting at most" in record.getMessage() for record in caplog.records)


async def test_a_huge_retry_after_on_503_does_not_outlive_the_call(
    recording_server: RecordingServer,
) -> None:
    async def busy(request: web.Request) -> web.StreamResponse:
        body = {"status": "error", "error": {"code": "Busy", "message": "busy"}}
        return web.json_response(body, status=503, headers={"Retry-After": "86400000"})

    recording_server.handler = busy
    async with _client(recording_server) as client:
        started = time.perf_counter()
        with pytest.raises(errors.TimeoutError) as caught:
            await client.request("GET", "/v2/me", timeout=2)
        assert time.perf_counter() - started < 1.0
    assert caught.value.phase == "backing_off"
    assert isinstance(caught.value.__cause__, errors.ServerError)
    assert len(recording_server.requests) == 1


async def test_invented_named_limits_do_not_grow_the_limiters_state(
    recording_server: RecordingServer,
) -> None:
    counter = iter(range(1_000_000))

    async def inventive(request: web.Request) -> web.StreamResponse:
        headers = {"X-RateLimit-Limit-Default": "1000", "X-RateLimit-Remaining-Default": "900"}
        headers["X-RateLimit-Reset-Default"] = "60"
        for _ in range(40):  # forty names never seen before, on every answer
            name = f"Invented{next(counter)}"
            headers[f"X-RateLimit-Limit-{name}"] = "100"
            headers[f"X-RateLimit-Remaining-{name}"] = "50"
            headers[f"X-RateLimit-Reset-{name}"] = "30"
        return web.json_response(OK, headers=headers)

    recording_server.handler = inventive
    limiter = LocalLimiter()
    async with _client(recording_server, limiter=limiter) as client:
        for _ in range(100):
            response = await client.request_response("GET", "/v2/me")
            assert len(response.rate_limit.limits) <= MAX_NAMED_LIMITS
            assert response.rate_limit.get("Default") is not None
        budgets = limiter._credentials[client.credential.limit_key].budgets  # private: the state
        assert budgets is not None and "default" in budgets
        assert len(budgets) <= MAX_TRACKED_LIMITS


async def test_a_body_over_the_cap_is_refused_before_it_is_read_whole(
    recording_server: RecordingServer,
) -> None:
    sent: list[int] = []

    async def flood(request: web.Request) -> web.StreamResponse:
        if request.path == "/declared":
            return web.Response(body=b"x" * 300_000, content_type="application/json")
        response = web.StreamResponse()  # chunked: no Content-Length to check first
        response.content_type = "application/json"
        await response.prepare(request)
        try:
            for _ in range(200):  # 200 x 64 KiB = 12.5 MiB, if anyone read it
                await response.write(b"x" * 65536)
                sent.append(65536)
        except (ConnectionResetError, RuntimeError):
            pass
        return response

    recording_server.handler = flood
    async with _client(recording_server, max_response_bytes=100_000) as client:
        with pytest.raises(errors.ResponseTooLargeError) as declared:
            await client.request("GET", "/declared")
        assert declared.value.size == 300_000 and declared.value.limit == 100_000
        with pytest.raises(errors.ResponseTooLargeError, match="more than 100,000 bytes"):
            await client.request("GET", "/streamed")
    assert sum(sent) < 12 * 1024 * 1024  # the client stopped reading; the server stopped
    assert len(recording_server.requests) == 2  # not retried: the same body would come


@pytest.mark.parametrize("bad", ["a\r\nX-Injected: 1", "a\nb", "a\x00b"])
async def test_cr_lf_and_nul_are_refused_before_anything_is_sent(
    recording_server: RecordingServer, bad: str
) -> None:
    async with _client(recording_server) as client:
        with pytest.raises(errors.ConfigurationError, match="CR, LF or NUL"):
            await client.request("GET", "/v2/me", headers={"X-Team": bad})
        with pytest.raises(errors.ConfigurationError, match="api_version"):
            await client.request("GET", "/v2/me", api_version=bad)
        with pytest.raises(errors.ConfigurationError, match="path"):
            await client.request("GET", "/v2/" + bad)
        with pytest.raises(errors.ConfigurationError, match="api_version"):
            await client.me.get(api_version=bad)
        with pytest.raises(errors.ConfigurationError, match="headers"):
            client.with_options(headers={"X-Team": bad})
        with pytest.raises(errors.ConfigurationError, match="api_versions"):
            ICalendly(ApiKey(KEY), api_versions={"Bookings": bad})
    assert recording_server.requests == []


async def test_an_api_versions_key_that_names_nothing_is_refused(
    recording_server: RecordingServer,
) -> None:
    # A pin that matches no tag or operation id would be ignored without a word, and the
    # calls would go out with the default version the user meant to replace.
    with pytest.raises(errors.ConfigurationError, match="did you mean 'Bookings'") as caught:
        ICalendly(ApiKey(KEY), api_versions={"bookings": "2024-01-01"})
    assert "operation id" in str(caught.value)
    with pytest.raises(errors.ConfigurationError, match="'Bokings'"):
        ICalendly(ApiKey(KEY)).with_options(api_versions={"Bokings": "2024-01-01"})
    # a tag and an operation id are both fine, and applied
    async with _client(
        recording_server,
        api_versions={"Bookings": "2024-01-01", "SchedulesController_2024_06_11_getSchedules": "x"},
    ) as client:
        await client.request("GET", "/v2/bookings")
        await client.request("GET", "/v2/schedules")
    sent = [r["headers"].get("cal-api-version") for r in recording_server.requests]
    assert sent == ["2024-01-01", "x"]


@pytest.mark.parametrize("dots", [".", "..", "%2e%2e", "%2E.", ".%2e", "%252e%252e"])
async def test_dot_segments_never_reach_the_server(
    recording_server: RecordingServer, dots: str
) -> None:
    async with _client(recording_server) as client:
        with pytest.raises(errors.ConfigurationError, match="dot segment"):
            await client.event_types.webhooks.delete(7, dots)
        with pytest.raises(errors.ConfigurationError, match="segment"):
            await client.request("DELETE", f"/v2/event-types/7/webhooks/{dots}")
        # a value that only contains dots is an ordinary, encoded segment
        recording_server.handler = None
        await client.request("GET", "/v2/bookings/a..b")
    assert [r["path"] for r in recording_server.requests] == ["/v2/bookings/a..b"]


async def test_a_replay_refused_after_another_rotation_is_sent_again_with_the_newest_token(
    recording_server: RecordingServer,
) -> None:
    """A call refused with T1 refreshes to T2; while its replay is in flight, another process
    rotates T2 to T3 in the shared store and the server refuses T2: the call is replayed once
    more with T3 instead of failing. A token refused right after the call's own refresh is an
    error (see the 498 storm test), so this happens only when the token changed meanwhile."""
    from icalendly_async import AccessToken, InMemoryTokenStore, TokenPair

    store = InMemoryTokenStore()  # shared with "another process" below
    token = AccessToken(
        "at-one-0123456789",
        "rt-one-0123456789",
        client_id="cid",
        client_secret="csecret-0123",
        store=store,
        key="user-1",
    )

    async def server(request: web.Request) -> web.StreamResponse:
        if request.path.startswith("/v2/oauth/"):
            data = {"accessToken": "at-two-0123456789", "refreshToken": "rt-two-0123456789"}
            return web.json_response({"status": "success", "data": data})
        used = request.headers["Authorization"].removeprefix("Bearer ")
        if used == "at-two-0123456789":  # meanwhile another process rotated it
            await store.set("user-1", TokenPair("at-three-0123456789", "rt-three-0123456789"))
        if used != "at-three-0123456789":
            body = {"status": "error", "error": {"code": "ACCESS_TOKEN_IS_EXPIRED", "message": "x"}}
            return web.json_response(body, status=498)
        return web.json_response(OK)

    recording_server.handler = server
    async with ICalendly(
        token, base_url=recording_server.base_url, allow_insecure_http=True
    ) as client:
        response = await client.request_response("GET", "/v2/me")
    assert response.status == 200 and response.attempts == 1
    sent = [
        r["headers"]["Authorization"].removeprefix("Bearer ")
        for r in recording_server.requests
        if r["path"] == "/v2/me"
    ]
    assert sent == ["at-one-0123456789", "at-two-0123456789", "at-three-0123456789"]
