"""Instants as the API writes them, and time zones.

Instants are epoch seconds (floats) inside the emulator and ISO 8601 strings on the wire:
``2024-08-13T15:30:00.000Z`` in UTC, ``2050-09-05T09:00:00.000+02:00`` in a zone.
"""

from __future__ import annotations

import functools
import time
from datetime import date, datetime, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ._envelope import ApiError

__all__ = [
    "DAY",
    "day_start",
    "iso",
    "iso_in",
    "now",
    "parse_day",
    "parse_instant",
    "safe_zone",
    "zone",
]

DAY = 86_400.0
_UTC_NAMES = frozenset({"UTC", "Etc/UTC", "Z", "GMT", "Etc/GMT"})

now = time.time


def iso(moment: float) -> str:
    """``2024-08-13T15:30:00.000Z``."""
    text = datetime.fromtimestamp(moment, timezone.utc).isoformat(timespec="milliseconds")
    return text[:-6] + "Z"


def iso_in(moment: float, where: tzinfo) -> str:
    """``2050-09-05T09:00:00.000+02:00`` (``Z`` in UTC is written ``+00:00``)."""
    return datetime.fromtimestamp(moment, where).isoformat(timespec="milliseconds")


@functools.lru_cache(maxsize=256)
def _zone(name: str) -> tzinfo:
    if name in _UTC_NAMES:
        return timezone.utc
    return ZoneInfo(name)


def zone(name: str, *, field: str = "timeZone") -> tzinfo:
    """The zone called ``name`` (an IANA name); 400 when unknown."""
    try:
        return _zone(name)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        raise ApiError(400, f"{field} must be an IANA time zone such as Europe/London") from None


def safe_zone(name: str) -> tzinfo:
    """The zone called ``name``, or UTC when this machine does not know it."""
    try:
        return _zone(name)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        return timezone.utc


def parse_instant(text: str, *, field: str, end_of_day: bool = False) -> float:
    """An ISO 8601 date-time (``Z`` or an offset; no offset: UTC) or a date (its start, or
    with ``end_of_day`` its last millisecond, in UTC) as epoch seconds; 400 otherwise."""
    raw = text.strip()
    try:
        if len(raw) == 10:
            day = date.fromisoformat(raw)
            moment = datetime(day.year, day.month, day.day, tzinfo=timezone.utc)
            if end_of_day:
                moment += timedelta(days=1, milliseconds=-1)
            return moment.timestamp()
        if raw.endswith(("Z", "z")):
            raw = raw[:-1] + "+00:00"
        parsed = datetime.fromisoformat(raw)
    except ValueError:
        raise ApiError(
            400, f"{field} must be an ISO 8601 date-time such as 2050-09-05T09:00:00Z"
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed.timestamp()


def parse_day(text: str, *, field: str) -> date:
    """A ``YYYY-MM-DD`` date; 400 otherwise."""
    try:
        return date.fromisoformat(text)
    except (TypeError, ValueError):
        raise ApiError(400, f"{field} must be a date such as 2050-09-05") from None


def day_start(day: date, where: tzinfo, hour: int = 0, minute: int = 0) -> float:
    """The instant ``day`` at ``hour:minute`` in ``where`` (epoch seconds)."""
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=where).timestamp()
