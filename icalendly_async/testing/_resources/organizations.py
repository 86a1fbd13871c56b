"""The organization (the Organizations tier): its teams and their memberships, its memberships,
its users.

There is one organization (``emu.data.organization_id``); another id is a 404. Its users (with
a membership, or managed users of its OAuth clients) may read its teams and memberships; its
admins (an ``OWNER`` or ``ADMIN`` membership; the emulator's owner is one) change them and manage
its users. A new organization user gets
a membership (``organizationRole``, accepted unless ``autoAccept`` is false) and a default
schedule.
"""

from __future__ import annotations

from typing import Any

from .. import _views
from .._context import Context
from .._data import OWNER_ID
from .._envelope import ApiError, Reply, success
from .._store.teams import ROLES, Team
from .._store.users import User
from .._time import zone
from . import teams as _teams
from ._body import path_id, read_body
from ._params import integer, list_values
from ._users import update_profile

__all__ = [
    "org_of",
    "create_org_membership",
    "create_org_team",
    "create_org_team_membership",
    "create_org_user",
    "delete_org_membership",
    "delete_org_team",
    "delete_org_team_membership",
    "delete_org_user",
    "get_org_membership",
    "get_org_team",
    "get_org_team_membership",
    "list_my_org_teams",
    "list_org_memberships",
    "list_org_team_memberships",
    "list_org_users",
    "list_teams",
    "update_org_membership",
    "update_org_team",
    "update_org_team_membership",
    "update_org_user",
]

_ADMINS = frozenset({"OWNER", "ADMIN"})


def org_of(ctx: Context, *, admin: bool = True) -> Team:
    """The organization of the path; the caller must be one of its users (its managed users
    count), and for ``admin`` one of its admins."""
    org_id = path_id(ctx, "orgId")
    data = ctx.state.data
    org = data.teams.teams.get(org_id)
    if org is None or not org.is_organization:
        raise ApiError(404, f"Organization with id={org_id} was not found")
    user = ctx.require_user()
    membership = data.teams.membership(org_id, user.id)
    if membership is None and user.organization_id != org_id:
        raise ApiError(403, f"You are not a user of organization {org_id}")
    if admin and (membership is None or membership.role not in _ADMINS):
        raise ApiError(403, f"This needs an ADMIN or OWNER membership of organization {org_id}")
    return org


def _org_team(ctx: Context, *, admin: bool = True) -> Team:
    org = org_of(ctx, admin=admin)
    team_id = path_id(ctx, "teamId")
    team = ctx.state.data.teams.teams.get(team_id)
    if team is None or team.parent_id != org.id:
        raise ApiError(404, f"Team with id={team_id} was not found in organization {org.id}")
    return team


# --- teams -----------------------------------------------------------------------------------


async def list_teams(ctx: Context) -> Reply:
    """The organization's teams (the document gives this list no paging parameters)."""
    org = org_of(ctx, admin=False)
    return success([_views.team(team) for team in ctx.state.data.teams.children(org.id)])


async def list_my_org_teams(ctx: Context) -> Reply:
    """The organization's teams the caller is a member of."""
    org = org_of(ctx, admin=False)
    data = ctx.state.data
    mine = {item.team_id for item in data.teams.of_user(ctx.require_user().id)}
    return success([_views.team(team) for team in data.teams.children(org.id) if team.id in mine])


async def create_org_team(ctx: Context) -> Reply:
    """A new team of the organization (201)."""
    org = org_of(ctx)
    team = await _teams.new_team(ctx, org.id)
    return success(_views.team(team), status=201)


async def get_org_team(ctx: Context) -> Reply:
    """One team of the organization."""
    return success(_views.team(_org_team(ctx, admin=False)))


async def update_org_team(ctx: Context) -> Reply:
    """Change a team of the organization."""
    team = _org_team(ctx)
    _teams.update_team_fields(ctx, team, await read_body(ctx))
    return success(_views.team(team))


async def delete_org_team(ctx: Context) -> Reply:
    """Delete a team of the organization."""
    team = _org_team(ctx)
    ctx.state.data.teams.remove_team(team)
    return success(_views.team(team))


async def list_org_team_memberships(ctx: Context) -> Reply:
    """The memberships of a team of the organization."""
    team = _org_team(ctx, admin=False)
    items = _teams.memberships_page(ctx, team)
    return success([_teams.membership_json(ctx, item) for item in items])


async def create_org_team_membership(ctx: Context) -> Reply:
    """Add a user of the organization to one of its teams (201)."""
    team = _org_team(ctx)
    assert team.parent_id is not None
    item = await _teams.add_membership(ctx, team, org_id=team.parent_id)
    return success(_teams.membership_json(ctx, item), status=201)


async def get_org_team_membership(ctx: Context) -> Reply:
    """One membership of a team of the organization."""
    team = _org_team(ctx, admin=False)
    return success(_teams.membership_json(ctx, _teams.one_membership(ctx, team)))


async def update_org_team_membership(ctx: Context) -> Reply:
    """Change a membership of a team of the organization."""
    team = _org_team(ctx)
    item = _teams.one_membership(ctx, team)
    _teams.update_membership_fields(item, await read_body(ctx))
    return success(_teams.membership_json(ctx, item))


async def delete_org_team_membership(ctx: Context) -> Reply:
    """Remove a membership of a team of the organization."""
    team = _org_team(ctx)
    item = _teams.one_membership(ctx, team)
    del ctx.state.data.teams.memberships[item.id]
    return success(_teams.membership_json(ctx, item))


# --- the organization's memberships ----------------------------------------------------------


def _org_membership_json(ctx: Context, item: Any) -> dict[str, Any]:
    return _views.org_membership(item, ctx.state.data.users.get(item.user_id))


async def list_org_memberships(ctx: Context) -> Reply:
    """The organization's memberships."""
    org = org_of(ctx, admin=False)
    items = _teams.memberships_page(ctx, org)
    return success([_org_membership_json(ctx, item) for item in items])


async def create_org_membership(ctx: Context) -> Reply:
    """Add an existing user to the organization (201)."""
    org = org_of(ctx)
    item = await _teams.add_membership(ctx, org, org_id=org.id)
    return success(_org_membership_json(ctx, item), status=201)


async def get_org_membership(ctx: Context) -> Reply:
    """One membership of the organization."""
    org = org_of(ctx, admin=False)
    return success(_org_membership_json(ctx, _teams.one_membership(ctx, org)))


async def update_org_membership(ctx: Context) -> Reply:
    """Change a membership of the organization."""
    org = org_of(ctx)
    item = _teams.one_membership(ctx, org)
    _teams.update_membership_fields(item, await read_body(ctx))
    return success(_org_membership_json(ctx, item))


async def delete_org_membership(ctx: Context) -> Reply:
    """Remove a membership of the organization."""
    org = org_of(ctx)
    item = _teams.one_membership(ctx, org)
    del ctx.state.data.teams.memberships[item.id]
    return success(_org_membership_json(ctx, item))


# --- the organization's users ----------------------------------------------------------------


def _user_json(ctx: Context, org: Team, user: User) -> dict[str, Any]:
    membership = ctx.state.data.teams.membership(org.id, user.id)
    return _views.org_user(user, org.id, membership.id if membership is not None else user.id)


def _org_user(ctx: Context, org: Team) -> User:
    user_id = path_id(ctx, "userId")
    data = ctx.state.data
    user = data.users.get(user_id)
    if user is None or data.teams.membership(org.id, user_id) is None:
        raise ApiError(404, f"User with id={user_id} is not a user of organization {org.id}")
    return user


async def list_org_users(ctx: Context) -> Reply:
    """The organization's users (``take``/``skip``, ``emails``, ``teamIds``)."""
    org = org_of(ctx)
    query = ctx.request.query
    data = ctx.state.data
    users = [user for user in data.org_members(org.id) if user.client_id is None]
    emails = {email.lower() for email in list_values(query, "emails")}
    if emails:
        users = [user for user in users if user.email.lower() in emails]
    team_ids = list_values(query, "teamIds")
    if team_ids:
        if not all(value.isdigit() for value in team_ids):
            raise ApiError(400, "teamIds must be whole numbers")
        wanted = {int(value) for value in team_ids}
        users = [
            user
            for user in users
            if any(item.team_id in wanted for item in data.teams.of_user(user.id))
        ]
    take = integer(query, "take", None, minimum=1, maximum=1000)
    skip = integer(query, "skip", 0, minimum=0) or 0
    chunk = users[skip:] if take is None else users[skip : skip + take]
    return success([_user_json(ctx, org, user) for user in chunk])


async def create_org_user(ctx: Context) -> Reply:
    """A new user of the organization, with a membership and a default schedule (201)."""
    org = org_of(ctx)
    body = await read_body(ctx)
    data = ctx.state.data
    email = body.string("email", required=True)
    assert email is not None
    if "@" not in email:
        raise ApiError(400, "email must be an email address")
    username = body.string("username") or email.split("@", 1)[0].lower()
    time_zone = body.string("timeZone") or "Europe/London"
    zone(time_zone)
    role = body.choice("organizationRole", ROLES) or "MEMBER"
    accept = body.boolean("autoAccept")
    data.users.check_free(email, username)
    user = data.add_user(
        email=email,
        username=username,
        name=body.string("name") or username,
        time_zone=time_zone,
        organization_id=org.id,
    )
    update_profile(data, user, body)
    data.teams.add_membership(org.id, user.id, role=role, accepted=accept is not False)
    return success(_user_json(ctx, org, user), status=201)


async def update_org_user(ctx: Context) -> Reply:
    """Change a user of the organization."""
    org = org_of(ctx)
    user = _org_user(ctx, org)
    update_profile(ctx.state.data, user, await read_body(ctx))
    return success(_user_json(ctx, org, user))


async def delete_org_user(ctx: Context) -> Reply:
    """Delete a user of the organization (its bookings stay)."""
    org = org_of(ctx)
    user = _org_user(ctx, org)
    if user.id == ctx.require_user().id:
        raise ApiError(400, "You cannot delete yourself")
    if user.id == OWNER_ID:
        raise ApiError(403, "The account owner cannot be deleted")
    body = _user_json(ctx, org, user)
    ctx.state.data.remove_user(user)
    return success(body)
