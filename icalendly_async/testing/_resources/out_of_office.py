"""Out-of-office entries of the organization's users (the Organizations tier).

The organization's list (``email`` narrows it to one user) and one user's list take ``take``
(default 100, at most 250) and ``skip``, ordered by ``sortStart`` or ``sortEnd`` (default: by
id). Admins create, change and delete entries; ``end`` must come after ``start``, an entry may
not overlap another of the same user, and ``toUserId`` (who covers) must be another user of the
organization. The document gives these answers no schema (``data: {}``); the emulator sends what
the service does: ``{id, uuid, userId, toUserId, start, end, notes, reason}``.
"""

from __future__ import annotations

import uuid
from typing import Any

from .._context import Context
from .._envelope import ApiError, Reply, success
from .._store.out_of_office import REASONS, OutOfOffice
from .._store.users import User
from .._time import iso, parse_instant
from ._body import Body, path_id, read_body
from ._params import page
from .organizations import org_of

__all__ = [
    "create_user_ooo",
    "delete_user_ooo",
    "list_org_ooo",
    "list_user_ooo",
    "update_user_ooo",
]

JSONObject = dict[str, Any]
_SORTS = ("sortStart", "sortEnd")


def ooo_view(entry: OutOfOffice) -> JSONObject:
    """One entry as the service writes it."""
    return {
        "id": entry.id,
        "uuid": entry.uuid,
        "userId": entry.user_id,
        "toUserId": entry.to_user_id,
        "start": iso(entry.start),
        "end": iso(entry.end),
        "notes": entry.notes,
        "reason": entry.reason,
    }


def _members(ctx: Context, org_id: int) -> dict[int, User]:
    return {user.id: user for user in ctx.state.data.org_members(org_id)}


def _page(ctx: Context, entries: list[OutOfOffice]) -> Reply:
    query = ctx.request.query
    order = next(((key, query[key]) for key in _SORTS if key in query), None)
    if order is not None:
        if order[1] not in ("asc", "desc"):
            raise ApiError(400, f"{order[0]} must be asc or desc, got {order[1]!r}")
        field = "start" if order[0] == "sortStart" else "end"
        entries.sort(
            key=lambda entry: (getattr(entry, field), entry.id), reverse=order[1] == "desc"
        )
    skip, take = page(query, default=100, maximum=250)
    assert take is not None
    return success([ooo_view(entry) for entry in entries[skip : skip + take]])


def _user(ctx: Context, org_id: int) -> User:
    user_id = path_id(ctx, "userId")
    user = _members(ctx, org_id).get(user_id)
    if user is None:
        raise ApiError(404, f"User with id={user_id} was not found in organization {org_id}")
    return user


def _entry(ctx: Context, user: User) -> OutOfOffice:
    entry_id = path_id(ctx, "oooId")
    entry = ctx.state.data.out_of_office.entries.get(entry_id)
    if entry is None or entry.user_id != user.id:
        raise ApiError(404, f"Out-of-office entry with id={entry_id} was not found")
    return entry


async def list_org_ooo(ctx: Context) -> Reply:
    """Every entry of the organization's users."""
    org = org_of(ctx)
    members = _members(ctx, org.id)
    email = (ctx.request.query.get("email") or "").strip().lower()
    wanted = {uid for uid, user in members.items() if not email or user.email.lower() == email}
    return _page(ctx, ctx.state.data.out_of_office.of_users(wanted))


async def list_user_ooo(ctx: Context) -> Reply:
    """One user's entries."""
    org = org_of(ctx)
    user = _user(ctx, org.id)
    return _page(ctx, ctx.state.data.out_of_office.of_users({user.id}))


def _apply(ctx: Context, org_id: int, entry: OutOfOffice, body: Body, *, new: bool) -> None:
    start_text = body.string("start", required=new)
    end_text = body.string("end", required=new)
    start = parse_instant(start_text, field="start") if start_text else entry.start
    end = parse_instant(end_text, field="end") if end_text else entry.end
    if end <= start:
        raise ApiError(400, "end must be after start")
    reason = body.choice("reason", REASONS)
    to_user = body.integer("toUserId", minimum=1)
    if to_user is not None and (to_user == entry.user_id or to_user not in _members(ctx, org_id)):
        raise ApiError(400, "toUserId must be another user of the organization")
    store = ctx.state.data.out_of_office
    if store.overlapping(entry.user_id, start, end, None if new else entry.id):
        raise ApiError(409, "The user already has an out-of-office entry in this period")
    entry.start, entry.end = start, end
    if reason is not None:
        entry.reason = reason
    if "notes" in body:
        entry.notes = body.string("notes", empty=True)
    if to_user is not None:
        entry.to_user_id = to_user


async def create_user_ooo(ctx: Context) -> Reply:
    """A new entry for a user of the organization (201)."""
    org = org_of(ctx)
    user = _user(ctx, org.id)
    store = ctx.state.data.out_of_office
    entry = OutOfOffice(store.new_id(), str(uuid.uuid4()), user.id, 0.0, 0.0)
    _apply(ctx, org.id, entry, await read_body(ctx), new=True)
    store.add(entry)
    return success(ooo_view(entry), status=201)


async def update_user_ooo(ctx: Context) -> Reply:
    """Change an entry."""
    org = org_of(ctx)
    entry = _entry(ctx, _user(ctx, org.id))
    _apply(ctx, org.id, entry, await read_body(ctx), new=False)
    return success(ooo_view(entry))


async def delete_user_ooo(ctx: Context) -> Reply:
    """Delete an entry (answers with it)."""
    org = org_of(ctx)
    entry = _entry(ctx, _user(ctx, org.id))
    ctx.state.data.out_of_office.remove(entry)
    return success(ooo_view(entry))
