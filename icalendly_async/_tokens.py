"""Token pairs, and where they are kept: :class:`TokenPair`, :class:`TokenStore`, in memory.

One :class:`TokenPair` type serves every token the library handles: a managed user's (the
platform's ``accessTokenExpiresAt``, epoch milliseconds) and an OAuth user's (RFC 6749's
``expires_in``, seconds). Its ``expires_at`` is always an aware UTC datetime, whichever form it
came in.

A :class:`TokenStore` keeps pairs keyed per end user (``"user-42"``): in this process
(:class:`InMemoryTokenStore`), or in Redis for a fleet (``RedisTokenStore``). Its ``lock(key)``
guards a refresh: whoever holds it re-reads the pair and refreshes only if it is still the one
that failed, so a rotated refresh token is never used twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as _dt
import math
from collections.abc import AsyncIterator, Mapping
from typing import Any, Protocol, runtime_checkable

import attrs

from .errors import ConfigurationError

__all__ = ["InMemoryTokenStore", "TokenPair", "TokenStore", "mask", "to_instant"]

# Epoch values at or above this are milliseconds: 1e11 seconds is the year 5138, while 1e11
# milliseconds is 1973. The platform sends JavaScript's Date.valueOf() (milliseconds).
_MILLISECONDS_FROM = 1e11


def mask(secret: str | None) -> str:
    """``'…1a2b'``: the last four characters, and nothing at all of a short secret."""
    if not secret:
        return "<none>"
    if len(secret) < 12:
        return "…****"
    return "…" + secret[-4:]


def to_instant(value: _dt.datetime | float | None, what: str = "expires_at") -> _dt.datetime | None:
    """An aware UTC datetime from a datetime (naive: UTC), Unix seconds or epoch milliseconds.

    Numbers of 1e11 and more are milliseconds (what the platform's ``accessTokenExpiresAt`` and
    ``refreshTokenExpiresAt`` hold), smaller ones seconds, so a value taken straight from an API
    response works.
    """
    if value is None:
        return None
    if isinstance(value, _dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=_dt.timezone.utc)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if not math.isfinite(value):
            raise ConfigurationError(f"{what} must be a finite number, got {value!r}")
        seconds = value / 1000 if abs(value) >= _MILLISECONDS_FROM else float(value)
        try:
            return _dt.datetime.fromtimestamp(seconds, tz=_dt.timezone.utc)
        except (OverflowError, OSError, ValueError):
            raise ConfigurationError(f"{what} {value!r} is not a usable instant") from None
    raise ConfigurationError(
        f"{what} must be a datetime, Unix seconds or epoch milliseconds, got {type(value).__name__}"
    )


def _expiry(value: _dt.datetime | float | None) -> _dt.datetime | None:
    return to_instant(value, "TokenPair: expires_at")


def _refresh_expiry(value: _dt.datetime | float | None) -> _dt.datetime | None:
    return to_instant(value, "TokenPair: refresh_expires_at")


def _token(instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if value is None and attribute.name != "access_token":
        return
    if not isinstance(value, str) or not value:
        raise ConfigurationError(f"TokenPair: {attribute.name} must be a non-empty string")


def _field(data: Any, *names: str) -> Any:
    """The first of ``names`` present in a mapping, or as an attribute of a model."""
    for name in names:
        if isinstance(data, Mapping):
            if name in data and data[name] is not None:
                return data[name]
        else:
            found = getattr(data, name, None)
            if found is not None and type(found).__name__ != "Unset":
                return found
    return None


@attrs.frozen(repr=False)
class TokenPair:
    """An access token, its refresh token, and when each expires (aware UTC datetimes).

    ``expires_at`` (and ``refresh_expires_at``) take a datetime (naive means UTC), Unix seconds,
    or epoch milliseconds as the platform sends them. For RFC 6749's ``expires_in`` seconds use
    :meth:`from_expires_in`; for any token response (OAuth or platform, a mapping or a generated
    model) :meth:`from_response`. The tokens never appear in the repr.
    """

    access_token: str = attrs.field(validator=_token)
    refresh_token: str | None = attrs.field(default=None, validator=_token)
    expires_at: _dt.datetime | None = attrs.field(default=None, converter=_expiry)
    refresh_expires_at: _dt.datetime | None = attrs.field(
        default=None, converter=_refresh_expiry, kw_only=True
    )

    @classmethod
    def from_expires_in(
        cls,
        access_token: str,
        refresh_token: str | None = None,
        expires_in: float | None = None,
        *,
        now: float,
    ) -> TokenPair:
        """A pair whose access token expires ``expires_in`` seconds after ``now`` (Unix
        seconds: pass ``clock.time()``, or ``time.time()``)."""
        if expires_in is None:
            return cls(access_token, refresh_token)
        if (
            isinstance(expires_in, bool)
            or not isinstance(expires_in, (int, float))
            or not math.isfinite(expires_in)
            or expires_in < 0
        ):
            raise ConfigurationError(f"expires_in must be seconds >= 0, got {expires_in!r}")
        return cls(access_token, refresh_token, float(now) + float(expires_in))

    @classmethod
    def from_response(
        cls, data: Any, *, now: float | None = None, refresh_token: str | None = None
    ) -> TokenPair:
        """The pair in a token response, as it came.

        Reads RFC 6749's ``access_token``/``refresh_token``/``expires_in`` (``now`` is then
        needed: Unix seconds) and the platform's ``accessToken``/``refreshToken``/
        ``accessTokenExpiresAt``/``refreshTokenExpiresAt`` (epoch milliseconds), from a mapping
        (a whole envelope works too) or a generated model. ``refresh_token`` is kept when the
        response carries none.
        """
        if isinstance(data, Mapping) and "data" in data and "status" in data:
            data = data["data"]
        access = _field(data, "access_token", "accessToken")
        if not isinstance(access, str) or not access:
            raise ConfigurationError(
                "TokenPair.from_response: no access token in it (expected access_token or "
                "accessToken)"
            )
        refresh = _field(data, "refresh_token", "refreshToken") or refresh_token
        refresh_expires = _field(data, "refresh_token_expires_at", "refreshTokenExpiresAt")
        expires_in = _field(data, "expires_in")
        if expires_in is not None:
            if now is None:
                raise ConfigurationError(
                    "TokenPair.from_response: the response states expires_in (seconds from "
                    "now): pass now=clock.time()"
                )
            pair = cls.from_expires_in(access, refresh, expires_in, now=now)
            return attrs.evolve(pair, refresh_expires_at=refresh_expires)
        expires = _field(data, "access_token_expires_at", "accessTokenExpiresAt", "expires_at")
        return cls(access, refresh, expires, refresh_expires_at=refresh_expires)

    def __repr__(self) -> str:
        return (
            f"TokenPair(access_token={mask(self.access_token)!r}, "
            f"refresh_token={mask(self.refresh_token)!r}, expires_at={self.expires_at!r})"
        )


@runtime_checkable
class TokenStore(Protocol):
    """Where token pairs live, keyed per end user (your user's id, say ``"user-42"``).

    ``get`` returns ``None`` when nothing usable is stored (never stored, or marked dead).
    ``mark_dead(key, pair)`` forgets ``pair`` if it is still the one stored: its refresh was
    refused, and no process should try it again. ``lock(key)`` guards one user's refresh: whoever
    holds it re-reads the pair and refreshes only if it is still the one that failed. In memory
    by default (:class:`InMemoryTokenStore`); ``RedisTokenStore`` makes the rules hold across
    processes and hosts.
    """

    async def get(self, key: str) -> TokenPair | None: ...

    async def set(self, key: str, pair: TokenPair) -> None: ...

    async def mark_dead(self, key: str, pair: TokenPair) -> None: ...

    def lock(self, key: str) -> contextlib.AbstractAsyncContextManager[None]: ...


class InMemoryTokenStore:
    """A :class:`TokenStore` in this process: a dictionary and one lock per user being refreshed.

    Pairs are lost when the process ends: persist them with ``on_refresh`` (or use
    ``RedisTokenStore``) when that matters. A lock exists only while someone holds or awaits it.
    """

    __slots__ = ("__weakref__", "_locks", "_pairs")

    def __init__(self, pairs: Mapping[str, TokenPair] | None = None) -> None:
        self._pairs: dict[str, TokenPair] = dict(pairs or {})
        self._locks: dict[str, tuple[asyncio.Lock, list[int]]] = {}

    async def get(self, key: str) -> TokenPair | None:
        return self._pairs.get(key)

    async def set(self, key: str, pair: TokenPair) -> None:
        if not isinstance(pair, TokenPair):
            raise ConfigurationError(f"a TokenStore holds TokenPair values, got {pair!r}")
        self._pairs[key] = pair

    async def mark_dead(self, key: str, pair: TokenPair) -> None:
        if self._pairs.get(key) == pair:
            del self._pairs[key]

    @contextlib.asynccontextmanager
    async def lock(self, key: str) -> AsyncIterator[None]:
        entry = self._locks.get(key)
        if entry is None:
            entry = self._locks[key] = (asyncio.Lock(), [0])
        lock, users = entry
        users[0] += 1
        try:
            async with lock:
                yield
        finally:
            users[0] -= 1
            if not users[0] and self._locks.get(key) is entry:
                del self._locks[key]

    def __len__(self) -> int:
        return len(self._pairs)

    def __repr__(self) -> str:
        return f"InMemoryTokenStore(pairs={len(self._pairs)})"
