"""Bookings (``cal-api-version: 2024-08-13``): list, get, create, cancel, reschedule, mark
absent, confirm, decline; and the organization's bookings.

The list holds the bookings the caller hosts (the organization's list: those of its users).
Filters: ``status`` (``upcoming``, ``recurring``, ``past``, ``cancelled``, ``unconfirmed``; several
values match any of them), ``bookingUid``, ``attendeeEmail``, ``attendeeName`` (part of it),
``eventTypeId``/``eventTypeIds``, ``teamId``/``teamsIds`` (no team event types are emulated:
an empty list), ``afterStart``, ``beforeEnd``, ``afterCreatedAt``, ``beforeCreatedAt``,
``afterUpdatedAt``, ``beforeUpdatedAt``;
order: the first of ``sortStart``, ``sortEnd``, ``sortCreated``, ``sortUpdatedAt`` given (default
ascending start); paging: ``take`` (default 100) / ``skip``, with ``pagination``.

Creating, cancelling and rescheduling are public (a booker has no credentials); marking
absence, confirming and declining are the host's.
"""

from __future__ import annotations

import bisect
import time
from collections.abc import Callable

from .. import _lifecycle
from .._context import Context
from .._envelope import ApiError, Reply, success_raw
from .._store.bookings import BookingRow
from .._store.event_types import EventType
from .._time import parse_instant, zone
from ._body import Body, read_body
from ._params import list_values, page, pagination
from .organizations import org_of

__all__ = [
    "cancel_booking",
    "confirm_booking",
    "create_booking",
    "decline_booking",
    "get_booking",
    "list_bookings",
    "list_org_bookings",
    "mark_absent",
    "reschedule_booking",
]

_ACTIVE = frozenset({"accepted", "pending"})
_ENDED = frozenset({"cancelled", "rejected"})

_STATUS_FILTERS: dict[str, Callable[[BookingRow, float], bool]] = {
    "upcoming": lambda row, now: row.end >= now and row.status in _ACTIVE,
    "recurring": lambda row, now: row.recurring and row.end >= now and row.status in _ACTIVE,
    "past": lambda row, now: row.end < now and row.status not in _ENDED,
    "cancelled": lambda row, now: row.status in _ENDED,
    "unconfirmed": lambda row, now: row.end >= now and row.status == "pending",
}
_SORTS: dict[str, Callable[[BookingRow], tuple[float, int]]] = {
    "sortStart": lambda row: (row.start, row.id),
    "sortEnd": lambda row: (row.end, row.id),
    "sortCreated": lambda row: (row.created, row.id),
    "sortUpdatedAt": lambda row: (row.updated, row.id),
}
_UPDATED_BOUNDS = frozenset({"afterUpdatedAt", "beforeUpdatedAt"})
_TIME_FILTERS: dict[str, tuple[Callable[[BookingRow], float], bool]] = {
    # name: (the row's instant, whether the row's instant must be >= the value)
    "afterStart": (lambda row: row.start, True),
    "beforeEnd": (lambda row: row.end, False),
    "afterCreatedAt": (lambda row: row.created, True),
    "beforeCreatedAt": (lambda row: row.created, False),
    "afterUpdatedAt": (lambda row: row.updated, True),
    "beforeUpdatedAt": (lambda row: row.updated, False),
}


def _ids(ctx: Context, *names: str) -> frozenset[int] | None:
    query = ctx.request.query
    values = [value for name in names for value in list_values(query, name)]
    if not values:
        return None
    if not all(value.isdigit() for value in values):
        raise ApiError(400, f"{'/'.join(names)} must be whole numbers separated by commas")
    return frozenset(int(value) for value in values)


def _select(ctx: Context, scope: tuple[int, ...]) -> list[BookingRow]:
    """The caller's selection, filtered and sorted (cached until the next change)."""
    query = ctx.request.query
    statuses = tuple(sorted(set(list_values(query, "status"))))
    unknown = [value for value in statuses if value not in _STATUS_FILTERS]
    if unknown:
        raise ApiError(
            400, f"status must be one of {', '.join(_STATUS_FILTERS)}; got {', '.join(unknown)}"
        )
    uid = query.get("bookingUid") or None
    email = (query.get("attendeeEmail") or "").lower() or None
    name = (query.get("attendeeName") or "").lower() or None
    event_types = _ids(ctx, "eventTypeId", "eventTypeIds")
    teams = _ids(ctx, "teamId", "teamsIds")
    times = tuple(
        (key, parse_instant(query[key], field=key)) for key in _TIME_FILTERS if query.get(key)
    )
    order = next(((key, query[key]) for key in _SORTS if key in query), ("sortStart", "asc"))
    if order[1] not in ("asc", "desc"):
        raise ApiError(400, f"{order[0]} must be asc or desc, got {order[1]!r}")
    bounds: tuple[tuple[str, float], ...] = ()
    if order[0] == "sortUpdatedAt":
        # A sync walks by updatedAt: each page asks from the last updatedAt it saw. Keep the
        # ordered selection without the updatedAt bounds cached and cut those by bisection, as
        # an index on updatedAt would (the whole filter and sort again cost 30 ms per page of
        # 10,000 bookings).
        bounds = tuple(item for item in times if item[0] in _UPDATED_BOUNDS)
        times = tuple(item for item in times if item[0] not in _UPDATED_BOUNDS)
    key = (scope, statuses, uid, email, name, event_types, teams, times, order)
    store = ctx.state.data.booking_store

    def build() -> list[BookingRow]:
        if len(scope) == 1:
            rows = list(store.hosted_by(scope[0]))
        else:
            rows = [row for host in scope for row in store.hosted_by(host)]
            rows.sort(key=_SORTS["sortStart"])
        if teams is not None:
            return []  # no team event types are emulated
        if statuses:
            tests = [_STATUS_FILTERS[value] for value in statuses]
            now = time.time()
            rows = [row for row in rows if any(test(row, now) for test in tests)]
        if uid is not None:
            rows = [row for row in rows if row.uid == uid]
        if email is not None:
            rows = [
                row
                for row in rows
                if any(a["email"].lower() == email for a in row.data["attendees"])
            ]
        if name is not None:
            rows = [
                row for row in rows if any(name in a["name"].lower() for a in row.data["attendees"])
            ]
        if event_types is not None:
            rows = [row for row in rows if row.event_type_id in event_types]
        for field, moment in times:
            read, at_least = _TIME_FILTERS[field]
            rows = [row for row in rows if (read(row) >= moment) == at_least]
        if order != ("sortStart", "asc"):
            rows.sort(key=_SORTS[order[0]], reverse=order[1] == "desc")
        return rows

    rows = store.cached(key, build)
    return _between_updates(rows, bounds, descending=order[1] == "desc") if bounds else rows


def _between_updates(
    rows: list[BookingRow], bounds: tuple[tuple[str, float], ...], *, descending: bool
) -> list[BookingRow]:
    """The part of ``rows`` (ordered by update) that the updatedAt bounds keep."""
    low, high = 0, len(rows)
    for field, moment in bounds:
        if descending:  # updated falls along rows: bisect on its negation, which rises
            cut = bisect.bisect_right(rows, -moment, key=_minus_updated)
            if field == "afterUpdatedAt":  # updated >= moment: the rows before the cut
                high = min(high, cut)
            else:  # updated < moment: the rows from the cut on
                low = max(low, cut)
        else:
            cut = bisect.bisect_left(rows, moment, key=_updated)
            if field == "afterUpdatedAt":
                low = max(low, cut)
            else:
                high = min(high, cut)
    return rows[low:high] if low < high else []


def _updated(row: BookingRow) -> float:
    return row.updated


def _minus_updated(row: BookingRow) -> float:
    return -row.updated


def _page(ctx: Context, rows: list[BookingRow], maximum: int | None = None) -> Reply:
    skip, take = page(ctx.request.query, default=100, maximum=maximum)
    assert take is not None
    chunk = rows[skip : skip + take]
    data = b"[" + b",".join(row.json() for row in chunk) + b"]"
    return success_raw(data, pagination(len(rows), skip, take, len(chunk)))


async def list_bookings(ctx: Context) -> Reply:
    """The caller's bookings, a page at a time."""
    user = ctx.require_user()
    return _page(ctx, _select(ctx, (user.id,)))


async def list_org_bookings(ctx: Context) -> Reply:
    """The bookings of the organization's users (``userIds`` narrows them; admins only)."""
    data = ctx.state.data
    org_id = org_of(ctx).id
    members = [user.id for user in data.org_members(org_id)]
    wanted = _ids(ctx, "userIds")
    if wanted is not None:
        members = [user_id for user_id in members if user_id in wanted]
    return _page(ctx, _select(ctx, tuple(members)))


def _booking(ctx: Context) -> BookingRow:
    uid = ctx.request.match_info["bookingUid"]
    row = ctx.state.data.booking_store.by_uid.get(uid)
    if row is None:
        raise ApiError(404, f"Booking with uid={uid} was not found")
    return row


def _hosted(ctx: Context) -> BookingRow:
    row = _booking(ctx)
    user = ctx.require_user()
    if row.host_id != user.id:
        raise ApiError(403, f"Only the host of booking {row.uid} may do this")
    return row


async def get_booking(ctx: Context) -> Reply:
    """One booking by uid (404 when unknown)."""
    return success_raw(_booking(ctx).json())


def _event_type(ctx: Context, body: Body) -> EventType:
    data = ctx.state.data
    if body.raw.get("instant"):
        raise ApiError(400, "Instant bookings are only possible for team event types")
    event_type_id = body.integer("eventTypeId", minimum=1)
    if event_type_id is not None:
        found = data.event_types.by_id.get(event_type_id)
        if found is None:
            raise ApiError(404, f"Event type with id={event_type_id} was not found")
        return found
    slug = body.string("eventTypeSlug")
    username = body.string("username")
    if body.string("teamSlug") is not None:
        raise ApiError(404, "Team event types are not emulated")
    if slug is None or username is None:
        raise ApiError(400, "Give eventTypeId, or eventTypeSlug with username")
    owner = data.users.by_username(username)
    found = data.event_types.by_slug(owner.id, slug) if owner is not None else None
    if found is None:
        raise ApiError(404, f"Event type {slug!r} of user {username!r} was not found")
    return found


def _attendee(body: Body) -> dict[str, object]:
    attendee = body.obj("attendee", required=True)
    assert attendee is not None
    name = attendee.string("name", required=True)
    time_zone = attendee.string("timeZone", required=True)
    assert time_zone is not None
    zone(time_zone, field="attendee.timeZone")
    email = attendee.string("email")
    phone = attendee.string("phoneNumber")
    if email is None and phone is None:
        raise ApiError(400, "attendee.email or attendee.phoneNumber is required")
    if email is None:
        assert phone is not None
        email = "".join(ch for ch in phone if ch.isdigit()) + "@sms.icalendly.com"
    found: dict[str, object] = {
        "name": name,
        "email": email,
        "timeZone": time_zone,
        "language": attendee.string("language") or "en",
        "absent": False,
    }
    if phone is not None:
        found["phoneNumber"] = phone
    return found


def _location(body: Body) -> str | None:
    raw = body.raw.get("location")
    if raw is None:
        return None
    if isinstance(raw, str):
        return raw
    if isinstance(raw, dict):
        for key in ("link", "address", "phone", "location"):
            if isinstance(raw.get(key), str):
                return str(raw[key])
        return None
    raise ApiError(400, "location must be an object (or a string)")


async def create_booking(ctx: Context) -> Reply:
    """Book a free time of an event type (201)."""
    body = await read_body(ctx)
    if body.raw.get("recurrenceCount") is not None:
        raise ApiError(400, "The event type is not recurring: recurrenceCount is not allowed")
    event_type = _event_type(ctx, body)
    start_text = body.string("start", required=True)
    assert start_text is not None
    start = parse_instant(start_text, field="start")
    minutes = body.integer("lengthInMinutes", minimum=1) or event_type.length
    allowed = event_type.length_options or [event_type.length]
    if minutes not in allowed:
        raise ApiError(
            400, f"lengthInMinutes must be one of {allowed} for event type {event_type.id}"
        )
    attendee = _attendee(body)
    guests = body.strings("guests") or []
    responses = body.obj("bookingFieldsResponses")
    metadata = body.obj("metadata")
    row = _lifecycle.create(
        ctx.state,
        event_type,
        start=start,
        minutes=minutes,
        attendee=attendee,
        guests=guests,
        responses={
            "name": attendee["name"],
            "email": attendee["email"],
            **(responses.raw if responses is not None else {}),
        },
        metadata=metadata.raw if metadata is not None else {},
        now=time.time(),
        location=_location(body),
    )
    return success_raw(row.json(), status=201)


def _actor_email(ctx: Context, row: BookingRow, given: str | None) -> str:
    if given:
        return given
    user = ctx.user
    return user.email if user is not None else str(row.data["attendees"][0]["email"])


async def cancel_booking(ctx: Context) -> Reply:
    """Cancel a booking (400 when it is already cancelled or rejected)."""
    row = _booking(ctx)
    body = await read_body(ctx, required=False)
    body.boolean("cancelSubsequentBookings")
    reason = body.string("cancellationReason", empty=True)
    _lifecycle.cancel(
        ctx.state, row, reason=reason, by_email=_actor_email(ctx, row, None), now=time.time()
    )
    return success_raw(row.json())


async def reschedule_booking(ctx: Context) -> Reply:
    """Move a booking: a new one (new uid) linked to the old, which is cancelled (201)."""
    row = _booking(ctx)
    body = await read_body(ctx)
    start_text = body.string("start", required=True)
    assert start_text is not None
    new = _lifecycle.reschedule(
        ctx.state,
        row,
        start=parse_instant(start_text, field="start"),
        reason=body.string("reschedulingReason", empty=True),
        by_email=_actor_email(ctx, row, body.string("rescheduledBy")),
        now=time.time(),
    )
    return success_raw(new.json(), status=201)


async def mark_absent(ctx: Context) -> Reply:
    """Record a host's or attendees' absence (the host only)."""
    row = _hosted(ctx)
    body = await read_body(ctx, required=False)
    host = body.boolean("host")
    attendees = []
    for item in body.objects("attendees") or []:
        email = item.string("email", required=True)
        absent = item.boolean("absent", required=True)
        assert email is not None and absent is not None
        attendees.append((email, absent))
    _lifecycle.mark_absent(ctx.state, row, host=host, attendees=attendees, now=time.time())
    return success_raw(row.json())


async def confirm_booking(ctx: Context) -> Reply:
    """Accept a pending booking (the host only)."""
    row = _hosted(ctx)
    _lifecycle.confirm(ctx.state, row, time.time())
    return success_raw(row.json())


async def decline_booking(ctx: Context) -> Reply:
    """Reject a pending booking (the host only)."""
    row = _hosted(ctx)
    body = await read_body(ctx, required=False)
    _lifecycle.decline(ctx.state, row, body.string("reason", empty=True), time.time())
    return success_raw(row.json())
