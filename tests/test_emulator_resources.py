"""The emulator's resources over raw HTTP: their semantics, checked against the document.

Times are built from a day a few days ahead, on a schedule the test makes (UTC, 08:00-12:00
every day), so that the slots do not depend on today's date or the seeded bookings.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import quote

import aiohttp
import pytest_asyncio

from icalendly_async.plans import Plan
from icalendly_async.testing import Emulator

from ._schema_validation import validate_emulator_responses  # noqa: F401

DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]


class Api:
    """Raw calls to an emulator as one credential."""

    def __init__(self, http: aiohttp.ClientSession, emu: Emulator, headers: dict[str, str]):
        self.http = http
        self.emu = emu
        self.headers = headers

    def as_(self, headers: dict[str, str]) -> Api:
        return Api(self.http, self.emu, headers)

    async def __call__(
        self, method: str, path: str, body: Any = None, *, expect: int | None = None
    ) -> Any:
        async with self.http.request(
            method, self.emu.base_url + path, json=body, headers=self.headers
        ) as answer:
            payload = await answer.json()
            if expect is not None:
                assert answer.status == expect, (method, path, answer.status, payload)
            if answer.status >= 400:
                return Failure(answer.status, payload["error"])
            return payload.get("data", payload)


class Failure:
    def __init__(self, status: int, error: dict[str, Any]) -> None:
        self.status = status
        self.error = error

    def __repr__(self) -> str:
        return f"<Failure {self.status} {self.error['message']}>"


@pytest_asyncio.fixture
async def emu() -> AsyncIterator[Emulator]:
    async with Emulator(seed=5, bookings=100) as emulator:
        yield emulator


@pytest_asyncio.fixture
async def api(emu: Emulator) -> AsyncIterator[Api]:
    async with aiohttp.ClientSession() as http:
        yield Api(http, emu, {"Authorization": f"Bearer {emu.api_key}"})


def day_ahead(days: int = 3) -> datetime:
    today = datetime.now(timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0)
    return today + timedelta(days=days)


def z(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.000Z")


async def mornings(api: Api, **event_type: Any) -> dict[str, Any]:
    """An event type of the owner on a schedule of 08:00-12:00 UTC every day."""
    schedule = await api(
        "POST",
        "/v2/schedules",
        {
            "name": "Mornings",
            "timeZone": "UTC",
            "isDefault": False,
            "availability": [{"days": DAYS, "startTime": "08:00", "endTime": "12:00"}],
        },
        expect=201,
    )
    body = {
        "lengthInMinutes": 60,
        "title": "Mornings",
        "slug": f"mornings-{schedule['id']}",
        "scheduleId": schedule["id"],
        **event_type,
    }
    created: dict[str, Any] = await api("POST", "/v2/event-types", body, expect=201)
    return created


def booking(event_type_id: int, start: datetime, email: str = "ann@example.com") -> dict[str, Any]:
    return {
        "start": z(start),
        "eventTypeId": event_type_id,
        "attendee": {"name": "Ann Example", "email": email, "timeZone": "Europe/Paris"},
    }


async def slot_starts(api: Api, event_type_id: int, day: datetime, **query: str) -> list[str]:
    extra = "".join(f"&{key}={value}" for key, value in query.items())
    day_text = day.strftime("%Y-%m-%d")
    found = await api(
        "GET",
        f"/v2/slots?eventTypeId={event_type_id}&start={day_text}&end={day_text}{extra}",
        expect=200,
    )
    return [slot["start"] for slots in found.values() for slot in slots]


# --- me --------------------------------------------------------------------------------------


async def test_me_update(api: Api) -> None:
    me = await api("PATCH", "/v2/me", {"timeFormat": 12, "weekStart": "Sunday"}, expect=200)
    assert me["timeFormat"] == 12 and me["weekStart"] == "Sunday"
    assert (await api("GET", "/v2/me"))["timeFormat"] == 12
    assert (await api("PATCH", "/v2/me", {"timeZone": "Mars/Olympus"})).status == 400
    assert (await api("PATCH", "/v2/me", {"defaultScheduleId": 99999})).status == 400
    taken = api.emu.data.users.by_id[2].email
    assert (await api("PATCH", "/v2/me", {"email": taken})).status == 409


# --- schedules and event types ---------------------------------------------------------------


async def test_schedules_crud_and_default(api: Api) -> None:
    default = await api("GET", "/v2/schedules/default", expect=200)
    assert default["isDefault"] is True
    assert default["availability"][0]["days"] == DAYS[:5]
    made = await api(
        "POST",
        "/v2/schedules",
        {"name": "Late", "timeZone": "Europe/Rome", "isDefault": True},
        expect=201,
    )
    assert made["isDefault"] is True and made["availability"]  # default working hours
    assert (await api("GET", "/v2/schedules/default"))["id"] == made["id"]
    changed = await api(
        "PATCH",
        f"/v2/schedules/{made['id']}",
        {"overrides": [{"date": "2031-01-02", "startTime": "10:00", "endTime": "11:30"}]},
        expect=200,
    )
    assert changed["overrides"] == [
        {"date": "2031-01-02", "startTime": "10:00", "endTime": "11:30"}
    ]
    assert len(await api("GET", "/v2/schedules")) == 2
    # the default cannot go; another one can
    assert (await api("DELETE", f"/v2/schedules/{made['id']}")).status == 400
    await api("PATCH", f"/v2/schedules/{default['id']}", {"isDefault": True}, expect=200)
    await api("DELETE", f"/v2/schedules/{made['id']}", expect=200)
    assert (await api("GET", f"/v2/schedules/{made['id']}")).status == 404
    bad_times = {"days": ["Monday"], "startTime": "9am", "endTime": "17:00"}
    for wrong in (
        {"name": "x", "timeZone": "UTC"},  # isDefault missing
        {"name": "x", "timeZone": "Nowhere/Else", "isDefault": False},
        {"name": "x", "timeZone": "UTC", "isDefault": False, "availability": [bad_times]},
        {
            "name": "x",
            "timeZone": "UTC",
            "isDefault": False,
            "availability": [{"days": ["Funday"], "startTime": "09:00", "endTime": "17:00"}],
        },
    ):
        assert (await api("POST", "/v2/schedules", wrong)).status == 400, wrong
    assert (await api("GET", "/v2/schedules/abc")).status == 400


async def test_event_types_crud(api: Api) -> None:
    seeded = await api("GET", "/v2/event-types", expect=200)
    assert [item["slug"] for item in seeded] == [
        "intro-call",
        "30min",
        "consultation",
        "coffee-chat",
    ]
    made = await api(
        "POST",
        "/v2/event-types",
        {
            "lengthInMinutes": 45,
            "lengthInMinutesOptions": [30, 45],
            "title": "Review",
            "slug": "review",
            "locations": [{"type": "address", "address": "1 Main St", "public": True}],
            "bookingFields": [
                {
                    "type": "text",
                    "slug": "company",
                    "label": "Company",
                    "required": True,
                    "placeholder": "",
                    "hidden": False,
                }
            ],
            "color": {"lightThemeHex": "#292929", "darkThemeHex": "#fafafa"},
        },
        expect=201,
    )
    assert made["ownerId"] == 1 and made["users"] == ["owner"]
    assert made["locations"] == [{"type": "address", "address": "1 Main St", "public": True}]
    assert made["bookingFields"][-1]["slug"] == "company"
    assert made["color"]["darkThemeHex"] == "#fafafa"
    assert (await api("POST", "/v2/event-types", {**made, "slug": "review"})).status in (400, 409)
    changed = await api(
        "PATCH", f"/v2/event-types/{made['id']}", {"hidden": True, "title": "Code review"}
    )
    assert changed["hidden"] is True and changed["title"] == "Code review"
    public = await api.as_({})("GET", "/v2/event-types?username=owner", expect=200)
    assert "review" not in [item["slug"] for item in public]  # hidden
    one = await api.as_({})("GET", "/v2/event-types?username=owner&eventSlug=30min", expect=200)
    assert [item["slug"] for item in one] == ["30min"]
    assert (await api.as_({})("GET", "/v2/event-types")).status == 401
    deleted = await api("DELETE", f"/v2/event-types/{made['id']}", expect=200)
    assert deleted == {
        "id": made["id"],
        "lengthInMinutes": 45,
        "title": "Code review",
        "slug": "review",
    }
    assert (await api("GET", f"/v2/event-types/{made['id']}")).status == 404
    for wrong in (
        {"title": "x", "slug": "x"},
        {"lengthInMinutes": 30, "title": "x", "slug": "x", "lengthInMinutesOptions": [15]},
        {"lengthInMinutes": 30, "title": "x", "slug": "x", "scheduleId": 999},
        {"lengthInMinutes": 30, "title": "x", "slug": "x", "seats": {"seatsPerTimeSlot": 3}},
    ):
        assert (await api("POST", "/v2/event-types", wrong)).status == 400, wrong


async def test_someone_elses_event_type_is_forbidden(api: Api, emu: Emulator) -> None:
    other = api.as_({"Authorization": f"Bearer {emu.add_api_key(user_id=2)}"})
    assert (await other("GET", "/v2/event-types/11")).status == 403
    assert await other("GET", "/v2/event-types", expect=200) == []


# --- slots -----------------------------------------------------------------------------------


async def test_slots_follow_the_schedule_minus_bookings(api: Api) -> None:
    event_type = await mornings(api)
    day = day_ahead()
    assert await slot_starts(api, event_type["id"], day) == [
        z(day + timedelta(hours=hour)).replace(".000Z", ".000+00:00") for hour in (8, 9, 10, 11)
    ]
    booked = await api("POST", "/v2/bookings", booking(event_type["id"], day + timedelta(hours=9)))
    assert booked["status"] == "accepted"
    starts = await slot_starts(api, event_type["id"], day, timeZone="Europe/Helsinki")
    assert [start[11:16] for start in starts] == ["10:00", "12:00", "13:00"]  # UTC+2 in winter
    assert all(start.endswith(("+02:00", "+03:00")) for start in starts)
    ranged = await api(
        "GET",
        f"/v2/slots?eventTypeId={event_type['id']}&start={z(day)}"
        f"&end={z(day + timedelta(hours=23))}&format=range",
    )
    [slots] = ranged.values()
    assert slots[0] == {
        "start": z(day + timedelta(hours=8))[:-1] + "+00:00",
        "end": z(day + timedelta(hours=9))[:-1] + "+00:00",
    }
    # the booking being rescheduled does not hide its own slot
    with_own = await slot_starts(api, event_type["id"], day, bookingUidToReschedule=booked["uid"])
    assert len(with_own) == 4


async def test_slots_honour_interval_buffers_and_notice(api: Api) -> None:
    event_type = await mornings(
        api, lengthInMinutes=30, slotInterval=60, afterEventBuffer=30, minimumBookingNotice=0
    )
    day = day_ahead()
    assert [s[11:16] for s in await slot_starts(api, event_type["id"], day)] == [
        "08:00",
        "09:00",
        "10:00",
        "11:00",
    ]
    await api(
        "POST", "/v2/bookings", booking(event_type["id"], day + timedelta(hours=9)), expect=201
    )
    # 09:00-09:30 plus 30 minutes after: 10:00 is free again, 09:00 is not
    assert [s[11:16] for s in await slot_starts(api, event_type["id"], day)] == [
        "08:00",
        "10:00",
        "11:00",
    ]
    # minimumBookingNotice far in the future hides everything
    await api(
        "PATCH", f"/v2/event-types/{event_type['id']}", {"minimumBookingNotice": 10 * 24 * 60}
    )
    assert await slot_starts(api, event_type["id"], day) == []


async def test_slots_by_slug_and_errors(api: Api) -> None:
    day = day_ahead(7).strftime("%Y-%m-%d")
    anonymous = api.as_({})
    by_slug = await anonymous(
        "GET", f"/v2/slots?eventTypeSlug=30min&username=owner&start={day}&end={day}", expect=200
    )
    by_id = await anonymous("GET", f"/v2/slots?eventTypeId=12&start={day}&end={day}")
    assert by_slug == by_id
    for query in (
        f"eventTypeId=12&start={day}",
        f"eventTypeId=999&start={day}&end={day}",
        f"eventTypeId=12&start=tomorrow&end={day}",
        f"eventTypeId=12&start={day}&end={day}&timeZone=Nowhere/Else",
        f"eventTypeId=12&start={day}&end={day}&duration=7",
        f"eventTypeId=12&start={day}&end={day}&format=list",
        "eventTypeId=12&start=2020-01-01&end=2030-01-01",
        f"start={day}&end={day}",
    ):
        assert (await anonymous("GET", f"/v2/slots?{query}")).status in (400, 404), query


async def test_reservations_hide_a_slot_until_released(api: Api) -> None:
    event_type = await mornings(api)
    day = day_ahead()
    anonymous = api.as_({})
    first = z(day + timedelta(hours=8))
    held = await anonymous(
        "POST", "/v2/slots/reservations", {"eventTypeId": event_type["id"], "slotStart": first}
    )
    assert held["slotDuration"] == 60 and held["reservationDuration"] == 5
    assert len(await slot_starts(api, event_type["id"], day)) == 3
    again = await anonymous(
        "POST", "/v2/slots/reservations", {"eventTypeId": event_type["id"], "slotStart": first}
    )
    assert again.status == 409
    # only callers with credentials choose how long
    longer = {"eventTypeId": event_type["id"], "slotStart": first, "reservationDuration": 30}
    path = f"/v2/slots/reservations/{held['reservationUid']}"
    assert (await anonymous("PATCH", path, longer)).status == 401
    moved = await api("PATCH", path, {**longer, "slotStart": z(day + timedelta(hours=10))})
    assert moved["reservationDuration"] == 30 and moved["slotStart"] == z(day + timedelta(hours=10))
    assert (await anonymous("GET", path))["reservationUid"] == held["reservationUid"]
    assert [s[11:16] for s in await slot_starts(api, event_type["id"], day)] == [
        "08:00",
        "09:00",
        "11:00",
    ]
    await anonymous("DELETE", path, expect=200)
    assert (await anonymous("GET", path)).status == 404
    assert len(await slot_starts(api, event_type["id"], day)) == 4


# --- bookings --------------------------------------------------------------------------------


async def test_booking_rules(api: Api) -> None:
    event_type = await mornings(api)
    day = day_ahead()
    anonymous = api.as_({})
    nine = day + timedelta(hours=9)
    made = await anonymous("POST", "/v2/bookings", booking(event_type["id"], nine), expect=201)
    assert made["start"] == z(nine) and made["end"] == z(nine + timedelta(hours=1))
    assert made["hosts"][0]["id"] == 1 and made["attendees"][0]["email"] == "ann@example.com"
    # double booking, overlapping booking, outside the schedule, in the past
    taken = await anonymous(
        "POST", "/v2/bookings", booking(event_type["id"], nine, "bo@example.com")
    )
    assert taken.status == 409 and taken.error["code"] == "ConflictException"
    assert taken.error["details"] == {"conflictingBookingUid": made["uid"]}
    overlap = booking(event_type["id"], nine + timedelta(minutes=30))
    assert (await anonymous("POST", "/v2/bookings", overlap)).status == 409
    late = booking(event_type["id"], day + timedelta(hours=11, minutes=30))
    assert (await anonymous("POST", "/v2/bookings", late)).status == 400
    past = booking(event_type["id"], day - timedelta(days=10) + timedelta(hours=9))
    assert (await anonymous("POST", "/v2/bookings", past)).status == 400
    # another event type of the same host shares the host's time
    other = await mornings(api, lengthInMinutes=30, slug="other")
    assert (await anonymous("POST", "/v2/bookings", booking(other["id"], nine))).status == 409
    # by slug and username; lengths; bad bodies
    by_slug = {
        **booking(0, day + timedelta(hours=10)),
        "eventTypeSlug": "other",
        "username": "owner",
    }
    del by_slug["eventTypeId"]
    assert (await anonymous("POST", "/v2/bookings", by_slug))["eventTypeId"] == other["id"]
    wrong_length = {**booking(event_type["id"], day + timedelta(hours=8)), "lengthInMinutes": 20}
    assert (await anonymous("POST", "/v2/bookings", wrong_length)).status == 400
    for wrong in (
        {"eventTypeId": event_type["id"], "attendee": {"name": "A", "timeZone": "UTC"}},
        {"start": z(nine), "eventTypeId": event_type["id"]},
        {
            "start": z(nine),
            "eventTypeId": 9999,
            "attendee": {"name": "A", "email": "a@x.y", "timeZone": "UTC"},
        },
        {**booking(event_type["id"], nine), "recurrenceCount": 3},
        {**booking(event_type["id"], nine), "instant": True},
    ):
        assert (await anonymous("POST", "/v2/bookings", wrong)).status in (400, 404), wrong
    assert (await anonymous("GET", f"/v2/bookings/{made['uid']}"))["uid"] == made["uid"]


async def test_cancel_reschedule_absent(api: Api) -> None:
    event_type = await mornings(api)
    day = day_ahead()
    anonymous = api.as_({})
    made = await anonymous(
        "POST", "/v2/bookings", booking(event_type["id"], day + timedelta(hours=8))
    )
    moved = await anonymous(
        "POST",
        f"/v2/bookings/{made['uid']}/reschedule",
        {"start": z(day + timedelta(hours=10)), "reschedulingReason": "clash"},
        expect=201,
    )
    assert moved["uid"] != made["uid"]
    assert moved["rescheduledFromUid"] == made["uid"]
    assert moved["reschedulingReason"] == "clash"
    assert moved["start"] == z(day + timedelta(hours=10))
    old = await anonymous("GET", f"/v2/bookings/{made['uid']}")
    assert old["status"] == "cancelled" and old["rescheduledToUid"] == moved["uid"]
    assert old["rescheduledByEmail"] == "ann@example.com"
    # the old time is free again; the new one is not
    assert [s[11:16] for s in await slot_starts(api, event_type["id"], day)] == [
        "08:00",
        "09:00",
        "11:00",
    ]
    # a reschedule onto a taken time is a conflict; of a cancelled booking, a 400
    blocker = await anonymous(
        "POST", "/v2/bookings", booking(event_type["id"], day + timedelta(hours=11))
    )
    clash = {"start": blocker["start"]}
    assert (await anonymous("POST", f"/v2/bookings/{moved['uid']}/reschedule", clash)).status == 409
    assert (await anonymous("POST", f"/v2/bookings/{made['uid']}/reschedule", clash)).status == 400
    # moving within its own time is fine (the booking does not conflict with itself)
    await anonymous(
        "POST",
        f"/v2/bookings/{blocker['uid']}/reschedule",
        {"start": blocker["start"]},
        expect=201,
    )
    # marking absence is the host's
    absent = {"host": False, "attendees": [{"email": "ann@example.com", "absent": True}]}
    assert (
        await anonymous("POST", f"/v2/bookings/{moved['uid']}/mark-absent", absent)
    ).status == 401
    marked = await api("POST", f"/v2/bookings/{moved['uid']}/mark-absent", absent, expect=200)
    assert marked["attendees"][0]["absent"] is True and marked["absentHost"] is False
    stranger = {"attendees": [{"email": "nobody@example.com", "absent": True}]}
    assert (await api("POST", f"/v2/bookings/{moved['uid']}/mark-absent", stranger)).status == 400
    # cancel, and cancel again
    cancelled = await anonymous(
        "POST", f"/v2/bookings/{moved['uid']}/cancel", {"cancellationReason": "ill"}, expect=200
    )
    assert cancelled["status"] == "cancelled" and cancelled["cancellationReason"] == "ill"
    assert cancelled["cancelledByEmail"] == "ann@example.com"
    assert (await anonymous("POST", f"/v2/bookings/{moved['uid']}/cancel", {})).status == 400
    assert (await anonymous("POST", "/v2/bookings/nope/cancel", {})).status == 404


async def test_confirm_and_decline(api: Api, emu: Emulator) -> None:
    event_type = await mornings(
        api, confirmationPolicy={"type": "always", "blockUnconfirmedBookingsInBooker": True}
    )
    assert event_type["confirmationPolicy"]["type"] == "always"
    day = day_ahead()
    anonymous = api.as_({})
    first = await anonymous(
        "POST", "/v2/bookings", booking(event_type["id"], day + timedelta(hours=8))
    )
    second = await anonymous(
        "POST", "/v2/bookings", booking(event_type["id"], day + timedelta(hours=9))
    )
    assert first["status"] == second["status"] == "pending"
    unconfirmed = await api(
        "GET", f"/v2/bookings?status=unconfirmed&eventTypeId={event_type['id']}"
    )
    assert {item["uid"] for item in unconfirmed} == {first["uid"], second["uid"]}
    other_host = api.as_({"Authorization": f"Bearer {emu.add_api_key(user_id=2)}"})
    assert (await other_host("POST", f"/v2/bookings/{first['uid']}/confirm")).status == 403
    assert (await api("POST", f"/v2/bookings/{first['uid']}/confirm", expect=200))[
        "status"
    ] == "accepted"
    declined = await api("POST", f"/v2/bookings/{second['uid']}/decline", {"reason": "busy"})
    assert declined["status"] == "rejected"
    assert (await api("POST", f"/v2/bookings/{second['uid']}/confirm")).status == 400
    assert (await api("POST", f"/v2/bookings/{first['uid']}/decline", {})).status == 400
    # a rejected booking frees its time
    assert "09:00" in [s[11:16] for s in await slot_starts(api, event_type["id"], day)]


async def test_booking_list_filters_and_sorting(api: Api, emu: Emulator) -> None:
    rows = emu.data.bookings
    everything = await api("GET", "/v2/bookings?take=1000", expect=200)
    assert len(everything) == len(rows) == 100
    newest = await api("GET", "/v2/bookings?take=1000&sortCreated=desc")
    created = [item["createdAt"] for item in newest]
    assert created == sorted(created, reverse=True)
    by_end = await api("GET", "/v2/bookings?take=1000&sortEnd=asc")
    assert [item["end"] for item in by_end] == sorted(item["end"] for item in everything)
    target = rows[40]
    email = target.data["attendees"][0]["email"]
    assert [
        item["uid"] for item in await api("GET", f"/v2/bookings?attendeeEmail={email.upper()}")
    ] == [target.uid]
    name = target.data["attendees"][0]["name"].split()[0].lower()
    named = await api("GET", f"/v2/bookings?take=1000&attendeeName={name}")
    assert target.uid in {item["uid"] for item in named}
    assert all(name in item["attendees"][0]["name"].lower() for item in named)
    assert [item["uid"] for item in await api("GET", f"/v2/bookings?bookingUid={target.uid}")] == [
        target.uid
    ]
    picked = await api("GET", "/v2/bookings?take=1000&eventTypeIds=11,13")
    assert {item["eventTypeId"] for item in picked} == {11, 13}
    assert await api("GET", "/v2/bookings?teamId=201") == []
    middle = target.data["start"]
    after = await api("GET", f"/v2/bookings?take=1000&afterStart={middle}")
    assert after and all(item["start"] >= middle for item in after)
    before = await api("GET", f"/v2/bookings?take=1000&beforeEnd={target.data['end']}")
    assert len(after) + len(before) >= len(everything)
    assert all(item["end"] <= target.data["end"] for item in before)
    for bad in ("eventTypeIds=a,b", "afterStart=yesterday", "sortEnd=sideways"):
        assert (await api("GET", f"/v2/bookings?{bad}")).status == 400, bad
    assert (await api.as_({})("GET", "/v2/bookings")).status == 401


async def test_org_bookings(api: Api, emu: Emulator) -> None:
    everyone = await api("GET", "/v2/organizations/100/bookings?take=1000", expect=200)
    assert len(everyone) == 100
    assert await api("GET", "/v2/organizations/100/bookings?userIds=2") == []
    member = api.as_({"Authorization": f"Bearer {emu.add_api_key(user_id=3)}"})
    assert (await member("GET", "/v2/organizations/100/bookings")).status == 403


# --- webhooks --------------------------------------------------------------------------------


async def test_webhook_subscriptions(api: Api, emu: Emulator) -> None:
    hook = {
        "active": True,
        "subscriberUrl": "http://127.0.0.1:9/hook",
        "triggers": ["BOOKING_CREATED", "BOOKING_CANCELLED"],
        "secret": "s",
    }
    made = await api("POST", "/v2/webhooks", hook, expect=201)
    assert made["userId"] == 1 and made["triggers"] == hook["triggers"] and made["secret"] == "s"
    assert (await api("POST", "/v2/webhooks", hook)).status == 409
    for url in ("https://example.com/hook", "http://10.0.0.1/hook", "ftp://127.0.0.1/x", "nope"):
        refused = await api("POST", "/v2/webhooks", {**hook, "subscriberUrl": url})
        assert refused.status == 400 and "loopback" in refused.error["message"], url
    assert (
        await api("POST", "/v2/webhooks", {**hook, "triggers": ["BOOKING_EXPLODED"]})
    ).status == 400
    alone = {**hook, "subscriberUrl": "http://localhost:9/a", "triggers": "BOOKING_CREATED"}
    refused = await api("POST", "/v2/webhooks", alone)  # triggers is an array, even of one
    assert refused.status == 400
    assert refused.error["message"] == "body.triggers must be of type array"
    one = await api("POST", "/v2/webhooks", {**alone, "triggers": ["BOOKING_CREATED"]})
    assert one["triggers"] == ["BOOKING_CREATED"]
    assert len(await api("GET", "/v2/webhooks")) == 2
    assert len(await api("GET", "/v2/webhooks?take=1&skip=1")) == 1
    # the document types secret a string: null is refused, naming the field
    nulled = await api("PATCH", f"/v2/webhooks/{made['id']}", {"secret": None})
    assert nulled.status == 400 and nulled.error["message"] == "body.secret must be of type string"
    changed = await api("PATCH", f"/v2/webhooks/{made['id']}", {"active": False, "secret": "t"})
    assert changed["active"] is False and changed["secret"] == "t"
    await api("DELETE", f"/v2/webhooks/{made['id']}", expect=200)
    assert (await api("GET", f"/v2/webhooks/{made['id']}")).status == 404
    # scopes do not see each other's subscriptions
    assert (await api("GET", f"/v2/event-types/11/webhooks/{one['id']}")).status == 404
    on_type = await api("POST", "/v2/event-types/11/webhooks", hook, expect=201)
    assert on_type["eventTypeId"] == 11
    assert await api("DELETE", "/v2/event-types/11/webhooks", expect=200) == "1 webhooks deleted"
    on_org = await api("POST", "/v2/organizations/100/webhooks", hook, expect=201)
    assert on_org["teamId"] == 100
    platform = api.as_({"x-cal-client-id": emu.client_id, "x-cal-secret-key": emu.client_secret})
    on_client = await platform(
        "POST", f"/v2/oauth-clients/{emu.client_id}/webhooks", hook, expect=201
    )
    assert on_client["oAuthClientId"] == emu.client_id
    assert (await api("GET", f"/v2/oauth-clients/{emu.client_id}/webhooks")).status == 401


# --- teams and the organization --------------------------------------------------------------


async def test_teams_and_memberships(api: Api, emu: Emulator) -> None:
    team = await api("POST", "/v2/teams", {"name": "Night Shift"}, expect=201)
    assert team["slug"] == "night-shift" and team["isOrganization"] is False
    assert (await api("POST", "/v2/teams", {"name": "Night Shift"})).status == 409
    assert team["id"] in [item["id"] for item in await api("GET", "/v2/teams")]
    members = await api("GET", f"/v2/teams/{team['id']}/memberships")
    assert [(m["userId"], m["role"], m["accepted"]) for m in members] == [(1, "OWNER", True)]
    added = await api(
        "POST", f"/v2/teams/{team['id']}/memberships", {"userId": 4, "role": "MEMBER"}, expect=201
    )
    assert added["user"]["email"] == emu.data.users.by_id[4].email and added["accepted"] is False
    assert (await api("POST", f"/v2/teams/{team['id']}/memberships", {"userId": 4})).status == 409
    assert (await api("POST", f"/v2/teams/{team['id']}/memberships", {"userId": 999})).status == 404
    member = api.as_({"Authorization": f"Bearer {emu.add_api_key(user_id=4)}"})
    assert (await member("GET", f"/v2/teams/{team['id']}"))["name"] == "Night Shift"
    assert (await member("PATCH", f"/v2/teams/{team['id']}", {"bio": "x"})).status == 403
    path = f"/v2/teams/{team['id']}/memberships/{added['id']}"
    assert (await api("PATCH", path, {"role": "ADMIN", "accepted": True}))["role"] == "ADMIN"
    assert (await member("PATCH", f"/v2/teams/{team['id']}", {"bio": "x"}))["bio"] == "x"
    assert (await member("DELETE", f"/v2/teams/{team['id']}")).status == 403  # owners only
    schedules = await api("GET", f"/v2/teams/{team['id']}/schedules")
    assert {item["ownerId"] for item in schedules} == {1, 4}
    await api("DELETE", path, expect=200)
    assert (await member("GET", f"/v2/teams/{team['id']}")).status == 403
    await api("DELETE", f"/v2/teams/{team['id']}", expect=200)
    assert (await api("GET", f"/v2/teams/{team['id']}")).status == 404


async def test_organization_teams_memberships_users(api: Api, emu: Emulator) -> None:
    org = "/v2/organizations/100"
    teams = await api("GET", f"{org}/teams")
    assert [team["name"] for team in teams] == [
        "Sales",
        "Support",
        "Engineering",
        "Success",
        "Marketing",
    ]
    # the document gives this list no paging parameters: the service refuses unknown ones
    refused = await api("GET", f"{org}/teams?take=2&skip=1")
    assert refused.status == 400 and "take, skip should not exist" in refused.error["message"]
    mine = await api("GET", f"{org}/teams/me")
    assert len(mine) == 5
    made = await api("POST", f"{org}/teams", {"name": "Legal"}, expect=201)
    assert made["parentId"] == 100
    # a team member must be a user of the organization
    outsider = emu.issue_tokens()  # a managed user: not a member of the org
    outsider_id = emu.data.users_of_client[emu.client_id][0]
    refused = await api(
        "POST", f"{org}/teams/{made['id']}/memberships", {"userId": outsider_id, "role": "MEMBER"}
    )
    assert refused.status == 400
    joined = await api(
        "POST", f"{org}/teams/{made['id']}/memberships", {"userId": 2, "role": "MEMBER"}, expect=201
    )
    assert joined["teamId"] == made["id"]
    # organization users
    user = await api(
        "POST",
        f"{org}/users",
        {"email": "new.person@acme.example.com", "organizationRole": "ADMIN"},
        expect=201,
    )
    assert user["profile"]["organizationId"] == 100 and user["username"] == "new.person"
    assert (
        await api("POST", f"{org}/users", {"email": "new.person@acme.example.com"})
    ).status == 409
    listed = await api("GET", f"{org}/users?emails=new.person@acme.example.com")
    assert [item["id"] for item in listed] == [user["id"]]
    in_team = await api("GET", f"{org}/users?teamIds={made['id']}")
    assert [item["id"] for item in in_team] == [1, 2]  # its creator, and the new member
    memberships = await api("GET", f"{org}/memberships")
    mine_now = next(item for item in memberships if item["userId"] == user["id"])
    assert (
        mine_now["role"] == "ADMIN"
        and mine_now["accepted"] is True
        and mine_now["attributes"] == []
    )
    assert (await api("PATCH", f"{org}/users/{user['id']}", {"name": "New P."}))["name"] == "New P."
    assert len(await api("GET", f"{org}/users/{user['id']}/schedules")) == 1  # a default one
    await api("DELETE", f"{org}/users/{user['id']}", expect=200)
    assert (await api("PATCH", f"{org}/users/{user['id']}", {"name": "x"})).status == 404
    # members read, admins change
    member = api.as_({"Authorization": f"Bearer {emu.add_api_key(user_id=3)}"})
    assert len(await member("GET", f"{org}/teams")) == 6
    assert (await member("POST", f"{org}/teams", {"name": "Nope"})).status == 403
    assert (await member("GET", f"{org}/users")).status == 403
    assert (await api("GET", "/v2/organizations/101/teams")).status == 404
    # the managed users of the platform are users of the organization (read only)
    token = api.as_({"Authorization": f"Bearer {outsider.access_token}"})
    assert len(await token("GET", f"{org}/teams")) == 6


async def test_teams_need_the_teams_tier(emu: Emulator) -> None:
    async with aiohttp.ClientSession() as http:
        api = Api(
            http, emu, {"Authorization": f"Bearer {emu.add_api_key(plan=Plan.ORGANIZATIONS)}"}
        )
        assert (await api("GET", "/v2/teams")).status == 403
        assert await api("GET", "/v2/organizations/100/teams", expect=200)


# --- the platform ----------------------------------------------------------------------------


async def test_managed_users_and_their_tokens(api: Api, emu: Emulator) -> None:
    platform = api.as_({"x-cal-client-id": emu.client_id, "x-cal-secret-key": emu.client_secret})
    users = f"/v2/oauth-clients/{emu.client_id}/users"
    made = await platform(
        "POST",
        users,
        {
            "email": "alice@example.com",
            "name": "Alice",
            "timeZone": "America/New_York",
            "timeFormat": 12,
        },
        expect=201,
    )
    user = made["user"]
    assert user["email"] == f"alice+{emu.client_id}@example.com"
    assert user["timeZone"] == "America/New_York" and user["timeFormat"] == 12
    assert made["accessTokenExpiresAt"] > time.time() * 1000
    assert (
        await platform("POST", users, {"email": "alice@example.com", "name": "A"})
    ).status == 409
    me = api.as_({"Authorization": f"Bearer {made['accessToken']}"})
    assert (await me("GET", "/v2/me"))["id"] == user["id"]
    # the managed user has a default schedule and can take bookings
    event_type = await me(
        "POST",
        "/v2/event-types",
        {"lengthInMinutes": 30, "title": "Call", "slug": "call"},
        expect=201,
    )
    day = (day_ahead(8)).strftime("%Y-%m-%d")
    slots = await api.as_({})(
        "GET",
        f"/v2/slots?eventTypeId={event_type['id']}&start={day}&end={day}&timeZone=America/New_York",
    )
    starts = [slot["start"] for items in slots.values() for slot in items]
    if starts:  # a weekday
        assert starts[0][11:16] == "09:00"
    changed = await platform("PATCH", f"{users}/{user['id']}", {"name": "Alice B"}, expect=200)
    assert changed["name"] == "Alice B"
    assert (await platform("GET", f"{users}/{user['id']}"))["name"] == "Alice B"
    listed = await platform("GET", f"{users}?emails={quote(user['email'])}")
    assert [item["id"] for item in listed] == [user["id"]]
    await platform("DELETE", f"{users}/{user['id']}", expect=200)
    assert (await me("GET", "/v2/me")).status == 401  # its tokens are gone
    assert (await platform("GET", f"{users}/{user['id']}")).status == 404


async def test_oauth_clients(api: Api) -> None:
    made = await api(
        "POST",
        "/v2/oauth-clients",
        {"name": "Shop", "redirectUris": ["http://localhost/cb"], "permissions": ["*"]},
        expect=201,
    )
    listed = await api("GET", "/v2/oauth-clients")
    assert made["clientId"] in [item["id"] for item in listed]
    one = await api("GET", f"/v2/oauth-clients/{made['clientId']}")
    assert one["name"] == "Shop" and one["secret"] == made["clientSecret"]
    assert "BOOKING_WRITE" in one["permissions"] and "*" not in one["permissions"]
    # the new client is a working credential at once
    client = api.as_(
        {"x-cal-client-id": made["clientId"], "x-cal-secret-key": made["clientSecret"]}
    )
    assert await client("GET", f"/v2/oauth-clients/{made['clientId']}/users", expect=200) == []
    assert (await api("PATCH", f"/v2/oauth-clients/{made['clientId']}", {"name": "Shop 2"}))[
        "name"
    ] == "Shop 2"
    await api("DELETE", f"/v2/oauth-clients/{made['clientId']}", expect=200)
    assert (await client("GET", f"/v2/oauth-clients/{made['clientId']}/users")).status == 401
    assert (await api("GET", f"/v2/oauth-clients/{made['clientId']}")).status == 404
    assert (
        await api(
            "POST", "/v2/oauth-clients", {"name": "x", "redirectUris": [], "permissions": ["ALL"]}
        )
    ).status == 400
