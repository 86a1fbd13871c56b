"""``GET /v2/me`` (``GetMeOutput``)."""

from __future__ import annotations

from .._context import Context
from .._envelope import Reply, success

__all__ = ["get_me"]


async def get_me(ctx: Context) -> Reply:
    """The caller's profile: the account owner, or the managed user of an access token."""
    principal = ctx.principal
    return success(ctx.state.data.me(principal.user_id, principal.plan))
