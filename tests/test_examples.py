"""Every example in examples/ runs against the emulator."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import httpx
import pytest
from aiohttp.test_utils import TestClient, TestServer

from icalendly_async.testing import Emulator
from icalendly_async.webhooks import SIGNATURE_HEADER, sign

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def _load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


async def test_fastapi_app_serves_many_managed_users() -> None:
    example = _load("fastapi_app")
    async with Emulator() as emu:
        tokens = example.TokenDirectory()
        for user_id in (101, 102, 103):
            pair = emu.issue_tokens(user_id)
            tokens.pairs[user_id] = example.TokenPair(pair.access_token, pair.refresh_token)
        stale = tokens.pairs[102]
        emu.expire_access_tokens()
        for user_id in (101, 103):  # fresh pairs for two of them; 102 must refresh itself
            pair = emu.issue_tokens(user_id)
            tokens.pairs[user_id] = example.TokenPair(pair.access_token, pair.refresh_token)
        app = example.create_app(emu.base_url, emu.client_id, emu.client_secret, tokens)
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://app") as http:
                answers = [
                    (await http.get(f"/users/{user_id}/profile")).json()
                    for user_id in (101, 102, 103, 102)
                ]
                missing = await http.get("/users/999/profile")
        assert [a["id"] for a in answers] == [101, 102, 103, 102]
        assert missing.status_code == 404
        assert emu.stats.refreshes == 1 and tokens.pairs[102] != stale  # rotated and stored


async def test_aiohttp_app() -> None:
    example = _load("aiohttp_app")
    async with Emulator(bookings=200) as emu:
        app = example.create_app(emu.base_url, emu.api_key)
        async with TestClient(TestServer(app)) as http:
            response = await http.get("/upcoming")
            assert response.status == 200
            body = await response.json()
    assert 0 < len(body["bookings"]) <= 10


def test_bulk_sync_script() -> None:
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / "bulk_sync.py")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "synced 3000 bookings" in done.stdout and "429s received: 0" in done.stdout


async def test_webhook_receiver_verifies_signatures_and_processes_once() -> None:
    example = _load("webhook_receiver")
    secret = "whsec_example_0123456789"
    body = json.dumps({"triggerEvent": "BOOKING_CREATED", "payload": {"uid": "b1"}}).encode()
    app = example.create_app(secret)
    async with TestClient(TestServer(app)) as http:
        good = await http.post(
            "/webhooks", data=body, headers={SIGNATURE_HEADER: sign(body, secret)}
        )
        again = await http.post(
            "/webhooks", data=body, headers={SIGNATURE_HEADER: sign(body, secret)}
        )
        forged = await http.post("/webhooks", data=body, headers={SIGNATURE_HEADER: "0" * 64})
        assert good.status == 200 and await good.text() == "processed"
        assert again.status == 200 and await again.text() == "already processed"
        assert forged.status == 401
    assert [e.payload["uid"] for e in app[example.EVENTS]] == ["b1"]


@pytest.mark.slow
def test_quickstart_example_runs() -> None:
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / "quickstart.py")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0 and "429s received: 0" in done.stdout
