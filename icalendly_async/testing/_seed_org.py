"""Seeded routing forms (with responses) and out-of-office entries of the organization.

Each draws from its own ``random.Random`` seeded with the emulator's seed, so adding them left
the rest of the seeded world as it was.
"""

from __future__ import annotations

import random
import uuid
from typing import TYPE_CHECKING

from ._store.out_of_office import REASONS, OutOfOffice
from ._store.routing_forms import RoutingForm

if TYPE_CHECKING:
    from ._data import DataStore

__all__ = ["seed_out_of_office", "seed_routing_forms"]

_ORG_FORMS = ("Sales inquiry", "Support triage")
_QUESTIONS = (("company", "Company"), ("size", "Team size"), ("topic", "What is it about?"))
_ANSWERS = ("Acme", "Globex", "Initech", "1-10", "11-50", "51-200", "pricing", "demo", "billing")


def seed_routing_forms(data: DataStore) -> None:
    """Forms of the organization (two) and of each of its teams (one each), with responses
    routed to the owner's bookings; the same for the same seed."""
    rng = random.Random(f"{data.seed}/routing-forms")
    anchor = data.anchor.timestamp()
    org_id = data.organization_id
    owner_id = 1
    uids = [row.uid for row in data.booking_store.rows]
    homes: list[tuple[str, int | None]] = [(name, None) for name in _ORG_FORMS]
    homes += [(f"{team.name} intake", team.id) for team in data.teams.children(org_id)]
    for position, (name, team_id) in enumerate(homes):
        created = anchor - rng.randint(30, 200) * 86_400.0
        form = data.routing_forms.add_form(
            RoutingForm(
                id=str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                org_id=org_id,
                name=name,
                user_id=owner_id,
                created=created,
                updated=created + rng.randint(0, 20) * 86_400.0,
                team_id=team_id,
                description=f"Routes {name.lower()} requests to the right people",
                position=position,
                settings={"emailOwnerOnSubmission": rng.random() < 0.5},
            )
        )
        fields = {key: str(uuid.UUID(int=rng.getrandbits(128), version=4)) for key, _ in _QUESTIONS}
        for _ in range(rng.randint(8, 25)):
            answers = {
                fields[key]: {"label": label, "value": rng.choice(_ANSWERS)}
                for key, label in _QUESTIONS
            }
            moment = anchor - rng.randint(60, 29 * 86_400)
            row = data.routing_forms.add_response(
                form,
                filler_id=str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                routed_to=rng.choice(uids) if uids else _uid(rng),
                response=answers,
                moment=moment,
            )
            if rng.random() < 0.3:
                row.updated = min(anchor - 30, moment + rng.randint(60, 86_400))


def _uid(rng: random.Random) -> str:
    alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
    return "".join(rng.choices(alphabet, k=22))


_NOTES = ("Vacation", "Conference", "Family matters", None)


def seed_out_of_office(data: DataStore) -> None:
    """Zero to two entries per user of the organization; the same for the same seed."""
    rng = random.Random(f"{data.seed}/out-of-office")
    anchor = data.anchor.timestamp()
    members = [user.id for user in data.org_members(data.organization_id)]
    store = data.out_of_office
    for user_id in members:
        day = anchor + rng.randint(-60, 0) * 86_400.0
        for _ in range(rng.randint(0, 2)):
            day += rng.randint(5, 40) * 86_400.0
            end = day + rng.randint(1, 10) * 86_400.0 - 1
            others = [other for other in members if other != user_id]
            store.add(
                OutOfOffice(
                    store.new_id(),
                    str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                    user_id,
                    day,
                    end,
                    reason=rng.choice(REASONS),
                    notes=rng.choice(_NOTES),
                    to_user_id=rng.choice(others) if others and rng.random() < 0.5 else None,
                )
            )
            day = end + 1
