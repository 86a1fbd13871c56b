"""``GET /v2/organizations/{orgId}/teams`` (``OrgTeamsOutputResponseDto``; Orgs tier)."""

from __future__ import annotations

from .._context import Context
from .._envelope import ApiError, Reply, success
from ._params import integer

__all__ = ["list_teams"]


async def list_teams(ctx: Context) -> Reply:
    """The organization's teams (``take``/``skip`` honoured)."""
    raw = ctx.request.match_info["orgId"]
    if not raw.isdigit():
        raise ApiError(400, f"orgId must be a number, got {raw!r}")
    data = ctx.state.data
    if int(raw) != data.organization_id:
        raise ApiError(404, f"Organization with id={raw} was not found")
    query = ctx.request.query
    take = integer(query, "take", None, minimum=1)
    skip = integer(query, "skip", 0, minimum=0) or 0
    teams = data.teams[skip:] if take is None else data.teams[skip : skip + take]
    return success(teams)
