"""``serve``/``run``: the emulator as a server until stopped (what ``icalendly mock-server``
runs); and the pytest plugin's ini option and webhook receiver fixture."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import textwrap

import aiohttp
import pytest

from icalendly_async import ApiKey, ICalendly, PlatformClient
from icalendly_async.ratelimit import RateLimit
from icalendly_async.testing import Emulator, ServerInfo, WebhookReceiver, serve

from ._schema_validation import validate_emulator_responses  # noqa: F401

pytest_plugins = ["pytester"]


async def test_a_running_emulator_says_how_to_reach_it() -> None:
    async with Emulator(seed=7) as emu:
        info = emu.info
        assert info.base_url == emu.base_url and info.api_key == emu.api_key
        assert info.authorize_url == emu.authorize_url
        assert info.oauth_client_id == emu.oauth_app.client_id
        assert emu.api_key not in repr(info) and emu.client_secret not in repr(info)
        async with ICalendly(
            ApiKey(info.api_key), base_url=info.base_url, allow_insecure_http=True
        ) as client:
            assert (await client.me.get()).email
            platform = client.with_credential(PlatformClient(info.client_id, info.client_secret))
            assert await platform.request("GET", f"/v2/oauth-clients/{info.client_id}")


async def test_serve_until_cancelled() -> None:
    ready: asyncio.Future[ServerInfo] = asyncio.get_running_loop().create_future()
    called: list[ServerInfo] = []
    task = asyncio.create_task(
        serve(port=0, seed=7, bookings=30, rate_limit="5/60", ready=ready, on_ready=called.append)
    )
    info = await asyncio.wait_for(ready, 5)
    assert called == [info]
    assert info.base_url.startswith("http://127.0.0.1:")
    assert info.api_key not in repr(info) and info.client_secret not in repr(info)
    assert info.environment()["ICALENDLY_API_KEY"] == info.api_key
    async with aiohttp.ClientSession() as http:
        async with http.get(
            info.base_url + "/v2/bookings", headers={"Authorization": f"Bearer {info.api_key}"}
        ) as answer:
            assert answer.status == 200
            assert answer.headers["X-RateLimit-Limit-Default"] == "5"
            assert (await answer.json())["pagination"]["totalItems"] == 30
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        with pytest.raises(aiohttp.ClientConnectionError):
            await http.get(info.base_url + "/v2/me")


async def test_serve_takes_a_rate_limit_object_and_emulator_options() -> None:
    ready: asyncio.Future[ServerInfo] = asyncio.get_running_loop().create_future()
    task = asyncio.create_task(
        serve(port=0, rate_limit=RateLimit(9, 60), enforce_rate_limits=False, ready=ready)
    )
    info = await asyncio.wait_for(ready, 5)
    async with (
        aiohttp.ClientSession() as http,
        http.get(
            info.base_url + "/v2/me", headers={"Authorization": f"Bearer {info.api_key}"}
        ) as answer,
    ):
        assert answer.status == 200 and "X-RateLimit-Limit-Default" not in answer.headers
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


@pytest.mark.skipif(sys.platform == "win32", reason="SIGINT to a child process")
async def test_run_returns_on_ctrl_c() -> None:
    script = textwrap.dedent(
        """
        from icalendly_async.testing import run
        def ready(info):
            print(info.base_url, info.api_key, flush=True)
        run(port=0, bookings=5, on_ready=ready)
        print("stopped", flush=True)
        """
    )
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-c", script, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        assert child.stdout is not None
        line = await asyncio.wait_for(child.stdout.readline(), 20)
        base_url, key = line.decode().split()
        async with (
            aiohttp.ClientSession() as http,
            http.get(base_url + "/v2/me", headers={"Authorization": f"Bearer {key}"}) as answer,
        ):
            assert answer.status == 200
        child.send_signal(signal.SIGINT)
        rest, errors = await asyncio.wait_for(child.communicate(), 10)
        assert child.returncode == 0, errors.decode()
        assert rest.decode().strip() == "stopped"
    finally:
        if child.returncode is None:
            child.kill()
            await child.wait()


async def test_receiver_standalone() -> None:
    receiver = WebhookReceiver("k")
    with pytest.raises(RuntimeError):
        _ = receiver.url
    async with receiver, aiohttp.ClientSession() as http:
        async with http.post(receiver.url, data=b'{"triggerEvent":"PING","payload":{}}') as answer:
            assert answer.status == 200
        [got] = await receiver.wait_for(1)
        assert got.verified is False  # no signature
        assert got.event is not None and got.event.trigger_name == "PING"


def test_plugin_ini_option_and_receiver_fixture(pytester: pytest.Pytester) -> None:
    pytester.makeconftest('pytest_plugins = ["icalendly_async.testing.pytest_plugin"]\n')
    pytester.makeini("[pytest]\nicalendly_validate_responses = true\nasyncio_mode = auto\n")
    pytester.makepyfile(
        """
        import aiohttp


        async def test_validating(icalendly_emulator, icalendly_webhook_receiver):
            assert icalendly_emulator.validates_responses
            async with aiohttp.ClientSession() as http:
                async with http.post(
                    icalendly_emulator.base_url + "/v2/webhooks",
                    json={
                        "active": True,
                        "subscriberUrl": icalendly_webhook_receiver.url,
                        "triggers": ["BOOKING_CREATED"],
                    },
                    headers={"Authorization": f"Bearer {icalendly_emulator.api_key}"},
                ) as answer:
                    assert answer.status == 201
            assert icalendly_emulator.schema_violations == []
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
