"""``RedisTokenStore``: token pairs shared by every process and host, keyed per user, on Redis.

Refresh tokens rotate (NOTES.md, "Credentials"): a refresh returns a new pair and invalidates the
old refresh token. Two workers that refresh the same user's pair at once therefore invalidate
each other: the loser's refresh is refused, and if it had won the race to store its pair, the
whole fleet is left with a dead refresh token. This store keeps each user's pair in Redis and
turns :meth:`lock` into a Redis lock with a lease, so the rule of every credential on a
:class:`~icalendly_async.TokenStore` ("whoever holds the lock re-reads the pair and refreshes
only if it is still the one that failed") holds for the fleet: exactly one process rotates, the
others pick up its pair. A pair whose refresh was refused for good is deleted
(:meth:`mark_dead`), so no other process tries it.

::

    store = RedisTokenStore("redis://cache:6379/0")
    app = OAuthApp(CLIENT_ID, client_secret=SECRET, redirect_uri=CALLBACK, store=store)
    # or, for a managed user's pair:
    token = await store.access_token("managed-user-42", client_id=CLIENT_ID,
                                     client_secret=CLIENT_SECRET, initial=TokenPair(...))

The lock is ``SET NX PX`` with a random value, released only by its holder (compare and
delete), and its lease is extended while the holder works, so a slow refresh keeps it and a
crashed holder frees it after ``lock_ttl`` seconds. Within one process, callers queue on an
``asyncio.Lock`` per user first, so only one of them polls Redis.

Each pair is stored in clear text (as JSON) under ``{prefix}:{<key>}:pair``: protect the Redis
as you would the tokens (ACLs, TLS with ``rediss://``).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as _dt
import json
import logging
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from ._clock import SYSTEM_CLOCK, Clock
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


_MARK_DEAD = """
local raw = redis.call('GET', KEYS[1])
if raw and cjson.decode(raw)['access'] == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""

#: Pairs a store with ``cache_seconds`` remembers at most (the oldest go first).
MAX_CACHED = 10_000


def _encode(pair: TokenPair) -> str:
    def seconds(when: _dt.datetime | None) -> float | None:
        return when.timestamp() if when is not None else None

    return json.dumps(
        {
            "access": pair.access_token,
            "refresh": pair.refresh_token,
            "exp": seconds(pair.expires_at),
            "refresh_exp": seconds(pair.refresh_expires_at),
        }
    )


def _decode(raw: bytes | str) -> TokenPair:
    data = json.loads(raw)
    return TokenPair(
        data["access"],
        data.get("refresh"),
        data.get("exp"),
        refresh_expires_at=data.get("refresh_exp"),
    )


class RedisTokenStore:
    """A :class:`~icalendly_async.TokenStore` whose pairs and refresh locks live in Redis.

    ``redis``: a URL (the store creates the client and closes it in :meth:`aclose`) or a
    ``redis.asyncio`` client you own. ``prefix``: the keys' prefix (one per application).
    ``timeout``: seconds any one Redis call may take. ``lock_ttl``: the lock's lease (extended
    while held). ``lock_timeout``: the longest wait for another process's refresh.
    ``cache_seconds``: how long :meth:`get` may reuse a pair it read (0: read Redis on every
    call; a stale pair costs at most one refused attempt, which is then replayed with the
    fresh one); callers that ask for one user's pair at the same moment share one read either
    way. ``max_concurrency``: Redis commands in flight at once (keep it below the connection
    pool's size: redis-py refuses more than that).
    """

    def __init__(
        self,
        redis: str | RedisClient,
        *,
        prefix: str = "icalendly:token",
        timeout: float = 2.0,
        lock_ttl: float = 15.0,
        lock_timeout: float = 75.0,
        cache_seconds: float = 0.0,
        max_concurrency: int = 50,
    ) -> None:
        if isinstance(cache_seconds, bool) or not cache_seconds >= 0:
            raise ConfigurationError("RedisTokenStore: cache_seconds must be >= 0")
        self._timeout = check_timeout(timeout, "timeout")
        self._lock_ttl = check_timeout(lock_ttl, "lock_ttl")
        self._lock_timeout = check_timeout(lock_timeout, "lock_timeout")
        self._prefix = check_prefix(prefix)
        self._cache_seconds = float(cache_seconds)
        self._client, self._owns_client = connect(redis, self._timeout)
        self._extend = self._client.register_script(_EXTEND)
        self._unlock = self._client.register_script(_UNLOCK)
        self._mark_dead = self._client.register_script(_MARK_DEAD)
        self._local_locks: dict[str, tuple[asyncio.Lock, list[int]]] = {}
        self._holding: set[str] = set()
        self._releases: set[asyncio.Task[None]] = set()
        self._cached: dict[str, tuple[TokenPair, float]] = {}
        self._reads: dict[str, asyncio.Future[TokenPair | None]] = {}
        if isinstance(max_concurrency, bool) or not isinstance(max_concurrency, int):
            raise ConfigurationError("RedisTokenStore: max_concurrency must be a whole number")
        if max_concurrency < 1:
            raise ConfigurationError("RedisTokenStore: max_concurrency must be >= 1")
        self._max_concurrency = max_concurrency
        self._slots: asyncio.Semaphore | None = None

    def __repr__(self) -> str:
        return f"RedisTokenStore(prefix={self._prefix!r})"

    def _keys(self, key: str) -> tuple[str, str]:
        if not isinstance(key, str) or not key:
            raise ConfigurationError("RedisTokenStore: a key must be a non-empty string")
        pair_key, lock_key = credential_keys(self._prefix, key, "pair", "lock")
        return pair_key, lock_key

    async def _call(self, command: Callable[[], Awaitable[Any]], what: str) -> Any:
        """One Redis command, at most ``max_concurrency`` at a time (redis-py's pool refuses
        more than its size at once), bounded by ``timeout``."""
        if self._slots is None:
            self._slots = asyncio.Semaphore(self._max_concurrency)
        async with self._slots:
            return await bounded(command(), self._timeout, what, TokenStoreUnavailableError)

    def _remember(self, key: str, pair: TokenPair | None) -> None:
        if not self._cache_seconds:
            return
        self._cached.pop(key, None)
        if pair is not None:
            self._cached[key] = (pair, time.monotonic())
            while len(self._cached) > MAX_CACHED:
                del self._cached[next(iter(self._cached))]

    # -- the TokenStore protocol ------------------------------------------------------------

    async def get(self, key: str) -> TokenPair | None:
        """``key``'s pair (fresh from Redis inside :meth:`lock`, always when not caching)."""
        pair_key, _ = self._keys(key)
        if self._cache_seconds and key not in self._holding:
            cached = self._cached.get(key)
            if cached is not None and time.monotonic() - cached[1] < self._cache_seconds:
                return cached[0]
        if key in self._holding:  # deciding a refresh: a read begun before the lock is stale
            return await self._read(key, pair_key)
        reading = self._reads.get(key)
        if reading is None:  # callers that ask at once share one read
            reading = self._reads[key] = asyncio.ensure_future(self._read(key, pair_key))
            reading.add_done_callback(lambda done: self._end_read(key, done))
        return await asyncio.shield(reading)

    async def _read(self, key: str, pair_key: str) -> TokenPair | None:
        raw = await self._call(lambda: self._client.get(pair_key), "reading a token pair")
        pair = _decode(raw) if raw is not None else None
        self._remember(key, pair)
        return pair

    def _end_read(self, key: str, done: asyncio.Future[TokenPair | None]) -> None:
        if self._reads.get(key) is done:
            del self._reads[key]
        if not done.cancelled():
            done.exception()  # retrieved: every caller got it already

    async def set(self, key: str, pair: TokenPair) -> None:
        """Store ``key``'s pair for every process."""
        if not isinstance(pair, TokenPair):
            raise ConfigurationError(f"a TokenStore holds TokenPair values, got {pair!r}")
        pair_key, _ = self._keys(key)
        await self._call(lambda: self._client.set(pair_key, _encode(pair)), "storing a token pair")
        self._reads.pop(key, None)  # a read begun before this write would return the old pair
        self._remember(key, pair)

    async def add(self, key: str, pair: TokenPair) -> TokenPair:
        """Store ``pair`` unless ``key`` has one already; the pair stored now."""
        pair_key, _ = self._keys(key)
        await self._call(
            lambda: self._client.set(pair_key, _encode(pair), nx=True), "seeding a token pair"
        )
        stored = await self._read(key, pair_key)  # not a shared read begun before the SET
        return stored if stored is not None else pair

    async def mark_dead(self, key: str, pair: TokenPair) -> None:
        """Delete ``key``'s pair if it is still ``pair`` (its refresh was refused for good)."""
        pair_key, _ = self._keys(key)
        await self._call(
            lambda: self._mark_dead(keys=[pair_key], args=[pair.access_token]),
            "deleting a dead token pair",
        )
        self._reads.pop(key, None)
        self._remember(key, None)

    @contextlib.asynccontextmanager
    async def lock(self, key: str) -> AsyncIterator[None]:
        """Hold the fleet's refresh lock for ``key``."""
        _, lock_key = self._keys(key)
        entry = self._local_locks.get(key)
        if entry is None:
            entry = self._local_locks[key] = (asyncio.Lock(), [0])
        local, users = entry
        users[0] += 1
        try:
            async with local:
                token = await self._acquire(lock_key)
                keeper = asyncio.get_running_loop().create_task(self._keep(lock_key, token))
                self._holding.add(key)
                try:
                    yield
                finally:
                    self._holding.discard(key)
                    keeper.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await keeper
                    await self._release(lock_key, token)
        finally:
            users[0] -= 1
            if not users[0] and self._local_locks.get(key) is entry:
                del self._local_locks[key]

    async def _acquire(self, lock_key: str) -> str:
        token = secrets.token_hex(16)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._lock_timeout
        ttl_ms = int(self._lock_ttl * 1000)
        delay = 0.005
        try:
            while not await self._call(
                lambda: self._client.set(lock_key, token, nx=True, px=ttl_ms),
                "taking the refresh lock",
            ):
                if loop.time() >= deadline:
                    raise TokenStoreUnavailableError(
                        f"waited {self._lock_timeout:g} s for another process's token refresh "
                        f"({lock_key!r}); it holds the lock but has not finished"
                    )
                await asyncio.sleep(delay)
                delay = min(delay * 2, 0.1)
        except asyncio.CancelledError:
            # The SET may have landed before the cancellation: do not leave the fleet waiting.
            task = loop.create_task(self._release(lock_key, token))
            self._releases.add(task)
            task.add_done_callback(self._releases.discard)
            raise
        return token

    async def _keep(self, lock_key: str, token: str) -> None:
        """Extend the lease while the lock is held (a refresh may outlast ``lock_ttl``)."""
        ttl_ms = int(self._lock_ttl * 1000)
        while True:
            await asyncio.sleep(self._lock_ttl / 3)
            try:
                kept = await self._call(
                    lambda: self._extend(keys=[lock_key], args=[token, ttl_ms]),
                    "extending the refresh lock",
                )
            except TokenStoreUnavailableError as exc:
                log.warning("could not extend the token refresh lock: %s", exc)
                continue
            if not kept:
                log.warning("the token refresh lock %r expired while held", lock_key)
                return

    async def _release(self, lock_key: str, token: str) -> None:
        try:
            await self._call(
                lambda: self._unlock(keys=[lock_key], args=[token]), "releasing the refresh lock"
            )
        except TokenStoreUnavailableError as exc:  # its lease ends it anyway
            log.warning("could not release the token refresh lock: %s", exc)

    # -- conveniences -----------------------------------------------------------------------

    async def access_token(
        self,
        key: str,
        *,
        client_id: str,
        client_secret: str,
        initial: TokenPair | None = None,
        on_refresh: OnRefresh | None = None,
        rate_limit: RateLimit | None = None,
        refresh_margin: float = 60.0,
        clock: Clock = SYSTEM_CLOCK,
    ) -> AccessToken:
        """An :class:`~icalendly_async.AccessToken` for the managed user stored under ``key``.

        ``initial`` seeds Redis while it holds no pair for ``key`` (the first process to start
        seeds it; later ones, and restarted ones, read the current, rotated pair). The
        credential's ``limit_key`` is derived from ``key``, so every process (and every
        rotation) paces the same bucket of a shared limiter.
        """
        if initial is not None and not isinstance(initial, TokenPair):
            raise ConfigurationError("RedisTokenStore.access_token: initial must be a TokenPair")
        pair = await self.add(key, initial) if initial is not None else await self.get(key)
        if pair is None:
            raise ConfigurationError(
                f"no token pair is stored under {key!r}: pass initial=TokenPair(...) in at "
                "least one process"
            )
        return AccessToken(
            pair.access_token,
            pair.refresh_token,
            pair.expires_at,
            client_id,
            client_secret,
            on_refresh,
            rate_limit=rate_limit,
            store=self,
            key=key,
            refresh_margin=refresh_margin,
            clock=clock,
        )

    async def aclose(self) -> None:
        """Close the Redis client if this store created it."""
        if self._owns_client:
            await self._client.aclose()

    async def __aenter__(self) -> RedisTokenStore:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()
