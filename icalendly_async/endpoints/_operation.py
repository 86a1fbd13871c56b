"""What the client knows about one API operation (hand-written; instances are generated)."""

from __future__ import annotations

import enum

import attrs

from ..plans import Plan, Tier

__all__ = ["AuthRequirement", "Operation", "PaginationStyle"]


class PaginationStyle(enum.Enum):
    """How a list operation pages."""

    TAKE_SKIP = "take_skip"
    LIMIT_OFFSET = "limit_offset"
    CURSOR = "cursor"


class AuthRequirement(enum.Enum):
    """Which credential an operation accepts."""

    ANY = "any"  # whatever the client holds (or none, for public endpoints)
    PLATFORM_CLIENT = (
        "platform_client"  # x-cal-client-id / x-cal-secret-key: needs a PlatformClient
    )
    CLIENT_SECRET = "client_secret"  # token refresh: the secret an AccessToken holds


@attrs.frozen
class Operation:
    """One operation of the OpenAPI document.

    ``path`` is the template (``/v2/bookings/{bookingUid}``); ``path_params`` lists its
    parameters in the order they appear in it, which is the order generated methods take them.
    ``python_name`` is the dotted path of the method from the client (``"bookings.get"``).
    ``paginated`` operations return an :class:`~icalendly_async.pagination.AsyncPaginator`
    (``pagination`` says how they page).
    """

    operation_id: str
    method: str
    path: str
    tag: str
    tier: Tier
    api_version: str | None
    paginated: bool
    python_name: str
    summary: str = ""
    path_params: tuple[str, ...] = ()
    pagination: PaginationStyle | None = None
    auth: AuthRequirement = AuthRequirement.ANY
    default_page_size: int | None = None
    """List operations: the page size the server uses when none is asked for (the document's)."""

    def allowed_for(self, plan: Plan) -> bool:
        """Whether a client on ``plan`` may call this operation (NOTES.md, "Plan tiers")."""
        return self.tier.allows(plan)

    @property
    def idempotent(self) -> bool:
        """GET, HEAD, PUT, DELETE and OPTIONS may be retried after a server error."""
        return self.method.upper() in {"GET", "HEAD", "PUT", "DELETE", "OPTIONS"}

    def __str__(self) -> str:
        return f"{self.python_name} ({self.method.upper()} {self.path})"
