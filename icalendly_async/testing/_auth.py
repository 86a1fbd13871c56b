"""Who is calling: read the credential a request carries, and check it.

Two steps, because the rate limiter sits between them (as on the service, an unknown key is
counted under its own digest before it is refused):

1. :func:`present` reads the headers into a :class:`Presented` (kind, digest, limit key);
2. :func:`authenticate` checks it against the :class:`CredentialStore` into a
   :class:`Principal` (plan, user), or raises 401 / 498.

Rules: ``Authorization: Bearer ical_live_…`` / ``Bearer ical_…`` is an API key, any other bearer
value an access token; otherwise ``x-cal-client-id`` + ``x-cal-secret-key`` is a platform client
(on the routes that take the client id from the path, ``x-cal-secret-key`` alone). Nothing: an
anonymous caller, limited per IP.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping

import attrs

from ..plans import Plan
from ..ratelimit.headers import RateLimit
from ._credentials import CredentialStore, digest
from ._envelope import ApiError

__all__ = [
    "DEFAULT_LIMITS",
    "AuthKind",
    "Kind",
    "Presented",
    "Principal",
    "authenticate",
    "limit_for",
    "present",
]


class Kind(enum.Enum):
    """The kind of credential a request carries."""

    API_KEY = "api_key"
    PLATFORM_CLIENT = "platform_client"
    ACCESS_TOKEN = "access_token"
    ANONYMOUS = "anonymous"


class AuthKind(enum.Enum):
    """What a route accepts."""

    ANY = "any"  # an API key, an access token or a platform client
    PUBLIC = "public"  # anything, or nothing
    PLATFORM_CLIENT = "platform_client"  # x-cal-secret-key (+ the client id of the path)
    # the token endpoints (and the authorize page): the handler checks the client itself
    CLIENT_SECRET = "client_secret"


DEFAULT_LIMITS: dict[Kind, RateLimit] = {
    Kind.API_KEY: RateLimit(120, 60),
    Kind.PLATFORM_CLIENT: RateLimit(500, 60),
    Kind.ACCESS_TOKEN: RateLimit(500, 60),
    Kind.ANONYMOUS: RateLimit(120, 60),
}


@attrs.frozen(slots=True)
class Presented:
    """The credential as the request carries it (not yet checked)."""

    kind: Kind
    secret: str | None = attrs.field(repr=False)
    client_id: str | None
    credential: str | None  # the digest, ``None`` when anonymous
    key: str  # the rate-limit key: the digest, or ``ip:<address>``


@attrs.frozen(slots=True)
class Principal:
    """A checked caller. ``plan`` ``None``: every tier (anonymous on a public route, refresh)."""

    kind: Kind
    plan: Plan | None
    user_id: int | None = None
    client_id: str | None = None


def present(
    headers: Mapping[str, str], client_id_in_path: str | None, remote: str | None, auth: AuthKind
) -> Presented:
    """Read the credential of a request."""
    if auth is AuthKind.ANY or auth is AuthKind.PUBLIC:
        authorization = headers.get("Authorization")
        if authorization:
            if authorization[:7].lower() == "bearer ":
                authorization = authorization[7:].strip()
            kind = Kind.API_KEY if authorization.startswith("ical_") else Kind.ACCESS_TOKEN
            token_digest = digest(authorization)
            return Presented(kind, authorization, None, token_digest, token_digest)
        client_id = headers.get("x-cal-client-id")
    else:
        client_id = headers.get("x-cal-client-id") or client_id_in_path
    if client_id:
        client_digest = digest(client_id)
        return Presented(
            Kind.PLATFORM_CLIENT,
            headers.get("x-cal-secret-key"),
            client_id,
            client_digest,
            client_digest,
        )
    return Presented(Kind.ANONYMOUS, None, None, None, f"ip:{remote}")


def limit_for(
    presented: Presented, store: CredentialStore, configured: RateLimit | None
) -> RateLimit:
    """The ``Default`` limit of a credential: its own, else the configured one, else the
    documented default of its kind."""
    if presented.kind is Kind.API_KEY and presented.secret is not None:
        record = store.api_keys.get(presented.secret)
        if record is not None and record.rate_limit is not None:
            return record.rate_limit
    elif presented.kind is Kind.PLATFORM_CLIENT and presented.client_id is not None:
        client = store.clients.get(presented.client_id)
        if client is not None and client.rate_limit is not None:
            return client.rate_limit
    elif presented.kind is Kind.ACCESS_TOKEN and presented.secret is not None:
        token = store.access_tokens.get(presented.secret)
        if token is not None:
            owner = store.clients.get(token.client_id)
            if owner is not None and owner.rate_limit is not None:
                return owner.rate_limit
    return configured if configured is not None else DEFAULT_LIMITS[presented.kind]


_NO_CREDENTIAL = (
    "No credentials: send 'Authorization: Bearer <API key or access token>', "
    "or the headers x-cal-client-id and x-cal-secret-key"
)


def authenticate(
    presented: Presented, store: CredentialStore, auth: AuthKind, owner_id: int
) -> Principal:
    """Check the credential: the :class:`Principal`, or a 401 / 498 :class:`ApiError`."""
    kind = presented.kind
    if auth is AuthKind.CLIENT_SECRET:
        return Principal(kind, None, None, presented.client_id)
    if auth is AuthKind.PLATFORM_CLIENT and (
        kind is not Kind.PLATFORM_CLIENT or presented.secret is None
    ):
        raise ApiError(401, "This endpoint needs the platform OAuth client: send x-cal-secret-key")
    if kind is Kind.API_KEY:
        record = store.api_keys.get(presented.secret or "")
        if record is None:
            raise ApiError(401, "Invalid API Key")
        return Principal(kind, record.plan, record.user_id)
    if kind is Kind.ACCESS_TOKEN:
        token = store.access_token(presented.secret or "")
        client = store.clients.get(token.client_id)
        plan = client.plan if client is not None else Plan.PLATFORM
        return Principal(kind, plan, token.user_id, token.client_id)
    if kind is Kind.PLATFORM_CLIENT:
        client = store.check_client(presented.client_id, presented.secret)
        return Principal(kind, client.plan, owner_id, client.client_id)
    if auth is AuthKind.PUBLIC:
        return Principal(kind, None)
    raise ApiError(401, _NO_CREDENTIAL)
