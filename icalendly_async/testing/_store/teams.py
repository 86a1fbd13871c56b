"""Teams, the organization (a team with ``isOrganization``), and memberships of both."""

from __future__ import annotations

from typing import Any

import attrs

__all__ = ["ROLES", "Membership", "Team", "TeamStore"]

ROLES = ("MEMBER", "ADMIN", "OWNER")


@attrs.define(eq=False)
class Team:
    """A team (``parent_id``: its organization) or the organization itself. ``fields`` holds
    the team's settings as the API writes them (``name``, ``slug``, ``bio``, ...)."""

    id: int
    fields: dict[str, Any]
    parent_id: int | None = None
    is_organization: bool = False

    @property
    def name(self) -> str:
        return str(self.fields.get("name", ""))


@attrs.define(eq=False)
class Membership:
    """A user's membership of a team or of the organization."""

    id: int
    team_id: int
    user_id: int
    role: str = "MEMBER"
    accepted: bool = False
    disable_impersonation: bool = False


class TeamStore:
    """Every team and membership."""

    def __init__(self) -> None:
        self.teams: dict[int, Team] = {}
        self.memberships: dict[int, Membership] = {}
        self._next_team = 1
        self._next_membership = 1

    def add_team(
        self,
        fields: dict[str, Any],
        *,
        parent_id: int | None = None,
        is_organization: bool = False,
        team_id: int | None = None,
    ) -> Team:
        """A new team (``team_id`` if given, else the next free id)."""
        if team_id is None:
            while self._next_team in self.teams:
                self._next_team += 1
            team_id = self._next_team
        team = Team(team_id, fields, parent_id, is_organization)
        self.teams[team_id] = team
        return team

    def remove_team(self, team: Team) -> None:
        """Forget ``team`` and its memberships."""
        self.teams.pop(team.id, None)
        for membership in self.of_team(team.id):
            del self.memberships[membership.id]

    def children(self, org_id: int) -> list[Team]:
        """The teams of organization ``org_id``, by id."""
        return sorted(
            (team for team in self.teams.values() if team.parent_id == org_id),
            key=lambda team: team.id,
        )

    def add_membership(
        self,
        team_id: int,
        user_id: int,
        *,
        role: str = "MEMBER",
        accepted: bool = False,
        disable_impersonation: bool = False,
    ) -> Membership:
        """A new membership."""
        while self._next_membership in self.memberships:
            self._next_membership += 1
        membership = Membership(
            self._next_membership, team_id, user_id, role, accepted, disable_impersonation
        )
        self.memberships[membership.id] = membership
        return membership

    def of_team(self, team_id: int) -> list[Membership]:
        """The memberships of ``team_id``, by id."""
        return sorted(
            (item for item in self.memberships.values() if item.team_id == team_id),
            key=lambda item: item.id,
        )

    def of_user(self, user_id: int) -> list[Membership]:
        """The memberships of ``user_id``, by id."""
        return sorted(
            (item for item in self.memberships.values() if item.user_id == user_id),
            key=lambda item: item.id,
        )

    def membership(self, team_id: int, user_id: int) -> Membership | None:
        """``user_id``'s membership of ``team_id``."""
        for item in self.memberships.values():
            if item.team_id == team_id and item.user_id == user_id:
                return item
        return None

    def remove_user(self, user_id: int) -> None:
        """Forget every membership of ``user_id``."""
        for membership in self.of_user(user_id):
            del self.memberships[membership.id]
