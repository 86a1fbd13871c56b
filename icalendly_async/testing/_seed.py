"""The seeded world: the owner and the organization, its users and teams, event types, bookings.

Everything comes from ``random.Random`` seeded with the emulator's seed. Seeded bookings are
the owner's, inside the owner's working hours (weekdays 09:00-17:00, Europe/London) and never
overlapping: the time span grows with the number asked for (90 days around the anchor for a
few hundred; about six years for 20,000), so that slots stay free around today.
"""

from __future__ import annotations

import math
import random
import string
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from . import _views
from ._store.bookings import BookingRow
from ._store.event_types import EventType
from ._time import day_start, iso, safe_zone

if TYPE_CHECKING:
    from ._data import DataStore

__all__ = [
    "EVENT_TYPES",
    "FIRST_NAMES",
    "LAST_NAMES",
    "ZONES",
    "attendee",
    "seed_world",
    "working_hours",
]

FIRST_NAMES = (
    "Ada",
    "Grace",
    "Alan",
    "Edsger",
    "Barbara",
    "Donald",
    "Frances",
    "John",
    "Radia",
    "Ken",
    "Margaret",
    "Tim",
    "Hedy",
    "Linus",
    "Katherine",
    "Dennis",
)
LAST_NAMES = (
    "Lovelace",
    "Hopper",
    "Turing",
    "Dijkstra",
    "Liskov",
    "Knuth",
    "Allen",
    "McCarthy",
    "Perlman",
    "Thompson",
    "Hamilton",
    "Berners-Lee",
    "Lamarr",
    "Torvalds",
    "Johnson",
    "Ritchie",
)
ZONES = (
    "Europe/London",
    "America/New_York",
    "America/Los_Angeles",
    "Europe/Berlin",
    "Asia/Tokyo",
    "Australia/Sydney",
)
# (id, slug, title, minutes)
EVENT_TYPES = (
    (11, "intro-call", "Intro Call", 15),
    (12, "30min", "30 Min Meeting", 30),
    (13, "consultation", "Consultation", 60),
    (14, "coffee-chat", "Coffee Chat", 20),
)
_STATUSES = ("accepted",) * 14 + ("pending",) * 3 + ("cancelled",) * 2 + ("rejected",)
_TEAM_NAMES = ("Sales", "Support", "Engineering", "Success", "Marketing")
_UID_ALPHABET = string.ascii_letters + string.digits
_ORG_USERS = 6
_WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday"]

# The owner's working hours, in half-hour cells: 09:00 to 17:00.
_FIRST_HOUR = 9
_CELLS = 16
_CELL = 1800.0
_DENSITY = 0.75  # at most this share of the cells is booked
_MIN_SPAN_DAYS = 90


def attendee(name: str, email: str, rng: random.Random) -> dict[str, Any]:
    """A booking's attendee as the emulator stores it (a time zone drawn from ``rng``)."""
    return {
        "name": name,
        "email": email,
        "timeZone": rng.choice(ZONES),
        "language": "en",
        "absent": False,
    }


def working_hours() -> list[dict[str, Any]]:
    """Weekdays 09:00-17:00."""
    return [{"days": list(_WEEKDAYS), "startTime": "09:00", "endTime": "17:00"}]


def seed_world(data: DataStore, bookings: int) -> None:
    """Fill ``data``: the owner, the organization, its users and teams, bookings."""
    org_id = data.organization_id
    data.add_user(
        user_id=1,
        email="owner@example.com",
        username="owner",
        name="Owner",
        time_zone="Europe/London",
        organization_id=org_id,
    )
    data.teams.add_team(
        {"name": "Acme", "slug": "acme", "bio": "The Acme organization", **_team_settings()},
        is_organization=True,
        team_id=org_id,
    )
    data.teams.add_membership(org_id, 1, role="OWNER", accepted=True)
    rng = random.Random(f"{data.seed}/organization")
    members = []
    for index in range(_ORG_USERS):
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        user = data.add_user(
            email=f"{first}.{last}.{index}@acme.example.com".lower(),
            username=f"{first}-{last}-{index}".lower(),
            name=f"{first} {last}",
            time_zone=rng.choice(ZONES),
            organization_id=org_id,
        )
        role = "ADMIN" if index == 0 else "MEMBER"
        data.teams.add_membership(org_id, user.id, role=role, accepted=True)
        members.append(user.id)
    for index, name in enumerate(_TEAM_NAMES):
        team = data.teams.add_team(
            {"name": name, "slug": name.lower(), "bio": f"The {name} team", **_team_settings()},
            parent_id=org_id,
            team_id=201 + index,
        )
        data.teams.add_membership(team.id, 1, role="OWNER", accepted=True)
        for user_id in rng.sample(members, 2):
            data.teams.add_membership(team.id, user_id, accepted=True)
    for event_id, slug, title, minutes in EVENT_TYPES:
        data.event_types.add(EventType(event_id, 1, title, slug, minutes))
    _seed_bookings(data, random.Random(data.seed), bookings)


def _team_settings() -> dict[str, Any]:
    return {
        "hideBranding": False,
        "isPrivate": False,
        "hideBookATeamMember": False,
        "metadata": {},
        "timeFormat": 24,
        "timeZone": "Europe/London",
        "weekStart": "Monday",
    }


def _workdays(first: date, days: int) -> list[date]:
    return [
        first + timedelta(days=offset)
        for offset in range(days)
        if (first + timedelta(days=offset)).weekday() < 5
    ]


def _seed_bookings(data: DataStore, rng: random.Random, count: int) -> None:
    if count <= 0:
        return
    owner = data.owner
    host = _views.booking_host(owner)
    where = safe_zone(owner.time_zone)
    event_types = [data.event_types.by_id[event_id] for event_id, *_ in EVENT_TYPES]
    # each booking takes one cell (two for an hour); keep the density under _DENSITY
    cells_needed = count * 1.25 / _DENSITY
    span = max(_MIN_SPAN_DAYS, math.ceil(cells_needed / _CELLS * 7 / 5) + 2)
    anchor = data.anchor.date()
    days = _workdays(anchor - timedelta(days=span // 2), span)
    total = len(days) * _CELLS
    taken = bytearray(total)
    opening: dict[int, float] = {}
    now = data.anchor.timestamp()
    rows = []
    for index in range(count):
        event_type = rng.choice(event_types)
        width = 2 if event_type.length > 30 else 1
        while True:
            cell = rng.randrange(total)
            if taken[cell] or (width == 2 and (cell % _CELLS == _CELLS - 1 or taken[cell + 1])):
                continue
            break
        taken[cell : cell + width] = b"\x01" * width
        day_index, slot = divmod(cell, _CELLS)
        if day_index not in opening:
            opening[day_index] = day_start(days[day_index], where, _FIRST_HOUR)
        start = opening[day_index] + slot * _CELL
        end = start + event_type.length * 60
        created = min(
            start - rng.randint(1, 30) * 86_400 - rng.randint(0, 1439) * 60,
            now - rng.randint(1, 1439) * 60,
        )
        status = rng.choice(_STATUSES)
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        name = f"{first} {last}"
        email = f"{first}.{last}.{index}@example.com".lower()
        recurring = rng.random() < 0.1
        uid = "".join(rng.choices(_UID_ALPHABET, k=22))
        booking_id = 1000 + index
        body = _views.booking(
            booking_id=booking_id,
            uid=uid,
            title=f"{event_type.title} between {owner.name} and {name}",
            host=host,
            status=status,
            start=iso(start),
            end=iso(end),
            minutes=event_type.length,
            event_type_id=event_type.id,
            event_type_slug=event_type.slug,
            created=iso(created),
            attendee=attendee(name, email, rng),
            guests=[],
            responses={"name": name, "email": email},
        )
        if status == "cancelled":
            body["cancellationReason"] = "Cancelled by the attendee"
            body["cancelledByEmail"] = email
        if recurring:
            body["recurringBookingUid"] = "".join(rng.choices(_UID_ALPHABET, k=22))
        rows.append(
            BookingRow(
                uid,
                start,
                end,
                status,
                recurring,
                body,
                id=booking_id,
                host_id=owner.id,
                event_type_id=event_type.id,
                created=created,
                updated=created,
            )
        )
    data.booking_store.load(rows)
