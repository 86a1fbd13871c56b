"""Priorities on one credential: interactive calls overtake bulk ones, nothing starves."""

from __future__ import annotations

import asyncio
import time

import pytest

from icalendly_async import ApiKey, ICalendly, Priority, RateLimit
from icalendly_async.errors import ConfigurationError
from icalendly_async.ratelimit import LocalLimiter
from icalendly_async.testing import Emulator, VirtualClock


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
    clock = VirtualClock()
    limiter = LocalLimiter(margin=0.0, calibrate=False, aging=10, clock=clock)
    await limiter.acquire("k", rl)  # the window is now spent: everything below queues
    order: list[str] = []

    async def one(name: str, priority: Priority) -> None:
        await limiter.acquire("k", rl, priority=priority)
        order.append(name)

    async def scenario() -> None:
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

    await clock.run(scenario())
    assert order == ["i1", "i2", "n1", "n2", "b1", "b2"]


async def test_a_bulk_call_is_never_starved_by_an_interactive_stream() -> None:
    rl = RateLimit(4, 0.2)
    clock = VirtualClock()
    limiter = LocalLimiter(margin=0.0, calibrate=False, aging=0.5, clock=clock)
    stop = asyncio.Event()

    async def interactive_stream() -> None:
        while not stop.is_set():  # always more interactive calls waiting than the rate allows
            await asyncio.gather(
                *(limiter.acquire("k", rl, priority=Priority.INTERACTIVE) for _ in range(8))
            )

    async def bulk_call() -> float:
        await clock.sleep(0.3)
        t0 = clock.monotonic()
        await limiter.acquire("k", rl, priority=Priority.BULK)
        stop.set()
        return clock.monotonic() - t0

    streams = [asyncio.create_task(interactive_stream()) for _ in range(2)]
    waited = await clock.run(bulk_call(), limit=60)
    for task in streams:
        task.cancel()
    await asyncio.gather(*streams, return_exceptions=True)
    # One class per 0.5 s waited: after two bounds it ranks with the interactive calls, ahead of
    # every newer one, and is served in the next window: bounded, not starved.
    assert 1.0 <= waited < 1.5


async def test_without_aging_an_interactive_stream_keeps_a_bulk_call_waiting() -> None:
    # The control for the test above: the same load with aging off never serves the bulk call.
    rl = RateLimit(4, 0.2)
    clock = VirtualClock()
    limiter = LocalLimiter(margin=0.0, calibrate=False, aging=3600, clock=clock)

    async def interactive_stream() -> None:
        while True:
            await asyncio.gather(
                *(limiter.acquire("k", rl, priority=Priority.INTERACTIVE) for _ in range(8))
            )

    async def bulk_call() -> None:
        await clock.sleep(0.3)
        await limiter.acquire("k", rl, priority=Priority.BULK)

    streams = [asyncio.create_task(interactive_stream()) for _ in range(2)]
    with pytest.raises(RuntimeError, match="still running after 60 virtual seconds"):
        await clock.run(bulk_call(), limit=60)
    for task in streams:
        task.cancel()
    await asyncio.gather(*streams, return_exceptions=True)


async def test_bulk_share_keeps_room_for_everyone_else() -> None:
    rl = RateLimit(10, 0.4)
    clock = VirtualClock()
    limiter = LocalLimiter(margin=0.0, calibrate=False, bulk_share=0.8, clock=clock)
    bulk = [
        asyncio.create_task(limiter.acquire("k", rl, priority=Priority.BULK)) for _ in range(30)
    ]
    await clock.advance(0.1)
    assert sum(t.done() for t in bulk) == 8  # 80% of the window
    others = [asyncio.create_task(limiter.acquire("k", rl)) for _ in range(3)]
    await clock.advance(0)
    assert [t.done() for t in others] == [True, True, False]  # the other 20%, at once
    await clock.advance(0.3)  # t = 0.4: the first bulk calls' slots come free
    assert others[2].done()  # a NORMAL call goes first
    assert sum(t.done() for t in bulk) == 8 + 7  # and BULK takes the rest
    for task in (*bulk, *others):
        task.cancel()
    await asyncio.gather(*bulk, *others, return_exceptions=True)


async def test_cancel_after_grant_gives_the_slot_back() -> None:
    rl = RateLimit(1, 0.3)
    clock = VirtualClock()
    limiter = LocalLimiter(margin=0.0, calibrate=False, clock=clock)
    await limiter.acquire("k", rl)
    waiter = asyncio.create_task(limiter.acquire("k", rl, priority=Priority.BULK))
    advancing = asyncio.create_task(clock.advance(0.3))
    snap = limiter.snapshot("k")
    while snap is not None and snap.waiting:  # until the dispatcher grants it
        await asyncio.sleep(0)
        snap = limiter.snapshot("k")
    waiter.cancel()  # before the task resumed
    await advancing
    await asyncio.gather(waiter, return_exceptions=True)
    assert waiter.cancelled()
    snap = limiter.snapshot("k")
    assert snap is not None and snap.waiting == 0 and snap.recent_starts == 0


async def test_bad_priority_settings() -> None:
    with pytest.raises(ConfigurationError):
        LocalLimiter(bulk_share=1.5)
    with pytest.raises(ConfigurationError):
        LocalLimiter(aging=0)
    with pytest.raises(ConfigurationError):
        ICalendly().with_options(priority=2)  # type: ignore[arg-type]
