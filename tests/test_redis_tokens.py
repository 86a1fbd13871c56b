"""RedisTokenStore against a real redis-server: pairs shared per user, the fleet's refresh lock
(lease, extension, a crashed holder), single-flight refresh across clients, and outages."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
import redis.asyncio as redis_asyncio

from icalendly_async import (
    AccessToken,
    ICalendly,
    RateLimit,
    ReauthorizationRequired,
    TokenPair,
    errors,
)
from icalendly_async.ratelimit.redis import (
    RedisLimiter,
    RedisTokenStore,
    TokenStoreUnavailableError,
)
from icalendly_async.testing import Emulator

from ._oauth_flow import log_in, partner_app
from .redis_server import RedisServer, free_port, redis_server_fixture  # noqa: F401

pytestmark = [pytest.mark.redis, pytest.mark.timeout(60)]

PAIR = TokenPair("access-token-000000000001", "refresh-token-00000000001")


@pytest.fixture
def prefix() -> str:
    return f"tok:{time.monotonic_ns()}"


@pytest.fixture
async def make(
    redis_server: RedisServer, prefix: str
) -> AsyncIterator[Callable[..., RedisTokenStore]]:
    made: list[RedisTokenStore] = []

    def factory(**kwargs: Any) -> RedisTokenStore:
        kwargs.setdefault("prefix", prefix)
        store = RedisTokenStore(kwargs.pop("url", redis_server.url), **kwargs)
        made.append(store)
        return store

    yield factory
    for store in made:
        await store.aclose()


async def test_pairs_are_kept_per_user_and_every_store_sees_updates(
    make: Callable[..., RedisTokenStore],
) -> None:
    expires = dt.datetime(2030, 1, 2, 3, 4, 5, tzinfo=dt.timezone.utc)
    a, b = make(), make()
    first = TokenPair(PAIR.access_token, PAIR.refresh_token, expires)
    assert await a.add("user-1", first) == first
    assert await b.add("user-1", TokenPair("another-access-token-0001")) == first  # seeded once
    assert (await b.get("user-1")) == first and (await b.get("user-1")).expires_at == expires  # type: ignore[union-attr]
    assert await a.get("user-2") is None
    new = TokenPair("rotated-access-token-0001", "rotated-refresh-token-001")
    await b.set("user-1", new)
    assert await a.get("user-1") == new
    await a.mark_dead("user-1", first)  # not the stored pair any more: kept
    assert await b.get("user-1") == new
    await a.mark_dead("user-1", new)
    assert await b.get("user-1") is None
    assert "rotated" not in repr(a) and PAIR.access_token not in repr(a)


async def test_a_store_without_a_pair_or_initial_says_so(
    make: Callable[..., RedisTokenStore],
) -> None:
    with pytest.raises(errors.ConfigurationError, match="initial="):
        await make().access_token("nobody", client_id="cid", client_secret="secret")


async def test_the_lock_excludes_other_processes_and_ends_with_its_holder(
    make: Callable[..., RedisTokenStore],
) -> None:
    a, b = make(lock_ttl=0.3), make(lock_ttl=0.3)
    order: list[str] = []

    async def hold(store: RedisTokenStore, name: str, seconds: float) -> None:
        async with store.lock("user-1"):
            order.append(f"{name} in")
            await asyncio.sleep(seconds)  # longer than the lease: it is extended meanwhile
            order.append(f"{name} out")

    first = asyncio.create_task(hold(a, "a", 0.8))
    await asyncio.sleep(0.05)
    await hold(b, "b", 0.0)
    await first
    assert order == ["a in", "a out", "b in", "b out"]


async def test_a_crashed_holder_frees_the_lock_after_its_lease(
    make: Callable[..., RedisTokenStore], redis_server: RedisServer, prefix: str
) -> None:
    store = make()
    raw = redis_asyncio.Redis.from_url(redis_server.url)
    try:  # what a process that died holding the lock leaves behind
        await raw.set(f"{prefix}:{{user-1}}:lock", "dead-process", px=300)
    finally:
        await raw.aclose()
    started = time.perf_counter()
    async with store.lock("user-1"):
        pass
    assert 0.2 <= time.perf_counter() - started < 1.0


async def test_waiting_too_long_for_the_lock_is_a_clear_error(
    make: Callable[..., RedisTokenStore],
) -> None:
    a, b = make(), make(lock_timeout=0.2)
    async with a.lock("user-1"):
        with pytest.raises(TokenStoreUnavailableError, match="refresh"):
            async with b.lock("user-1"):
                pass
        async with b.lock("user-2"):  # another user's lock is free
            pass


async def test_an_unreachable_redis_fails_within_the_timeout(
    make: Callable[..., RedisTokenStore],
) -> None:
    store = make(url=f"redis://127.0.0.1:{free_port()}/0", timeout=0.3)
    started = time.perf_counter()
    with pytest.raises(TokenStoreUnavailableError) as info:
        await store.get("user-1")
    assert isinstance(info.value, errors.TransportError)
    assert time.perf_counter() - started < 1.0


async def test_two_clients_on_one_store_refresh_once(
    make: Callable[..., RedisTokenStore], redis_server: RedisServer, prefix: str
) -> None:
    limit = RateLimit(5000, 60)
    async with Emulator(rate_limit=limit) as emu:
        pair = emu.issue_tokens()
        emu.expire_access_tokens()
        handed: list[TokenPair] = []
        clients = []
        for _ in range(2):  # two "processes": their own store, client and limiter
            store = make()
            token = await store.access_token(
                "managed-user-1",
                initial=TokenPair(pair.access_token, pair.refresh_token),
                client_id=emu.client_id,
                client_secret=emu.client_secret,
                on_refresh=handed.append,
                rate_limit=limit,
            )
            assert isinstance(token, AccessToken)
            clients.append(
                ICalendly(
                    token,
                    base_url=emu.base_url,
                    allow_insecure_http=True,
                    limiter=RedisLimiter(redis_server.url, prefix=prefix),
                )
            )
        results = await asyncio.gather(
            *(clients[i % 2].request("GET", "/v2/me") for i in range(200))
        )
        for client in clients:
            await client.aclose()
            assert isinstance(client.limiter, RedisLimiter)
            await client.limiter.aclose()
        assert len(results) == 200 and all("email" in r for r in results)
        assert emu.stats.refreshes == 1 and emu.stats.refresh_failures == 0
        assert len(handed) == 1
        # one bucket for the user in every process, whatever pair each started from
        assert len({client.credential.limit_key for client in clients}) == 1
        for client in clients:
            assert isinstance(client.credential, AccessToken)
            assert await client.credential.current() == handed[0]


async def test_validation() -> None:
    store = RedisTokenStore("redis://127.0.0.1:1/0")
    with pytest.raises(errors.ConfigurationError, match="key"):
        await store.get("")
    with pytest.raises(errors.ConfigurationError, match="TokenPair"):
        await store.set("user-1", ("access", "refresh"))  # type: ignore[arg-type]
    await store.aclose()
    with pytest.raises(errors.ConfigurationError, match="lock_ttl"):
        RedisTokenStore("redis://127.0.0.1:1/0", lock_ttl=0)


async def test_oauth_users_on_a_shared_store_refresh_once_per_fleet(
    make: Callable[..., RedisTokenStore],
) -> None:
    limit = RateLimit(5000, 60)
    async with Emulator(rate_limit=limit) as emu:
        apps = [  # four "processes": their own store object, app and client
            partner_app(emu, store=make(), rate_limit=limit) for _ in range(4)
        ]
        clients = [ICalendly(base_url=emu.base_url, allow_insecure_http=True) for _ in apps]
        try:
            await log_in(apps[0])
            emu.expire_access_tokens()
            results = await asyncio.gather(
                *(
                    clients[i % 4].with_credential(apps[i % 4].credential("user-1")).me.get()
                    for i in range(200)
                ),
                return_exceptions=True,
            )
            assert not [r for r in results if isinstance(r, BaseException)], results[:3]
            assert emu.stats.refreshes == 1 and emu.stats.refresh_failures == 0
            pairs = {await app.store.get("user-1") for app in apps}
            assert len(pairs) == 1  # every process sees the rotated pair

            emu.revoke_oauth_grants()
            with pytest.raises(ReauthorizationRequired):
                await clients[0].with_credential(apps[0].credential("user-1")).me.get()
            tried = emu.stats.refresh_failures
            for app, client in zip(apps[1:], clients[1:], strict=True):
                with pytest.raises(ReauthorizationRequired):
                    await client.with_credential(app.credential("user-1")).me.get()
            assert emu.stats.refresh_failures == tried  # nobody else tried the dead pair
        finally:
            for app, client in zip(apps, clients, strict=True):
                await app.aclose()
                await client.aclose()


async def test_a_burst_of_reads_fits_the_connection_pool(
    make: Callable[..., RedisTokenStore], redis_server: RedisServer
) -> None:
    """A thousand concurrent calls each read the user's pair: redis-py's pool (100 connections
    by default) refuses the 101st command in flight, so reads of one user are shared and the
    commands in flight are bounded."""
    small = redis_asyncio.Redis.from_url(redis_server.url, max_connections=8)
    try:
        store = make(url=small, max_concurrency=8)
        await store.set("user-1", PAIR)
        same = await asyncio.gather(*(store.get("user-1") for _ in range(1000)))
        assert same == [PAIR] * 1000
        others = await asyncio.gather(*(store.get(f"user-{i}") for i in range(300)))
        assert others[1] == PAIR and others.count(None) == 299
    finally:
        await small.aclose()
