"""Schedules (``cal-api-version: 2024-06-11``): the caller's, an organization user's, and the
lists of an organization's or a team's.

A schedule is weekly ``availability`` (days, ``HH:MM`` start and end) in a ``timeZone``, with
date ``overrides``. ``isDefault: true`` makes it the owner's default (the schedule of event types
that name none). The default schedule cannot be deleted (make another one the default first).
"""

from __future__ import annotations

from typing import Any

from .. import _views
from .._context import Context
from .._envelope import ApiError, Reply, encode, success
from .._seed import working_hours
from .._store.schedules import WEEKDAYS, Schedule
from .._store.users import User
from .._time import parse_day, zone
from ._body import Body, path_id, read_body
from ._params import page

__all__ = [
    "create_org_user_schedule",
    "create_schedule",
    "delete_org_user_schedule",
    "delete_schedule",
    "get_default_schedule",
    "get_org_user_schedule",
    "get_schedule",
    "list_org_schedules",
    "list_org_user_schedules",
    "list_schedules",
    "list_team_schedules",
    "update_org_user_schedule",
    "update_schedule",
]


def _window(item: Body) -> tuple[str, str]:
    start = item.time("startTime", required=True)
    end = item.time("endTime", required=True)
    assert start is not None and end is not None
    if end <= start:
        raise ApiError(400, "endTime must be after startTime")
    return start, end


def _availability(body: Body) -> list[dict[str, Any]] | None:
    items = body.objects("availability")
    if items is None:
        return None
    found = []
    for item in items:
        days = item.strings("days", required=True) or []
        wrong = [day for day in days if day not in WEEKDAYS]
        if not days or wrong:
            raise ApiError(400, f"days must be weekday names ({', '.join(WEEKDAYS)})")
        start, end = _window(item)
        found.append({"days": days, "startTime": start, "endTime": end})
    return found


def _overrides(body: Body) -> list[dict[str, Any]] | None:
    items = body.objects("overrides")
    if items is None:
        return None
    found = []
    for item in items:
        day = item.string("date", required=True)
        assert day is not None
        parse_day(day, field="overrides.date")
        start, end = _window(item)
        found.append({"date": day, "startTime": start, "endTime": end})
    return found


def _json(ctx: Context, schedule: Schedule) -> dict[str, Any]:
    owner = ctx.state.data.users.get(schedule.owner_id)
    return _views.schedule(schedule, owner.default_schedule_id if owner is not None else None)


async def _create(ctx: Context, owner: User) -> Reply:
    body = await read_body(ctx)
    name = body.string("name", required=True)
    time_zone = body.string("timeZone", required=True)
    is_default = body.boolean("isDefault", required=True)
    assert name is not None and time_zone is not None
    zone(time_zone)
    availability = _availability(body)
    schedule = ctx.state.data.schedules.add(
        owner.id,
        name,
        time_zone,
        availability if availability is not None else working_hours(),
        _overrides(body),
    )
    if is_default or owner.default_schedule_id is None:
        owner.default_schedule_id = schedule.id
    return success(_json(ctx, schedule), status=201)


def _update(ctx: Context, schedule: Schedule, owner: User, body: Body) -> Reply:
    name = body.string("name")
    time_zone = body.string("timeZone")
    if time_zone is not None:
        zone(time_zone)
    availability = _availability(body)
    overrides = _overrides(body)
    if body.boolean("isDefault"):
        owner.default_schedule_id = schedule.id
    if name is not None:
        schedule.name = name
    if time_zone is not None:
        schedule.time_zone = time_zone
    if availability is not None:
        schedule.availability = availability
    if overrides is not None:
        schedule.overrides = overrides
    return success(_json(ctx, schedule))


def _delete(ctx: Context, schedule: Schedule, owner: User) -> Reply:
    if owner.default_schedule_id == schedule.id:
        raise ApiError(400, "The default schedule cannot be deleted: make another one the default")
    data = ctx.state.data
    data.schedules.remove(schedule)
    for event_type in data.event_types.of(owner.id):
        if event_type.schedule_id == schedule.id:
            event_type.schedule_id = None
    return Reply(encode({"status": "success"}))


def _schedule_of(ctx: Context, owner: User) -> Schedule:
    schedule_id = path_id(ctx, "scheduleId")
    found = ctx.state.data.schedules.by_id.get(schedule_id)
    if found is None or found.owner_id != owner.id:
        raise ApiError(404, f"Schedule with id={schedule_id} was not found")
    return found


# --- the caller's schedules ------------------------------------------------------------------


async def create_schedule(ctx: Context) -> Reply:
    """A new schedule of the caller (201)."""
    return await _create(ctx, ctx.require_user())


async def list_schedules(ctx: Context) -> Reply:
    """The caller's schedules."""
    user = ctx.require_user()
    return success([_json(ctx, item) for item in ctx.state.data.schedules.of(user.id)])


async def get_default_schedule(ctx: Context) -> Reply:
    """The caller's default schedule."""
    user = ctx.require_user()
    found = ctx.state.data.schedules.by_id.get(user.default_schedule_id or 0)
    if found is None:
        raise ApiError(404, "You have no default schedule")
    return success(_json(ctx, found))


async def get_schedule(ctx: Context) -> Reply:
    """One of the caller's schedules."""
    return success(_json(ctx, _schedule_of(ctx, ctx.require_user())))


async def update_schedule(ctx: Context) -> Reply:
    """Change one of the caller's schedules."""
    user = ctx.require_user()
    return _update(ctx, _schedule_of(ctx, user), user, await read_body(ctx))


async def delete_schedule(ctx: Context) -> Reply:
    """Delete one of the caller's schedules."""
    user = ctx.require_user()
    return _delete(ctx, _schedule_of(ctx, user), user)


# --- an organization's and a team's ----------------------------------------------------------


def _org(ctx: Context) -> int:
    org_id = path_id(ctx, "orgId")
    if org_id != ctx.state.data.organization_id:
        raise ApiError(404, f"Organization with id={org_id} was not found")
    return org_id


def _org_user(ctx: Context) -> User:
    org_id = _org(ctx)
    user_id = path_id(ctx, "userId")
    data = ctx.state.data
    user = data.users.get(user_id)
    if user is None or data.teams.membership(org_id, user_id) is None:
        raise ApiError(404, f"User with id={user_id} is not a user of organization {org_id}")
    return user


def _listing(ctx: Context, owners: list[int]) -> Reply:
    skip, take = page(ctx.request.query, default=None, maximum=250)
    schedules = [item for owner in owners for item in ctx.state.data.schedules.of(owner)]
    chunk = schedules[skip:] if take is None else schedules[skip : skip + take]
    return success([_json(ctx, item) for item in chunk])


async def list_org_schedules(ctx: Context) -> Reply:
    """The schedules of every user of the organization."""
    org_id = _org(ctx)
    return _listing(ctx, [user.id for user in ctx.state.data.org_members(org_id)])


async def list_team_schedules(ctx: Context) -> Reply:
    """The schedules of a team's members."""
    team_id = path_id(ctx, "teamId")
    data = ctx.state.data
    if team_id not in data.teams.teams:
        raise ApiError(404, f"Team with id={team_id} was not found")
    return _listing(ctx, [item.user_id for item in data.teams.of_team(team_id)])


async def create_org_user_schedule(ctx: Context) -> Reply:
    """A new schedule of an organization user (201)."""
    return await _create(ctx, _org_user(ctx))


async def list_org_user_schedules(ctx: Context) -> Reply:
    """An organization user's schedules."""
    user = _org_user(ctx)
    return success([_json(ctx, item) for item in ctx.state.data.schedules.of(user.id)])


async def get_org_user_schedule(ctx: Context) -> Reply:
    """One schedule of an organization user."""
    return success(_json(ctx, _schedule_of(ctx, _org_user(ctx))))


async def update_org_user_schedule(ctx: Context) -> Reply:
    """Change a schedule of an organization user."""
    user = _org_user(ctx)
    return _update(ctx, _schedule_of(ctx, user), user, await read_body(ctx))


async def delete_org_user_schedule(ctx: Context) -> Reply:
    """Delete a schedule of an organization user."""
    user = _org_user(ctx)
    return _delete(ctx, _schedule_of(ctx, user), user)
