"""``GET /v2/bookings`` (``GetBookingsOutput_2024_08_13``) and ``GET /v2/bookings/{bookingUid}``.

Filters: ``status`` (``upcoming``, ``recurring``, ``past``, ``cancelled``, ``unconfirmed``; several
values match any of them), ``bookingUid``, ``attendeeEmail``, ``eventTypeId``; order:
``sortStart`` (default ascending start); paging: ``take`` (default 100) / ``skip``.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from .._context import Context
from .._data import BookingRow
from .._envelope import ApiError, Reply, success_raw
from ._params import integer, list_values, pagination

__all__ = ["get_booking", "list_bookings"]

_ACTIVE = frozenset({"accepted", "pending"})
_ENDED = frozenset({"cancelled", "rejected"})

_STATUS_FILTERS: dict[str, Callable[[BookingRow, float], bool]] = {
    "upcoming": lambda row, now: row.end >= now and row.status in _ACTIVE,
    "recurring": lambda row, now: row.recurring and row.end >= now and row.status in _ACTIVE,
    "past": lambda row, now: row.end < now and row.status not in _ENDED,
    "cancelled": lambda row, now: row.status in _ENDED,
    "unconfirmed": lambda row, now: row.end >= now and row.status == "pending",
}


def _select(ctx: Context) -> list[BookingRow]:
    query = ctx.request.query
    rows = ctx.state.data.bookings
    statuses = list_values(query, "status")
    if statuses:
        unknown = [value for value in statuses if value not in _STATUS_FILTERS]
        if unknown:
            raise ApiError(
                400,
                f"status must be one of {', '.join(_STATUS_FILTERS)}; got {', '.join(unknown)}",
            )
        tests = [_STATUS_FILTERS[value] for value in statuses]
        now = time.time()
        rows = [row for row in rows if any(test(row, now) for test in tests)]
    uid = query.get("bookingUid")
    if uid:
        rows = [row for row in rows if row.uid == uid]
    email = query.get("attendeeEmail")
    if email:
        email = email.lower()
        rows = [row for row in rows if any(a["email"] == email for a in row.data["attendees"])]
    event_type = integer(query, "eventTypeId", None, minimum=0)
    if event_type is not None:
        rows = [row for row in rows if row.data["eventTypeId"] == event_type]
    order = query.get("sortStart")
    if order not in (None, "asc", "desc"):
        raise ApiError(400, f"sortStart must be asc or desc, got {order!r}")
    if order == "desc":
        rows = rows[::-1]
    return rows


async def list_bookings(ctx: Context) -> Reply:
    """A page of bookings, with ``pagination``."""
    query = ctx.request.query
    take = integer(query, "take", 100, minimum=1) or 100
    skip = integer(query, "skip", 0, minimum=0) or 0
    rows = _select(ctx)
    page = rows[skip : skip + take]
    data = b"[" + b",".join(row.json() for row in page) + b"]"
    return success_raw(data, pagination(len(rows), skip, take, len(page)))


async def get_booking(ctx: Context) -> Reply:
    """One booking by uid (404 when unknown)."""
    uid = ctx.request.match_info["bookingUid"]
    row = ctx.state.data.bookings_by_uid.get(uid)
    if row is None:
        raise ApiError(404, f"Booking with uid={uid} was not found")
    return success_raw(row.json())
