"""What a backend does, through the client, against the emulator: book, list, reschedule,
cancel, with a webhook receiver checking every signature and the order of the events; a double
booking refused; a walk over 20,000 bookings that sees each exactly once."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from aiohttp import web

from icalendly_async import ApiKey, ICalendly, Plan, RateLimit, RetryPolicy, errors
from icalendly_async.testing import Emulator
from icalendly_async.webhooks import SIGNATURE_HEADER, WebhookSignatureError, parse_event, verify

from ._schema_validation import validate_emulator_responses  # noqa: F401

SECRET = "scenario-secret"
V = "2024-08-13"  # the bookings' cal-api-version
FAST = RetryPolicy(max_retries=2, backoff_base=0.01, backoff_max=0.05)
ROOMY = RateLimit(100_000, 60)


class Receiver:
    """The backend's webhook endpoint: an aiohttp server that verifies every delivery."""

    def __init__(self) -> None:
        self.events: list[tuple[str, dict[str, Any]]] = []
        self.bad_signatures = 0
        self.arrived = asyncio.Event()
        self.url = ""
        self._runner: web.AppRunner | None = None

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        try:
            verify(body, request.headers.get(SIGNATURE_HEADER), SECRET)
        except WebhookSignatureError:
            self.bad_signatures += 1
            return web.Response(status=401)
        event = parse_event(body)
        self.events.append((event.trigger_name, dict(event.payload)))
        self.arrived.set()
        return web.Response(status=204)

    async def wait_for(self, count: int, timeout: float = 5.0) -> None:
        async def enough() -> None:
            while len(self.events) < count:
                self.arrived.clear()
                await self.arrived.wait()

        await asyncio.wait_for(enough(), timeout)

    async def __aenter__(self) -> Receiver:
        app = web.Application()
        app.router.add_post("/icalendly", self.handle)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        self.url = f"http://127.0.0.1:{self._runner.addresses[0][1]}/icalendly"
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._runner is not None
        await self._runner.cleanup()


def client_for(emu: Emulator, **kwargs: Any) -> ICalendly:
    return ICalendly(
        ApiKey(emu.api_key, rate_limit=kwargs.pop("rate_limit", None)),
        plan=Plan.PLATFORM,
        base_url=emu.base_url,
        allow_insecure_http=True,
        retry=FAST,
        **kwargs,
    )


async def free_slots(client: ICalendly, event_type_id: int, days_ahead: int = 7) -> list[str]:
    day = datetime.now(timezone.utc) + timedelta(days=days_ahead)
    found = await client.request(
        "GET",
        "/v2/slots",
        params={
            "eventTypeId": event_type_id,
            "start": f"{day:%Y-%m-%d}",
            "end": f"{day + timedelta(days=7):%Y-%m-%d}",
        },
        api_version="2024-09-04",
    )
    return [slot["start"] for slots in found.values() for slot in slots]


def booking_body(event_type_id: int, start: str, email: str) -> dict[str, Any]:
    return {
        "start": start,
        "eventTypeId": event_type_id,
        "attendee": {"name": "Grace Hopper", "email": email, "timeZone": "America/New_York"},
        "bookingFieldsResponses": {"notes": "about COBOL"},
    }


async def test_book_list_reschedule_cancel_with_signed_webhooks_in_order() -> None:
    async with Receiver() as receiver, Emulator(seed=11, bookings=300) as emu:
        async with client_for(emu) as client:
            hook = await client.request(
                "POST",
                "/v2/webhooks",
                json={
                    "active": True,
                    "subscriberUrl": receiver.url,
                    "triggers": ["BOOKING_CREATED", "BOOKING_RESCHEDULED", "BOOKING_CANCELLED"],
                    "secret": SECRET,
                },
            )
            assert hook["secret"] == SECRET
            slots = await free_slots(client, 12)
            made = await client.request(
                "POST",
                "/v2/bookings",
                json=booking_body(12, slots[0], "grace@example.com"),
                api_version=V,
            )
            assert made["status"] == "accepted" and made["eventTypeId"] == 12
            # the new booking is in the upcoming list, found by the attendee's email
            page = await client.request_response(
                "GET",
                "/v2/bookings",
                params={"status": "upcoming", "attendeeEmail": "grace@example.com"},
                api_version=V,
            )
            assert [item["uid"] for item in page.data] == [made["uid"]]
            assert page.pagination is not None and page.pagination["totalItems"] == 1
            moved = await client.request(
                "POST",
                f"/v2/bookings/{made['uid']}/reschedule",
                json={"start": slots[5], "reschedulingReason": "conflict"},
                api_version=V,
            )
            assert moved["uid"] != made["uid"] and moved["rescheduledFromUid"] == made["uid"]
            old = await client.request("GET", f"/v2/bookings/{made['uid']}", api_version=V)
            assert old["status"] == "cancelled" and old["rescheduledToUid"] == moved["uid"]
            cancelled = await client.request(
                "POST",
                f"/v2/bookings/{moved['uid']}/cancel",
                json={"cancellationReason": "no longer needed"},
                api_version=V,
            )
            assert cancelled["status"] == "cancelled"
            listed = await client.request(
                "GET",
                "/v2/bookings",
                params={"status": "cancelled", "attendeeEmail": "grace@example.com"},
                api_version=V,
            )
            assert {item["uid"] for item in listed} == {made["uid"], moved["uid"]}
        await receiver.wait_for(3)
        assert receiver.bad_signatures == 0
        assert [(name, payload["uid"]) for name, payload in receiver.events] == [
            ("BOOKING_CREATED", made["uid"]),
            ("BOOKING_RESCHEDULED", moved["uid"]),
            ("BOOKING_CANCELLED", moved["uid"]),
        ]
        created = receiver.events[0][1]
        assert created["startTime"] == made["start"]
        assert created["responses"]["notes"] == "about COBOL"
        assert receiver.events[1][1]["rescheduleUid"] == made["uid"]
        assert receiver.events[2][1]["cancellationReason"] == "no longer needed"
        deliveries = await emu.wait_for_webhooks()
        assert [d.trigger for d in deliveries] == [
            "BOOKING_CREATED",
            "BOOKING_RESCHEDULED",
            "BOOKING_CANCELLED",
        ]
        assert all(d.ok and d.attempts == 1 and d.status == 204 for d in deliveries)


async def test_a_double_booking_is_refused() -> None:
    async with Emulator(bookings=0) as emu, client_for(emu) as client:
        [first, *_] = await free_slots(client, 11)
        await client.request("POST", "/v2/bookings", json=booking_body(11, first, "a@example.com"))
        with pytest.raises(errors.ConflictError) as caught:
            await client.request(
                "POST", "/v2/bookings", json=booking_body(11, first, "b@example.com")
            )
        assert caught.value.status == 409
        # two bookers racing for the same slot: exactly one wins
        second = (await free_slots(client, 11))[0]
        results = await asyncio.gather(
            *(
                client.request(
                    "POST", "/v2/bookings", json=booking_body(11, second, f"r{i}@example.com")
                )
                for i in range(5)
            ),
            return_exceptions=True,
        )
        assert sum(isinstance(result, dict) for result in results) == 1
        assert sum(isinstance(result, errors.ConflictError) for result in results) == 4
        assert second not in await free_slots(client, 11)


@pytest.fixture(scope="module")
def big_emulator_options() -> dict[str, Any]:
    return {"seed": 7, "bookings": 20_000, "rate_limit": ROOMY}


async def _every_uid_once(client: ICalendly, take: int, expected: int) -> list[str]:
    seen: list[str] = []
    skip = 0
    while True:
        page = await client.request_response(
            "GET", "/v2/bookings", params={"take": take, "skip": skip}, api_version="2024-08-13"
        )
        seen.extend(item["uid"] for item in page.data)
        assert page.pagination is not None
        assert page.pagination["totalItems"] == expected
        if not page.pagination["hasNextPage"]:
            break
        skip += take
    return seen


@pytest.mark.slow
async def test_pagination_over_20000_bookings_sees_each_once(
    big_emulator_options: dict[str, Any],
) -> None:
    async with Emulator(**big_emulator_options) as emu:
        expected = {row.uid for row in emu.data.bookings}
        assert len(expected) == 20_000
        async with client_for(emu, rate_limit=ROOMY) as client:
            seen = await _every_uid_once(client, 250, 20_000)
            assert len(seen) == 20_000 and set(seen) == expected
            # one big page, newest first
            newest_first = await client.request_response(
                "GET",
                "/v2/bookings",
                params={"take": 1000, "sortStart": "desc", "status": "past"},
                api_version="2024-08-13",
            )
            starts = [item["start"] for item in newest_first.data]
            assert starts == sorted(starts, reverse=True)


async def test_the_typed_client_drives_the_emulator() -> None:
    async with Emulator(bookings=40) as emu, client_for(emu) as client:
        if not hasattr(client, "bookings"):
            pytest.skip("the generated endpoints are not wired into the client")
        from icalendly_async.models._generated.bookings import (
            CancelBookingInput_2024_08_13,
            CreateBookingAttendee,
            CreateBookingInput_2024_08_13,
            RescheduleBookingInput_2024_08_13,
        )

        def when(text: str) -> datetime:
            return datetime.fromisoformat(text.replace("Z", "+00:00"))

        slots = await free_slots(client, 14)
        made = await client.bookings.create(
            CreateBookingInput_2024_08_13(
                start=when(slots[0]),
                attendee=CreateBookingAttendee(
                    name="Ada", email="ada@example.com", time_zone="Europe/London"
                ),
                event_type_id=14,
            )
        )
        uid = made.uid  # every booking shape has it: no isinstance
        assert (await client.bookings.get(uid)).uid == uid
        moved = await client.bookings.reschedule(
            uid, RescheduleBookingInput_2024_08_13(start=when(slots[2]))
        )
        await client.bookings.cancel(
            moved.uid,
            CancelBookingInput_2024_08_13(cancellation_reason="done"),
        )
        walked = [item.uid async for item in client.bookings.list(take=7)]
        assert len(walked) == len(set(walked)) == 42
