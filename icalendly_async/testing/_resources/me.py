"""``GET /v2/me`` (``GetMeOutput``) and ``PATCH /v2/me`` (``UpdateMeOutput``)."""

from __future__ import annotations

from .._context import Context
from .._envelope import Reply, success
from ._body import read_body
from ._users import update_profile

__all__ = ["get_me", "update_me"]


async def get_me(ctx: Context) -> Reply:
    """The caller's profile: the account owner, or the managed user of an access token."""
    principal = ctx.principal
    return success(ctx.state.data.me(principal.user_id, principal.plan))


async def update_me(ctx: Context) -> Reply:
    """Change the caller's profile."""
    user = ctx.require_user()
    update_profile(ctx.state.data, user, await read_body(ctx))
    return success(ctx.state.data.me(user.id, ctx.principal.plan))
