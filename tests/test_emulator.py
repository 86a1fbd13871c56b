"""The emulator (``icalendly_async.testing``) against raw aiohttp, on a real loopback socket."""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any

import aiohttp
import jsonschema  # type: ignore[import-untyped, unused-ignore]
import pytest
import pytest_asyncio

from icalendly_async import TokenPair
from icalendly_async.plans import Plan
from icalendly_async.ratelimit.headers import RateLimit
from icalendly_async.testing import Emulator, Fault

from ._schema_validation import validate_emulator_responses  # noqa: F401

pytestmark = pytest.mark.asyncio

_SPEC_CANDIDATES = (
    Path(__file__).resolve().parents[1] / "spec" / "openapi.json",
    Path("/work/shared/api/openapi.json"),
)

RL_HEADERS = (
    "X-RateLimit-Limit-Default",
    "X-RateLimit-Remaining-Default",
    "X-RateLimit-Reset-Default",
)


# --- helpers -----------------------------------------------------------------------------------


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def platform(emu: Emulator) -> dict[str, str]:
    return {"x-cal-client-id": emu.client_id, "x-cal-secret-key": emu.client_secret}


class Answer:
    def __init__(self, status: int, headers: Mapping[str, str], body: bytes) -> None:
        self.status = status
        self.headers = headers
        self.body = body

    def json(self) -> Any:
        return json.loads(self.body)

    def limits(self, name: str = "Default") -> tuple[int, int, int]:
        return (
            int(self.headers[f"X-RateLimit-Limit-{name}"]),
            int(self.headers[f"X-RateLimit-Remaining-{name}"]),
            int(self.headers[f"X-RateLimit-Reset-{name}"]),
        )


async def call(
    http: aiohttp.ClientSession,
    emu: Emulator,
    path: str,
    *,
    method: str = "GET",
    headers: Mapping[str, str] | None = None,
    json_body: Any = None,
) -> Answer:
    async with http.request(
        method, emu.base_url + path, headers=dict(headers or {}), json=json_body
    ) as response:
        return Answer(response.status, response.headers, await response.read())


def assert_error(answer: Answer, status: int, path: str | None = None) -> dict[str, Any]:
    assert answer.status == status, answer.body
    body = answer.json()
    assert body["status"] == "error"
    assert isinstance(body["timestamp"], str) and body["timestamp"].endswith("Z")
    if path is not None:
        assert body["path"] == path
    assert set(body["error"]) == {"code", "message", "details"}
    assert answer.headers["X-Request-Id"].startswith("req_")
    return body["error"]  # type: ignore[no-any-return]


@pytest_asyncio.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@pytest_asyncio.fixture
async def fresh_http() -> AsyncIterator[aiohttp.ClientSession]:
    """No keep-alive: aiohttp silently retries an idempotent request once when a *reused*
    connection drops, which would hide the connection faults."""
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True)) as session:
        yield session


@pytest_asyncio.fixture
async def emu() -> AsyncIterator[Emulator]:
    async with Emulator() as emulator:
        yield emulator


# --- the document's schemas (OpenAPI 3.0 -> JSON Schema, repaired as NOTES.md says) ------------


def _load_schemas() -> dict[str, Any]:
    for candidate in _SPEC_CANDIDATES:
        if candidate.exists():
            document = json.loads(candidate.read_text())
            return document["components"]["schemas"]  # type: ignore[no-any-return]
    pytest.skip("openapi.json not found")


def _to_json_schema(node: Any) -> Any:
    if isinstance(node, list):
        return [_to_json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: _to_json_schema(value) for key, value in node.items() if key != "example"}
    if "oneOf" in out:  # overlapping branches: read as "any of"
        out["anyOf"] = out.pop("oneOf")
    if out.pop("nullable", False):
        if "type" in out:
            out["type"] = [out["type"], "null"]
        if "enum" in out:
            out["enum"] = [*out["enum"], None]
        if "$ref" in out:
            out = {"anyOf": [{"$ref": out["$ref"]}, {"type": "null"}]}
    return out


def assert_schema(body: Any, name: str) -> None:
    schemas = _to_json_schema(_load_schemas())
    root = {"$ref": f"#/components/schemas/{name}", "components": {"schemas": schemas}}
    jsonschema.validate(body, root, cls=jsonschema.Draft7Validator)


# --- lifecycle ---------------------------------------------------------------------------------


async def test_starts_on_a_free_loopback_port_and_stops() -> None:
    emulator = Emulator()
    with pytest.raises(RuntimeError):
        _ = emulator.base_url
    async with emulator as emu:
        assert emu.base_url.startswith("http://127.0.0.1:")
        assert int(emu.base_url.rsplit(":", 1)[1]) > 0
        assert emu.api_key.startswith("ical_") and not emu.api_key.startswith("ical_live_")
        for secret in (emu.api_key, emu.client_secret):
            assert secret not in repr(emu)
        async with aiohttp.ClientSession() as http:
            assert (await call(http, emu, "/v2/me", headers=bearer(emu.api_key))).status == 200
        url = emu.base_url
    async with aiohttp.ClientSession() as http:
        with pytest.raises(aiohttp.ClientConnectionError):
            await http.get(url + "/v2/me")


async def test_two_emulators_run_side_by_side() -> None:
    async with Emulator() as first, Emulator() as second:
        assert first.base_url != second.base_url
        assert first.api_key != second.api_key


# --- credentials -------------------------------------------------------------------------------


async def test_missing_and_unknown_credentials_get_401(
    emu: Emulator, http: aiohttp.ClientSession
) -> None:
    error = assert_error(await call(http, emu, "/v2/me"), 401, "/v2/me")
    assert error["code"] == "UnauthorizedException"
    assert_error(await call(http, emu, "/v2/me", headers=bearer("ical_unknownkey")), 401)
    assert_error(await call(http, emu, "/v2/me", headers=bearer("ical_live_unknown")), 401)
    assert_error(await call(http, emu, "/v2/me", headers=bearer("some-random-token")), 401)
    wrong = {"x-cal-client-id": emu.client_id, "x-cal-secret-key": "nope"}
    assert_error(await call(http, emu, "/v2/me", headers=wrong), 401)
    unknown_client = {"x-cal-client-id": "unknown", "x-cal-secret-key": emu.client_secret}
    assert_error(await call(http, emu, "/v2/me", headers=unknown_client), 401)


async def test_api_keys_test_and_live_and_platform_client(
    emu: Emulator, http: aiohttp.ClientSession
) -> None:
    live = emu.add_api_key(live=True)
    test = emu.add_api_key()
    assert live.startswith("ical_live_")
    assert test.startswith("ical_") and not test.startswith("ical_live_")
    for headers in (bearer(emu.api_key), bearer(live), bearer(test), platform(emu)):
        answer = await call(http, emu, "/v2/me", headers=headers)
        assert answer.status == 200, answer.body
        assert answer.json()["data"]["id"] == 1
    # "bearer" is case-insensitive
    answer = await call(http, emu, "/v2/me", headers={"Authorization": f"bearer {emu.api_key}"})
    assert answer.status == 200


async def test_cal_api_version_header_is_ignored_and_not_echoed(
    emu: Emulator, http: aiohttp.ClientSession
) -> None:
    headers = {**bearer(emu.api_key), "cal-api-version": "2024-08-13"}
    answer = await call(http, emu, "/v2/bookings", headers=headers)
    assert answer.status == 200
    assert "cal-api-version" not in answer.headers
    assert b"2024-08-13" not in answer.body.split(b'"data"')[0]


async def test_access_token_works_then_498_when_expired(http: aiohttp.ClientSession) -> None:
    async with Emulator() as emu:
        pair = emu.issue_tokens()
        assert isinstance(pair, TokenPair) and pair.refresh_token is not None
        assert pair.access_token not in repr(pair) and pair.refresh_token not in repr(pair)
        assert pair.expires_at is not None and pair.refresh_expires_at is not None
        now = time.time()
        assert now + 3500 < pair.expires_at.timestamp() < now + 3700
        assert pair.refresh_expires_at.timestamp() > now + 360 * 24 * 3600
        answer = await call(http, emu, "/v2/me", headers=bearer(pair.access_token))
        assert answer.status == 200
        assert answer.json()["data"]["id"] == emu.data.users_of_client[emu.client_id][0]
        emu.expire_access_tokens()
        error = assert_error(
            await call(http, emu, "/v2/me", headers=bearer(pair.access_token)), 498
        )
        assert error["code"] == "ACCESS_TOKEN_IS_EXPIRED"
        assert error["message"] == "ACCESS_TOKEN_IS_EXPIRED"
        fresh = emu.issue_tokens()  # issued after the expiry: works
        assert (await call(http, emu, "/v2/me", headers=bearer(fresh.access_token))).status == 200


async def test_access_token_ttl(http: aiohttp.ClientSession) -> None:
    async with Emulator(access_token_ttl=0.3) as emu:
        pair = emu.issue_tokens(user_id=777)
        answer = await call(http, emu, "/v2/me", headers=bearer(pair.access_token))
        assert answer.json()["data"]["id"] == 777
        await asyncio.sleep(0.35)
        assert_error(await call(http, emu, "/v2/me", headers=bearer(pair.access_token)), 498)


async def test_refresh_rotates_tokens(emu: Emulator, http: aiohttp.ClientSession) -> None:
    old = emu.issue_tokens()
    path = f"/v2/oauth/{emu.client_id}/refresh"
    secret = {"x-cal-secret-key": emu.client_secret}
    answer = await call(
        http,
        emu,
        path,
        method="POST",
        headers=secret,
        json_body={"refreshToken": old.refresh_token},
    )
    assert answer.status == 200, answer.body
    assert_schema(answer.json(), "KeysResponseDto")
    data = answer.json()["data"]
    assert data["accessToken"] != old.access_token
    assert data["refreshToken"] != old.refresh_token
    assert data["accessTokenExpiresAt"] > time.time() * 1000
    # the new access token works; the old pair does not
    assert (await call(http, emu, "/v2/me", headers=bearer(data["accessToken"]))).status == 200
    assert_error(await call(http, emu, "/v2/me", headers=bearer(old.access_token)), 401)
    reused = await call(
        http,
        emu,
        path,
        method="POST",
        headers=secret,
        json_body={"refreshToken": old.refresh_token},
    )
    assert_error(reused, 401, path)
    # wrong secret, bad body
    wrong = await call(
        http,
        emu,
        path,
        method="POST",
        headers={"x-cal-secret-key": "wrong"},
        json_body={"refreshToken": data["refreshToken"]},
    )
    assert_error(wrong, 401)
    assert_error(await call(http, emu, path, method="POST", headers=secret, json_body={}), 400)
    assert emu.stats.refreshes == 1
    assert emu.stats.refresh_failures == 3
    # an expired access token can still be refreshed (the refresh route ignores Authorization)
    emu.expire_access_tokens()
    again = await call(
        http,
        emu,
        path,
        method="POST",
        headers={**secret, **bearer(data["accessToken"])},
        json_body={"refreshToken": data["refreshToken"]},
    )
    assert again.status == 200
    assert emu.stats.refreshes == 2


async def test_force_refresh(emu: Emulator, http: aiohttp.ClientSession) -> None:
    user_id = emu.data.users_of_client[emu.client_id][1]
    old = emu.issue_tokens(user_id)
    path = f"/v2/oauth-clients/{emu.client_id}/users/{user_id}/force-refresh"
    answer = await call(http, emu, path, method="POST", headers=platform(emu))
    assert answer.status == 200, answer.body
    assert_schema(answer.json(), "KeysResponseDto")
    new = answer.json()["data"]
    me = await call(http, emu, "/v2/me", headers=bearer(new["accessToken"]))
    assert me.json()["data"]["id"] == user_id
    assert_error(await call(http, emu, "/v2/me", headers=bearer(old.access_token)), 401)
    # the secret alone is enough (the client id is in the path)
    secret_only = {"x-cal-secret-key": emu.client_secret}
    assert (await call(http, emu, path, method="POST", headers=secret_only)).status == 200
    assert emu.stats.force_refreshes == 2
    # an API key is not a platform client; unknown users are 404
    assert_error(await call(http, emu, path, method="POST", headers=bearer(emu.api_key)), 401)
    unknown = f"/v2/oauth-clients/{emu.client_id}/users/999999/force-refresh"
    assert_error(await call(http, emu, unknown, method="POST", headers=platform(emu)), 404)


# --- plan tiers --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("plan", "expected"),
    [
        (Plan.TEAMS, {"me": 200, "bookings": 200, "org": 403, "platform": 403, "teams": 404}),
        (
            Plan.ORGANIZATIONS,
            {"me": 200, "bookings": 200, "org": 200, "platform": 403, "teams": 403},
        ),
        (Plan.PLATFORM, {"me": 200, "bookings": 200, "org": 200, "platform": 404, "teams": 404}),
    ],
)
async def test_plan_tiers(
    plan: Plan, expected: dict[str, int], http: aiohttp.ClientSession
) -> None:
    async with Emulator(plan=plan) as emu:
        headers = bearer(emu.api_key)
        paths = {
            "me": "/v2/me",
            "bookings": "/v2/bookings",
            "org": f"/v2/organizations/{emu.data.organization_id}/teams",
            # the tier is checked before the route is looked up: unknown routes of a tier
            "platform": "/v2/oauth-clients/x/not-emulated-yet",
            "teams": "/v2/teams/1/not-emulated-yet",
        }
        for name, path in paths.items():
            answer = await call(http, emu, path, headers=headers)
            assert answer.status == expected[name], (name, answer.body)
            if answer.status == 403:
                assert "plan" in answer.json()["error"]["message"]
        # the managed-users route needs the platform client: an API key of any plan gets 401
        users = await call(http, emu, f"/v2/oauth-clients/{emu.client_id}/users", headers=headers)
        assert "x-cal-secret-key" in assert_error(users, 401)["message"]
        me = (await call(http, emu, "/v2/me", headers=headers)).json()["data"]
        assert_schema({"status": "success", "data": me}, "GetMeOutput")
        assert (me["organizationId"] is None) == (plan is Plan.TEAMS)


async def test_client_plan_applies_to_its_tokens(http: aiohttp.ClientSession) -> None:
    async with Emulator() as emu:
        client = emu.add_oauth_client(plan=Plan.TEAMS)
        assert client.client_secret not in repr(client)
        pair = emu.issue_tokens(client_id=client.client_id)
        org = f"/v2/organizations/{emu.data.organization_id}/teams"
        assert_error(await call(http, emu, org, headers=bearer(pair.access_token)), 403)
        assert (
            await call(http, emu, org, headers=bearer(emu.issue_tokens().access_token))
        ).status == 200


# --- rate limits -------------------------------------------------------------------------------


async def test_fixed_window_block_and_headers(http: aiohttp.ClientSession) -> None:
    async with Emulator(rate_limit=RateLimit(5, 0.5), block_seconds=1.0) as emu:
        headers = bearer(emu.api_key)
        started = time.monotonic()
        for expected_remaining in (4, 3, 2, 1, 0):
            answer = await call(http, emu, "/v2/me", headers=headers)
            assert answer.status == 200
            assert answer.limits() == (5, expected_remaining, 1)
        exceeded = await call(http, emu, "/v2/me", headers=headers)
        blocked_at = time.monotonic()
        error = assert_error(exceeded, 429, "/v2/me")
        assert error["code"] == "ThrottlerException"
        assert "Retry-After" not in exceeded.headers
        assert exceeded.limits() == (5, 0, 1)
        # the window is over, the block (1 s from the 6th request) is not
        await asyncio.sleep(max(0.0, started + 0.6 - time.monotonic()))
        during = await call(http, emu, "/v2/me", headers=headers)
        assert time.monotonic() < blocked_at + 1.0
        assert during.status == 429 and "Retry-After" not in during.headers
        assert during.limits() == (5, 0, 1)
        await asyncio.sleep(max(0.0, blocked_at + 1.05 - time.monotonic()))
        after = await call(http, emu, "/v2/me", headers=headers)
        assert after.status == 200
        assert after.limits() == (5, 4, 1)  # a fresh window
        assert emu.stats.rate_limited == 2
        assert emu.stats.by_status[429] == 2
        assert [record.status for record in emu.request_log] == [200] * 5 + [429, 429, 200]


async def test_window_ends_without_block(http: aiohttp.ClientSession) -> None:
    async with Emulator(rate_limit=RateLimit(3, 0.4)) as emu:
        headers = bearer(emu.api_key)
        for _ in range(3):
            assert (await call(http, emu, "/v2/me", headers=headers)).status == 200
        await asyncio.sleep(0.45)
        for remaining in (2, 1, 0):
            answer = await call(http, emu, "/v2/me", headers=headers)
            assert answer.status == 200 and answer.limits()[1] == remaining


async def test_reset_is_rounded_up_and_block_seconds(http: aiohttp.ClientSession) -> None:
    async with Emulator(rate_limit=RateLimit(1, 2.5), block_seconds=3.2) as emu:
        headers = bearer(emu.api_key)
        first = await call(http, emu, "/v2/me", headers=headers)
        assert first.limits() == (1, 0, 3)  # ceil(2.5)
        blocked = await call(http, emu, "/v2/me", headers=headers)
        assert blocked.status == 429
        assert blocked.limits() == (1, 0, 4)  # ceil(3.2)
    async with Emulator(rate_limit=RateLimit(1, 2.5)) as emu:  # the block lasts the window
        headers = bearer(emu.api_key)
        await call(http, emu, "/v2/me", headers=headers)
        blocked = await call(http, emu, "/v2/me", headers=headers)
        assert blocked.status == 429
        assert blocked.limits() == (1, 0, 3)


async def test_every_response_carries_the_headers(
    emu: Emulator, http: aiohttp.ClientSession
) -> None:
    answers = [
        await call(http, emu, "/v2/me", headers=bearer(emu.api_key)),  # 200
        await call(http, emu, "/v2/me"),  # 401
        await call(http, emu, "/v2/nothing-here", headers=bearer(emu.api_key)),  # 404
        await call(http, emu, "/v2/bookings?take=0", headers=bearer(emu.api_key)),  # 400
    ]
    assert [answer.status for answer in answers] == [200, 401, 404, 400]
    for answer in answers:
        for name in RL_HEADERS:
            assert name in answer.headers
        assert answer.headers["X-Request-Id"].startswith("req_")
        assert "Retry-After" not in answer.headers
    ids = [answer.headers["X-Request-Id"] for answer in answers]
    assert len(set(ids)) == len(ids)


async def test_documented_default_limits_per_credential_kind(
    emu: Emulator, http: aiohttp.ClientSession
) -> None:
    pair = emu.issue_tokens()
    cases = {
        120: [bearer(emu.api_key), bearer(emu.add_api_key(live=True)), {}],
        500: [platform(emu), bearer(pair.access_token)],
    }
    for limit, header_sets in cases.items():
        for headers in header_sets:
            answer = await call(http, emu, "/v2/me", headers=headers)
            assert answer.limits()[0] == limit, headers.keys()
    custom = emu.add_api_key(rate_limit=RateLimit(800, 60))
    assert (await call(http, emu, "/v2/me", headers=bearer(custom))).limits()[0] == 800


async def test_limits_are_per_credential_and_per_ip(http: aiohttp.ClientSession) -> None:
    async with Emulator(rate_limit=RateLimit(2, 5)) as emu:
        other = emu.add_api_key()
        for _ in range(2):
            assert (await call(http, emu, "/v2/me", headers=bearer(emu.api_key))).status == 200
        assert (await call(http, emu, "/v2/me", headers=bearer(emu.api_key))).status == 429
        assert (await call(http, emu, "/v2/me", headers=bearer(other))).status == 200
        # unknown keys are counted under their own digest, then refused
        assert (await call(http, emu, "/v2/me", headers=bearer("ical_nope"))).status == 401
        # unauthenticated: per IP
        assert [(await call(http, emu, "/v2/me")).status for _ in range(3)] == [401, 401, 429]
        # a 429 is decided before authentication
        assert (await call(http, emu, "/v2/me", headers=bearer(emu.api_key))).status == 429


async def test_extra_named_limits(http: aiohttp.ClientSession) -> None:
    extra = {"Bookings": ("/v2/bookings", RateLimit(2, 5))}
    async with Emulator(extra_limits=extra) as emu:
        headers = bearer(emu.api_key)
        first = await call(http, emu, "/v2/bookings", headers=headers)
        assert first.limits() == (120, 119, 60)
        assert first.limits("Bookings") == (2, 1, 5)
        me = await call(http, emu, "/v2/me", headers=headers)
        assert "X-RateLimit-Limit-Bookings" not in me.headers
        assert me.limits() == (120, 118, 60)
        uid = emu.data.bookings[0].uid
        assert (await call(http, emu, f"/v2/bookings/{uid}", headers=headers)).status == 200
        third = await call(http, emu, "/v2/bookings", headers=headers)
        assert third.status == 429
        assert third.limits("Bookings")[1] == 0
        assert third.limits()[1] == 116  # Default still admitted (and counted) it
        # only the named limit's paths are blocked
        assert (await call(http, emu, "/v2/me", headers=headers)).status == 200
        assert emu.stats.rate_limited == 1


async def test_enforce_rate_limits_off(http: aiohttp.ClientSession) -> None:
    async with Emulator(rate_limit=RateLimit(1, 60), enforce_rate_limits=False) as emu:
        for _ in range(3):
            answer = await call(http, emu, "/v2/me", headers=bearer(emu.api_key))
            assert answer.status == 200
            assert "X-RateLimit-Limit-Default" not in answer.headers


async def test_max_in_window_and_request_log(http: aiohttp.ClientSession) -> None:
    async with Emulator(rate_limit=RateLimit(100, 60)) as emu:
        key = emu.api_key
        for _ in range(3):
            await call(http, emu, "/v2/me", headers=bearer(key))
        await asyncio.sleep(0.3)
        for _ in range(2):
            await call(http, emu, "/v2/me", headers=bearer(key))
        await call(http, emu, "/v2/me", headers=platform(emu))
        await call(http, emu, "/v2/nowhere")
        digest = emu.credential_digest(key)
        assert digest == emu.credential_digest(f"Bearer {key}")
        assert emu.max_in_window(digest, 0.25) == 3
        assert emu.max_in_window(digest, 10) == 5
        assert emu.max_in_window(emu.credential_digest(emu.client_id), 10) == 1
        assert emu.max_in_window(None, 10) == 7
        log = emu.request_log
        assert len(log) == 7 == emu.stats.requests
        assert [record.status for record in log] == [200] * 6 + [401]
        assert log[0].method == "GET" and log[0].path == "/v2/me"
        assert log[0].credential == digest and log[-1].credential is None
        assert log[0].request_id == "req_1"
        assert all(a.received_at <= b.received_at for a, b in itertools.pairwise(log))
        text = repr(log) + repr(emu.stats)
        assert key not in text and emu.client_secret not in text and emu.client_id not in text
        assert emu.stats.by_status == {200: 6, 401: 1}
        emu.reset_stats()
        assert emu.stats.requests == 0 and not emu.request_log and not emu.stats.by_status
        await call(http, emu, "/v2/me", headers=bearer(key))
        assert emu.stats.requests == 1 and emu.stats.by_status[200] == 1
        assert len(emu.request_log) == 1


# --- faults ------------------------------------------------------------------------------------


async def test_fault_status_is_early_and_uncounted(fresh_http: aiohttp.ClientSession) -> None:
    async with Emulator(rate_limit=RateLimit(2, 60)) as emu:
        headers = bearer(emu.api_key)
        emu.inject(Fault("status", status=503, times=3, headers={"X-Injected": "yes"}))
        for _ in range(3):
            answer = await call(fresh_http, emu, "/v2/me", headers=headers)
            error = assert_error(answer, 503, "/v2/me")
            assert error["code"] == "ServiceUnavailableException"
            assert answer.headers["X-Injected"] == "yes"
            assert "X-RateLimit-Limit-Default" not in answer.headers
        # the three faulted requests did not count: two more are admitted
        assert (await call(fresh_http, emu, "/v2/me", headers=headers)).limits()[1] == 1
        assert (await call(fresh_http, emu, "/v2/me", headers=headers)).limits()[1] == 0
        assert emu.stats.faults == 3 and emu.stats.by_status[503] == 3
        assert [r.fault for r in emu.request_log] == ["status"] * 3 + [None] * 2
        assert emu.request_log[0].credential == emu.credential_digest(emu.api_key)


async def test_fault_default_status_is_500(
    emu: Emulator, fresh_http: aiohttp.ClientSession
) -> None:
    emu.inject(Fault("status"))
    assert_error(await call(fresh_http, emu, "/v2/me"), 500)


async def test_fault_filters_path_method_and_times(
    emu: Emulator, fresh_http: aiohttp.ClientSession
) -> None:
    headers = bearer(emu.api_key)
    emu.inject(Fault("status", status=502, path="/v2/bookings", method="get", times=2))
    assert (await call(fresh_http, emu, "/v2/me", headers=headers)).status == 200
    post = await call(fresh_http, emu, "/v2/bookings", method="POST", headers=headers)
    assert post.status == 400  # no body: a 400 from the emulator; the fault is for GET only
    assert (await call(fresh_http, emu, "/v2/bookings", headers=headers)).status == 502
    assert (await call(fresh_http, emu, "/v2/bookings/abc", headers=headers)).status == 502
    assert (await call(fresh_http, emu, "/v2/bookings", headers=headers)).status == 200
    emu.inject(Fault("status", status=504, times=-1))
    for _ in range(3):
        assert (await call(fresh_http, emu, "/v2/me", headers=headers)).status == 504
    emu.clear_faults()
    assert (await call(fresh_http, emu, "/v2/me", headers=headers)).status == 200


async def test_fault_latency_then_normal(emu: Emulator, http: aiohttp.ClientSession) -> None:
    emu.inject(Fault("latency", delay=0.3))
    started = time.monotonic()
    answer = await call(http, emu, "/v2/me", headers=bearer(emu.api_key))
    assert time.monotonic() - started >= 0.3
    assert answer.status == 200 and answer.limits()[1] == 119  # counted, after the delay
    assert emu.request_log[0].fault == "latency"


async def test_fault_reset(emu: Emulator, fresh_http: aiohttp.ClientSession) -> None:
    # aiohttp's client retries an idempotent request once when the server disconnects; a POST
    # is not retried
    emu.inject(Fault("reset"))
    with pytest.raises(aiohttp.ClientConnectionError):
        await call(fresh_http, emu, "/v2/me", method="POST", headers=bearer(emu.api_key))
    assert emu.request_log[-1].status == 0 and emu.stats.by_status[0] == 1
    assert emu.request_log[-1].fault == "reset"
    emu.inject(Fault("reset", times=-1))
    with pytest.raises(aiohttp.ClientConnectionError):
        await call(fresh_http, emu, "/v2/me", headers=bearer(emu.api_key))
    emu.clear_faults()
    assert (await call(fresh_http, emu, "/v2/me", headers=bearer(emu.api_key))).status == 200


async def test_fault_reset_mid_body(emu: Emulator, fresh_http: aiohttp.ClientSession) -> None:
    emu.inject(Fault("reset_mid_body"))
    async with fresh_http.get(emu.base_url + "/v2/me", headers=bearer(emu.api_key)) as response:
        assert response.status == 200
        assert response.headers["X-Request-Id"].startswith("req_")
        with pytest.raises(aiohttp.ClientPayloadError):
            await response.read()


async def test_fault_html(emu: Emulator, fresh_http: aiohttp.ClientSession) -> None:
    emu.inject(Fault("html"))
    emu.inject(Fault("html", status=503))
    first = await call(fresh_http, emu, "/v2/me")
    assert first.status == 502
    assert first.headers["Content-Type"].startswith("text/html")
    assert first.body.startswith(b"<!DOCTYPE html>")
    assert (await call(fresh_http, emu, "/v2/me")).status == 503


@pytest.mark.parametrize("kind", ["truncated", "invalid_json"])
async def test_fault_bad_json(kind: str, emu: Emulator, fresh_http: aiohttp.ClientSession) -> None:
    emu.inject(Fault(kind))  # type: ignore[arg-type]
    answer = await call(fresh_http, emu, "/v2/me", headers=bearer(emu.api_key))
    assert answer.status == 200
    assert answer.headers["Content-Type"].startswith("application/json")
    assert int(answer.headers["Content-Length"]) == len(answer.body)
    with pytest.raises(ValueError):
        json.loads(answer.body)


async def test_fault_no_envelope(emu: Emulator, fresh_http: aiohttp.ClientSession) -> None:
    emu.inject(Fault("no_envelope"))
    body = (await call(fresh_http, emu, "/v2/me", headers=bearer(emu.api_key))).json()
    assert isinstance(body, dict) and "status" not in body and "data" not in body


async def test_fault_hang_does_not_block_shutdown() -> None:
    emu = await Emulator().start()
    emu.inject(Fault("hang"))
    async with aiohttp.ClientSession() as http:
        request = asyncio.ensure_future(call(http, emu, "/v2/me"))
        await asyncio.sleep(0.2)
        assert not request.done()
        assert emu.request_log[-1].fault == "hang"
        started = time.monotonic()
        await emu.stop()
        assert time.monotonic() - started < 0.8
        with pytest.raises(aiohttp.ClientError):
            await asyncio.wait_for(request, 2)


async def test_fault_hang_times_out_a_client(
    emu: Emulator, fresh_http: aiohttp.ClientSession
) -> None:
    emu.inject(Fault("hang"))
    with pytest.raises(asyncio.TimeoutError):
        async with fresh_http.get(
            emu.base_url + "/v2/me", timeout=aiohttp.ClientTimeout(total=0.2)
        ) as response:
            await response.read()


async def test_fault_slow_body(emu: Emulator, http: aiohttp.ClientSession) -> None:
    emu.inject(Fault("slow_body", delay=0.4))
    started = time.monotonic()
    async with http.get(emu.base_url + "/v2/me", headers=bearer(emu.api_key)) as response:
        headers_after = time.monotonic() - started
        body = await response.json()
    total = time.monotonic() - started
    assert headers_after < 0.2 <= 0.35 <= total
    assert body["status"] == "success" and body["data"]["id"] == 1
    assert response.headers["X-RateLimit-Remaining-Default"] == "119"
    with pytest.raises(asyncio.TimeoutError):  # a read timeout catches it
        emu.inject(Fault("slow_body", delay=1.0))
        async with http.get(
            emu.base_url + "/v2/me",
            headers=bearer(emu.api_key),
            timeout=aiohttp.ClientTimeout(sock_read=0.05),
        ) as response:
            await response.read()


async def test_fault_validation() -> None:
    with pytest.raises(ValueError):
        Fault("explode")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        Fault("status", status=99)
    with pytest.raises(ValueError):
        Fault("latency", delay=-1)
    with pytest.raises(ValueError):
        Fault("status", times=0)
    assert Fault("status", method="post").method == "POST"


# --- resources ---------------------------------------------------------------------------------


async def test_me_shape(emu: Emulator, http: aiohttp.ClientSession) -> None:
    body = (await call(http, emu, "/v2/me", headers=bearer(emu.api_key))).json()
    assert_schema(body, "GetMeOutput")
    assert body["data"]["organization"] == {"isPlatform": True, "id": emu.data.organization_id}


async def test_bookings_pagination(http: aiohttp.ClientSession) -> None:
    async with Emulator(bookings=23) as emu:
        headers = bearer(emu.api_key)
        everything = (await call(http, emu, "/v2/bookings", headers=headers)).json()
        assert_schema(everything, "GetBookingsOutput_2024_08_13")
        assert len(everything["data"]) == 23
        assert everything["pagination"] == {
            "totalItems": 23,
            "remainingItems": 0,
            "returnedItems": 23,
            "itemsPerPage": 100,
            "currentPage": 1,
            "totalPages": 1,
            "hasNextPage": False,
            "hasPreviousPage": False,
        }
        seen: list[str] = []
        skip = 0
        while True:
            page = (
                await call(http, emu, f"/v2/bookings?take=10&skip={skip}", headers=headers)
            ).json()
            seen.extend(item["uid"] for item in page["data"])
            if not page["pagination"]["hasNextPage"]:
                break
            skip += 10
        assert seen == [item["uid"] for item in everything["data"]]
        middle = (await call(http, emu, "/v2/bookings?take=10&skip=10", headers=headers)).json()
        assert middle["pagination"] == {
            "totalItems": 23,
            "remainingItems": 3,
            "returnedItems": 10,
            "itemsPerPage": 10,
            "currentPage": 2,
            "totalPages": 3,
            "hasNextPage": True,
            "hasPreviousPage": True,
        }
        for bad in ("take=0", "take=x", "skip=-1", "status=whatever", "sortStart=up"):
            assert_error(await call(http, emu, f"/v2/bookings?{bad}", headers=headers), 400)
        starts = [item["start"] for item in everything["data"]]
        assert starts == sorted(starts)
        desc = (await call(http, emu, "/v2/bookings?sortStart=desc", headers=headers)).json()
        assert [item["uid"] for item in desc["data"]] == seen[::-1]


async def test_bookings_status_filter(http: aiohttp.ClientSession) -> None:
    async with Emulator(bookings=200, seed=3) as emu:
        headers = bearer(emu.api_key)
        now = time.time()
        by_status: dict[str, set[str]] = {}
        for status in ("upcoming", "past", "cancelled", "unconfirmed", "recurring"):
            path = f"/v2/bookings?status={status}&take=250"
            body = (await call(http, emu, path, headers=headers)).json()
            assert body["pagination"]["totalItems"] == len(body["data"])
            by_status[status] = {item["uid"] for item in body["data"]}
            assert by_status[status], status
        rows = {row.uid: row for row in emu.data.bookings}
        assert all(rows[uid].end >= now for uid in by_status["upcoming"])
        assert all(rows[uid].end < now for uid in by_status["past"])
        assert all(rows[uid].status in ("cancelled", "rejected") for uid in by_status["cancelled"])
        assert all(rows[uid].status == "pending" for uid in by_status["unconfirmed"])
        assert by_status["unconfirmed"] <= by_status["upcoming"]
        assert by_status["recurring"] <= by_status["upcoming"]
        assert not by_status["upcoming"] & by_status["past"]
        both = await call(http, emu, "/v2/bookings?status=upcoming,past&take=250", headers=headers)
        repeated = await call(
            http, emu, "/v2/bookings?status=upcoming&status=past&take=250", headers=headers
        )
        expected = by_status["upcoming"] | by_status["past"]
        assert {item["uid"] for item in both.json()["data"]} == expected
        assert {item["uid"] for item in repeated.json()["data"]} == expected
        recurring = next(iter(by_status["recurring"]))
        single = (await call(http, emu, f"/v2/bookings/{recurring}", headers=headers)).json()
        assert "recurringBookingUid" in single["data"]


async def test_get_booking_and_unknown_routes(emu: Emulator, http: aiohttp.ClientSession) -> None:
    headers = bearer(emu.api_key)
    uid = emu.data.bookings[7].uid
    body = (await call(http, emu, f"/v2/bookings/{uid}", headers=headers)).json()
    assert_schema(body, "GetBookingOutput_2024_08_13")
    assert body["data"]["uid"] == uid
    assert_error(await call(http, emu, "/v2/bookings/nope", headers=headers), 404)
    error = assert_error(
        await call(http, emu, "/v2/does/not/exist?x=1", headers=headers),
        404,
        "/v2/does/not/exist?x=1",
    )
    assert error["code"] == "NotFoundException"
    assert_error(await call(http, emu, "/v2/me", method="DELETE", headers=headers), 404)


async def test_org_teams(emu: Emulator, http: aiohttp.ClientSession) -> None:
    headers = bearer(emu.api_key)
    org = emu.data.organization_id
    body = (await call(http, emu, f"/v2/organizations/{org}/teams", headers=headers)).json()
    assert_schema(body, "OrgTeamsOutputResponseDto")
    assert len(body["data"]) == 5
    assert_error(await call(http, emu, f"/v2/organizations/{org + 1}/teams", headers=headers), 404)
    assert_error(await call(http, emu, "/v2/organizations/abc/teams", headers=headers), 400)


async def test_managed_users_limit_offset(emu: Emulator, http: aiohttp.ClientSession) -> None:
    path = f"/v2/oauth-clients/{emu.client_id}/users"
    everyone = (await call(http, emu, path, headers=platform(emu))).json()
    assert_schema(everyone, "GetManagedUsersOutput")
    assert len(everyone["data"]) == 12
    page = (await call(http, emu, f"{path}?limit=5&offset=10", headers=platform(emu))).json()
    assert [user["id"] for user in page["data"]] == [u["id"] for u in everyone["data"][10:15]]
    email = everyone["data"][3]["email"]
    filtered = (await call(http, emu, f"{path}?emails={email}", headers=platform(emu))).json()
    assert [user["email"] for user in filtered["data"]] == [email]
    other = emu.add_oauth_client()
    theirs = {"x-cal-client-id": other.client_id, "x-cal-secret-key": other.client_secret}
    assert_error(await call(http, emu, path, headers=theirs), 403)
    assert_error(await call(http, emu, path, headers={"x-cal-secret-key": "nope"}), 401)


async def test_seeded_data_is_deterministic(http: aiohttp.ClientSession) -> None:
    async def uids(seed: int) -> list[str]:
        async with Emulator(seed=seed, bookings=30) as emu:
            answer = await call(http, emu, "/v2/bookings", headers=bearer(emu.api_key))
            data = answer.json()["data"]
            users = await call(
                http, emu, f"/v2/oauth-clients/{emu.client_id}/users", headers=platform(emu)
            )
            return [item["uid"] + item["title"] + item["start"] for item in data] + [
                user["email"] for user in users.json()["data"]
            ]

    first, again, other = await uids(1), await uids(1), await uids(2)
    assert first == again
    assert first != other
    async with Emulator(bookings=0) as emu:
        answer = await call(http, emu, "/v2/bookings", headers=bearer(emu.api_key))
        assert answer.json()["data"] == []
        assert answer.json()["pagination"]["totalPages"] == 0


async def test_handler_failure_is_a_500_envelope_with_headers(
    emu: Emulator,
    http: aiohttp.ClientSession,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    def broken(*args: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(emu.data, "me", broken)
    answer = await call(http, emu, "/v2/me", headers=bearer(emu.api_key))
    error = assert_error(answer, 500, "/v2/me")
    assert error["code"] == "InternalServerErrorException"
    assert answer.limits() == (120, 119, 60)
    assert emu.api_key not in caplog.text


async def test_reset_rate_limits(http: aiohttp.ClientSession) -> None:
    async with Emulator(rate_limit=RateLimit(1, 60)) as emu:
        headers = bearer(emu.api_key)
        assert (await call(http, emu, "/v2/me", headers=headers)).status == 200
        assert (await call(http, emu, "/v2/me", headers=headers)).status == 429
        emu.reset_rate_limits()
        assert (await call(http, emu, "/v2/me", headers=headers)).status == 200
