"""Credentials: what to send with each attempt, how to name it for the limiter, how to refresh it.

Three kinds (NOTES.md, "Credentials"): :class:`ApiKey` (``Bearer ical_…``), :class:`PlatformClient`
(``x-cal-client-id`` / ``x-cal-secret-key``) and :class:`AccessToken` (a managed-user token that
expires and is refreshed with rotation; an OAuth user's credential comes from
:meth:`~icalendly_async.OAuthApp.credential`). No secret is ever shown: reprs and messages mask it
to its last four characters.

This module does no I/O of its own: an access token's refresh goes through a
:data:`TokenRefresher` that the pipeline supplies (the network stays in ``_http.py``), and its
pair is kept and refreshed once for everyone by :class:`~icalendly_async._keeper.TokenKeeper`.
"""

from __future__ import annotations

import datetime as _dt
import enum
import hashlib
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Protocol, runtime_checkable

from ._clock import SYSTEM_CLOCK, Clock
from ._keeper import RefreshFunction, TokenKeeper
from ._tokens import InMemoryTokenStore, TokenPair, TokenStore, mask, to_instant
from .errors import AuthenticationError, ConfigurationError
from .ratelimit.headers import RateLimit

__all__ = [
    "ANONYMOUS",
    "AccessToken",
    "ApiKey",
    "ApiKeyMode",
    "Credential",
    "FixedCredential",
    "InMemoryTokenStore",
    "PlatformClient",
    "TokenPair",
    "TokenRefresher",
    "TokenStore",
    "mask",
]

API_KEY_RATE_LIMIT = RateLimit(120, 60)
PLATFORM_RATE_LIMIT = RateLimit(500, 60)


def _digest(kind: str, *parts: str) -> str:
    h = hashlib.sha256(kind.encode())
    for part in parts:
        h.update(b"\0")
        h.update(part.encode())
    return f"{kind}:{h.hexdigest()[:32]}"


def _check_secret(what: str, value: object) -> str:
    if not isinstance(value, str):
        raise ConfigurationError(f"{what} must be a string, got {type(value).__name__}")
    if not value:
        raise ConfigurationError(f"{what} is empty")
    if any(ch.isspace() for ch in value):
        raise ConfigurationError(
            f"{what} contains whitespace (a trailing newline from a file or an environment "
            "variable?); strip it before passing it"
        )
    return value


TokenRefresher = Callable[[str, str, str], Awaitable[TokenPair]]
"""``(client_id, client_secret, refresh_token) -> new pair``: supplied by the session."""


@runtime_checkable
class Credential(Protocol):
    """What the session needs from a credential."""

    @property
    def kind(self) -> str:
        """``"api_key"``, ``"platform_client"`` or ``"access_token"``."""
        ...

    @property
    def limit_key(self) -> str:
        """A stable digest naming this credential for the limiter; never the secret."""
        ...

    @property
    def rate_limit(self) -> RateLimit:
        """The rate limit to pace at: the user's, or the documented default of the kind."""
        ...

    async def auth_headers(self, refresher: TokenRefresher) -> dict[str, str]:
        """The headers to send with one attempt (refreshing first when about to expire)."""
        ...

    @property
    def can_refresh(self) -> bool:
        """Whether :meth:`refresh` can produce new headers after a 401/498."""
        ...

    async def refresh(self, refresher: TokenRefresher, failed: Mapping[str, str]) -> bool | None:
        """Refresh once for every caller whose attempt with ``failed`` headers was refused.

        ``True``: this call refreshed; ``False``: it uses a pair another caller (or process)
        refreshed, and sent nothing; ``None``: not said.
        """
        ...

    def client_secret_headers(self) -> dict[str, str] | None:
        """``x-cal-secret-key`` for operations that take the OAuth client's secret, if held."""
        ...


class FixedCredential:
    """Base of credentials whose headers never change (nothing to refresh)."""

    __slots__ = ("_limit_key", "_rate_limit")

    kind = "fixed"

    def __init__(self, limit_key: str, rate_limit: RateLimit) -> None:
        self._limit_key = limit_key
        self._rate_limit = rate_limit

    @property
    def limit_key(self) -> str:
        return self._limit_key

    @property
    def rate_limit(self) -> RateLimit:
        return self._rate_limit

    async def auth_headers(self, refresher: TokenRefresher) -> dict[str, str]:
        return {}

    @property
    def can_refresh(self) -> bool:
        return False

    async def refresh(self, refresher: TokenRefresher, failed: Mapping[str, str]) -> bool | None:
        raise AuthenticationError(401, None, f"a {self.kind} credential cannot be refreshed")

    def client_secret_headers(self) -> dict[str, str] | None:
        return None


class _Anonymous(FixedCredential):
    """No credential: public endpoints only, 120 requests / 60 s per IP."""

    __slots__ = ()

    kind = "anonymous"

    def __init__(self) -> None:
        super().__init__("anonymous", RateLimit(120, 60))

    def __repr__(self) -> str:
        return "<no credential>"


ANONYMOUS: Credential = _Anonymous()


class ClientSecret(FixedCredential):
    """The OAuth client's secret alone: what the managed-user token refresh takes."""

    __slots__ = ("_secret",)

    kind = "client_secret"

    def __init__(self, client_id: str, secret: str) -> None:
        super().__init__(_digest("client_secret", client_id, secret), PLATFORM_RATE_LIMIT)
        self._secret = secret

    async def auth_headers(self, refresher: TokenRefresher) -> dict[str, str]:
        return {"x-cal-secret-key": self._secret}

    def client_secret_headers(self) -> dict[str, str] | None:
        return {"x-cal-secret-key": self._secret}

    def __repr__(self) -> str:
        return "<OAuth client secret>"


class ApiKeyMode(enum.Enum):
    TEST = "test"
    LIVE = "live"


class ApiKey(FixedCredential):
    """An API key: ``ical_live_…`` (live mode) or ``ical_…`` (test mode), 120 requests / 60 s.

    Accounts whose limit was raised pass it: ``ApiKey(key, rate_limit=RateLimit(800, 60))``.
    """

    __slots__ = ("_key", "_mode")

    kind = "api_key"

    def __init__(self, key: str, rate_limit: RateLimit | None = None) -> None:
        key = _check_secret("ApiKey: the key", key)
        if key.startswith("ical_live_"):
            self._mode = ApiKeyMode.LIVE
        elif key.startswith("ical_"):
            self._mode = ApiKeyMode.TEST
        else:
            hint = " (pass the key alone, without 'Bearer ')" if key.lower() == "bearer" else ""
            raise ConfigurationError(
                f"ApiKey: a value of {len(key)} characters is not an iCalendly API key: keys start "
                f"with 'ical_live_' (live mode) or 'ical_' (test mode){hint}. For a managed-user "
                "or OAuth token use AccessToken, for an OAuth client PlatformClient."
            )
        if (len(key) <= len("ical_live_") and self._mode is ApiKeyMode.LIVE) or len(key) <= 5:
            raise ConfigurationError("ApiKey: the key has a prefix but nothing after it")
        if rate_limit is not None and not isinstance(rate_limit, RateLimit):
            raise ConfigurationError(
                "ApiKey: rate_limit must be a RateLimit, e.g. RateLimit(800, 60)"
            )
        super().__init__(_digest("api_key", key), rate_limit or API_KEY_RATE_LIMIT)
        self._key = key

    @property
    def mode(self) -> ApiKeyMode:
        """Live or test mode, from the key's prefix."""
        return self._mode

    async def auth_headers(self, refresher: TokenRefresher) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._key}"}

    def __repr__(self) -> str:
        return (
            f"ApiKey({mask(self._key)!r}, mode={self._mode.value!r}, rate_limit={self._rate_limit})"
        )


class PlatformClient(FixedCredential):
    """A platform OAuth client: ``x-cal-client-id`` + ``x-cal-secret-key``, 500 requests / 60 s."""

    __slots__ = ("_client_id", "_secret_key")

    kind = "platform_client"

    def __init__(
        self, client_id: str, secret_key: str, rate_limit: RateLimit | None = None
    ) -> None:
        self._client_id = _check_secret("PlatformClient: client_id", client_id)
        self._secret_key = _check_secret("PlatformClient: secret_key", secret_key)
        if rate_limit is not None and not isinstance(rate_limit, RateLimit):
            raise ConfigurationError("PlatformClient: rate_limit must be a RateLimit")
        super().__init__(
            _digest("platform_client", client_id, secret_key), rate_limit or PLATFORM_RATE_LIMIT
        )

    @property
    def client_id(self) -> str:
        """The OAuth client's id (not a secret)."""
        return self._client_id

    async def auth_headers(self, refresher: TokenRefresher) -> dict[str, str]:
        return {"x-cal-client-id": self._client_id, "x-cal-secret-key": self._secret_key}

    def client_secret_headers(self) -> dict[str, str] | None:
        return {"x-cal-secret-key": self._secret_key}

    def __repr__(self) -> str:
        return (
            f"PlatformClient(client_id={self._client_id!r}, "
            f"secret_key={mask(self._secret_key)!r}, rate_limit={self._rate_limit})"
        )


OnRefresh = Callable[[TokenPair], "Awaitable[None] | None"]


class _PairRegistry(InMemoryTokenStore):
    """Where an :class:`AccessToken` created without a store keeps its pair: one per process.

    Keyed by a digest of the pair the credential was created with, so that credentials built per
    request from one stored pair share it: the first to find it expired refreshes, the others
    wait and use the new pair. A refreshed pair's digest is an alias of the same entry, so a
    credential built later from either pair finds the current one. At most ``MAX`` pairs and
    aliases are kept (the least recently stored go first).
    """

    __slots__ = ("_aliases",)

    MAX = 10_000

    def __init__(self) -> None:
        super().__init__()
        self._aliases: dict[str, str] = {}

    @staticmethod
    def _digest_of(client_id: str | None, pair: TokenPair) -> str:
        return _digest("pair", client_id or "", pair.refresh_token or pair.access_token)

    def key_for(self, client_id: str | None, pair: TokenPair) -> str:
        digest = self._digest_of(client_id, pair)
        return self._aliases.get(digest, digest)

    def alias(self, client_id: str | None, pair: TokenPair, key: str) -> None:
        digest = self._digest_of(client_id, pair)
        if digest != key:
            self._aliases.pop(digest, None)
            self._aliases[digest] = key
            _bound(self._aliases, self.MAX)

    async def set(self, key: str, pair: TokenPair) -> None:
        self._pairs.pop(key, None)  # most recently stored last
        await super().set(key, pair)
        _bound(self._pairs, self.MAX)


def _bound(entries: dict[str, Any], limit: int) -> None:
    while len(entries) > limit:
        del entries[next(iter(entries))]


_REGISTRY = _PairRegistry()


class _KeptToken:
    """Base of the bearer-token credentials whose pair a :class:`TokenKeeper` keeps: the
    ``Authorization`` header from the current pair, refreshed (once for everyone) shortly before
    it expires and after a 401/498. Subclasses say how to refresh (:meth:`_refresh_function`)."""

    __slots__ = ("_keeper", "_limit_key", "_rate_limit")

    _keeper: TokenKeeper
    _limit_key: str
    _rate_limit: RateLimit

    @property
    def kind(self) -> str:
        return "access_token"

    @property
    def limit_key(self) -> str:
        return self._limit_key

    @property
    def rate_limit(self) -> RateLimit:
        return self._rate_limit

    @property
    def can_refresh(self) -> bool:
        return True

    @property
    def store(self) -> TokenStore:
        """Where the pair lives."""
        return self._keeper.store

    async def current(self) -> TokenPair:
        """The pair in use now (after any refresh)."""
        return await self._keeper.current()

    def _refresh_function(self, refresher: TokenRefresher) -> RefreshFunction:
        raise NotImplementedError

    async def auth_headers(self, refresher: TokenRefresher) -> dict[str, str]:
        keeper = self._keeper
        pair = await keeper.current()
        if self.can_refresh and pair.refresh_token and keeper.expiring(pair):
            pair, _ = await keeper.refresh(pair.access_token, self._refresh_function(refresher))
        return {"Authorization": f"Bearer {pair.access_token}"}

    async def refresh(self, refresher: TokenRefresher, failed: Mapping[str, str]) -> bool:
        used = failed.get("Authorization", "").removeprefix("Bearer ")
        _, refreshed = await self._keeper.refresh(used, self._refresh_function(refresher))
        return refreshed

    def client_secret_headers(self) -> dict[str, str] | None:
        return None


class AccessToken(_KeptToken):
    """A managed user's access token, 500 requests / 60 s, refreshed with rotation.

    (An OAuth partner app's users get their credential from
    :meth:`~icalendly_async.OAuthApp.credential`, which refreshes at the OAuth token endpoint;
    any other bearer token can be given without ``client_id``/``client_secret``: not refreshed.)

    With ``refresh_token``, ``client_id`` and ``client_secret`` it refreshes itself shortly before
    ``expires_at`` (``refresh_margin`` seconds, on ``clock``) and whenever the server answers
    401/498, **once** for all concurrent calls (single-flight), and replays the refused call once.
    ``expires_at`` is a datetime, Unix seconds, or epoch milliseconds (the platform's
    ``accessTokenExpiresAt`` as it comes).

    Refresh tokens rotate: every refresh returns a new pair, handed to ``on_refresh`` (a function
    or coroutine function) so you can persist it; an exception it raises reaches the call that
    refreshed, unchanged, while the new pair stays in use.

    Building one per request from the pair you stored is fine: credentials created from the same
    pair share it in this process, so one of them refreshes and the others use its new pair
    (also when built from the old pair after the refresh). ``store`` and ``key`` keep the pair in
    a :class:`TokenStore` under ``key`` instead (``RedisTokenStore``: shared by every process),
    the given pair seeding it when it holds none.
    """

    __slots__ = ("_client_id", "_client_secret", "_registered")

    def __init__(
        self,
        access_token: str,
        refresh_token: str | None = None,
        expires_at: _dt.datetime | float | None = None,
        client_id: str | None = None,
        client_secret: str | None = None,
        on_refresh: OnRefresh | None = None,
        *,
        rate_limit: RateLimit | None = None,
        store: TokenStore | None = None,
        key: str | None = None,
        refresh_margin: float = 60.0,
        limit_key: str | None = None,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        _check_secret("AccessToken: access_token", access_token)
        if access_token.startswith("ical_"):
            raise ConfigurationError(
                "AccessToken: this looks like an API key (it starts with 'ical_'); use ApiKey"
            )
        if refresh_token is not None:
            _check_secret("AccessToken: refresh_token", refresh_token)
        if client_id is not None:
            _check_secret("AccessToken: client_id", client_id)
        if client_secret is not None:
            _check_secret("AccessToken: client_secret", client_secret)
        if on_refresh is not None and not callable(on_refresh):
            raise ConfigurationError("AccessToken: on_refresh must be callable")
        if rate_limit is not None and not isinstance(rate_limit, RateLimit):
            raise ConfigurationError("AccessToken: rate_limit must be a RateLimit")
        _check_margin("AccessToken", refresh_margin)
        seed = TokenPair(
            access_token, refresh_token, to_instant(expires_at, "AccessToken: expires_at")
        )
        if store is None:
            if key is not None:
                raise ConfigurationError(
                    "AccessToken: key= names a pair in a TokenStore; pass store= as well"
                )
            store, key = _REGISTRY, _REGISTRY.key_for(client_id, seed)
            self._limit_key = limit_key or _digest("access_token", access_token)
        else:
            if not isinstance(store, TokenStore):
                raise ConfigurationError(
                    "AccessToken: store must be a TokenStore (get, set, mark_dead, lock)"
                )
            if key is None:
                key = _digest("pair", client_id or "", refresh_token or access_token)
            elif not isinstance(key, str) or not key:
                raise ConfigurationError("AccessToken: key must be a non-empty string")
            # Stable across rotations and processes: the pair changes, the user does not.
            self._limit_key = limit_key or _digest("access_token", client_id or "", key)
        self._registered = store is _REGISTRY
        self._keeper = TokenKeeper(
            store, key, seed=seed, on_new_pair=on_refresh, margin=refresh_margin, clock=clock
        )
        self._client_id = client_id
        self._client_secret = client_secret
        self._rate_limit = rate_limit or PLATFORM_RATE_LIMIT

    @property
    def can_refresh(self) -> bool:
        return self._client_id is not None and self._client_secret is not None

    def _refresh_function(self, refresher: TokenRefresher) -> RefreshFunction:
        client_id, client_secret = self._client_id, self._client_secret
        if client_id is None or client_secret is None:
            raise ConfigurationError(
                "AccessToken: cannot refresh without client_id and client_secret "
                "(the OAuth client the token belongs to)"
            )
        registered, key = self._registered, self._keeper.key

        async def refresh(pair: TokenPair) -> TokenPair:
            if not pair.refresh_token:
                raise AuthenticationError(
                    498,
                    "ACCESS_TOKEN_IS_EXPIRED",
                    "the access token expired and no refresh token is held",
                )
            new = await refresher(client_id, client_secret, pair.refresh_token)
            if registered:  # a credential built later from the new pair finds this entry
                _REGISTRY.alias(client_id, new, key)
            return new

        return refresh

    def client_secret_headers(self) -> dict[str, str] | None:
        if self._client_secret is None:
            return None
        return {"x-cal-secret-key": self._client_secret}

    def __repr__(self) -> str:
        return (
            f"AccessToken(limit_key={self._limit_key!r}, client_id={self._client_id!r}, "
            f"client_secret={mask(self._client_secret)!r}, "
            f"store={type(self._keeper.store).__name__})"
        )


def _check_margin(owner: str, margin: object) -> None:
    if isinstance(margin, bool) or not isinstance(margin, (int, float)) or not margin >= 0:
        raise ConfigurationError(
            f"{owner}: refresh_margin must be seconds >= 0 (refresh that long before expiry), "
            f"got {margin!r}"
        )
