"""The credentials the emulator knows: API keys, platform OAuth clients, access tokens.

Managed users' access tokens live ``access_token_ttl`` seconds, their refresh tokens a year.
Refresh tokens rotate: a refresh invalidates the refresh token it used and the access token
issued with it. Expiry instants are epoch milliseconds, as the API sends them, on the
emulator's clock. (OAuth partner apps' grants are in :mod:`._oauth`; their access tokens are
registered here, since every route authenticates through this store.)
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime

import attrs

from .._clock import SYSTEM_CLOCK, Clock
from .._tokens import TokenPair
from ..plans import Plan
from ..ratelimit.headers import RateLimit
from ._envelope import ApiError

__all__ = [
    "AccessTokenRecord",
    "ApiKeyRecord",
    "CredentialStore",
    "OAuthClient",
    "digest",
    "keys_json",
]

REFRESH_TOKEN_TTL_MS = 365 * 24 * 3600 * 1000

_DIGESTS: dict[str, str] = {}


def digest(value: str) -> str:
    """A short, stable digest of a credential (never the credential itself)."""
    found = _DIGESTS.get(value)
    if found is None:
        if len(_DIGESTS) > 10_000:
            _DIGESTS.clear()
        found = hashlib.sha256(value.encode()).hexdigest()[:16]
        _DIGESTS[value] = found
    return found


def _ms(when: datetime | None) -> int:
    assert when is not None  # the emulator states both instants of what it issues
    return round(when.timestamp() * 1000)


def keys_json(pair: TokenPair) -> dict[str, str | int]:
    """A managed user's pair as the platform sends it (``KeysResponseDto``'s ``data``): the
    expiry instants in epoch milliseconds."""
    assert pair.refresh_token is not None
    return {
        "accessToken": pair.access_token,
        "refreshToken": pair.refresh_token,
        "accessTokenExpiresAt": _ms(pair.expires_at),
        "refreshTokenExpiresAt": _ms(pair.refresh_expires_at),
    }


@attrs.frozen
class OAuthClient:
    """A platform OAuth client: send ``x-cal-client-id`` and ``x-cal-secret-key``."""

    client_id: str
    client_secret: str = attrs.field(repr=False)
    plan: Plan = Plan.PLATFORM
    rate_limit: RateLimit | None = None


@attrs.frozen
class ApiKeyRecord:
    """What the emulator knows of an API key (the key itself is the dictionary key)."""

    live: bool
    plan: Plan
    rate_limit: RateLimit | None
    user_id: int = 1


@attrs.define(slots=True)
class AccessTokenRecord:
    """A managed user's access token."""

    client_id: str
    user_id: int
    expires_at_ms: int


@attrs.define(slots=True)
class _RefreshTokenRecord:
    client_id: str
    user_id: int
    expires_at_ms: int
    access_token: str


class CredentialStore:
    """Every credential the emulator accepts, and the token life cycle."""

    def __init__(self, *, access_token_ttl: float, clock: Clock = SYSTEM_CLOCK) -> None:
        self.access_token_ttl = access_token_ttl
        self.clock = clock
        self.api_keys: dict[str, ApiKeyRecord] = {}
        self.clients: dict[str, OAuthClient] = {}
        self.access_tokens: dict[str, AccessTokenRecord] = {}
        self._refresh_tokens: dict[str, _RefreshTokenRecord] = {}

    def __repr__(self) -> str:
        return (
            f"<CredentialStore api_keys={len(self.api_keys)} clients={len(self.clients)} "
            f"access_tokens={len(self.access_tokens)}>"
        )

    def add_api_key(
        self, *, live: bool, plan: Plan, rate_limit: RateLimit | None, user_id: int = 1
    ) -> str:
        """A new API key of ``user_id``: ``ical_live_…`` when ``live``, else ``ical_…``."""
        key = ("ical_live_" if live else "ical_") + secrets.token_hex(16)
        self.api_keys[key] = ApiKeyRecord(
            live=live, plan=plan, rate_limit=rate_limit, user_id=user_id
        )
        return key

    def add_client(self, *, plan: Plan, rate_limit: RateLimit | None) -> OAuthClient:
        """A new platform OAuth client."""
        client = OAuthClient(
            client_id="cl" + secrets.token_hex(12),
            client_secret=secrets.token_hex(32),
            plan=plan,
            rate_limit=rate_limit,
        )
        self.clients[client.client_id] = client
        return client

    def remove_client(self, client_id: str) -> None:
        """Forget a client and every token it issued."""
        self.clients.pop(client_id, None)
        for token, refresh in list(self._refresh_tokens.items()):
            if refresh.client_id == client_id:
                del self._refresh_tokens[token]
        for token, access in list(self.access_tokens.items()):
            if access.client_id == client_id:
                del self.access_tokens[token]

    def check_client(self, client_id: str | None, secret: str | None) -> OAuthClient:
        """The client whose id and secret these are, or a 401."""
        client = self.clients.get(client_id) if client_id else None
        if (
            client is None
            or secret is None
            or not secrets.compare_digest(client.client_secret.encode(), secret.encode())
        ):
            raise ApiError(
                401, "Invalid OAuth client credentials: check x-cal-client-id and x-cal-secret-key"
            )
        return client

    def now_ms(self) -> int:
        """Now, in epoch milliseconds, on the emulator's clock."""
        return int(self.clock.time() * 1000)

    def add_access_token(self, client_id: str, user_id: int, ttl: float) -> tuple[str, int]:
        """A new access token of ``user_id`` for ``client_id``, and when it expires (ms)."""
        token = secrets.token_urlsafe(32)
        expires = self.now_ms() + int(ttl * 1000)
        self.access_tokens[token] = AccessTokenRecord(client_id, user_id, expires)
        return token, expires

    def issue(self, client_id: str, user_id: int) -> TokenPair:
        """A new token pair for a managed user of ``client_id``."""
        access, access_expires = self.add_access_token(client_id, user_id, self.access_token_ttl)
        refresh = secrets.token_urlsafe(32)
        refresh_expires = self.now_ms() + REFRESH_TOKEN_TTL_MS
        self._refresh_tokens[refresh] = _RefreshTokenRecord(
            client_id, user_id, refresh_expires, access
        )
        return TokenPair(access, refresh, access_expires, refresh_expires_at=refresh_expires)

    def rotate(self, client_id: str, refresh_token: str) -> TokenPair:
        """Exchange ``refresh_token`` for a new pair; the old pair stops working (or a 401)."""
        record = self._refresh_tokens.get(refresh_token)
        if record is None or record.client_id != client_id:
            raise ApiError(401, "Invalid refresh token: unknown, or already used (they rotate)")
        del self._refresh_tokens[refresh_token]
        self.access_tokens.pop(record.access_token, None)
        if record.expires_at_ms <= self.now_ms():
            raise ApiError(401, "Refresh token expired")
        return self.issue(client_id, record.user_id)

    def revoke_user(self, client_id: str, user_id: int) -> None:
        """Invalidate every token of one managed user."""
        for token, refresh in list(self._refresh_tokens.items()):
            if refresh.client_id == client_id and refresh.user_id == user_id:
                del self._refresh_tokens[token]
        for token, access in list(self.access_tokens.items()):
            if access.client_id == client_id and access.user_id == user_id:
                del self.access_tokens[token]

    def expire_access_tokens(self) -> None:
        """Every access token issued so far is expired from now on."""
        now = self.now_ms()
        for record in self.access_tokens.values():
            record.expires_at_ms = min(record.expires_at_ms, now)

    def access_token(self, token: str) -> AccessTokenRecord:
        """The record of a usable access token; 401 when unknown, 498 when expired."""
        record = self.access_tokens.get(token)
        if record is None:
            raise ApiError(401, "Invalid Access Token")
        if record.expires_at_ms <= self.now_ms():
            raise ApiError(498, "ACCESS_TOKEN_IS_EXPIRED", code="ACCESS_TOKEN_IS_EXPIRED")
        return record
