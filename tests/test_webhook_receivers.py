"""The webhook receivers as a user runs them, fed by the emulator's signed deliveries and retries.

A handler that fails once gets the event on the emulator's retry, and processes it exactly once;
two replicas sharing a Redis ledger process a delivery once between them.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import datetime, timedelta, timezone

import aiohttp
import pytest
from aiohttp import web

from icalendly_async import ApiKey, ICalendly
from icalendly_async.models import WebhookTrigger
from icalendly_async.testing import Emulator
from icalendly_async.webhooks import (
    BookingPayload,
    WebhookEvent,
    WebhookProcessor,
    aiohttp_handler,
    sign,
    starlette_endpoint,
)

from .redis_server import RedisServer, redis_server_fixture  # noqa: F401

SECRET = "whsec_receivers_0123456789"
Serve = Callable[[WebhookProcessor], AbstractAsyncContextManager[str]]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@asynccontextmanager
async def aiohttp_receiver(processor: WebhookProcessor) -> AsyncIterator[str]:
    app = web.Application()
    app.router.add_post("/webhooks", aiohttp_handler(processor))
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}/webhooks"
    finally:
        await runner.cleanup()


@asynccontextmanager
async def fastapi_receiver(processor: WebhookProcessor) -> AsyncIterator[str]:
    import uvicorn
    from fastapi import FastAPI

    app = FastAPI()
    app.add_route("/webhooks", starlette_endpoint(processor), methods=["POST"])
    port = _free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110 - uvicorn offers no event to wait on
        await asyncio.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}/webhooks"
    finally:
        server.should_exit = True
        await task


async def _book(client: ICalendly) -> str:
    day = datetime.now(timezone.utc) + timedelta(days=7)
    window = {"start": f"{day:%Y-%m-%d}", "end": f"{day + timedelta(days=7):%Y-%m-%d}"}
    slots = await client.request("GET", "/v2/slots", params={"eventTypeId": 13, **window})
    first = next(iter(slots.values()))[0]["start"]
    booking = await client.request(
        "POST",
        "/v2/bookings",
        json={
            "start": first,
            "eventTypeId": 13,
            "attendee": {"name": "Ann", "email": "ann@example.com", "timeZone": "UTC"},
        },
    )
    return str(booking["uid"])


@pytest.mark.parametrize("serve", [aiohttp_receiver, fastapi_receiver], ids=["aiohttp", "fastapi"])
async def test_a_handler_that_fails_once_processes_the_retry_exactly_once(
    serve: Serve,
) -> None:
    processed: list[str] = []
    failures = 1

    async def handle(event: WebhookEvent) -> None:
        nonlocal failures
        if failures:
            failures -= 1
            raise RuntimeError("the database was down")
        assert isinstance(event.payload, BookingPayload)
        processed.append(str(event.payload.uid))

    processor = WebhookProcessor(SECRET, handle)
    async with (
        serve(processor) as url,
        Emulator(webhook_retries=3, webhook_backoff=0.05) as emu,
        ICalendly(ApiKey(emu.api_key), base_url=emu.base_url, allow_insecure_http=True) as client,
    ):
        await client.webhooks.create(
            active=True,
            subscriber_url=url,
            triggers=[WebhookTrigger.BOOKING_CREATED],
            secret=SECRET,
        )
        uid = await _book(client)
        [delivery] = await emu.wait_for_webhooks()
    assert delivery.ok and delivery.statuses == [500, 200]
    assert processed == [uid]


async def test_two_replicas_sharing_redis_process_a_delivery_once(
    redis_server: RedisServer,
) -> None:
    from icalendly_async.webhooks.redis import RedisLedger

    processed: list[str] = []
    gate = asyncio.Event()

    async def slow(event: WebhookEvent) -> None:
        await gate.wait()
        processed.append(event.trigger_name)

    prefix = f"test-wh-{_free_port()}"
    async with (
        RedisLedger(redis_server.url, prefix=prefix) as ledger_a,
        RedisLedger(redis_server.url, prefix=prefix) as ledger_b,
        aiohttp_receiver(WebhookProcessor(SECRET, slow, ledger=ledger_a)) as url_a,
        aiohttp_receiver(WebhookProcessor(SECRET, slow, ledger=ledger_b)) as url_b,
        aiohttp.ClientSession() as http,
    ):
        body = b'{"triggerEvent":"BOOKING_CREATED","payload":{"uid":"u1"}}'
        headers = {"X-Cal-Signature-256": sign(body, SECRET)}
        first = asyncio.create_task(http.post(url_a, data=body, headers=headers))
        await asyncio.sleep(0.1)
        async with http.post(url_b, data=body, headers=headers) as busy:
            assert busy.status == 503 and busy.headers["Retry-After"] == "5"
        gate.set()
        async with await first as done:
            assert done.status == 200
        async with http.post(url_b, data=body, headers=headers) as again:
            assert again.status == 200 and await again.text() == "already processed"
        # a failing handler on one replica leaves the delivery to the other's retry
        failing = b'{"triggerEvent":"BOOKING_CANCELLED","payload":{"uid":"u2"}}'
        signed = {"X-Cal-Signature-256": sign(failing, SECRET)}

        async def broken(event: WebhookEvent) -> None:
            raise RuntimeError("down")

        broken_replica = aiohttp_receiver(WebhookProcessor(SECRET, broken, ledger=ledger_a))
        async with (
            broken_replica as url_c,
            http.post(url_c, data=failing, headers=signed) as failed,
        ):
            assert failed.status == 500
        async with http.post(url_b, data=failing, headers=signed) as retried:
            assert retried.status == 200 and await retried.text() == "processed"
    assert processed == ["BOOKING_CREATED", "BOOKING_CANCELLED"]


async def test_the_receivers_cap_the_body_before_reading_it_whole() -> None:
    processor = WebhookProcessor(SECRET, lambda event: None, max_body_bytes=1000)
    for serve in (aiohttp_receiver, fastapi_receiver):
        async with serve(processor) as url, aiohttp.ClientSession() as http:
            big = b"x" * 5000
            async with http.post(url, data=big) as declared:
                assert declared.status == 413 and "Content-Length" in await declared.text()

            async def stream() -> AsyncIterator[bytes]:
                for _ in range(100):
                    yield b"x" * 1000

            async with http.post(url, data=stream()) as chunked:
                assert chunked.status == 413
            async with http.post(url, data=b"{}") as unsigned:
                assert unsigned.status == 401 and "X-Cal-Signature-256" in await unsigned.text()
