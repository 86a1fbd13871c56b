"""Priorities on one credential: interactive calls overtake bulk ones, nothing starves."""

from __future__ import annotations

import asyncio
import time

import pytest

from icalendly_async import ApiKey, ICalendly, Priority, RateLimit
from icalendly_async.errors import ConfigurationError
from icalendly_async.ratelimit import LocalLimiter, RateLimitState
from icalendly_async.testing import Emulator


@pytest.mark.slow
async def test_interactive_calls_overtake_a_bulk_queue() -> None:
    limit = RateLimit(20, 2)
    async with Emulator(rate_limit=limit) as emu:
        async with ICalendly(
            ApiKey(emu.api_key, rate_limit=limit), base_url=emu.base_url, allow_insecure_http=True
        ) as client:
            bulk = client.with_options(priority=Priority.BULK)
            web = client.with_options(priority=Priority.INTERACTIVE)
            started = time.perf_counter()
            bulk_calls = [asyncio.create_task(bulk.request("GET", "/v2/me")) for _ in range(100)]
            await asyncio.sleep(0.5)
            interactive_started = time.perf_counter()
            await asyncio.gather(*(web.request("GET", "/v2/me") for _ in range(5)))
            interactive = time.perf_counter() - interactive_started
            results = await asyncio.gather(*bulk_calls)
            total = time.perf_counter() - started
        assert interactive < 2.0  # within the next window; FIFO would take about 8 s
        assert len(results) == 100 and emu.stats.rate_limited == 0
        assert total < 12.0  # 105 calls at 20 per 2 s: about 10 s


async def test_fifo_within_a_class_and_classes_in_order() -> None:
    rl = RateLimit(1, 0.05)
    limiter = LocalLimiter(margin=0.0, calibrate=False, aging=10)
    await limiter.acquire("k", rl)  # the window is now spent: everything below queues
    order: list[str] = []

    async def one(name: str, priority: Priority) -> None:
        await limiter.acquire("k", rl, priority=priority)
        order.append(name)

    tasks = []
    for name, priority in [
        ("b1", Priority.BULK),
        ("n1", Priority.NORMAL),
        ("b2", Priority.BULK),
        ("i1", Priority.INTERACTIVE),
        ("n2", Priority.NORMAL),
        ("i2", Priority.INTERACTIVE),
    ]:
        tasks.append(asyncio.create_task(one(name, priority)))
        await asyncio.sleep(0)
    await asyncio.gather(*tasks)
    assert order == ["i1", "i2", "n1", "n2", "b1", "b2"]


async def test_a_bulk_call_is_never_starved_by_an_interactive_stream() -> None:
    rl = RateLimit(4, 0.2)
    limiter = LocalLimiter(margin=0.0, calibrate=False, aging=0.5)
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()

    async def interactive_stream() -> None:
        while not stop.is_set():  # always more interactive calls waiting than the rate allows
            await asyncio.gather(
                *(limiter.acquire("k", rl, priority=Priority.INTERACTIVE) for _ in range(8))
            )

    streams = [asyncio.create_task(interactive_stream()) for _ in range(2)]
    await asyncio.sleep(0.3)
    t0 = loop.time()
    await asyncio.wait_for(limiter.acquire("k", rl, priority=Priority.BULK), 3.0)
    waited = loop.time() - t0
    stop.set()
    for task in streams:
        task.cancel()
    await asyncio.gather(*streams, return_exceptions=True)
    # One class per 0.5 s waited: after two bounds it ranks with the interactive calls, ahead of
    # every newer one, and is served in the next window: bounded, not starved.
    assert waited < 1.5


async def test_bulk_share_keeps_room_for_everyone_else() -> None:
    rl = RateLimit(10, 0.4)
    limiter = LocalLimiter(margin=0.0, calibrate=False, bulk_share=0.8)
    loop = asyncio.get_running_loop()
    bulk = [
        asyncio.create_task(limiter.acquire("k", rl, priority=Priority.BULK)) for _ in range(30)
    ]
    await asyncio.sleep(0.05)
    assert sum(t.done() for t in bulk) == 8  # 80% of the window
    t0 = loop.time()
    await asyncio.gather(*(limiter.acquire("k", rl) for _ in range(2)))
    assert loop.time() - t0 < 0.05  # the other 20% is free at once
    for task in bulk:
        task.cancel()
    await asyncio.gather(*bulk, return_exceptions=True)


async def test_cancel_after_grant_gives_the_slot_back() -> None:
    rl = RateLimit(1, 0.3)
    limiter = LocalLimiter(margin=0.0, calibrate=False)
    await limiter.acquire("k", rl)
    waiter = asyncio.create_task(limiter.acquire("k", rl))
    await asyncio.sleep(0.32)  # granted by the dispatcher; the task has not resumed yet ...
    waiter.cancel()  # ... or has, in which case cancel() does nothing
    await asyncio.gather(waiter, return_exceptions=True)
    snap = limiter.snapshot("k")
    assert snap is not None and snap.waiting == 0
    if waiter.cancelled():
        assert snap.recent_starts == 0 and snap.in_flight == 1
    await limiter.observe("k", RateLimitState())


async def test_bad_priority_settings() -> None:
    with pytest.raises(ConfigurationError):
        LocalLimiter(bulk_share=1.5)
    with pytest.raises(ConfigurationError):
        LocalLimiter(aging=0)
    with pytest.raises(ConfigurationError):
        ICalendly().with_options(priority=2)  # type: ignore[arg-type]
