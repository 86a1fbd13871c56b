"""Credentials: what to send with each attempt, how to name it for the limiter, how to refresh it.

Three kinds (NOTES.md, "Credentials"): :class:`ApiKey` (``Bearer ical_…``), :class:`PlatformClient`
(``x-cal-client-id`` / ``x-cal-secret-key``) and :class:`AccessToken` (a managed-user or OAuth token
that expires and is refreshed with rotation). No secret is ever shown: reprs and messages mask it
to its last four characters.

This module does no I/O of its own: a refresh goes through a :data:`TokenRefresher` that the
pipeline supplies, so the network stays in ``_http.py``.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as _dt
import enum
import hashlib
import inspect
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Protocol, runtime_checkable

import attrs

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

log = logging.getLogger("icalendly_async.auth")

API_KEY_RATE_LIMIT = RateLimit(120, 60)
PLATFORM_RATE_LIMIT = RateLimit(500, 60)


def mask(secret: str | None) -> str:
    """``'…1a2b'``: the last four characters, and nothing at all of a short secret."""
    if not secret:
        return "<none>"
    if len(secret) < 12:
        return "…****"
    return "…" + secret[-4:]


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


@attrs.frozen(repr=False)
class TokenPair:
    """An access token, its refresh token, and when the access token expires (aware UTC)."""

    access_token: str
    refresh_token: str | None = None
    expires_at: _dt.datetime | None = None

    def __repr__(self) -> str:
        return (
            f"TokenPair(access_token={mask(self.access_token)!r}, "
            f"refresh_token={mask(self.refresh_token)!r}, expires_at={self.expires_at!r})"
        )


TokenRefresher = Callable[[str, str, str], Awaitable[TokenPair]]
"""``(client_id, client_secret, refresh_token) -> new pair``: supplied by the session."""


class TokenStore(Protocol):
    """Where an :class:`AccessToken` keeps its current pair.

    ``lock()`` guards a refresh: whoever holds it re-reads the pair, and refreshes only if the
    pair is still the one that failed. In memory by default; a shared store (Redis) makes the
    same rule hold across processes.
    """

    async def get(self) -> TokenPair: ...

    async def set(self, pair: TokenPair) -> None: ...

    def lock(self) -> contextlib.AbstractAsyncContextManager[None]: ...


class InMemoryTokenStore:
    """The default :class:`TokenStore`: one pair and an :class:`asyncio.Lock`, in this process."""

    __slots__ = ("_lock", "_pair")

    def __init__(self, pair: TokenPair) -> None:
        self._pair = pair
        self._lock: asyncio.Lock | None = None

    async def get(self) -> TokenPair:
        return self._pair

    async def set(self, pair: TokenPair) -> None:
        self._pair = pair

    @contextlib.asynccontextmanager
    async def lock(self) -> AsyncIterator[None]:
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            yield

    def __repr__(self) -> str:
        return f"InMemoryTokenStore({self._pair!r})"


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

    async def refresh(self, refresher: TokenRefresher, failed: Mapping[str, str]) -> None:
        """Refresh once for every caller whose attempt with ``failed`` headers was refused."""
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

    async def refresh(self, refresher: TokenRefresher, failed: Mapping[str, str]) -> None:
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

_REFRESHES: set[asyncio.Task[None]] = set()  # refreshes running on, their callers cancelled


def _to_datetime(value: _dt.datetime | float | None) -> _dt.datetime | None:
    if value is None:
        return None
    if isinstance(value, _dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=_dt.timezone.utc)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return _dt.datetime.fromtimestamp(value, tz=_dt.timezone.utc)
    raise ConfigurationError(
        f"AccessToken: expires_at must be a datetime or Unix seconds, got {type(value).__name__}"
    )


class AccessToken:
    """A managed-user or OAuth access token, 500 requests / 60 s, refreshed with rotation.

    With ``refresh_token``, ``client_id`` and ``client_secret`` it refreshes itself shortly before
    ``expires_at`` and whenever the server answers 401/498, **once** for all concurrent calls
    (single-flight), and replays the refused call once. Refresh tokens rotate: every refresh
    returns a new pair, handed to ``on_refresh`` (a function or coroutine function) so you can
    persist it. ``store`` lets several processes share the pair (see ``RedisTokenStore``).
    """

    __slots__ = (
        "_client_id",
        "_client_secret",
        "_limit_key",
        "_on_refresh",
        "_rate_limit",
        "_refresh_margin",
        "_store",
    )

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
        refresh_margin: float = 60.0,
        limit_key: str | None = None,
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
        pair = TokenPair(access_token, refresh_token, _to_datetime(expires_at))
        self._store: TokenStore = store if store is not None else InMemoryTokenStore(pair)
        self._client_id = client_id
        self._client_secret = client_secret
        self._on_refresh = on_refresh
        self._rate_limit = rate_limit or PLATFORM_RATE_LIMIT
        self._refresh_margin = refresh_margin
        # Stable across rotations: the pair changes, the credential (and its bucket) does not.
        self._limit_key = limit_key or _digest("access_token", access_token)

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
    def store(self) -> TokenStore:
        return self._store

    @property
    def can_refresh(self) -> bool:
        return self._client_id is not None and self._client_secret is not None

    async def current(self) -> TokenPair:
        """The pair in use now (after any refresh)."""
        return await self._store.get()

    def _expiring(self, pair: TokenPair) -> bool:
        if pair.expires_at is None:
            return False
        return pair.expires_at.timestamp() - time.time() <= self._refresh_margin

    async def auth_headers(self, refresher: TokenRefresher) -> dict[str, str]:
        pair = await self._store.get()
        if self.can_refresh and pair.refresh_token and self._expiring(pair):
            await self._refresh_if_current(refresher, pair.access_token)
            pair = await self._store.get()
        return {"Authorization": f"Bearer {pair.access_token}"}

    async def refresh(self, refresher: TokenRefresher, failed: Mapping[str, str]) -> None:
        used = failed.get("Authorization", "").removeprefix("Bearer ")
        await self._refresh_if_current(refresher, used)

    async def _refresh_if_current(self, refresher: TokenRefresher, stale_access: str) -> None:
        if self._client_id is None or self._client_secret is None:
            raise ConfigurationError(
                "AccessToken: cannot refresh without client_id and client_secret "
                "(the OAuth client the token belongs to)"
            )
        # Shielded: once begun, a refresh runs to its end even if the call that began it is
        # cancelled. The server rotates the refresh token as soon as it has the request, so an
        # abandoned answer would lose the only valid pair and kill the credential for good.
        task = asyncio.ensure_future(self._refresh_locked(refresher, stale_access))
        _REFRESHES.add(task)
        task.add_done_callback(_REFRESHES.discard)
        await asyncio.shield(task)

    async def _refresh_locked(self, refresher: TokenRefresher, stale_access: str) -> None:
        assert self._client_id is not None and self._client_secret is not None
        async with self._store.lock():
            pair = await self._store.get()
            if pair.access_token != stale_access:
                return  # someone refreshed while we waited for the lock: use their pair
            if not pair.refresh_token:
                raise AuthenticationError(
                    498,
                    "ACCESS_TOKEN_IS_EXPIRED",
                    "the access token expired and no refresh token is held",
                )
            new = await refresher(self._client_id, self._client_secret, pair.refresh_token)
            await self._store.set(new)
            if self._on_refresh is not None:
                try:
                    result = self._on_refresh(new)
                    if inspect.isawaitable(result):
                        await result
                except Exception as exc:  # the refresh itself succeeded; never lose the new pair
                    log.error(
                        "on_refresh callback failed (%s); the new token pair is still in use",
                        type(exc).__name__,
                    )

    def client_secret_headers(self) -> dict[str, str] | None:
        if self._client_secret is None:
            return None
        return {"x-cal-secret-key": self._client_secret}

    def __repr__(self) -> str:
        return (
            f"AccessToken(limit_key={self._limit_key!r}, client_id={self._client_id!r}, "
            f"client_secret={mask(self._client_secret)!r}, store={type(self._store).__name__})"
        )
