"""Slot reservations: a slot held for a few minutes, hidden from everyone's slot lists."""

from __future__ import annotations

import uuid

import attrs

__all__ = ["Reservation", "ReservationStore"]


@attrs.define(eq=False)
class Reservation:
    """A held slot of an event type (instants in epoch seconds)."""

    uid: str
    event_type_id: int
    host_id: int
    start: float
    end: float
    until: float
    minutes: int  # how long it is held (``reservationDuration``)


class ReservationStore:
    """Every reservation, by uid; expired ones are dropped as they are met."""

    def __init__(self) -> None:
        self.by_uid: dict[str, Reservation] = {}

    def add(
        self, event_type_id: int, host_id: int, start: float, end: float, until: float, minutes: int
    ) -> Reservation:
        """A new reservation."""
        reservation = Reservation(
            str(uuid.uuid4()), event_type_id, host_id, start, end, until, minutes
        )
        self.by_uid[reservation.uid] = reservation
        return reservation

    def get(self, uid: str, now: float) -> Reservation | None:
        """The live reservation ``uid``."""
        found = self.by_uid.get(uid)
        if found is not None and found.until <= now:
            del self.by_uid[uid]
            return None
        return found

    def held(self, host_id: int, start: float, end: float, now: float) -> list[Reservation]:
        """The live reservations of ``host_id`` overlapping ``[start, end)``."""
        for uid in [uid for uid, item in self.by_uid.items() if item.until <= now]:
            del self.by_uid[uid]
        return [
            item
            for item in self.by_uid.values()
            if item.host_id == host_id and item.start < end and item.end > start
        ]

    def remove(self, uid: str) -> None:
        """Forget reservation ``uid``."""
        self.by_uid.pop(uid, None)
