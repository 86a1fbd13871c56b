"""Schedules: weekly availability in a time zone, with date overrides.

A date with overrides is available only in its overrides' windows (an override replaces the
day's weekly availability, as on the service).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

import attrs

from .._time import day_start, safe_zone

__all__ = ["Schedule", "ScheduleStore"]

WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def _minutes(hh_mm: str) -> int:
    hours, minutes = hh_mm.split(":")
    return int(hours) * 60 + int(minutes)


@attrs.define(eq=False)
class Schedule:
    """One schedule. ``availability``/``overrides`` are kept as the API writes them."""

    id: int
    owner_id: int
    name: str
    time_zone: str
    availability: list[dict[str, Any]]
    overrides: list[dict[str, Any]] = attrs.field(factory=list)

    def windows(self, day: date) -> list[tuple[int, int]]:
        """The available windows of ``day`` in minutes from its local midnight, sorted."""
        key = day.isoformat()
        found = [
            (_minutes(item["startTime"]), _minutes(item["endTime"]))
            for item in self.overrides
            if item["date"] == key
        ]
        if not found:
            weekday = WEEKDAYS[day.weekday()]
            found = [
                (_minutes(item["startTime"]), _minutes(item["endTime"]))
                for item in self.availability
                if weekday in item["days"]
            ]
        return sorted((start, end) for start, end in found if end > start)

    def intervals(self, start: float, end: float) -> list[tuple[float, float]]:
        """The available intervals (epoch seconds) that overlap ``[start, end)``, sorted."""
        where = safe_zone(self.time_zone)
        day = datetime.fromtimestamp(start, where).date() - timedelta(days=1)
        last = datetime.fromtimestamp(end, where).date() + timedelta(days=1)
        found: list[tuple[float, float]] = []
        while day <= last:
            midnight = day_start(day, where)
            for low, high in self.windows(day):
                # local wall-clock minutes, through the zone (right across DST changes)
                begins = day_start(day, where, low // 60, low % 60) if low else midnight
                ends = (
                    day_start(day, where, high // 60, high % 60)
                    if high < 24 * 60
                    else day_start(day + timedelta(days=1), where)
                )
                if ends > start and begins < end:
                    found.append((begins, ends))
            day += timedelta(days=1)
        return found

    def covers(self, start: float, end: float) -> bool:
        """Whether ``[start, end)`` lies inside one available interval."""
        return any(low <= start and end <= high for low, high in self.intervals(start, end))


class ScheduleStore:
    """Every schedule, by id."""

    def __init__(self) -> None:
        self.by_id: dict[int, Schedule] = {}
        self._next_id = 1

    def add(
        self,
        owner_id: int,
        name: str,
        time_zone: str,
        availability: list[dict[str, Any]],
        overrides: list[dict[str, Any]] | None = None,
    ) -> Schedule:
        """A new schedule of ``owner_id``."""
        while self._next_id in self.by_id:
            self._next_id += 1
        schedule = Schedule(self._next_id, owner_id, name, time_zone, availability, overrides or [])
        self.by_id[schedule.id] = schedule
        return schedule

    def of(self, owner_id: int) -> list[Schedule]:
        """The schedules of ``owner_id``, by id."""
        return [schedule for schedule in self.by_id.values() if schedule.owner_id == owner_id]

    def remove(self, schedule: Schedule) -> None:
        """Forget ``schedule``."""
        self.by_id.pop(schedule.id, None)
