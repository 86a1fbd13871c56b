"""``RedisTokenStore``: one access-token pair shared by every process and host, on Redis.

Refresh tokens rotate (NOTES.md, "Credentials"): a refresh returns a new pair and invalidates the
old refresh token. Two workers that refresh the same credential at once therefore invalidate
each other: the loser's refresh is refused, and if it had won the race to store its pair, the
whole fleet is left with a dead refresh token. This store keeps the current pair in Redis and
turns :meth:`lock` into a Redis lock with a lease, so :class:`~icalendly_async.AccessToken`'s
rule ("whoever holds the lock re-reads the pair and refreshes only if it is still the one that
failed") holds for the fleet: exactly one process rotates, the others pick up its pair.

::

    store = RedisTokenStore("redis://cache:6379/0", "managed-user-42", initial=TokenPair(...))
    token = await store.access_token(client_id=CLIENT_ID, client_secret=CLIENT_SECRET)
    client = ICalendly(token, limiter=RedisLimiter("redis://cache:6379/0"))

The lock is ``SET NX PX`` with a random value, released only by its holder (compare and
delete), and its lease is extended while the holder works, so a slow refresh keeps it and a
crashed holder frees it after ``lock_ttl`` seconds. Within one process, callers queue on an
``asyncio.Lock`` first, so only one of them polls Redis.

The pair is stored in clear text (as JSON) under ``{prefix}:{<name>}:pair``: protect the Redis
as you would the tokens (ACLs, TLS with ``rediss://``).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as _dt
import hashlib
import json
import logging
import secrets
import time
from collections.abc import AsyncIterator
from typing import Any

from .auth import AccessToken, OnRefresh, TokenPair
from .errors import ConfigurationError
from .ratelimit._redis_common import (
    RedisClient,
    TokenStoreUnavailableError,
    bounded,
    check_prefix,
    check_timeout,
    connect,
    credential_keys,
)
from .ratelimit.headers import RateLimit

__all__ = ["RedisTokenStore", "TokenStoreUnavailableError"]

log = logging.getLogger("icalendly_async.tokenstore_redis")

_EXTEND = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"""

_UNLOCK = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""


def _encode(pair: TokenPair) -> str:
    expires = pair.expires_at.timestamp() if pair.expires_at is not None else None
    return json.dumps({"access": pair.access_token, "refresh": pair.refresh_token, "exp": expires})


def _decode(raw: bytes | str) -> TokenPair:
    data = json.loads(raw)
    expires = data.get("exp")
    return TokenPair(
        access_token=data["access"],
        refresh_token=data.get("refresh"),
        expires_at=(
            _dt.datetime.fromtimestamp(expires, tz=_dt.timezone.utc)
            if expires is not None
            else None
        ),
    )


class RedisTokenStore:
    """A :class:`~icalendly_async.TokenStore` whose pair and refresh lock live in Redis.

    ``redis``: a URL (the store creates the client and closes it in :meth:`aclose`) or a
    ``redis.asyncio`` client you own. ``name``: which credential (the same in every process,
    e.g. ``"managed-user-42"``). ``initial``: the pair to store when Redis has none yet (the
    first process to start seeds it; later ones read it). ``timeout``: seconds any one Redis
    call may take. ``lock_ttl``: the lock's lease (extended while held). ``lock_timeout``:
    the longest wait for another process's refresh. ``cache_seconds``: how long :meth:`get` may
    reuse a pair it read (0: read Redis on every call; a stale pair costs at most one refused
    attempt, which is then replayed with the fresh one).
    """

    def __init__(
        self,
        redis: str | RedisClient,
        name: str,
        *,
        initial: TokenPair | None = None,
        prefix: str = "icalendly:token",
        timeout: float = 2.0,
        lock_ttl: float = 15.0,
        lock_timeout: float = 75.0,
        cache_seconds: float = 0.0,
    ) -> None:
        if not isinstance(name, str) or not name:
            raise ConfigurationError("RedisTokenStore: name must be a non-empty string")
        if initial is not None and not isinstance(initial, TokenPair):
            raise ConfigurationError("RedisTokenStore: initial must be a TokenPair")
        if isinstance(cache_seconds, bool) or not cache_seconds >= 0:
            raise ConfigurationError("RedisTokenStore: cache_seconds must be >= 0")
        self._timeout = check_timeout(timeout, "timeout")
        self._lock_ttl = check_timeout(lock_ttl, "lock_ttl")
        self._lock_timeout = check_timeout(lock_timeout, "lock_timeout")
        self._prefix = check_prefix(prefix)
        self._name = name
        self._initial = initial
        self._cache_seconds = float(cache_seconds)
        self._client, self._owns_client = connect(redis, self._timeout)
        self._pair_key, self._lock_key = credential_keys(self._prefix, name, "pair", "lock")
        self._extend = self._client.register_script(_EXTEND)
        self._unlock = self._client.register_script(_UNLOCK)
        self._local_lock: asyncio.Lock | None = None
        self._holding = False
        self._releases: set[asyncio.Task[None]] = set()
        self._cached: TokenPair | None = None
        self._cached_at = 0.0

    def __repr__(self) -> str:
        return f"RedisTokenStore(name={self._name!r}, key={self._pair_key!r})"

    @property
    def limit_key(self) -> str:
        """A stable limiter key for this credential, the same in every process."""
        digest = hashlib.sha256(f"redis-token-store\0{self._prefix}\0{self._name}".encode())
        return f"access_token:{digest.hexdigest()[:32]}"

    async def _call(self, awaitable: Any, what: str) -> Any:
        return await bounded(awaitable, self._timeout, what, TokenStoreUnavailableError)

    # -- the TokenStore protocol ------------------------------------------------------------

    async def get(self) -> TokenPair:
        """The current pair (fresh from Redis inside :meth:`lock`, always when not caching)."""
        now = time.monotonic()
        if (
            not self._holding
            and self._cached is not None
            and now - self._cached_at < self._cache_seconds
        ):
            return self._cached
        raw = await self._call(self._client.get(self._pair_key), "reading the token pair")
        if raw is None:
            if self._initial is None:
                raise ConfigurationError(
                    f"no token pair is stored under {self._pair_key!r}: create the "
                    "RedisTokenStore with initial=TokenPair(...) in at least one process"
                )
            await self._call(
                self._client.set(self._pair_key, _encode(self._initial), nx=True),
                "seeding the token pair",
            )
            raw = await self._call(self._client.get(self._pair_key), "reading the token pair")
            if raw is None:
                raise ConfigurationError(f"the token pair under {self._pair_key!r} vanished")
        pair = _decode(raw)
        self._cached, self._cached_at = pair, now
        return pair

    async def set(self, pair: TokenPair) -> None:
        """Store a new pair for every process (unconditionally: it came from a good refresh)."""
        await self._call(self._client.set(self._pair_key, _encode(pair)), "storing the token pair")
        self._cached, self._cached_at = pair, time.monotonic()

    @contextlib.asynccontextmanager
    async def lock(self) -> AsyncIterator[None]:
        """Hold the fleet's refresh lock for this credential."""
        if self._local_lock is None:
            self._local_lock = asyncio.Lock()
        async with self._local_lock:
            token = await self._acquire()
            keeper = asyncio.get_running_loop().create_task(self._keep(token))
            self._holding = True
            try:
                yield
            finally:
                self._holding = False
                keeper.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await keeper
                await self._release(token)

    async def _acquire(self) -> str:
        token = secrets.token_hex(16)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._lock_timeout
        ttl_ms = int(self._lock_ttl * 1000)
        delay = 0.005
        try:
            while not await self._call(
                self._client.set(self._lock_key, token, nx=True, px=ttl_ms),
                "taking the refresh lock",
            ):
                if loop.time() >= deadline:
                    raise TokenStoreUnavailableError(
                        f"waited {self._lock_timeout:g} s for another process's token refresh "
                        f"({self._lock_key!r}); it holds the lock but has not finished"
                    )
                await asyncio.sleep(delay)
                delay = min(delay * 2, 0.1)
        except asyncio.CancelledError:
            # The SET may have landed before the cancellation: do not leave the fleet waiting.
            task = loop.create_task(self._release(token))
            self._releases.add(task)
            task.add_done_callback(self._releases.discard)
            raise
        return token

    async def _keep(self, token: str) -> None:
        """Extend the lease while the lock is held (a refresh may outlast ``lock_ttl``)."""
        ttl_ms = int(self._lock_ttl * 1000)
        while True:
            await asyncio.sleep(self._lock_ttl / 3)
            try:
                kept = await self._call(
                    self._extend(keys=[self._lock_key], args=[token, ttl_ms]),
                    "extending the refresh lock",
                )
            except TokenStoreUnavailableError as exc:
                log.warning("could not extend the token refresh lock: %s", exc)
                continue
            if not kept:
                log.warning("the token refresh lock %r expired while held", self._lock_key)
                return

    async def _release(self, token: str) -> None:
        try:
            await self._call(
                self._unlock(keys=[self._lock_key], args=[token]), "releasing the refresh lock"
            )
        except TokenStoreUnavailableError as exc:  # its lease ends it anyway
            log.warning("could not release the token refresh lock: %s", exc)

    # -- conveniences -----------------------------------------------------------------------

    async def access_token(
        self,
        *,
        client_id: str,
        client_secret: str,
        on_refresh: OnRefresh | None = None,
        rate_limit: RateLimit | None = None,
        refresh_margin: float = 60.0,
    ) -> AccessToken:
        """An :class:`~icalendly_async.AccessToken` on this store, from the stored pair.

        Its ``limit_key`` is derived from the store's name, so every process (and every
        rotation) paces the same bucket of a shared limiter.
        """
        pair = await self.get()
        return AccessToken(
            pair.access_token,
            pair.refresh_token,
            pair.expires_at,
            client_id,
            client_secret,
            on_refresh,
            rate_limit=rate_limit,
            store=self,
            refresh_margin=refresh_margin,
            limit_key=self.limit_key,
        )

    async def aclose(self) -> None:
        """Close the Redis client if this store created it."""
        if self._owns_client:
            await self._client.aclose()

    async def __aenter__(self) -> RedisTokenStore:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()
