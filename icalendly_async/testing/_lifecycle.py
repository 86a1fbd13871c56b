"""What happens to a booking, and the webhook event each step sends.

* create: a new booking, ``pending`` when the event type needs confirmation (webhook
  ``BOOKING_REQUESTED``), else ``accepted`` (``BOOKING_CREATED``);
* cancel: ``cancelled``, with the reason and who cancelled (``BOOKING_CANCELLED``);
* reschedule: a new booking (new uid, ``rescheduledFromUid``), the old one ``cancelled`` with
  ``rescheduledToUid`` (``BOOKING_RESCHEDULED``, about the new one, naming the old);
* mark absent: ``absentHost`` and the attendees' ``absent`` (``BOOKING_NO_SHOW_UPDATED``);
* confirm: ``pending`` to ``accepted`` (``BOOKING_CREATED``);
* decline: ``pending`` to ``rejected`` (``BOOKING_REJECTED``).

Subscribers: the host's own webhooks, the event type's, the organization's (for its users) and
the OAuth client's (for its managed users).
"""

from __future__ import annotations

import random
import string
from typing import TYPE_CHECKING, Any

from . import _views
from ._envelope import ApiError
from ._scheduling import check_bookable
from ._store.bookings import BookingRow
from ._store.event_types import EventType
from ._store.webhooks import Scope
from ._time import iso

if TYPE_CHECKING:
    from ._state import EmulatorState

__all__ = ["cancel", "confirm", "create", "decline", "emit", "mark_absent", "reschedule"]

JSONObject = dict[str, Any]

_UID_ALPHABET = string.ascii_letters + string.digits
_uids = random.SystemRandom()


def _new_uid() -> str:
    return "".join(_uids.choices(_UID_ALPHABET, k=22))


def emit(state: EmulatorState, trigger: str, row: BookingRow, **extra: Any) -> None:
    """Send ``trigger`` about ``row`` to every subscription that listens to it."""
    data = state.data
    owners: dict[Scope, tuple[int | str, ...]] = {
        Scope.USER: (row.host_id,),
        Scope.EVENT_TYPE: (row.event_type_id,),
    }
    host = data.users.get(row.host_id)
    if host is not None and host.client_id is not None:
        owners[Scope.OAUTH_CLIENT] = (host.client_id,)
    elif host is not None and host.organization_id is not None:
        owners[Scope.ORGANIZATION] = (host.organization_id,)
    subscriptions = data.subscriptions.listening(trigger, owners)
    if subscriptions:
        state.webhooks.emit(subscriptions, trigger, {**_payload(row), **extra})


def _payload(row: BookingRow) -> JSONObject:
    body = row.data
    host = body["hosts"][0]
    return {
        "type": body["eventType"]["slug"],
        "title": body["title"],
        "description": body["description"],
        "startTime": body["start"],
        "endTime": body["end"],
        "organizer": {**host, "language": {"locale": "en"}},
        "attendees": [
            {
                "name": attendee["name"],
                "email": attendee["email"],
                "timeZone": attendee["timeZone"],
                "language": {"locale": attendee.get("language", "en")},
            }
            for attendee in body["attendees"]
        ],
        "responses": body["bookingFieldsResponses"],
        "location": body["location"],
        "uid": body["uid"],
        "bookingId": body["id"],
        "eventTypeId": body["eventTypeId"],
        "length": body["duration"],
        "status": body["status"].upper(),
        "metadata": {"videoCallUrl": body["meetingUrl"], **body.get("metadata", {})},
        "iCalUID": body["icsUid"],
    }


def create(
    state: EmulatorState,
    event_type: EventType,
    *,
    start: float,
    minutes: int,
    attendee: JSONObject,
    guests: list[str],
    responses: JSONObject,
    metadata: JSONObject,
    now: float,
    location: str | None = None,
    rescheduled_from: BookingRow | None = None,
) -> BookingRow:
    """A new booking of ``event_type`` at ``start`` (400/409 unless the time is free)."""
    data = state.data
    check_bookable(data, event_type, start, minutes, now, ignore=rescheduled_from)
    host = data.users.get(event_type.owner_id)
    if host is None:
        raise ApiError(404, f"The host of event type {event_type.id} no longer exists")
    status = "pending" if event_type.requires_confirmation else "accepted"
    store = data.booking_store
    booking_id = store.new_id()
    uid = _new_uid()
    end = start + minutes * 60
    body = _views.booking(
        booking_id=booking_id,
        uid=uid,
        title=f"{event_type.title} between {host.name} and {attendee['name']}",
        host=_views.booking_host(host),
        status=status,
        start=iso(start),
        end=iso(end),
        minutes=minutes,
        event_type_id=event_type.id,
        event_type_slug=event_type.slug,
        created=iso(now),
        attendee=attendee,
        guests=guests,
        responses=responses,
        location=location,
        description=event_type.description,
        metadata=metadata,
    )
    if rescheduled_from is not None:
        body["rescheduledFromUid"] = rescheduled_from.uid
    row = BookingRow(
        uid,
        start,
        end,
        status,
        False,
        body,
        id=booking_id,
        host_id=host.id,
        event_type_id=event_type.id,
        created=now,
        updated=now,
    )
    store.add(row)
    if rescheduled_from is None:
        emit(state, "BOOKING_REQUESTED" if status == "pending" else "BOOKING_CREATED", row)
    return row


def _still_open(row: BookingRow, what: str) -> None:
    if not row.active:
        raise ApiError(400, f"Cannot {what} booking {row.uid}: it is {row.status}")


def cancel(
    state: EmulatorState, row: BookingRow, *, reason: str | None, by_email: str, now: float
) -> None:
    """Cancel ``row`` (400 when it is not active)."""
    _still_open(row, "cancel")
    row.data["cancellationReason"] = reason or "No reason given"
    row.data["cancelledByEmail"] = by_email
    state.data.booking_store.set_status(row, "cancelled", now)
    emit(state, "BOOKING_CANCELLED", row, cancellationReason=row.data["cancellationReason"])


def reschedule(
    state: EmulatorState,
    row: BookingRow,
    *,
    start: float,
    reason: str | None,
    by_email: str,
    now: float,
) -> BookingRow:
    """Move ``row`` to ``start``: a new booking, the old one cancelled and linked to it."""
    _still_open(row, "reschedule")
    data = state.data
    event_type = data.event_types.by_id.get(row.event_type_id)
    if event_type is None:
        raise ApiError(400, f"The event type of booking {row.uid} no longer exists")
    attendee = dict(row.data["attendees"][0])
    attendee["absent"] = False
    new = create(
        state,
        event_type,
        start=start,
        minutes=int(row.data["duration"]),
        attendee=attendee,
        guests=list(row.data.get("guests", [])),
        responses=dict(row.data["bookingFieldsResponses"]),
        metadata=dict(row.data.get("metadata", {})),
        now=now,
        location=None,
        rescheduled_from=row,
    )
    row.data["rescheduledToUid"] = new.uid
    row.data["rescheduledByEmail"] = by_email
    if reason:
        row.data["reschedulingReason"] = reason
        new.data["reschedulingReason"] = reason
    new.data["rescheduledByEmail"] = by_email
    new.encoded = None
    data.booking_store.set_status(row, "cancelled", now)
    emit(
        state,
        "BOOKING_RESCHEDULED",
        new,
        rescheduleUid=row.uid,
        rescheduleId=row.id,
        rescheduleStartTime=row.data["start"],
        rescheduleEndTime=row.data["end"],
    )
    return new


def mark_absent(
    state: EmulatorState,
    row: BookingRow,
    *,
    host: bool | None,
    attendees: list[tuple[str, bool]],
    now: float,
) -> None:
    """Record who did not show up (400 for a cancelled or rejected booking, or an unknown
    attendee email)."""
    if row.status in ("cancelled", "rejected"):
        raise ApiError(400, f"Cannot mark absence on booking {row.uid}: it is {row.status}")
    by_email = {attendee["email"].lower(): attendee for attendee in row.data["attendees"]}
    for email, _ in attendees:
        if email.lower() not in by_email:
            raise ApiError(400, f"{email} is not an attendee of booking {row.uid}")
    if host is not None:
        row.data["absentHost"] = host
    for email, absent in attendees:
        by_email[email.lower()]["absent"] = absent
    row.touch(now)
    state.data.booking_store.changed()
    emit(
        state,
        "BOOKING_NO_SHOW_UPDATED",
        row,
        noShowHost=row.data["absentHost"],
        absentAttendees=[a["email"] for a in row.data["attendees"] if a["absent"]],
    )


def _pending(row: BookingRow, what: str) -> None:
    if row.status != "pending":
        raise ApiError(400, f"Cannot {what} booking {row.uid}: it is {row.status}, not pending")


def confirm(state: EmulatorState, row: BookingRow, now: float) -> None:
    """``pending`` -> ``accepted``."""
    _pending(row, "confirm")
    state.data.booking_store.set_status(row, "accepted", now)
    emit(state, "BOOKING_CREATED", row)


def decline(state: EmulatorState, row: BookingRow, reason: str | None, now: float) -> None:
    """``pending`` -> ``rejected``."""
    _pending(row, "decline")
    if reason:
        row.data["cancellationReason"] = reason
    state.data.booking_store.set_status(row, "rejected", now)
    emit(state, "BOOKING_REJECTED", row, rejectionReason=reason)
