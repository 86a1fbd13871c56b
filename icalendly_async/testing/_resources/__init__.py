"""The emulated resources, one module per endpoint group; :data:`ROUTES` lists them all."""

from __future__ import annotations

from .._auth import AuthKind
from .._context import Context, RouteSpec
from .._envelope import ApiError, Reply
from . import bookings, me, oauth, organizations

__all__ = ["NOT_FOUND", "ROUTES"]


async def _not_found(ctx: Context) -> Reply:
    request = ctx.request
    raise ApiError(404, f"Cannot {request.method} {request.path}")


ROUTES: tuple[RouteSpec, ...] = (
    RouteSpec("GET", "/v2/me", me.get_me),
    RouteSpec("GET", "/v2/bookings", bookings.list_bookings),
    RouteSpec("GET", "/v2/bookings/{bookingUid}", bookings.get_booking),
    RouteSpec("GET", "/v2/organizations/{orgId}/teams", organizations.list_teams),
    RouteSpec(
        "GET",
        "/v2/oauth-clients/{clientId}/users",
        oauth.list_managed_users,
        auth=AuthKind.PLATFORM_CLIENT,
    ),
    RouteSpec(
        "POST",
        "/v2/oauth-clients/{clientId}/users/{userId}/force-refresh",
        oauth.force_refresh,
        auth=AuthKind.PLATFORM_CLIENT,
    ),
    RouteSpec("POST", "/v2/oauth/{clientId}/refresh", oauth.refresh, auth=AuthKind.CLIENT_SECRET),
)

# Every other method and path: authenticated and counted like the rest, then 404.
NOT_FOUND = RouteSpec("*", "/{tail:.*}", _not_found)
