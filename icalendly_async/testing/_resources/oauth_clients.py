"""Platform OAuth clients (``/v2/oauth-clients``), managed with the organization's API key.

A client made here is a working credential at once: send its ``clientId``/``clientSecret`` as
``x-cal-client-id``/``x-cal-secret-key``. Deleting a client revokes its tokens.

Ownership, as the service enforces it: a client is managed by the user whose API key made it
(the emulator's ready client: the owner of :attr:`Emulator.api_key`). Only that user lists,
reads (its secret included), updates or deletes it; another user gets a 404, a platform client's
own credentials reach only that client, and a managed user's or OAuth user's access token is
refused (403): those act for a client, they do not administer clients.
"""

from __future__ import annotations

import time
from typing import Any

from ...plans import Plan
from .. import _views
from .._auth import Kind
from .._context import Context
from .._data import OWNER_ID
from .._envelope import ApiError, Reply, success
from .._time import iso
from ._body import Body, read_body

__all__ = [
    "create_client",
    "delete_client",
    "get_client",
    "list_clients",
    "profile_of",
    "update_client",
]

_URIS = ("bookingRedirectUri", "bookingCancelRedirectUri", "bookingRescheduleRedirectUri")
_FLAGS = ("areEmailsEnabled", "areDefaultEventTypesEnabled", "areCalendarEventsEnabled")


def profile_of(ctx: Context, client_id: str) -> dict[str, Any]:
    """The client's settings (defaults for a client made with ``emu.add_oauth_client()``)."""
    profiles = ctx.state.data.client_profiles
    if client_id not in profiles:
        profiles[client_id] = {
            "name": f"Client {client_id[:8]}",
            "permissions": list(_views.PERMISSIONS),
            "redirectUris": ["http://127.0.0.1/callback"],
            "areEmailsEnabled": True,
            "areDefaultEventTypesEnabled": False,
            "areCalendarEventsEnabled": True,
            "createdAt": iso(ctx.state.data.anchor.timestamp()),
        }
    return profiles[client_id]


def _json(ctx: Context, client_id: str) -> dict[str, Any]:
    client = ctx.state.credentials.clients[client_id]
    return {
        "id": client_id,
        "secret": client.client_secret,
        "organizationId": ctx.state.data.organization_id,
        **profile_of(ctx, client_id),
    }


def _settings(body: Body, *, creating: bool) -> dict[str, Any]:
    settings: dict[str, Any] = {}
    name = body.string("name", required=creating)
    if name is not None:
        settings["name"] = name
    uris = body.strings("redirectUris", required=creating)
    if uris is not None:
        settings["redirectUris"] = uris
    if creating:
        permissions = body.strings("permissions", required=True) or []
        allowed = {*_views.PERMISSIONS, "*"}
        wrong = [value for value in permissions if value not in allowed]
        if wrong:
            raise ApiError(400, f"unknown permissions {wrong}")
        settings["permissions"] = (
            list(_views.PERMISSIONS) if "*" in permissions else list(dict.fromkeys(permissions))
        )
    logo = body.string("logo")
    if logo is not None:
        settings["logo"] = logo
    for key in _URIS:
        value = body.string(key)
        if value is not None:
            settings[key] = value
    for key in _FLAGS:
        flag = body.boolean(key)
        if flag is not None:
            settings[key] = flag
    return settings


def _manager(ctx: Context) -> int:
    """The id of the user administering OAuth clients with this request's credential."""
    user = ctx.require_user()
    if ctx.principal.kind is Kind.ACCESS_TOKEN:
        raise ApiError(
            403, "OAuth clients are managed with the organization's API key, not an access token"
        )
    return user.id


def _owns(ctx: Context, client_id: str, manager: int) -> bool:
    principal = ctx.principal
    if principal.kind is Kind.PLATFORM_CLIENT:
        return principal.client_id == client_id  # a client's own credentials reach it alone
    return ctx.state.data.client_owners.get(client_id, OWNER_ID) == manager


def _client_id(ctx: Context) -> str:
    manager = _manager(ctx)
    client_id = ctx.request.match_info["clientId"]
    if client_id not in ctx.state.credentials.clients or not _owns(ctx, client_id, manager):
        raise ApiError(404, f"OAuth client with id={client_id} was not found")
    return client_id


async def create_client(ctx: Context) -> Reply:
    """A new OAuth client (201): its id and secret."""
    manager = _manager(ctx)
    settings = _settings(await read_body(ctx), creating=True)
    client = ctx.state.credentials.add_client(
        plan=ctx.principal.plan or Plan.PLATFORM, rate_limit=None
    )
    ctx.state.data.client_profiles[client.client_id] = {
        "areEmailsEnabled": True,
        "areDefaultEventTypesEnabled": False,
        "areCalendarEventsEnabled": True,
        "createdAt": iso(time.time()),
        **settings,
    }
    ctx.state.data.client_owners[client.client_id] = manager
    return success({"clientId": client.client_id, "clientSecret": client.client_secret}, status=201)


async def list_clients(ctx: Context) -> Reply:
    """Every OAuth client the caller manages."""
    manager = _manager(ctx)
    clients = ctx.state.credentials.clients
    return success([_json(ctx, cid) for cid in clients if _owns(ctx, cid, manager)])


async def get_client(ctx: Context) -> Reply:
    """One OAuth client."""
    return success(_json(ctx, _client_id(ctx)))


async def update_client(ctx: Context) -> Reply:
    """Change an OAuth client's settings."""
    client_id = _client_id(ctx)
    profile_of(ctx, client_id).update(_settings(await read_body(ctx), creating=False))
    return success(_json(ctx, client_id))


async def delete_client(ctx: Context) -> Reply:
    """Delete an OAuth client: its tokens stop working."""
    client_id = _client_id(ctx)
    body = _json(ctx, client_id)
    ctx.state.credentials.remove_client(client_id)
    ctx.state.data.client_profiles.pop(client_id, None)
    ctx.state.data.client_owners.pop(client_id, None)
    return success(body)
