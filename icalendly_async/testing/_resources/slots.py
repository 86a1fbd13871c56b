"""Slots (``cal-api-version: 2024-09-04``): the free times of an event type, and reservations.

``GET /v2/slots``: ``eventTypeId`` (or ``eventTypeSlug`` with ``username``), ``start``/``end``
(ISO dates or date-times, UTC; a date alone means the whole day), ``timeZone`` of the answer
(default UTC), ``duration`` (one of the event type's lengths), ``format`` (``time``: ``{start}``;
``range``: ``{start, end}``), ``bookingUidToReschedule`` (that booking's time counts as free).
The answer maps each local date to its slots.

A reservation holds a slot for ``reservationDuration`` minutes (default 5; only callers with
credentials may choose): the slot disappears from the lists. It does not stop a booking.
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

from .._context import Context
from .._envelope import ApiError, Reply, encode, success
from .._scheduling import check_bookable, free_slots
from .._store.event_types import EventType
from .._store.reservations import Reservation
from .._time import iso, iso_in, parse_instant, zone
from ._body import Body, read_body
from ._params import integer

__all__ = [
    "delete_reservation",
    "get_reservation",
    "get_slots",
    "reserve_slot",
    "update_reservation",
]

DEFAULT_HOLD_MINUTES = 5


def _event_type(ctx: Context) -> EventType:
    query = ctx.request.query
    data = ctx.state.data
    event_type_id = integer(query, "eventTypeId", None, minimum=1)
    if event_type_id is not None:
        found = data.event_types.by_id.get(event_type_id)
        if found is None:
            raise ApiError(404, f"Event type with id={event_type_id} was not found")
        return found
    if query.get("usernames") or query.get("teamSlug"):
        raise ApiError(404, "Dynamic and team event types are not emulated")
    slug, username = query.get("eventTypeSlug"), query.get("username")
    if not slug or not username:
        raise ApiError(400, "Give eventTypeId, or eventTypeSlug with username")
    owner = data.users.by_username(username)
    found = data.event_types.by_slug(owner.id, slug) if owner is not None else None
    if found is None:
        raise ApiError(404, f"Event type {slug!r} of user {username!r} was not found")
    return found


def _minutes(event_type: EventType, value: int | None, name: str) -> int:
    if value is None:
        return event_type.length
    allowed = event_type.length_options or [event_type.length]
    if value not in allowed:
        raise ApiError(400, f"{name} must be one of {allowed} for event type {event_type.id}")
    return value


async def get_slots(ctx: Context) -> Reply:
    """The free slots, by local date."""
    query = ctx.request.query
    event_type = _event_type(ctx)
    if not query.get("start") or not query.get("end"):
        raise ApiError(400, "start and end are required")
    start = parse_instant(query["start"], field="start")
    end = parse_instant(query["end"], field="end", end_of_day=True)
    where = zone(query.get("timeZone") or "UTC")
    minutes = _minutes(event_type, integer(query, "duration", None, minimum=1), "duration")
    shape = query.get("format") or "time"
    if shape not in ("time", "range"):
        raise ApiError(400, f"format must be time or range, got {shape!r}")
    ignore = None
    rescheduled = query.get("bookingUidToReschedule")
    if rescheduled:
        ignore = ctx.state.data.booking_store.by_uid.get(rescheduled)
    found = free_slots(
        ctx.state.data, event_type, start, end, time.time(), minutes=minutes, ignore=ignore
    )
    by_day: dict[str, list[dict[str, str]]] = {}
    for low, high in found:
        local = datetime.fromtimestamp(low, where)
        slot = {"start": local.isoformat(timespec="milliseconds")}
        if shape == "range":
            slot["end"] = iso_in(high, where)
        by_day.setdefault(local.date().isoformat(), []).append(slot)
    return success(by_day)


def _reservation_json(item: Reservation) -> dict[str, Any]:
    return {
        "eventTypeId": item.event_type_id,
        "slotStart": iso(item.start),
        "slotEnd": iso(item.end),
        "slotDuration": int((item.end - item.start) // 60),
        "reservationUid": item.uid,
        "reservationDuration": item.minutes,
        "reservationUntil": iso(item.until),
    }


def _hold(
    ctx: Context, body: Body, *, replacing: Reservation | None = None
) -> tuple[EventType, float, int, int]:
    data = ctx.state.data
    event_type_id = body.integer("eventTypeId", required=True, minimum=1)
    assert event_type_id is not None
    event_type = data.event_types.by_id.get(event_type_id)
    if event_type is None:
        raise ApiError(404, f"Event type with id={event_type_id} was not found")
    start_text = body.string("slotStart", required=True)
    assert start_text is not None
    start = parse_instant(start_text, field="slotStart")
    minutes = _minutes(event_type, body.integer("slotDuration", minimum=1), "slotDuration")
    hold = body.integer("reservationDuration", minimum=1)
    if hold is not None and ctx.user is None:
        raise ApiError(401, "reservationDuration may only be set by callers with credentials")
    now = time.time()
    check_bookable(data, event_type, start, minutes, now)
    end = start + minutes * 60
    taken = [
        item
        for item in data.reservations.held(event_type.owner_id, start, end, now)
        if item is not replacing
    ]
    if taken:
        raise ApiError(409, "This slot is already reserved")
    return event_type, start, minutes, hold or DEFAULT_HOLD_MINUTES


async def reserve_slot(ctx: Context) -> Reply:
    """Hold a free slot (201)."""
    event_type, start, minutes, hold = _hold(ctx, await read_body(ctx))
    now = time.time()
    item = ctx.state.data.reservations.add(
        event_type.id, event_type.owner_id, start, start + minutes * 60, now + hold * 60, hold
    )
    return success(_reservation_json(item), status=201)


def _reservation(ctx: Context) -> Reservation:
    uid = ctx.request.match_info["uid"]
    found = ctx.state.data.reservations.get(uid, time.time())
    if found is None:
        raise ApiError(404, f"Reserved slot with uid={uid} was not found (or it expired)")
    return found


async def get_reservation(ctx: Context) -> Reply:
    """A live reservation."""
    return success(_reservation_json(_reservation(ctx)))


async def update_reservation(ctx: Context) -> Reply:
    """Move or extend a live reservation."""
    item = _reservation(ctx)
    event_type, start, minutes, hold = _hold(ctx, await read_body(ctx), replacing=item)
    item.event_type_id = event_type.id
    item.host_id = event_type.owner_id
    item.start, item.end = start, start + minutes * 60
    item.minutes = hold
    item.until = time.time() + hold * 60
    return success(_reservation_json(item))


async def delete_reservation(ctx: Context) -> Reply:
    """Release a reservation."""
    item = _reservation(ctx)
    ctx.state.data.reservations.remove(item.uid)
    return Reply(encode({"status": "success"}))
