"""The emulator's data: users, schedules, event types, bookings, teams, webhooks, reservations,
routing forms and their responses, out-of-office entries.

:class:`DataStore` holds one store per resource (:mod:`._store`) and the few operations that
span several of them (a new user gets a default schedule; a managed user belongs to an OAuth
client). Everything seeded is drawn from ``random.Random`` seeded with ``seed`` (see
:mod:`._seed`): the same seed gives the same ids, uids, names, statuses and times. Booking
times are offsets from ``anchor`` (the emulator uses the UTC midnight of the day it was
created), so that ``upcoming`` and ``past`` mean something.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone
from typing import Any

from ..plans import Plan
from . import _views
from ._seed import FIRST_NAMES, LAST_NAMES, ZONES, seed_world, working_hours
from ._seed_org import seed_out_of_office, seed_routing_forms
from ._store.bookings import BookingRow, BookingStore
from ._store.event_types import EventTypeStore
from ._store.out_of_office import OutOfOfficeStore
from ._store.reservations import ReservationStore
from ._store.routing_forms import RoutingFormStore
from ._store.schedules import ScheduleStore
from ._store.teams import TeamStore
from ._store.users import User, UserStore
from ._store.webhooks import SubscriptionStore
from ._time import iso

__all__ = ["ORGANIZATION_ID", "OWNER_ID", "BookingRow", "DataStore"]

JSONObject = dict[str, Any]

OWNER_ID = 1
ORGANIZATION_ID = 100


class DataStore:
    """Everything the resources read and change."""

    def __init__(self, *, seed: int, bookings: int, anchor: datetime) -> None:
        self.seed = seed
        self.anchor = anchor
        self.organization_id = ORGANIZATION_ID
        self.users = UserStore()
        self.schedules = ScheduleStore()
        self.event_types = EventTypeStore()
        self.booking_store = BookingStore()
        self.teams = TeamStore()
        self.subscriptions = SubscriptionStore()
        self.reservations = ReservationStore()
        self.routing_forms = RoutingFormStore()
        self.out_of_office = OutOfOfficeStore()
        self.users_of_client: dict[str, list[int]] = {}
        self.client_profiles: dict[str, JSONObject] = {}
        # who manages each OAuth client (the user whose API key made it); missing: the owner
        self.client_owners: dict[str, int] = {}
        self._user_rng = random.Random(f"{seed}/managed-users")
        self._next_managed_id = 5001
        seed_world(self, bookings)
        seed_routing_forms(self)
        seed_out_of_office(self)

    def __repr__(self) -> str:
        return (
            f"<DataStore seed={self.seed} users={len(self.users)} "
            f"bookings={len(self.booking_store)}>"
        )

    # --- compatibility views ---------------------------------------------------------------

    @property
    def owner(self) -> User:
        """The account owner: the user of the emulator's API keys."""
        user = self.users.get(OWNER_ID)
        assert user is not None
        return user

    @property
    def bookings(self) -> list[BookingRow]:
        """Every booking, by start (read-only: change them through the API)."""
        return self.booking_store.rows

    @property
    def bookings_by_uid(self) -> dict[str, BookingRow]:
        """Every booking by uid."""
        return self.booking_store.by_uid

    # --- users -----------------------------------------------------------------------------

    def me(self, user_id: int | None, plan: Plan | None) -> JSONObject:
        """``MeOutput`` of ``user_id`` (``None``: the owner) as seen on ``plan``."""
        user = self.users.get(user_id if user_id is not None else OWNER_ID) or self.owner
        return _views.me(user, plan)

    def add_user(
        self,
        *,
        email: str,
        username: str,
        name: str,
        time_zone: str = "Europe/London",
        user_id: int | None = None,
        organization_id: int | None = None,
        client_id: str | None = None,
        created: str | None = None,
        **fields: Any,
    ) -> User:
        """A new user with a default schedule (weekdays 09:00-17:00 in ``time_zone``)."""
        user = User(
            id=user_id if user_id is not None else self.users.new_id(),
            email=email,
            username=username,
            name=name,
            time_zone=time_zone,
            created=created or iso(self.anchor.timestamp()),
            organization_id=organization_id,
            client_id=client_id,
            **fields,
        )
        self.users.add(user)
        schedule = self.schedules.add(user.id, "Working hours", time_zone, working_hours())
        user.default_schedule_id = schedule.id
        return user

    def add_managed_user(self, client_id: str, user_id: int | None = None, **fields: Any) -> User:
        """A new managed user of ``client_id``: drawn from the seed, or from ``fields``
        (``email``, ``name``, ``time_zone``, ...); ``user_id`` if given."""
        rng = self._user_rng
        if user_id is None:
            while self._next_managed_id in self.users.by_id:
                self._next_managed_id += 1
            user_id = self._next_managed_id
            self._next_managed_id += 1
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        zone = rng.choice(ZONES)
        created = self.anchor - timedelta(days=rng.randint(1, 400))
        time_format = rng.choice((12, 24))
        name = fields.pop("name", None) or f"{first} {last}"
        email = fields.pop("email", None) or f"{first}-{last}-{user_id}@managed.example.com".lower()
        username = f"{first}-{last}-{user_id}".lower()
        user = self.add_user(
            email=email,
            username=username,
            name=name,
            time_zone=fields.pop("time_zone", None) or zone,
            user_id=user_id,
            organization_id=ORGANIZATION_ID,
            client_id=client_id,
            created=iso(created.timestamp()),
            week_start=fields.pop("week_start", None) or "Sunday",
            time_format=fields.pop("time_format", None) or time_format,
            **fields,
        )
        self.users_of_client.setdefault(client_id, []).append(user.id)
        return user

    def is_user_of(self, client_id: str, user_id: int) -> bool:
        """Whether ``user_id`` is a managed user of ``client_id``."""
        return user_id in self.users_of_client.get(client_id, ())

    def remove_user(self, user: User) -> None:
        """Forget ``user``, its memberships, schedules and event types (bookings stay)."""
        self.users.remove(user)
        self.teams.remove_user(user.id)
        for schedule in self.schedules.of(user.id):
            self.schedules.remove(schedule)
        for event_type in self.event_types.of(user.id):
            self.event_types.remove(event_type)
        if user.client_id is not None:
            users = self.users_of_client.get(user.client_id, [])
            if user.id in users:
                users.remove(user.id)

    def org_members(self, org_id: int) -> list[User]:
        """The users with a membership of organization ``org_id``, by id."""
        found = []
        for item in self.teams.of_team(org_id):
            user = self.users.get(item.user_id)
            if user is not None:
                found.append(user)
        return sorted(found, key=lambda user: user.id)

    @staticmethod
    def default_anchor() -> datetime:
        """UTC midnight of today."""
        now = datetime.now(timezone.utc)
        return now.replace(hour=0, minute=0, second=0, microsecond=0)
