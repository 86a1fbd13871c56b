"""The emulator's data: one account (the owner of the API keys), its organization and teams,
seeded bookings, and the platform's managed users.

Everything is drawn from ``random.Random(seed)``: the same seed gives the same ids, uids,
names, statuses and offsets. Booking times are offsets from ``anchor`` (the emulator uses the
UTC midnight of the day it was created), so that ``upcoming`` and ``past`` mean something.
Bodies follow the document's schemas (``MeOutput``, ``BookingOutput_2024_08_13``,
``RecurringBookingOutput_2024_08_13``, ``OrgTeamOutputDto``, ``ManagedUserOutput``).
"""

from __future__ import annotations

import random
import string
from datetime import datetime, timedelta, timezone
from typing import Any

import attrs

from ..plans import Plan
from ._envelope import encode

__all__ = ["BookingRow", "DataStore"]

JSONObject = dict[str, Any]

OWNER_ID = 1
ORGANIZATION_ID = 100

_FIRST = (
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
_LAST = (
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
_ZONES = (
    "Europe/London",
    "America/New_York",
    "America/Los_Angeles",
    "Europe/Berlin",
    "Asia/Tokyo",
    "Australia/Sydney",
)
# (id, slug, title, minutes)
_EVENT_TYPES = (
    (11, "intro-call", "Intro Call", 15),
    (12, "30min", "30 Min Meeting", 30),
    (13, "consultation", "Consultation", 60),
    (14, "coffee-chat", "Coffee Chat", 20),
)
_STATUSES = ("accepted",) * 14 + ("pending",) * 3 + ("cancelled",) * 2 + ("rejected",)
_TEAM_NAMES = ("Sales", "Support", "Engineering", "Success", "Marketing")
_UID_ALPHABET = string.ascii_letters + string.digits


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


@attrs.define(slots=True)
class BookingRow:
    """A booking and what the filters need, without parsing its body."""

    uid: str
    start: float  # epoch seconds
    end: float
    status: str
    recurring: bool
    data: JSONObject
    encoded: bytes | None = None

    def json(self) -> bytes:
        """The encoded body (cached; set ``encoded`` to ``None`` after changing ``data``)."""
        if self.encoded is None:
            self.encoded = encode(self.data)
        return self.encoded


class DataStore:
    """The seeded state the resources read (and, later, change)."""

    def __init__(self, *, seed: int, bookings: int, anchor: datetime) -> None:
        self.seed = seed
        self.anchor = anchor
        self.owner: JSONObject = {
            "id": OWNER_ID,
            "username": "owner",
            "email": "owner@example.com",
            "timeFormat": 24,
            "defaultScheduleId": 1,
            "weekStart": "Monday",
            "timeZone": "Europe/London",
            "organizationId": ORGANIZATION_ID,
        }
        self.organization_id = ORGANIZATION_ID
        self.teams: list[JSONObject] = [
            {
                "id": 201 + index,
                "parentId": ORGANIZATION_ID,
                "name": name,
                "slug": name.lower(),
                "bio": f"The {name} team",
                "hideBranding": False,
                "isOrganization": False,
                "isPrivate": False,
                "hideBookATeamMember": False,
                "metadata": {},
                "timeFormat": 24,
                "timeZone": "Europe/London",
                "weekStart": "Monday",
            }
            for index, name in enumerate(_TEAM_NAMES)
        ]
        self.bookings: list[BookingRow] = self._seed_bookings(random.Random(seed), bookings)
        self.bookings_by_uid: dict[str, BookingRow] = {row.uid: row for row in self.bookings}
        self.managed_users: dict[int, JSONObject] = {}
        self.users_of_client: dict[str, list[int]] = {}
        self._user_rng = random.Random(f"{seed}/managed-users")
        self._next_user_id = 5001

    # --- users -----------------------------------------------------------------------------

    def me(self, user_id: int | None, plan: Plan | None) -> JSONObject:
        """``MeOutput`` of the owner (as seen on ``plan``) or of a managed user."""
        if user_id is not None and user_id in self.managed_users:
            user = self.managed_users[user_id]
            return {
                "id": user["id"],
                "username": user["username"],
                "email": user["email"],
                "timeFormat": user["timeFormat"],
                "defaultScheduleId": user["defaultScheduleId"],
                "weekStart": user["weekStart"],
                "timeZone": user["timeZone"],
                "organizationId": ORGANIZATION_ID,
                "organization": {"isPlatform": True, "id": ORGANIZATION_ID},
            }
        me = dict(self.owner)
        if plan is Plan.TEAMS:
            me["organizationId"] = None
        else:
            me["organization"] = {"isPlatform": plan is Plan.PLATFORM, "id": ORGANIZATION_ID}
        return me

    def add_managed_user(self, client_id: str, user_id: int | None = None) -> JSONObject:
        """A new managed user of ``client_id`` (drawn from the seed; ``user_id`` if given)."""
        rng = self._user_rng
        if user_id is None:
            while self._next_user_id in self.managed_users:
                self._next_user_id += 1
            user_id = self._next_user_id
            self._next_user_id += 1
        first, last = rng.choice(_FIRST), rng.choice(_LAST)
        username = f"{first}-{last}-{user_id}".lower()
        user: JSONObject = {
            "id": user_id,
            "email": f"{username}@managed.example.com",
            "username": username,
            "name": f"{first} {last}",
            "bio": None,
            "timeZone": rng.choice(_ZONES),
            "weekStart": "Sunday",
            "createdDate": _iso(self.anchor - timedelta(days=rng.randint(1, 400))),
            "timeFormat": rng.choice((12, 24)),
            "defaultScheduleId": None,
            "locale": "en",
            "avatarUrl": None,
            "metadata": {},
        }
        self.managed_users[user_id] = user
        self.users_of_client.setdefault(client_id, []).append(user_id)
        return user

    def is_user_of(self, client_id: str, user_id: int) -> bool:
        """Whether ``user_id`` is a managed user of ``client_id``."""
        return user_id in self.users_of_client.get(client_id, ())

    # --- bookings --------------------------------------------------------------------------

    def _seed_bookings(self, rng: random.Random, count: int) -> list[BookingRow]:
        host = {
            "id": OWNER_ID,
            "name": "Owner",
            "email": self.owner["email"],
            "username": self.owner["username"],
            "timeZone": self.owner["timeZone"],
        }
        rows = []
        for index in range(count):
            uid = "".join(rng.choices(_UID_ALPHABET, k=22))
            event_id, slug, title, minutes = rng.choice(_EVENT_TYPES)
            start = self.anchor + timedelta(
                days=rng.randint(-45, 45), hours=rng.randint(7, 17), minutes=rng.choice((0, 30))
            )
            end = start + timedelta(minutes=minutes)
            created = start - timedelta(days=rng.randint(1, 30), minutes=rng.randint(0, 1439))
            status = rng.choice(_STATUSES)
            first, last = rng.choice(_FIRST), rng.choice(_LAST)
            name = f"{first} {last}"
            email = f"{first}.{last}.{index}@example.com".lower()
            zone = rng.choice(_ZONES)
            recurring = rng.random() < 0.1
            data: JSONObject = {
                "id": 1000 + index,
                "uid": uid,
                "title": f"{title} between Owner and {name}",
                "description": "",
                "hosts": [host],
                "status": status,
                "start": _iso(start),
                "end": _iso(end),
                "duration": minutes,
                "eventTypeId": event_id,
                "eventType": {"id": event_id, "slug": slug},
                "location": f"https://app.icalendly.com/video/{uid}",
                "absentHost": False,
                "createdAt": _iso(created),
                "updatedAt": _iso(created),
                "metadata": {},
                "icsUid": f"{uid}@icalendly.com",
                "attendees": [
                    {
                        "name": name,
                        "email": email,
                        "timeZone": zone,
                        "language": "en",
                        "absent": False,
                    }
                ],
                "guests": [],
                "bookingFieldsResponses": {"name": name, "email": email},
            }
            if status == "cancelled":
                data["cancellationReason"] = "Cancelled by the attendee"
                data["cancelledByEmail"] = email
            if recurring:
                data["recurringBookingUid"] = "".join(rng.choices(_UID_ALPHABET, k=22))
            rows.append(
                BookingRow(uid, start.timestamp(), end.timestamp(), status, recurring, data)
            )
        rows.sort(key=lambda row: (row.start, row.data["id"]))
        return rows

    @staticmethod
    def default_anchor() -> datetime:
        """UTC midnight of today."""
        now = datetime.now(timezone.utc)
        return now.replace(hour=0, minute=0, second=0, microsecond=0)
