"""The example apps' "Continue with iCalendly", driven end to end by a browser-like HTTP client
that follows the redirects: the app's /login, the emulator's authorize page, the app's
callback, then calls as the user."""

from __future__ import annotations

import importlib.util
import socket
from pathlib import Path
from types import ModuleType

import aiohttp
import httpx
import pytest
from aiohttp.test_utils import TestServer

from icalendly_async.testing import Emulator

from ._oauth_flow import partner_app

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def _load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"example_oauth_{name}", EXAMPLES / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _hops(answer: httpx.Response) -> list[str]:
    return [f"{r.status_code} {r.url.path}" for r in [*answer.history, answer]]


@pytest.mark.parametrize("public", [False, True])
async def test_fastapi_app_continue_with_icalendly(public: bool) -> None:
    example = _load("fastapi_app")
    async with Emulator() as emu:  # its apps are registered with http://127.0.0.1:8000/…
        partner = emu.oauth_public_app if public else emu.oauth_app
        app = example.create_app(
            emu.base_url,
            emu.client_id,
            emu.client_secret,
            example.TokenDirectory(),
            oauth=partner_app(emu, partner),
            session_secret="a-session-secret-0123456789",
        )
        async with app.router.lifespan_context(app):
            app_transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(
                mounts={"all://127.0.0.1:8000": app_transport},  # the app; the rest: the network
                base_url="http://127.0.0.1:8000",
                follow_redirects=True,
            ) as browser:
                answer = await browser.get("/login")
                assert answer.status_code == 200, answer.text
                assert _hops(answer) == [
                    "302 /login",
                    "302 /auth/oauth2/authorize",
                    "302 /oauth/callback",
                    "200 /me",
                ]
                owner = emu.data.owner
                assert answer.json() == {
                    "id": owner.id,
                    "email": owner.email,
                    "connected_as": owner.username,
                }
                assert (await browser.get("/me")).json()["id"] == owner.id  # later visits
                forged = await browser.get("/oauth/callback", params={"code": "c", "state": "s"})
                assert forged.status_code == 400
                # The user removes the app: the next visit sends them through the flow again.
                emu.revoke_oauth_grants()
                again = await browser.get("/me")
                assert again.status_code == 200 and _hops(again)[:2] == ["302 /me", "302 /login"]
                emu.oauth_consent = False
                denied = await browser.get("/login")
                assert denied.status_code == 400 and "access_denied" in denied.text
        assert emu.stats.code_exchanges == 2


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def test_aiohttp_app_continue_with_icalendly() -> None:
    example = _load("aiohttp_app")
    async with Emulator() as emu:
        port = _free_port()
        partner = emu.add_oauth_app(redirect_uris=[f"http://127.0.0.1:{port}/oauth/callback"])
        app = example.create_app(emu.base_url, emu.api_key, oauth=partner_app(emu, partner))
        async with (
            TestServer(app, host="127.0.0.1", port=port) as server,
            aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as browser,
        ):
            async with browser.get(server.make_url("/login")) as answer:
                assert answer.status == 200, await answer.text()
                hops = [f"{r.status} {r.url.path}" for r in answer.history]
                assert hops == ["302 /login", "302 /auth/oauth2/authorize", "302 /oauth/callback"]
                body = await answer.json()
            owner = emu.data.owner
            assert body == {"id": owner.id, "email": owner.email, "connected_as": owner.username}
            async with browser.get(server.make_url("/me")) as answer:
                assert answer.status == 200 and not answer.history
            async with browser.get(
                server.make_url("/oauth/callback"), params={"code": "c", "state": "s" * 20}
            ) as answer:
                assert answer.status == 400  # a forged callback: its state was never issued
            async with browser.get(server.make_url("/upcoming")) as answer:
                assert answer.status == 200  # the API-key route is still there
        assert emu.stats.code_exchanges == 1
