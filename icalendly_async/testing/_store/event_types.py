"""Event types: what can be booked, for how long, on which schedule."""

from __future__ import annotations

from typing import Any

import attrs

__all__ = ["EventType", "EventTypeStore"]

CAL_VIDEO: dict[str, Any] = {"type": "integration", "integration": "cal-video"}


@attrs.define(eq=False)
class EventType:
    """One event type of a user.

    ``schedule_id`` ``None``: the owner's default schedule. ``requires_confirmation``: bookings
    start ``pending`` (the confirmation policy). ``extra``: the other fields given on creation or
    update, sent back as they came.
    """

    id: int
    owner_id: int
    title: str
    slug: str
    length: int
    description: str = ""
    length_options: list[int] | None = None
    slot_interval: int | None = None
    minimum_booking_notice: int = 0
    before_buffer: int = 0
    after_buffer: int = 0
    schedule_id: int | None = None
    requires_confirmation: bool = False
    hidden: bool = False
    locations: list[dict[str, Any]] = attrs.field(factory=lambda: [dict(CAL_VIDEO)])
    booking_fields: list[dict[str, Any]] | None = None
    extra: dict[str, Any] = attrs.field(factory=dict)

    @property
    def step(self) -> int:
        """Minutes between slot starts."""
        return self.slot_interval or self.length


class EventTypeStore:
    """Every event type, by id."""

    def __init__(self) -> None:
        self.by_id: dict[int, EventType] = {}
        self._next_id = 1

    def new_id(self) -> int:
        """An unused event type id."""
        while self._next_id in self.by_id:
            self._next_id += 1
        self._next_id += 1
        return self._next_id - 1

    def add(self, event_type: EventType) -> EventType:
        """Store ``event_type`` (ids go on from the highest one seen)."""
        self.by_id[event_type.id] = event_type
        self._next_id = max(self._next_id, event_type.id + 1)
        return event_type

    def of(self, owner_id: int) -> list[EventType]:
        """The event types of ``owner_id``, by id."""
        return sorted(
            (item for item in self.by_id.values() if item.owner_id == owner_id),
            key=lambda item: item.id,
        )

    def by_slug(self, owner_id: int, slug: str) -> EventType | None:
        """The event type of ``owner_id`` called ``slug``."""
        for item in self.by_id.values():
            if item.owner_id == owner_id and item.slug == slug:
                return item
        return None

    def remove(self, event_type: EventType) -> None:
        """Forget ``event_type``."""
        self.by_id.pop(event_type.id, None)
