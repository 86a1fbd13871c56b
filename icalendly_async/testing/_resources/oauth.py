"""Platform routes: managed users and their tokens.

* ``GET /v2/oauth-clients/{clientId}/users`` (``GetManagedUsersOutput``; ``limit``/``offset``,
  ``emails``): a plain array, a short page ends the walk.
* ``POST …/users`` (201): a managed user and its first token pair. As on the service, the
  address is made unique per client: ``alice@example.com`` is stored as
  ``alice+<clientId>@example.com``. The user gets a default schedule.
* ``GET``/``PATCH``/``DELETE …/users/{userId}``; deleting revokes the user's tokens.
* ``POST /v2/oauth/{clientId}/refresh`` (``KeysResponseDto``): header ``x-cal-secret-key``, body
  ``{"refreshToken": …}``. Refresh tokens rotate: the used one, and the access token issued
  with it, stop working.
* ``POST …/users/{userId}/force-refresh``: a new pair for a user whose tokens are lost; the
  user's previous tokens stop working.
"""

from __future__ import annotations

import json
from typing import Any

from .. import _views
from .._context import Context
from .._credentials import keys_json
from .._envelope import ApiError, Reply, success
from .._store.users import WEEKDAYS, User
from .._time import zone
from ._body import read_body
from ._params import integer, list_values
from ._users import update_profile

__all__ = [
    "create_managed_user",
    "delete_managed_user",
    "force_refresh",
    "get_managed_user",
    "list_managed_users",
    "refresh",
    "update_managed_user",
]

DEFAULT_USERS_LIMIT = 100


def _own_client(ctx: Context) -> str:
    client_id = ctx.request.match_info["clientId"]
    if ctx.principal.client_id != client_id:
        raise ApiError(403, "The OAuth client credentials do not belong to this clientId")
    return client_id


def _managed_user(ctx: Context) -> tuple[str, User]:
    client_id = _own_client(ctx)
    raw = ctx.request.match_info["userId"]
    data = ctx.state.data
    user = data.users.get(int(raw)) if raw.isdigit() else None
    if user is None or not data.is_user_of(client_id, user.id):
        raise ApiError(404, f"Managed user with id={raw} was not found for this client")
    return client_id, user


async def list_managed_users(ctx: Context) -> Reply:
    """The client's managed users."""
    client_id = _own_client(ctx)
    query = ctx.request.query
    limit = integer(query, "limit", DEFAULT_USERS_LIMIT, minimum=1) or DEFAULT_USERS_LIMIT
    offset = integer(query, "offset", 0, minimum=0) or 0
    data = ctx.state.data
    users = [data.users.by_id[uid] for uid in data.users_of_client.get(client_id, ())]
    emails = {email.lower() for email in list_values(query, "emails")}
    if emails:
        users = [user for user in users if user.email.lower() in emails]
    return success([_views.managed_user(user) for user in users[offset : offset + limit]])


def _client_address(email: str, client_id: str) -> str:
    local, _, domain = email.partition("@")
    if not local or not domain:
        raise ApiError(400, "email must be an email address")
    return f"{local}+{client_id}@{domain}"


async def create_managed_user(ctx: Context) -> Reply:
    """A new managed user and its tokens (201)."""
    client_id = _own_client(ctx)
    body = await read_body(ctx)
    data = ctx.state.data
    email = body.string("email", required=True)
    name = body.string("name", required=True)
    assert email is not None and name is not None
    address = _client_address(email, client_id)
    time_zone = body.string("timeZone")
    if time_zone is not None:
        zone(time_zone)
    fields: dict[str, Any] = {"email": address, "name": name}
    if time_zone is not None:
        fields["time_zone"] = time_zone
    week_start = body.choice("weekStart", WEEKDAYS)
    if week_start is not None:
        fields["week_start"] = week_start
    time_format = body.choice("timeFormat", (12, 24))
    if time_format is not None:
        fields["time_format"] = time_format
    data.users.check_free(address, None)
    user = data.add_managed_user(client_id, **fields)
    body.raw.pop("email")
    update_profile(data, user, body)
    pair = ctx.state.credentials.issue(client_id, user.id)
    return success({"user": _views.managed_user(user), **keys_json(pair)}, status=201)


async def get_managed_user(ctx: Context) -> Reply:
    """One managed user of the client."""
    return success(_views.managed_user(_managed_user(ctx)[1]))


async def update_managed_user(ctx: Context) -> Reply:
    """Change a managed user."""
    client_id, user = _managed_user(ctx)
    body = await read_body(ctx)
    email = body.string("email")
    if email is not None and email != user.email:
        body.raw["email"] = _client_address(email, client_id)
    update_profile(ctx.state.data, user, body)
    return success(_views.managed_user(user))


async def delete_managed_user(ctx: Context) -> Reply:
    """Delete a managed user (its tokens stop working; its bookings stay)."""
    client_id, user = _managed_user(ctx)
    ctx.state.credentials.revoke_user(client_id, user.id)
    ctx.state.data.remove_user(user)
    return success(_views.managed_user(user))


async def refresh(ctx: Context) -> Reply:
    """Exchange a refresh token for a new pair."""
    state = ctx.state
    request = ctx.request
    try:
        credentials = state.credentials
        client_id = request.match_info["clientId"]
        credentials.check_client(client_id, request.headers.get("x-cal-secret-key"))
        try:
            body: Any = json.loads(await request.read() or b"null")
        except ValueError:
            raise ApiError(400, 'The body must be JSON: {"refreshToken": "…"}') from None
        token = body.get("refreshToken") if isinstance(body, dict) else None
        if not isinstance(token, str) or not token:
            raise ApiError(400, "refreshToken must be a non-empty string")
        pair = credentials.rotate(client_id, token)
    except ApiError:
        state.stats.refresh_failures += 1
        raise
    state.stats.refreshes += 1
    return success(keys_json(pair))


async def force_refresh(ctx: Context) -> Reply:
    """A new pair for a managed user, whatever became of the old one."""
    client_id = _own_client(ctx)
    raw = ctx.request.match_info["userId"]
    state = ctx.state
    if not raw.isdigit() or not state.data.is_user_of(client_id, int(raw)):
        raise ApiError(404, f"Managed user with id={raw} was not found for this client")
    state.credentials.revoke_user(client_id, int(raw))
    pair = state.credentials.issue(client_id, int(raw))
    state.stats.force_refreshes += 1
    return success(keys_json(pair))
