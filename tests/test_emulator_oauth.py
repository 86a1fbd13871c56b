"""The emulator's OAuth 2.0 flow for partner apps, driven over plain HTTP as the service's
documentation (and RFC 6749 / RFC 7636) describe it. Every answer is validated against the
repaired document's additions (the suite runs the emulator with validation on)."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import time
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import aiohttp
import pytest

from icalendly_async._clock import VirtualClock
from icalendly_async.oauth import code_challenge
from icalendly_async.testing import Emulator, PartnerApp, ServerInfo, serve

TOKEN = "/v2/auth/oauth2/token"
VERIFIER = "v" * 43 + "-._~0123456789"


@pytest.fixture
async def emu() -> AsyncIterator[Emulator]:
    async with Emulator() as emulator:
        assert emulator.validates_responses
        yield emulator
        assert not emulator.schema_violations


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def _authorize(
    http: aiohttp.ClientSession, emu: Emulator, **params: str
) -> tuple[int, dict[str, str], str]:
    """Status, the redirect's query (empty when there is none) and the body."""
    async with http.get(emu.authorize_url, params=params, allow_redirects=False) as answer:
        body = await answer.text()
        location = answer.headers.get("Location")
        assert answer.headers["Cache-Control"] == "no-store"
        query = dict(parse_qsl(urlsplit(location).query)) if location else {}
        return answer.status, query, body


async def _code(http: aiohttp.ClientSession, emu: Emulator, app: PartnerApp, **extra: str) -> str:
    status, query, _ = await _authorize(
        http, emu, client_id=app.client_id, redirect_uri=app.redirect_uris[0], **extra
    )
    assert status == 302 and "code" in query, query
    return query["code"]


async def _token(
    http: aiohttp.ClientSession,
    emu: Emulator,
    fields: dict[str, str],
    *,
    as_json: bool = False,
    headers: dict[str, str] | None = None,
) -> tuple[int, dict[str, Any], aiohttp.typedefs.LooseHeaders]:
    data: Any = json.dumps(fields) if as_json else urlencode(fields)
    content_type = "application/json" if as_json else "application/x-www-form-urlencoded"
    async with http.post(
        emu.base_url + TOKEN, data=data, headers={"Content-Type": content_type, **(headers or {})}
    ) as answer:
        assert answer.headers["Cache-Control"] == "no-store"
        return answer.status, await answer.json(), answer.headers


def _secret(app: PartnerApp) -> str:
    assert app.client_secret is not None
    return app.client_secret


# -- authorize --------------------------------------------------------------------------------


async def test_approval_redirects_with_code_and_state(
    emu: Emulator, http: aiohttp.ClientSession
) -> None:
    app = emu.oauth_app
    status, query, _ = await _authorize(
        http,
        emu,
        client_id=app.client_id,
        redirect_uri=app.redirect_uris[0],
        state="state-0123456789abcdef",
        scope="READ_BOOKING READ_PROFILE",
        response_type="code",
    )
    assert status == 302
    assert set(query) == {"code", "state"} and query["state"] == "state-0123456789abcdef"


async def test_a_redirect_uri_with_a_query_keeps_it(
    emu: Emulator, http: aiohttp.ClientSession
) -> None:
    app = emu.add_oauth_app(redirect_uris=["https://partner.example/cb?tenant=7"])
    async with http.get(
        emu.authorize_url,
        params={"client_id": app.client_id, "redirect_uri": app.redirect_uris[0]},
        allow_redirects=False,
    ) as answer:
        location = answer.headers["Location"]
    assert location.startswith("https://partner.example/cb?tenant=7&code=")


@pytest.mark.parametrize(
    ("case", "status", "text"),
    [
        ("unknown client", 400, "Unknown client"),
        ("mismatched redirect_uri", 400, "redirect_uri does not match"),
        ("unapproved client", 403, "not been approved"),
        ("repeated parameter", 400, "repeats client_id"),
    ],
)
async def test_errors_the_app_cannot_be_trusted_with_are_shown_to_the_user(
    emu: Emulator, http: aiohttp.ClientSession, case: str, status: int, text: str
) -> None:
    app = emu.oauth_app
    params: Any = {"client_id": app.client_id, "redirect_uri": app.redirect_uris[0]}
    if case == "unknown client":
        params["client_id"] = "oa-nobody"
    elif case == "mismatched redirect_uri":
        params["redirect_uri"] = app.redirect_uris[0] + "/evil"
    elif case == "unapproved client":
        pending = emu.add_oauth_app(approved=False)
        params["client_id"] = pending.client_id
    else:
        params = [("client_id", app.client_id), ("client_id", app.client_id)]
    async with http.get(emu.authorize_url, params=params, allow_redirects=False) as answer:
        assert answer.status == status and "Location" not in answer.headers
        assert answer.content_type == "text/html"
        assert text in await answer.text()


@pytest.mark.parametrize(
    ("extra", "error"),
    [
        ({"response_type": "token"}, "unsupported_response_type"),
        ({"code_challenge": "x" * 43, "code_challenge_method": "plain"}, "invalid_request"),
        ({"code_challenge": "too-short", "code_challenge_method": "S256"}, "invalid_request"),
        ({}, "invalid_request"),  # a public client without PKCE
    ],
)
async def test_request_errors_go_back_to_the_app_with_the_state(
    emu: Emulator, http: aiohttp.ClientSession, extra: dict[str, str], error: str
) -> None:
    app = emu.oauth_public_app
    status, query, _ = await _authorize(
        http,
        emu,
        client_id=app.client_id,
        redirect_uri=app.redirect_uris[0],
        state="state-0123456789abcdef",
        **extra,
    )
    assert status == 302 and query["error"] == error
    assert query["state"] == "state-0123456789abcdef" and "code" not in query


async def test_a_user_who_denies_sends_access_denied(
    emu: Emulator, http: aiohttp.ClientSession
) -> None:
    emu.oauth_consent = False
    app = emu.oauth_app
    status, query, _ = await _authorize(
        http, emu, client_id=app.client_id, redirect_uri=app.redirect_uris[0], state="s" * 16
    )
    assert status == 302 and query == {
        "error": "access_denied",
        "error_description": "the user denied the request",
        "state": "s" * 16,
    }


# -- token ------------------------------------------------------------------------------------


async def test_exchange_as_form_or_json_then_call_as_the_user(
    emu: Emulator, http: aiohttp.ClientSession
) -> None:
    app = emu.oauth_app
    for as_json in (False, True):
        fields = {
            "grant_type": "authorization_code",
            "code": await _code(http, emu, app),
            "redirect_uri": app.redirect_uris[0],
            "client_id": app.client_id,
            "client_secret": _secret(app),
        }
        status, body, _ = await _token(http, emu, fields, as_json=as_json)
        assert status == 200, body
        assert set(body) == {"access_token", "token_type", "refresh_token", "expires_in"}
        assert body["token_type"] == "bearer" and body["expires_in"] == 1800
        async with http.get(
            emu.base_url + "/v2/me", headers={"Authorization": f"Bearer {body['access_token']}"}
        ) as answer:
            assert answer.status == 200
            assert (await answer.json())["data"]["id"] == emu.oauth_user_id
    assert emu.stats.code_exchanges == 2


async def test_http_basic_client_authentication(emu: Emulator, http: aiohttp.ClientSession) -> None:
    app = emu.oauth_app
    basic = base64.b64encode(f"{app.client_id}:{_secret(app)}".encode()).decode()
    fields = {"grant_type": "authorization_code", "code": await _code(http, emu, app)}
    status, body, _ = await _token(
        http,
        emu,
        {**fields, "redirect_uri": app.redirect_uris[0]},
        headers={"Authorization": f"Basic {basic}"},
    )
    assert status == 200, body
    wrong = base64.b64encode(f"{app.client_id}:wrong".encode()).decode()
    status, body, headers = await _token(
        http, emu, fields, headers={"Authorization": f"Basic {wrong}"}
    )
    assert status == 401 and body["error"] == "invalid_client"
    assert headers["WWW-Authenticate"].startswith("Basic")  # type: ignore[index]


async def test_pkce_for_a_public_client(emu: Emulator, http: aiohttp.ClientSession) -> None:
    app = emu.oauth_public_app
    challenge = {"code_challenge": code_challenge(VERIFIER), "code_challenge_method": "S256"}
    base = {
        "grant_type": "authorization_code",
        "redirect_uri": app.redirect_uris[0],
        "client_id": app.client_id,
    }
    code = await _code(http, emu, app, **challenge)
    for verifier in (None, "w" * 43):
        fields = {**base, "code": code, **({"code_verifier": verifier} if verifier else {})}
        status, body, _ = await _token(http, emu, fields)
        assert status == 400 and body["error"] == "invalid_grant", body
    status, body, _ = await _token(http, emu, {**base, "code": code, "code_verifier": VERIFIER})
    assert status == 200, body
    # a public client has no secret to send
    code = await _code(http, emu, app, **challenge)
    fields = {**base, "code": code, "code_verifier": VERIFIER, "client_secret": "anything"}
    status, body, _ = await _token(http, emu, fields)
    assert status == 401 and body["error"] == "invalid_client"


@pytest.mark.parametrize(
    ("fields", "status", "error"),
    [
        ({"grant_type": "authorization_code", "code": "nope"}, 400, "invalid_grant"),
        ({"grant_type": "password"}, 400, "unsupported_grant_type"),
        ({}, 400, "invalid_request"),
        ({"grant_type": "refresh_token"}, 400, "invalid_request"),
        ({"grant_type": "refresh_token", "refresh_token": "nope"}, 400, "invalid_grant"),
        ({"grant_type": "authorization_code", "client_id": "oa-nobody"}, 401, "invalid_client"),
        ({"grant_type": "authorization_code", "client_secret": "wrong"}, 401, "invalid_client"),
    ],
)
async def test_errors_are_rfc_6749_bodies(
    emu: Emulator,
    http: aiohttp.ClientSession,
    fields: dict[str, str],
    status: int,
    error: str,
) -> None:
    app = emu.oauth_app
    sent = {"client_id": app.client_id, "client_secret": _secret(app), **fields}
    answer_status, body, _ = await _token(http, emu, sent)
    assert answer_status == status and body["error"] == error
    assert isinstance(body["error_description"], str) and _secret(app) not in json.dumps(body)


async def test_a_body_that_is_neither_form_nor_json_is_invalid_request(
    emu: Emulator, http: aiohttp.ClientSession
) -> None:
    async with http.post(
        emu.base_url + TOKEN, data=b"grant_type=x", headers={"Content-Type": "text/plain"}
    ) as answer:
        assert answer.status == 400 and (await answer.json())["error"] == "invalid_request"


async def test_codes_are_single_use_and_reuse_revokes_what_they_gave(
    emu: Emulator, http: aiohttp.ClientSession
) -> None:
    app = emu.oauth_app
    fields = {
        "grant_type": "authorization_code",
        "code": await _code(http, emu, app),
        "redirect_uri": app.redirect_uris[0],
        "client_id": app.client_id,
        "client_secret": _secret(app),
    }
    status, first, _ = await _token(http, emu, fields)
    assert status == 200
    status, body, _ = await _token(http, emu, fields)
    assert status == 400 and body["error"] == "invalid_grant"
    async with http.get(
        emu.base_url + "/v2/me", headers={"Authorization": f"Bearer {first['access_token']}"}
    ) as answer:
        assert answer.status == 401


async def test_the_redirect_uri_must_match_the_authorization_requests(
    emu: Emulator, http: aiohttp.ClientSession
) -> None:
    app = emu.add_oauth_app(
        redirect_uris=["http://127.0.0.1:9/a", "http://127.0.0.1:9/b"], confidential=True
    )
    status, query, _ = await _authorize(
        http, emu, client_id=app.client_id, redirect_uri="http://127.0.0.1:9/a"
    )
    assert status == 302
    fields = {
        "grant_type": "authorization_code",
        "code": query["code"],
        "redirect_uri": "http://127.0.0.1:9/b",
        "client_id": app.client_id,
        "client_secret": _secret(app),
    }
    status, body, _ = await _token(http, emu, fields)
    assert status == 400 and body["error"] == "invalid_grant"


async def test_refresh_rotates_and_a_reused_refresh_token_revokes_the_grant(
    emu: Emulator, http: aiohttp.ClientSession
) -> None:
    app = emu.oauth_app
    client = {"client_id": app.client_id, "client_secret": _secret(app)}
    status, first, _ = await _token(
        http,
        emu,
        {
            "grant_type": "authorization_code",
            "code": await _code(http, emu, app),
            "redirect_uri": app.redirect_uris[0],
            **client,
        },
    )
    refresh = {"grant_type": "refresh_token", "refresh_token": first["refresh_token"], **client}
    status, second, _ = await _token(http, emu, refresh)
    assert status == 200 and second["refresh_token"] != first["refresh_token"]

    async def me(token: str) -> int:
        async with http.get(
            emu.base_url + "/v2/me", headers={"Authorization": f"Bearer {token}"}
        ) as answer:
            return answer.status

    assert await me(first["access_token"]) == 401  # rotated away with its refresh token
    assert await me(second["access_token"]) == 200
    status, body, _ = await _token(http, emu, refresh)  # the used refresh token, again
    assert (
        status == 400
        and body["error"] == "invalid_grant"
        and "revoked" in body["error_description"]
    )
    assert await me(second["access_token"]) == 401  # reuse detected: the whole grant is gone
    again = {**refresh, "refresh_token": second["refresh_token"]}
    status, body, _ = await _token(http, emu, again)
    assert status == 400 and body["error"] == "invalid_grant"
    assert emu.stats.refreshes == 1 and emu.stats.refresh_failures == 2


async def test_token_lifetime_and_expiry_follow_the_configured_ttl_and_clock(
    http: aiohttp.ClientSession,
) -> None:
    clock = VirtualClock(epoch=time.time())
    async with Emulator(clock=clock, oauth_token_ttl=600) as emu:
        app = emu.oauth_app
        status, body, _ = await _token(
            http,
            emu,
            {
                "grant_type": "authorization_code",
                "code": await _code(http, emu, app),
                "redirect_uri": app.redirect_uris[0],
                "client_id": app.client_id,
                "client_secret": _secret(app),
            },
        )
        assert status == 200 and body["expires_in"] == 600
        headers = {"Authorization": f"Bearer {body['access_token']}"}
        await clock.advance(599)
        async with http.get(emu.base_url + "/v2/me", headers=headers) as answer:
            assert answer.status == 200
        await clock.advance(1)
        async with http.get(emu.base_url + "/v2/me", headers=headers) as answer:
            assert answer.status == 498


async def test_mock_server_prints_both_partner_apps() -> None:
    ready: asyncio.Future[ServerInfo] = asyncio.get_running_loop().create_future()
    task = asyncio.create_task(serve(port=0, ready=ready))
    try:
        info = await asyncio.wait_for(ready, 30)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    settings = info.environment()
    assert settings["ICALENDLY_AUTHORIZE_URL"].endswith("/auth/oauth2/authorize")
    assert settings["ICALENDLY_OAUTH_CLIENT_ID"] != settings["ICALENDLY_OAUTH_PUBLIC_CLIENT_ID"]
    assert settings["ICALENDLY_OAUTH_CLIENT_SECRET"]
    assert settings["ICALENDLY_OAUTH_REDIRECT_URI"] == "http://127.0.0.1:8000/oauth/callback"
    assert settings["ICALENDLY_OAUTH_CLIENT_SECRET"] not in repr(info)
