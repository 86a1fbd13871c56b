"""Teams (the Teams tier): ``/v2/teams`` and their memberships; shared with the organization's
teams (:mod:`.organizations`).

The creator of a team becomes its ``OWNER``. Members see their teams; changing a team or its
memberships takes an ``OWNER`` or ``ADMIN`` membership, deleting a team an ``OWNER`` (403
otherwise).
"""

from __future__ import annotations

import re
from typing import Any

from .. import _views
from .._context import Context
from .._envelope import ApiError, Reply, success
from .._store.teams import ROLES, Membership, Team
from .._time import zone
from ._body import Body, path_id, read_body
from ._params import page

__all__ = [
    "add_membership",
    "create_membership",
    "create_team",
    "delete_membership",
    "delete_team",
    "get_membership",
    "get_team",
    "list_memberships",
    "list_teams",
    "membership_json",
    "membership_of",
    "memberships_page",
    "new_team",
    "one_membership",
    "require_role",
    "team_fields",
    "update_membership",
    "update_membership_fields",
    "update_team",
    "update_team_fields",
]

_STRINGS = (
    "slug",
    "logoUrl",
    "calVideoLogo",
    "appLogo",
    "appIconLogo",
    "bio",
    "theme",
    "brandColor",
    "darkBrandColor",
    "bannerUrl",
    "weekStart",
)
_BOOLEANS = ("hideBranding", "isPrivate", "hideBookATeamMember")
_MANAGERS = frozenset({"OWNER", "ADMIN"})


def _slugify(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "team"


def team_fields(body: Body, *, creating: bool) -> dict[str, Any]:
    """The settings of ``CreateTeamInput`` / ``UpdateOrgTeamDto`` given in ``body``."""
    fields: dict[str, Any] = {}
    name = body.string("name", required=creating)
    if name is not None:
        fields["name"] = name
    for key in _STRINGS:
        value = body.string(key, empty=True)
        if value is not None:
            fields[key] = value
    for key in _BOOLEANS:
        flag = body.boolean(key)
        if flag is not None:
            fields[key] = flag
    time_zone = body.string("timeZone")
    if time_zone is not None:
        zone(time_zone)
        fields["timeZone"] = time_zone
    time_format = body.choice("timeFormat", (12, 24))
    if time_format is not None:
        fields["timeFormat"] = time_format
    metadata = body.obj("metadata")
    if metadata is not None:
        fields["metadata"] = dict(metadata.raw)
    if creating:
        fields.setdefault("slug", _slugify(str(fields["name"])))
        defaults = {"hideBranding": False, "timeZone": "Europe/London", "weekStart": "Sunday"}
        fields = {**defaults, **fields}
    return fields


def _check_slug(ctx: Context, slug: str | None, parent: int | None, but: Team | None) -> None:
    if slug is None:
        return
    for team in ctx.state.data.teams.teams.values():
        if team is not but and team.parent_id == parent and team.fields.get("slug") == slug:
            raise ApiError(409, f"A team with the slug {slug!r} already exists")


async def new_team(ctx: Context, parent: int | None) -> Team:
    """Create a team (of organization ``parent``) from the body; the caller owns it."""
    user = ctx.require_user()
    body = await read_body(ctx)
    fields = team_fields(body, creating=True)
    accept = body.boolean("autoAcceptCreator")
    _check_slug(ctx, fields.get("slug"), parent, None)
    teams = ctx.state.data.teams
    team = teams.add_team(fields, parent_id=parent)
    teams.add_membership(team.id, user.id, role="OWNER", accepted=accept is not False)
    return team


def membership_of(ctx: Context, team: Team) -> Membership | None:
    """The caller's membership of ``team``."""
    return ctx.state.data.teams.membership(team.id, ctx.require_user().id)


def require_role(ctx: Context, team: Team, roles: frozenset[str] = _MANAGERS) -> None:
    """403 unless the caller's membership of ``team`` has one of ``roles``."""
    membership = membership_of(ctx, team)
    if membership is None or membership.role not in roles:
        raise ApiError(
            403, f"This needs a {' or '.join(sorted(roles))} membership of team {team.id}"
        )


def _team(ctx: Context) -> Team:
    team_id = path_id(ctx, "teamId")
    team = ctx.state.data.teams.teams.get(team_id)
    if team is None or team.is_organization:
        raise ApiError(404, f"Team with id={team_id} was not found")
    if membership_of(ctx, team) is None:
        raise ApiError(403, f"You are not a member of team {team_id}")
    return team


def update_team_fields(ctx: Context, team: Team, body: Body) -> None:
    """Apply an update body to ``team``."""
    fields = team_fields(body, creating=False)
    if "slug" in fields:
        _check_slug(ctx, fields["slug"], team.parent_id, team)
    team.fields.update(fields)


async def create_team(ctx: Context) -> Reply:
    """A new team; the caller is its owner (201)."""
    team = await new_team(ctx, None)
    return success(_views.team(team), status=201)


async def list_teams(ctx: Context) -> Reply:
    """The teams the caller is a member of."""
    data = ctx.state.data
    user = ctx.require_user()
    teams = [data.teams.teams.get(item.team_id) for item in data.teams.of_user(user.id)]
    return success([_views.team(team) for team in teams if team and not team.is_organization])


async def get_team(ctx: Context) -> Reply:
    """One of the caller's teams."""
    return success(_views.team(_team(ctx)))


async def update_team(ctx: Context) -> Reply:
    """Change a team (owner or admin)."""
    team = _team(ctx)
    require_role(ctx, team)
    update_team_fields(ctx, team, await read_body(ctx))
    return success(_views.team(team))


async def delete_team(ctx: Context) -> Reply:
    """Delete a team (owner)."""
    team = _team(ctx)
    require_role(ctx, team, frozenset({"OWNER"}))
    ctx.state.data.teams.remove_team(team)
    return success(_views.team(team))


# --- memberships -----------------------------------------------------------------------------


def membership_json(ctx: Context, item: Membership) -> dict[str, Any]:
    """``TeamMembershipOutput``."""
    return _views.membership(item, ctx.state.data.users.get(item.user_id))


async def add_membership(ctx: Context, team: Team, *, org_id: int | None = None) -> Membership:
    """A new membership of ``team`` from the body (the user must exist, and belong to
    organization ``org_id`` when given)."""
    body = await read_body(ctx)
    data = ctx.state.data
    user_id = body.integer("userId", required=True, minimum=1)
    assert user_id is not None
    role = body.choice("role", ROLES, required=org_id is not None) or "MEMBER"
    accepted = body.boolean("accepted") or False
    disable = body.boolean("disableImpersonation") or False
    if data.users.get(user_id) is None:
        raise ApiError(404, f"User with id={user_id} was not found")
    if org_id is not None and org_id != team.id and data.teams.membership(org_id, user_id) is None:
        raise ApiError(400, f"User {user_id} is not a user of organization {org_id}")
    if data.teams.membership(team.id, user_id) is not None:
        raise ApiError(409, f"User {user_id} is already a member of team {team.id}")
    return data.teams.add_membership(
        team.id, user_id, role=role, accepted=accepted, disable_impersonation=disable
    )


def one_membership(ctx: Context, team: Team) -> Membership:
    """The membership of the path (404 unless it is one of ``team``)."""
    membership_id = path_id(ctx, "membershipId")
    found = ctx.state.data.teams.memberships.get(membership_id)
    if found is None or found.team_id != team.id:
        raise ApiError(404, f"Membership with id={membership_id} was not found")
    return found


def update_membership_fields(item: Membership, body: Body) -> None:
    """Apply an update body to a membership."""
    role = body.choice("role", ROLES)
    accepted = body.boolean("accepted")
    disable = body.boolean("disableImpersonation")
    if role is not None:
        item.role = role
    if accepted is not None:
        item.accepted = accepted
    if disable is not None:
        item.disable_impersonation = disable


def memberships_page(ctx: Context, team: Team) -> list[Membership]:
    """A ``take``/``skip`` page of ``team``'s memberships."""
    skip, take = page(ctx.request.query, default=250, maximum=250)
    items = ctx.state.data.teams.of_team(team.id)
    return items[skip:] if take is None else items[skip : skip + take]


async def create_membership(ctx: Context) -> Reply:
    """Add a member (owner or admin; 201)."""
    team = _team(ctx)
    require_role(ctx, team)
    return success(membership_json(ctx, await add_membership(ctx, team)), status=201)


async def list_memberships(ctx: Context) -> Reply:
    """The team's memberships."""
    team = _team(ctx)
    return success([membership_json(ctx, item) for item in memberships_page(ctx, team)])


async def get_membership(ctx: Context) -> Reply:
    """One membership of the team."""
    team = _team(ctx)
    return success(membership_json(ctx, one_membership(ctx, team)))


async def update_membership(ctx: Context) -> Reply:
    """Change a membership (owner or admin)."""
    team = _team(ctx)
    require_role(ctx, team)
    item = one_membership(ctx, team)
    update_membership_fields(item, await read_body(ctx))
    return success(membership_json(ctx, item))


async def delete_membership(ctx: Context) -> Reply:
    """Remove a membership (owner or admin)."""
    team = _team(ctx)
    require_role(ctx, team)
    item = one_membership(ctx, team)
    del ctx.state.data.teams.memberships[item.id]
    return success(membership_json(ctx, item))
