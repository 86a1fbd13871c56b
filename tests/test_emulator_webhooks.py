"""Webhook deliveries: signed, retried, in order, logged; only to this machine."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from datetime import datetime, timedelta, timezone
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
from aiohttp import web

from icalendly_async.testing import Emulator, WebhookDelivery, WebhookReceiver
from icalendly_async.testing._webhooks import NO_SECRET, is_loopback, sign
from icalendly_async.webhooks import SIGNATURE_HEADER, WebhookTrigger, verify

from ._schema_validation import validate_emulator_responses  # noqa: F401

SECRET = "whsec-test"


@pytest_asyncio.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def post(
    http: aiohttp.ClientSession, emu: Emulator, path: str, body: Any, *, key: bool = True
) -> Any:
    headers = {"Authorization": f"Bearer {emu.api_key}"} if key else {}
    async with http.post(emu.base_url + path, json=body, headers=headers) as answer:
        payload = await answer.json()
        assert answer.status < 300, payload
        return payload["data"]


async def subscribe(
    http: aiohttp.ClientSession, emu: Emulator, url: str, triggers: list[str], **extra: Any
) -> dict[str, Any]:
    body = {"active": True, "subscriberUrl": url, "triggers": triggers, **extra}
    return await post(http, emu, "/v2/webhooks", body)  # type: ignore[no-any-return]


async def book(http: aiohttp.ClientSession, emu: Emulator, hour: int) -> dict[str, Any]:
    """Book the owner's 60-minute event type on a free weekday morning a week or so ahead."""
    day = datetime.now(timezone.utc) + timedelta(days=7)
    start, end = f"{day:%Y-%m-%d}", f"{day + timedelta(days=7):%Y-%m-%d}"
    async with http.get(
        f"{emu.base_url}/v2/slots?eventTypeId=13&start={start}&end={end}"
    ) as answer:
        slots = [
            slot["start"] for items in (await answer.json())["data"].values() for slot in items
        ]
    body = {
        "start": slots[hour],
        "eventTypeId": 13,
        "attendee": {"name": "Ann", "email": "ann@example.com", "timeZone": "UTC"},
    }
    return await post(http, emu, "/v2/bookings", body, key=False)  # type: ignore[no-any-return]


def test_loopback_only() -> None:
    for url in (
        "http://127.0.0.1:8000/x",
        "http://localhost/x",
        "https://[::1]:9/x",
        "http://127.8.9.1",
    ):
        assert is_loopback(url), url
    for url in ("https://example.com/x", "http://10.1.1.1/x", "http://0.0.0.0/x", "file:///x", ""):
        assert not is_loopback(url), url
    assert sign(b"{}", None) == NO_SECRET
    verify(b'{"a":1}', sign(b'{"a":1}', "k"), "k")


async def test_deliveries_are_signed_and_logged(http: aiohttp.ClientSession) -> None:
    async with WebhookReceiver(SECRET) as receiver, Emulator() as emu:
        await subscribe(http, emu, receiver.url, ["BOOKING_CREATED"], secret=SECRET)
        made = await book(http, emu, 0)
        [received] = await receiver.wait_for(1)
        assert received.verified is True
        assert received.headers[SIGNATURE_HEADER] == sign(received.body, SECRET)
        assert received.event is not None
        assert received.event.trigger is WebhookTrigger.BOOKING_CREATED
        payload = received.event.payload
        assert payload["uid"] == made["uid"] and payload["bookingId"] == made["id"]
        assert payload["startTime"] == made["start"] and payload["type"] == "consultation"
        assert payload["organizer"]["email"] == "owner@example.com"
        assert payload["attendees"][0]["email"] == "ann@example.com"
        [delivery] = await emu.wait_for_webhooks()
        assert isinstance(delivery, WebhookDelivery)
        assert delivery.ok and delivery.status == 200 and delivery.attempts == 1
        assert delivery.url == receiver.url and delivery.trigger == "BOOKING_CREATED"
        assert delivery.delivered_at is not None and delivery.done
        assert delivery.payload()["triggerEvent"] == "BOOKING_CREATED"
        assert SECRET not in repr(delivery)


async def test_without_a_secret_the_header_says_so(http: aiohttp.ClientSession) -> None:
    async with WebhookReceiver() as receiver, Emulator() as emu:
        await subscribe(http, emu, receiver.url, ["BOOKING_CREATED"])
        await book(http, emu, 0)
        [received] = await receiver.wait_for(1)
        assert received.headers[SIGNATURE_HEADER] == NO_SECRET
        assert received.verified is None


async def test_failures_are_retried_with_backoff(http: aiohttp.ClientSession) -> None:
    async with (
        WebhookReceiver(SECRET) as receiver,
        Emulator(webhook_retries=3, webhook_backoff=0.05) as emu,
    ):
        await subscribe(http, emu, receiver.url, ["BOOKING_CREATED"], secret=SECRET)
        receiver.fail_next(2)
        started = time.monotonic()
        await book(http, emu, 0)
        [delivery] = await emu.wait_for_webhooks(5)
        assert delivery.ok and delivery.attempts == 3
        assert time.monotonic() - started >= 0.05 + 0.1  # 0.05, then 0.1
        assert [item.answered for item in receiver.received] == [500, 500, 200]
        # the same bytes each time, so the same signature
        assert len({item.body for item in receiver.received}) == 1
        assert all(item.verified for item in receiver.received)


async def test_out_of_retries_it_gives_up(http: aiohttp.ClientSession, unused_port: int) -> None:
    async with Emulator(webhook_retries=2, webhook_backoff=0.01, webhook_timeout=1) as emu:
        await subscribe(http, emu, f"http://127.0.0.1:{unused_port}/hook", ["BOOKING_CREATED"])
        await book(http, emu, 0)
        [delivery] = await emu.wait_for_webhooks(5)
        assert not delivery.ok and delivery.done
        assert delivery.attempts == 3 and delivery.status is None
        assert delivery.error is not None and delivery.delivered_at is None


@pytest.fixture
def unused_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


async def test_order_scopes_and_inactive_subscriptions(http: aiohttp.ClientSession) -> None:
    events: list[tuple[str, str]] = []

    async with (
        WebhookReceiver(SECRET) as user_hook,
        WebhookReceiver(SECRET, path="/type") as type_hook,
        WebhookReceiver(SECRET, path="/org") as org_hook,
        WebhookReceiver(SECRET, path="/off") as off_hook,
        Emulator() as emu,
    ):
        everything = ["BOOKING_CREATED", "BOOKING_RESCHEDULED", "BOOKING_CANCELLED"]
        await subscribe(http, emu, user_hook.url, everything, secret=SECRET)
        await post(
            http,
            emu,
            "/v2/event-types/13/webhooks",
            {
                "active": True,
                "subscriberUrl": type_hook.url,
                "triggers": ["BOOKING_CANCELLED"],
                "secret": SECRET,
            },
        )
        await post(
            http,
            emu,
            "/v2/organizations/100/webhooks",
            {
                "active": True,
                "subscriberUrl": org_hook.url,
                "triggers": everything,
                "secret": SECRET,
            },
        )
        await post(
            http,
            emu,
            "/v2/event-types/12/webhooks",  # another event type: hears nothing here
            {"active": True, "subscriberUrl": off_hook.url, "triggers": everything},
        )
        await subscribe(http, emu, off_hook.url + "2", everything, active=False)
        made = await book(http, emu, 0)
        async with http.get(
            f"{emu.base_url}/v2/slots?eventTypeId=13&start={made['start'][:10]}&end={made['start'][:10]}"
        ) as answer:
            later = [
                slot["start"] for items in (await answer.json())["data"].values() for slot in items
            ][-1]
        moved = await post(
            http, emu, f"/v2/bookings/{made['uid']}/reschedule", {"start": later}, key=False
        )
        await post(
            http, emu, f"/v2/bookings/{moved['uid']}/cancel", {"cancellationReason": "x"}, key=False
        )
        await emu.wait_for_webhooks(5)
        for receiver in (user_hook, org_hook):
            received = await receiver.wait_for(3)
            events = [
                (item.event.trigger_name, item.event.payload["uid"])
                for item in received
                if item.event
            ]
            assert events == [
                ("BOOKING_CREATED", made["uid"]),
                ("BOOKING_RESCHEDULED", moved["uid"]),
                ("BOOKING_CANCELLED", moved["uid"]),
            ]
            rescheduled = received[1].event
            assert rescheduled is not None and rescheduled.payload["rescheduleUid"] == made["uid"]
            assert received[2].event and received[2].event.payload["cancellationReason"] == "x"
        [cancelled] = await type_hook.wait_for(1)
        assert cancelled.event and cancelled.event.trigger is WebhookTrigger.BOOKING_CANCELLED
        assert off_hook.received == []
        assert len(emu.webhook_deliveries) == 7


async def test_payload_template(http: aiohttp.ClientSession) -> None:
    template = '{"content":"New: {{title}}","who":"{{organizer.name}}","event":"{{triggerEvent}}"}'
    async with WebhookReceiver(SECRET) as receiver, Emulator() as emu:
        await subscribe(
            http, emu, receiver.url, ["BOOKING_CREATED"], secret=SECRET, payloadTemplate=template
        )
        made = await book(http, emu, 0)
        [received] = await receiver.wait_for(1)
        assert received.verified
        assert json.loads(received.body) == {
            "content": f"New: {made['title']}",
            "who": "Owner",
            "event": "BOOKING_CREATED",
        }


async def test_managed_users_bookings_reach_the_client_webhooks(
    http: aiohttp.ClientSession,
) -> None:
    async with WebhookReceiver(SECRET) as receiver, Emulator() as emu:
        platform = {"x-cal-client-id": emu.client_id, "x-cal-secret-key": emu.client_secret}
        async with http.post(
            f"{emu.base_url}/v2/oauth-clients/{emu.client_id}/webhooks",
            json={
                "active": True,
                "subscriberUrl": receiver.url,
                "triggers": ["BOOKING_CREATED"],
                "secret": SECRET,
            },
            headers=platform,
        ) as answer:
            assert answer.status == 201
        token = emu.issue_tokens()
        bearer = {"Authorization": f"Bearer {token.access_token}"}
        async with http.post(
            f"{emu.base_url}/v2/event-types",
            json={"lengthInMinutes": 30, "title": "Chat", "slug": "chat"},
            headers=bearer,
        ) as answer:
            event_type = (await answer.json())["data"]
        day = datetime.now(timezone.utc) + timedelta(days=7)
        async with http.get(
            f"{emu.base_url}/v2/slots?eventTypeId={event_type['id']}&start={day:%Y-%m-%d}"
            f"&end={(day + timedelta(days=7)):%Y-%m-%d}"
        ) as answer:
            first = next(iter((await answer.json())["data"].values()))[0]["start"]
        body = {
            "start": first,
            "eventTypeId": event_type["id"],
            "attendee": {"name": "Z", "email": "z@example.com", "timeZone": "UTC"},
        }
        async with http.post(f"{emu.base_url}/v2/bookings", json=body) as answer:
            assert answer.status == 201
        [received] = await receiver.wait_for(1)
        assert received.verified and received.event
        assert (
            received.event.payload["organizer"]["id"] == emu.data.users_of_client[emu.client_id][0]
        )


async def test_stop_with_deliveries_in_flight_is_clean(http: aiohttp.ClientSession) -> None:
    gate = asyncio.Event()

    async def slow(request: web.Request) -> web.Response:
        await gate.wait()
        return web.Response(text="late")

    app = web.Application()
    app.router.add_post("/slow", slow)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    url = f"http://127.0.0.1:{runner.addresses[0][1]}/slow"
    try:
        emu = await Emulator().start()
        await subscribe(http, emu, url, ["BOOKING_CREATED"])
        await book(http, emu, 0)
        await asyncio.sleep(0.1)
        assert emu.webhook_deliveries[0].attempts == 1 and not emu.webhook_deliveries[0].done
        started = time.monotonic()
        await emu.stop()
        assert time.monotonic() - started < 1.5
        assert not emu.webhook_deliveries[0].ok
    finally:
        gate.set()
        await runner.cleanup()
