"""429 storms, 498 storms, and what they leave behind.

A storm is many concurrent calls meeting the same refusal. The promise: the credential holds
(or refreshes) once for all of them, every call ends in a result or a typed error within the
policy's bounds, and the credential still works afterwards.
"""

from __future__ import annotations

import asyncio
import time

import aiohttp
import pytest

from icalendly_async import AccessToken, ApiKey, RateLimit, RetryPolicy, TokenPair, errors
from icalendly_async.ratelimit import RateLimitState
from icalendly_async.testing import Emulator, Fault

from .conftest import FAST, ROOMY, AttemptCounter, acquired, drain_loop, emulator_client

ME = "/v2/me"


async def _spend(emu: Emulator, n: int) -> None:
    """Another process spends the credential's window (and gets it blocked)."""
    async with aiohttp.ClientSession() as raw:
        for _ in range(n):
            async with raw.get(
                f"{emu.base_url}{ME}", headers={"Authorization": f"Bearer {emu.api_key}"}
            ) as resp:
                await resp.read()


# -- 429 ---------------------------------------------------------------------------------------


async def test_a_429_storm_is_absorbed_by_one_hold() -> None:
    """The credential is blocked by someone else: 100 concurrent calls meet it. The first
    response's 429 holds the whole credential until the announced reset; then every call
    succeeds, and the server refused at most a couple of requests, not a hundred."""
    limit = RateLimit(50, 1)
    async with Emulator(rate_limit=limit, block_seconds=1) as emu:
        await _spend(emu, 51)  # over the limit: blocked for 1 s
        emu.reset_stats()
        async with emulator_client(emu, rate_limit=limit) as client:
            started = time.perf_counter()
            results = await asyncio.gather(*(client.request("GET", ME) for _ in range(100)))
            elapsed = time.perf_counter() - started
            await drain_loop()
            assert acquired(client) == 0
        assert len(results) == 100 and all("email" in r for r in results)
        assert emu.stats.rate_limited <= 2
        # the block (1 s), then 100 calls at 50 per second: one more window
        assert 0.9 <= elapsed < 3.5


async def test_a_429_storm_without_a_limiter_still_ends() -> None:
    """With pacing switched off, every call meets the 429, waits for the reset itself and
    retries: bounded, typed, and successful once the block ends."""
    from icalendly_async.ratelimit import Unlimited

    limit = RateLimit(50, 1)
    async with Emulator(rate_limit=limit, block_seconds=0.5) as emu:
        await _spend(emu, 51)
        emu.reset_stats()
        async with emulator_client(emu, rate_limit=limit, limiter=Unlimited()) as client:
            results = await asyncio.gather(
                *(client.request("GET", ME) for _ in range(40)), return_exceptions=True
            )
        assert all(isinstance(r, (dict, errors.RateLimitError)) for r in results), results
        assert sum(isinstance(r, dict) for r in results) >= 30
        assert emu.stats.requests <= 40 * 3  # never more than 1 + max_retries each


async def test_a_429_beyond_the_cap_raises_at_once_with_retry_after() -> None:
    policy = RetryPolicy(backoff_base=0.01, backoff_max=0.05, max_rate_limit_wait=1.0)
    async with Emulator(rate_limit=RateLimit(3, 1), block_seconds=30) as emu:
        await _spend(emu, 4)
        async with emulator_client(emu, rate_limit=RateLimit(3, 1), retry=policy) as client:
            started = time.perf_counter()
            with pytest.raises(errors.RateLimitError) as info:
                await client.request("POST", "/v2/bookings", json={"start": "x"})
            assert time.perf_counter() - started < 0.5
        assert info.value.status == 429 and info.value.retry_after is not None
        assert 29 <= info.value.retry_after <= 30
        assert [r.method for r in emu.request_log].count("POST") == 1


async def test_calls_after_a_429_beyond_the_cap_also_raise_promptly() -> None:
    policy = RetryPolicy(backoff_base=0.01, backoff_max=0.05, max_rate_limit_wait=1.0)
    async with Emulator(rate_limit=RateLimit(3, 1), block_seconds=30) as emu:
        await _spend(emu, 4)
        async with emulator_client(emu, rate_limit=RateLimit(3, 1), retry=policy) as client:
            with pytest.raises(errors.RateLimitError):
                await client.request("GET", ME)
            started = time.perf_counter()
            try:
                await asyncio.wait_for(client.request("GET", ME), 3.0)
            except errors.RateLimitError as exc:
                assert exc.retry_after is not None and exc.retry_after > 1.0
            assert time.perf_counter() - started < 1.5


async def test_a_long_remaining_zero_hold_raises_rate_limit_error() -> None:
    policy = RetryPolicy(backoff_base=0.01, backoff_max=0.05, max_rate_limit_wait=1.0)
    async with Emulator(rate_limit=ROOMY) as emu, emulator_client(emu, retry=policy) as client:
        await client.request("GET", ME)
        key = client.credential.limit_key
        state = RateLimitState.from_headers(
            {"X-RateLimit-Remaining-Daily": "0", "X-RateLimit-Reset-Daily": "80000"}
        )
        await client.limiter.observe(key, state)
        with pytest.raises(errors.RateLimitError):
            await asyncio.wait_for(client.request("GET", ME), 3.0)


# -- 498 ---------------------------------------------------------------------------------------


def _token(emu: Emulator, handed: list[TokenPair] | None = None, **kwargs: object) -> AccessToken:
    pair = emu.issue_tokens()

    def persist(new: TokenPair) -> None:
        if handed is not None:
            handed.append(new)

    return AccessToken(
        pair.access_token,
        pair.refresh_token,
        client_id=emu.client_id,
        client_secret=emu.client_secret,
        on_refresh=persist,
        **{"rate_limit": ROOMY, **kwargs},  # type: ignore[arg-type]
    )


async def test_a_498_storm_refreshes_once_and_replays_once() -> None:
    """Every /v2/me answers 498 (a broken token service): each call refreshes at most once
    (single-flight: one refresh for the calls that failed with the same token) and replays
    once, then raises AuthenticationError; the credential still works when the storm ends."""
    async with Emulator(rate_limit=ROOMY) as emu:
        counter = AttemptCounter()
        token = _token(emu)
        async with emulator_client(emu, credential=token, observers=[counter]) as client:
            await client.request("GET", ME)  # calibrated, connections warm
            emu.reset_stats()
            emu.inject(Fault("status", status=498, path=ME, times=-1))
            started = time.perf_counter()
            results = await asyncio.gather(
                *(client.request("GET", ME) for _ in range(200)), return_exceptions=True
            )
            elapsed = time.perf_counter() - started
            assert all(isinstance(r, errors.AuthenticationError) for r in results), results[:3]
            assert all(r.status == 498 for r in results if isinstance(r, errors.APIError))
            me_requests = [r for r in emu.request_log if r.path == ME]
            assert len(me_requests) == 2 * 200  # the call, and one replay after the refresh
            assert 1 <= emu.stats.refreshes <= 3  # not one per call
            assert emu.stats.refresh_failures == 0
            assert elapsed < 5.0
            emu.clear_faults()
            assert "email" in await client.request("GET", ME)
            await drain_loop()
            assert acquired(client) == 0


async def test_tokens_expiring_under_load_never_fail_a_call() -> None:
    """The real thing: the server expires every access token five times while 40 workers keep
    calling. Each expiry costs one refresh (rotation handled), and no call fails."""
    huge = RateLimit(1_000_000, 60)  # this test is about expiry, not pacing
    # Tokens here expire every 0.2 s, so a refresh must take well under that: the emulator's
    # response validation (a few ms per answer under this load) would let a token minted by a
    # refresh expire again before the calls waiting for it are replayed, which no client can
    # help and no service does (access tokens live an hour).
    async with Emulator(rate_limit=huge, validate_responses=False) as emu:
        handed: list[TokenPair] = []
        token = _token(emu, handed, rate_limit=huge)
        async with emulator_client(emu, credential=token) as client:
            done = asyncio.Event()
            results: list[object] = []

            async def worker() -> None:
                while not done.is_set():
                    try:
                        results.append(await client.request("GET", ME))
                    except Exception as exc:
                        results.append(exc)

            workers = [asyncio.create_task(worker()) for _ in range(40)]
            for _ in range(5):
                await asyncio.sleep(0.2)
                emu.expire_access_tokens()
            await asyncio.sleep(0.2)
            done.set()
            await asyncio.gather(*workers)
        failures = [r for r in results if isinstance(r, BaseException)]
        assert not failures, failures[:3]
        assert len(results) > 200
        assert emu.stats.by_status[498] >= 1
        # one refresh per expiry at most (two expiries can fall between two refreshes)
        assert 1 <= emu.stats.refreshes <= 5 and emu.stats.refresh_failures == 0
        assert len(handed) == emu.stats.refreshes
        assert (await token.current()).refresh_token == handed[-1].refresh_token


async def test_a_failing_refresh_endpoint_is_a_typed_error_and_not_retried() -> None:
    """A 503 on the token refresh (a POST): the refresh is not resent, the call raises the
    refresh's ServerError, and the refresh token is not burnt."""
    async with Emulator(rate_limit=ROOMY) as emu:
        token = _token(emu)
        emu.expire_access_tokens()
        async with emulator_client(emu, credential=token) as client:
            emu.inject(Fault("status", status=503, path="/v2/oauth/", method="POST"))
            with pytest.raises(errors.ServerError):
                await client.request("GET", ME)
            refresh_posts = [r for r in emu.request_log if r.path.startswith("/v2/oauth/")]
            assert len(refresh_posts) == 1
            assert "email" in await client.request("GET", ME)  # next call refreshes fine
        assert emu.stats.refreshes == 1


async def test_cancelling_a_call_mid_refresh_does_not_lose_the_rotated_pair() -> None:
    async with Emulator(rate_limit=ROOMY) as emu:
        handed: list[TokenPair] = []
        token = _token(emu, handed)
        emu.expire_access_tokens()
        async with emulator_client(emu, credential=token) as client:
            # the refresh is processed (the pair rotates), then its answer trickles for 1 s
            emu.inject(Fault("slow_body", delay=1.0, path="/v2/oauth/", method="POST"))
            task = asyncio.create_task(client.request("GET", ME))
            await asyncio.sleep(0.4)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            await asyncio.sleep(1.0)
            assert "email" in await client.request("GET", ME)
        assert emu.stats.refresh_failures == 0
        assert len(handed) == 1


async def test_a_401_storm_on_an_api_key_is_not_retried() -> None:
    async with Emulator(rate_limit=ROOMY) as emu:
        async with emulator_client(emu, credential=ApiKey("ical_" + "7" * 32)) as client:
            results = await asyncio.gather(
                *(client.request("GET", ME) for _ in range(50)), return_exceptions=True
            )
        assert all(isinstance(r, errors.AuthenticationError) and r.status == 401 for r in results)
        assert emu.stats.requests == 50
        assert FAST.max_retries == 2  # 401 is simply not in the retried set
