"""10,000 calls cancelled at random points: nothing leaks, and the limiter still paces.

The calls are caught everywhere a call can wait: queued in the limiter, queued for a
connection in aiohttp's pool, sending, reading a body that trickles, sleeping before a retry
after a hang. Afterwards: no connection checked out, nothing queued for one, no limiter waiter
or in-flight count left, no task of the library still running, no socket beyond the idle pool
(none at all once the client is closed); and a burst of three windows' worth of calls is paced
as on a fresh client: no 429, never more than the limit in the limiter's window, the ideal time.
"""

from __future__ import annotations

import asyncio
import collections
import random
import time

import aiohttp
import pytest

from icalendly_async import ApiKey, RateLimit, errors
from icalendly_async.ratelimit import LocalLimiter
from icalendly_async.testing import Emulator, Fault

from .conftest import (
    SocketCensus,
    acquired,
    drain_loop,
    emulator_client,
    library_tasks,
    pooled,
    port_of,
    proc_net_available,
    settled_census,
)

# The reliability sweep runs in the full suite (.ci/run: pytest -m slow), not the default run.
pytestmark = pytest.mark.slow

CALLS = 10_000
LIMIT = RateLimit(300, 2)
# A hang is cut by the read timeout (then retried); the call's whole budget is long enough that
# the cancellations, not the budget, end the calls.
PER_ATTEMPT = aiohttp.ClientTimeout(total=60, sock_read=0.4)


@pytest.mark.slow
async def test_cancelling_10000_calls_at_random_points_leaks_nothing() -> None:
    rng = random.Random(20240813)
    limiter = LocalLimiter()
    async with Emulator(rate_limit=LIMIT) as emu:
        port = port_of(emu.base_url)
        key = ApiKey(emu.api_key, rate_limit=LIMIT)
        async with emulator_client(
            emu,
            credential=key,
            limiter=limiter,
            connection_limit=100,
        ) as client:
            await client.request("GET", "/v2/me")  # calibrated: the burst goes out at once
            # Of the next requests, many trickle their body for a second (in flight when
            # cancelled), some hang (timeout, then a retry sleep), some fail fast and retry.
            emu.inject(Fault("slow_body", delay=1.0, path="/v2/me", times=40))
            emu.inject(Fault("hang", path="/v2/bookings", times=10))
            emu.inject(Fault("status", status=503, path="/v2/bookings", times=20))
            emu.inject(Fault("reset", path="/v2/bookings", times=10))

            def target(i: int) -> str:
                return "/v2/me" if i % 2 else "/v2/bookings"

            tasks = [
                asyncio.create_task(
                    client.request("GET", target(i), params={"take": 1}, timeout=PER_ATTEMPT)
                )
                for i in range(CALLS)
            ]
            # Once a first wave is on the wire (however loaded the machine), cancel every call
            # at a random moment of the next 1.5 s.
            loop = asyncio.get_running_loop()
            deadline = loop.time() + 15.0
            while emu.stats.requests < 100 and loop.time() < deadline:  # noqa: ASYNC110
                await asyncio.sleep(0.01)
            assert emu.stats.requests >= 100, emu.stats
            for task in tasks:
                loop.call_later(rng.uniform(0.0, 1.5), task.cancel)
            results = await asyncio.gather(*tasks, return_exceptions=True)

            kinds = collections.Counter(type(r).__name__ for r in results)
            unexpected = [
                r
                for r in results
                if isinstance(r, BaseException)
                and not isinstance(r, (asyncio.CancelledError, errors.ICalendlyError))
            ]
            assert not unexpected, unexpected[:3]
            # The limit lets 300 through per 2-s window; the 1.5 s of cancellations can straddle
            # the end of a window, so up to two windows' worth may complete.
            assert kinds["CancelledError"] >= CALLS - 2 * LIMIT.limit, kinds

            await drain_loop(20)
            # zero connections checked out, nobody queued for one
            assert acquired(client) == 0
            connector = client.connector
            assert connector is not None
            assert not any(connector._waiters.values())  # private: aiohttp's pool queue
            assert pooled(client) <= 100
            # no stuck limiter waiter, no phantom request in flight, no leftover task
            snap = limiter.snapshot(key.limit_key)
            assert snap is not None
            assert snap.waiting == 0 and snap.in_flight == 0, snap
            assert snap.recent_starts <= LIMIT.limit, snap
            assert len(limiter) == 1
            assert not library_tasks(), library_tasks()  # e.g. no limiter dispatcher left
            if proc_net_available():
                census = await settled_census(client, port)
                assert census.client["CLOSE_WAIT"] == 0, census
                assert census.open_at_client <= pooled(client), census

            # The limiter still paces: three windows' worth of calls; the server refuses none;
            # the limiter's own log never holds more than the limit in a window (sampled every
            # 20 ms); and the burst takes the ideal schedule (two windows after the first) with
            # less than a window of slack: no slot was lost to the cancellations.
            emu.clear_faults()
            # Let the server's window end: requests cancelled in flight may still have reached
            # it after the cancellations, so its window (and the Remaining: 0 it announced)
            # can last up to a window beyond them.
            await asyncio.sleep(2 * LIMIT.window_seconds)
            emu.reset_stats()
            samples: list[int] = []

            async def sample() -> None:
                while True:
                    snap = limiter.snapshot(key.limit_key)
                    samples.append(snap.recent_starts if snap is not None else 0)
                    await asyncio.sleep(0.02)

            sampler = asyncio.create_task(sample())
            started = time.perf_counter()
            burst = await asyncio.gather(
                *(client.request("GET", "/v2/me") for _ in range(3 * LIMIT.limit))
            )
            elapsed = time.perf_counter() - started
            sampler.cancel()
            assert len(burst) == 3 * LIMIT.limit
            assert emu.stats.rate_limited == 0
            assert samples and max(samples) <= LIMIT.limit, max(samples)
            ideal = 2 * LIMIT.window_seconds
            assert ideal * 0.95 <= elapsed < ideal + LIMIT.window_seconds, elapsed
            await drain_loop()
            assert acquired(client) == 0
        if proc_net_available():
            await asyncio.sleep(0.05)
            census = SocketCensus(port)
            for _ in range(50):
                if census.open_at_client == 0:
                    break
                await asyncio.sleep(0.02)
                census = SocketCensus(port)
            assert census.open_at_client == 0, census  # aclose closed the pool


async def test_cancelling_while_queued_for_a_connection_releases_the_slot() -> None:
    """A pool of 2 connections, both taken by hung requests; 50 calls queue for a connection in
    aiohttp's pool and are cancelled there. The queue empties, and once the hung requests time
    out the pool serves new calls."""
    async with Emulator(rate_limit=RateLimit(5000, 60)) as emu:
        async with emulator_client(emu, connection_limit=2, max_retries=0) as client:
            await client.request("GET", "/v2/me")
            emu.inject(Fault("hang", path="/v2/me", times=2))
            hung = [
                asyncio.create_task(client.request("GET", "/v2/me", timeout=1.0)) for _ in range(2)
            ]
            await asyncio.sleep(0.1)
            queued = [asyncio.create_task(client.request("GET", "/v2/me")) for _ in range(50)]
            connector = client.connector
            assert connector is not None
            for _ in range(250):  # until all 50 wait in aiohttp's pool queue (5 s at most)
                if sum(len(w) for w in connector._waiters.values()) == 50:
                    break
                await asyncio.sleep(0.02)
            assert sum(len(w) for w in connector._waiters.values()) == 50
            for task in queued:
                task.cancel()
            await asyncio.gather(*queued, return_exceptions=True)
            await drain_loop()
            assert not any(connector._waiters.values())
            results = await asyncio.gather(*hung, return_exceptions=True)
            assert all(isinstance(r, errors.TimeoutError) for r in results), results
            assert "email" in await client.request("GET", "/v2/me")
            await drain_loop()
            assert acquired(client) == 0
        snap = client.limiter.snapshot(client.credential.limit_key)  # type: ignore[attr-defined]
        assert snap.waiting == 0 and snap.in_flight == 0
