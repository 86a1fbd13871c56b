"""Availability: the slots of an event type, and whether a time can be booked.

A slot is a start time inside one of the schedule's available intervals (its whole length
fits), on the grid of the event type's slot interval (default: its length) from the interval's
start, at least ``minimumBookingNotice`` minutes from now, not overlapping an active booking of
the host (widened by the event type's buffers) nor a live reservation.

Booking a time checks the same rules, without the grid: a time outside the schedule, in the
past or too soon is a 400; a time taken by another booking a 409 (``ConflictException``).
Reservations hide slots from the lists; they do not stop a booking.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._envelope import ApiError
from ._store.bookings import BookingRow
from ._store.event_types import EventType
from ._store.schedules import Schedule

if TYPE_CHECKING:
    from ._data import DataStore

__all__ = ["MAX_RANGE_DAYS", "check_bookable", "free_slots", "schedule_of"]

MAX_RANGE_DAYS = 400


def schedule_of(data: DataStore, event_type: EventType) -> Schedule:
    """The schedule of ``event_type`` (its own, else its owner's default); 400 when none."""
    schedule_id = event_type.schedule_id
    if schedule_id is None:
        owner = data.users.get(event_type.owner_id)
        schedule_id = owner.default_schedule_id if owner is not None else None
    schedule = data.schedules.by_id.get(schedule_id) if schedule_id is not None else None
    if schedule is None:
        raise ApiError(
            400, f"Event type {event_type.id} has no schedule: its host is not available"
        )
    return schedule


def _taken(
    data: DataStore,
    event_type: EventType,
    start: float,
    end: float,
    ignore: BookingRow | None,
) -> BookingRow | None:
    return data.booking_store.conflict(
        event_type.owner_id,
        start - event_type.before_buffer * 60,
        end + event_type.after_buffer * 60,
        ignore=ignore,
    )


def free_slots(
    data: DataStore,
    event_type: EventType,
    start: float,
    end: float,
    now: float,
    *,
    minutes: int | None = None,
    ignore: BookingRow | None = None,
) -> list[tuple[float, float]]:
    """The free slots ``(start, end)`` of ``event_type`` starting in ``[start, end]``."""
    if end < start:
        raise ApiError(400, "end must not be before start")
    if end - start > MAX_RANGE_DAYS * 86_400:
        raise ApiError(400, f"the range from start to end must not exceed {MAX_RANGE_DAYS} days")
    length = (minutes or event_type.length) * 60
    step = event_type.step * 60
    earliest = max(start, now + event_type.minimum_booking_notice * 60)
    held = data.reservations.held(event_type.owner_id, start, end + length, now)
    found: list[tuple[float, float]] = []
    for low, high in schedule_of(data, event_type).intervals(start, end + length):
        moment = low
        while moment + length <= high and moment <= end:
            finish = moment + length
            if (
                moment >= earliest
                and _taken(data, event_type, moment, finish, ignore) is None
                and not any(item.start < finish and item.end > moment for item in held)
            ):
                found.append((moment, finish))
            moment += step
    found.sort()
    return found


def check_bookable(
    data: DataStore,
    event_type: EventType,
    start: float,
    minutes: int,
    now: float,
    *,
    ignore: BookingRow | None = None,
) -> None:
    """Raise the service's error unless ``event_type`` can be booked at ``start``."""
    end = start + minutes * 60
    if start < now:
        raise ApiError(400, "Attempting to book a meeting in the past.")
    notice = event_type.minimum_booking_notice
    if start < now + notice * 60:
        raise ApiError(
            400, f"This event type needs {notice} minutes of notice: {notice} minutes from now"
        )
    if not schedule_of(data, event_type).covers(start, end):
        raise ApiError(
            400,
            "User either already has booking at this time or is not available: the time is "
            "outside the event type's schedule",
        )
    other = _taken(data, event_type, start, end, ignore)
    if other is not None:
        raise ApiError(
            409,
            "The host already has a booking at this time (a double booking is not allowed)",
            details={"conflictingBookingUid": other.uid},
        )
