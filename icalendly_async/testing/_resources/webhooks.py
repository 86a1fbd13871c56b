"""Webhook subscriptions of a user, an event type, an organization and an OAuth client.

``subscriberUrl`` must be a loopback URL (``http://127.0.0.1:…``, ``http://localhost:…``,
``http://[::1]:…``): the emulator never sends traffic off the machine (400 otherwise).
``triggers`` are names from the document's list (an array; one name alone is accepted too).
Deliveries: see :mod:`.._webhooks`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from .. import _views
from .._context import Context
from .._envelope import ApiError, Reply, success
from .._spec import webhook_triggers
from .._store.webhooks import Scope, Subscription
from .._webhooks import is_loopback
from ._body import Body, path_id, read_body
from ._params import page

__all__ = ["HANDLERS"]


Owner = Callable[[Context], tuple[Scope, int | str]]


def _user(ctx: Context) -> tuple[Scope, int | str]:
    return Scope.USER, ctx.require_user().id


def _event_type(ctx: Context) -> tuple[Scope, int | str]:
    event_type_id = path_id(ctx, "eventTypeId")
    found = ctx.state.data.event_types.by_id.get(event_type_id)
    if found is None:
        raise ApiError(404, f"Event type with id={event_type_id} was not found")
    if found.owner_id != ctx.require_user().id:
        raise ApiError(403, f"Event type {event_type_id} is not yours")
    return Scope.EVENT_TYPE, event_type_id


def _organization(ctx: Context) -> tuple[Scope, int | str]:
    org_id = path_id(ctx, "orgId")
    if org_id != ctx.state.data.organization_id:
        raise ApiError(404, f"Organization with id={org_id} was not found")
    return Scope.ORGANIZATION, org_id


def _client(ctx: Context) -> tuple[Scope, int | str]:
    client_id = ctx.request.match_info["clientId"]
    if ctx.principal.client_id != client_id:
        raise ApiError(403, "The OAuth client credentials do not belong to this clientId")
    return Scope.OAUTH_CLIENT, client_id


def _triggers(body: Body, *, required: bool) -> list[str] | None:
    raw = body.raw.get("triggers")
    if raw is None:
        if required:
            raise ApiError(400, "triggers is required")
        return None
    values = [raw] if isinstance(raw, str) else raw
    if not isinstance(values, list) or not values:
        raise ApiError(400, "triggers must be a non-empty array of trigger names")
    known = webhook_triggers()
    wrong = [value for value in values if value not in known]
    if wrong:
        raise ApiError(400, f"unknown triggers {wrong}; expected some of {', '.join(known)}")
    return list(dict.fromkeys(values))


def _url(body: Body, *, required: bool) -> str | None:
    url = body.string("subscriberUrl", required=required)
    if url is not None and not is_loopback(url):
        raise ApiError(
            400,
            "subscriberUrl must be a loopback URL (http://127.0.0.1:…, http://localhost:…): "
            "the emulator does not send webhooks off this machine",
        )
    return url


def _one(ctx: Context, scope: Scope, owner: int | str) -> Subscription:
    # The document types webhookId as a string (the outputs' ids are numbers): any text is a
    # valid id, and one that is not the text of a webhook's id finds nothing.
    raw = ctx.request.match_info["webhookId"]
    found = ctx.state.data.subscriptions.by_id.get(int(raw)) if raw.isdigit() else None
    if found is None or found.scope is not scope or found.owner != owner:
        raise ApiError(404, f"Webhook with id={raw} was not found")
    return found


def _handlers(owner_of: Owner) -> dict[str, Callable[[Context], Awaitable[Reply]]]:
    async def create(ctx: Context) -> Reply:
        scope, owner = owner_of(ctx)
        body = await read_body(ctx)
        active = body.boolean("active", required=True)
        url = _url(body, required=True)
        triggers = _triggers(body, required=True)
        assert active is not None and url is not None and triggers is not None
        subscriptions = ctx.state.data.subscriptions
        if any(item.subscriber_url == url for item in subscriptions.of(scope, owner)):
            raise ApiError(409, f"A webhook with subscriberUrl {url} already exists")
        item = subscriptions.add(
            scope,
            owner,
            url,
            triggers,
            active=active,
            payload_template=body.string("payloadTemplate", empty=True) or "",
            secret=body.string("secret", empty=True) or None,
        )
        return success(_views.webhook(item), status=201)

    async def listing(ctx: Context) -> Reply:
        scope, owner = owner_of(ctx)
        skip, take = page(ctx.request.query, default=250, maximum=250)
        items = ctx.state.data.subscriptions.of(scope, owner)
        chunk = items[skip:] if take is None else items[skip : skip + take]
        return success([_views.webhook(item) for item in chunk])

    async def get(ctx: Context) -> Reply:
        scope, owner = owner_of(ctx)
        return success(_views.webhook(_one(ctx, scope, owner)))

    async def update(ctx: Context) -> Reply:
        scope, owner = owner_of(ctx)
        item = _one(ctx, scope, owner)
        body = await read_body(ctx)
        active = body.boolean("active")
        url = _url(body, required=False)
        triggers = _triggers(body, required=False)
        present_template, template = body.nullable_string("payloadTemplate")
        present_secret, secret = body.nullable_string("secret")
        if active is not None:
            item.active = active
        if url is not None:
            item.subscriber_url = url
        if triggers is not None:
            item.triggers = triggers
        if present_template:
            item.payload_template = template or ""
        if present_secret:
            item.secret = secret or None
        return success(_views.webhook(item))

    async def delete(ctx: Context) -> Reply:
        scope, owner = owner_of(ctx)
        item = _one(ctx, scope, owner)
        ctx.state.data.subscriptions.remove(item)
        return success(_views.webhook(item))

    async def delete_all(ctx: Context) -> Reply:
        scope, owner = owner_of(ctx)
        subscriptions = ctx.state.data.subscriptions
        items = subscriptions.of(scope, owner)
        for item in items:
            subscriptions.remove(item)
        return success(f"{len(items)} webhooks deleted")

    return {
        "create": create,
        "list": listing,
        "get": get,
        "update": update,
        "delete": delete,
        "delete_all": delete_all,
    }


HANDLERS: dict[Scope, dict[str, Callable[[Context], Awaitable[Reply]]]] = {
    Scope.USER: _handlers(_user),
    Scope.EVENT_TYPE: _handlers(_event_type),
    Scope.ORGANIZATION: _handlers(_organization),
    Scope.OAUTH_CLIENT: _handlers(_client),
}
