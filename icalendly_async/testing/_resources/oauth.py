"""Platform routes: managed users and their tokens.

* ``GET /v2/oauth-clients/{clientId}/users`` (``GetManagedUsersOutput``; ``limit``/``offset``,
  ``emails``): a plain array, a short page ends the walk.
* ``POST /v2/oauth/{clientId}/refresh`` (``KeysResponseDto``): header ``x-cal-secret-key``, body
  ``{"refreshToken": …}``. Refresh tokens rotate: the used one, and the access token issued
  with it, stop working.
* ``POST /v2/oauth-clients/{clientId}/users/{userId}/force-refresh``: a new pair for a user
  whose tokens are lost; the user's previous tokens stop working.
"""

from __future__ import annotations

import json
from typing import Any

from .._context import Context
from .._envelope import ApiError, Reply, success
from ._params import integer, list_values

__all__ = ["force_refresh", "list_managed_users", "refresh"]

DEFAULT_USERS_LIMIT = 100


def _own_client(ctx: Context) -> str:
    client_id = ctx.request.match_info["clientId"]
    if ctx.principal.client_id != client_id:
        raise ApiError(403, "The OAuth client credentials do not belong to this clientId")
    return client_id


async def list_managed_users(ctx: Context) -> Reply:
    """The client's managed users."""
    client_id = _own_client(ctx)
    query = ctx.request.query
    limit = integer(query, "limit", DEFAULT_USERS_LIMIT, minimum=1) or DEFAULT_USERS_LIMIT
    offset = integer(query, "offset", 0, minimum=0) or 0
    data = ctx.state.data
    users = [data.managed_users[uid] for uid in data.users_of_client.get(client_id, ())]
    emails = {email.lower() for email in list_values(query, "emails")}
    if emails:
        users = [user for user in users if user["email"].lower() in emails]
    return success(users[offset : offset + limit])


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
    return success(pair.as_json())


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
    return success(pair.as_json())
