"""What the client knows about one API operation (hand-written; instances are generated)."""

from __future__ import annotations

import enum

import attrs

from ..plans import Plan, Tier

__all__ = ["AuthRequirement", "Operation", "PaginationStyle", "Param"]


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
class Param:
    """One argument of an operation's method: a path or query parameter, or a body field.

    ``name`` is the method's argument name (path parameters are positional, in path order;
    query parameters and body fields are keywords), ``wire`` the name on the wire, ``type`` the
    annotation in the method's signature. For path and query parameters, ``kind`` says how a
    value is checked and sent: ``str``, ``int``, ``float``, ``bool``, ``datetime`` (ISO 8601 in
    UTC; a naive datetime is refused), ``date``, ``enum`` (one of ``values``), or alternatives
    such as ``int|str``; ``array`` parameters take a list, sent as repeated keys (``explode``)
    or comma-separated. Body fields are checked against the body's model.
    """

    name: str
    wire: str
    location: str  # "path" | "query" | "body"
    required: bool
    type: str
    kind: str = ""
    values: tuple[str, ...] = ()
    array: bool = False
    explode: bool = True


@attrs.frozen
class Operation:
    """One operation of the OpenAPI document.

    ``path`` is the template (``/v2/bookings/{bookingUid}``); ``path_params`` lists its
    parameters in the order they appear in it, which is the order generated methods take them.
    ``python_name`` is the dotted path of the method from the client (``"bookings.get"``).
    ``paginated`` operations page (``pagination`` says how). Every list operation's method returns
    an :class:`~icalendly_async.pagination.AsyncPaginator`, paged or not (one page then holds
    everything). ``params`` describes every argument of the method.
    ``body`` is ``"required"``, ``"optional"`` (a body without required fields may be left out)
    or ``None`` (the operation takes none). ``envelope_declared`` is False where the published
    document does not declare the success envelope: an empty body is then no data, and a body
    that is not the envelope is the data itself.
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
    params: tuple[Param, ...] = ()
    body: str | None = None
    envelope_declared: bool = True

    def allowed_for(self, plan: Plan) -> bool:
        """Whether a client on ``plan`` may call this operation (NOTES.md, "Plan tiers")."""
        return self.tier.allows(plan)

    @property
    def idempotent(self) -> bool:
        """GET, HEAD, PUT, DELETE and OPTIONS may be retried after a server error."""
        return self.method.upper() in {"GET", "HEAD", "PUT", "DELETE", "OPTIONS"}

    def param(self, name: str) -> Param:
        """The parameter whose argument name or wire name is ``name``."""
        for param in self.params:
            if name in (param.name, param.wire):
                return param
        raise KeyError(f"{self.python_name} has no parameter {name!r}")

    def __str__(self) -> str:
        return f"{self.python_name} ({self.method.upper()} {self.path})"
