"""A limiter kept from one event loop to the next (a job that runs asyncio loops one after the
other, as dlt does per sync run): calls of a loop that stopped with calls still queued must not
block the next loop's calls."""

from __future__ import annotations

import asyncio
import threading

import pytest

from icalendly_async import RateLimit
from icalendly_async.errors import ConfigurationError
from icalendly_async.ratelimit import LocalLimiter

pytestmark = pytest.mark.slow  # real loops and the real clock (a window of 0.3 s)

LIMIT = RateLimit(1, 0.3)


def _limiter() -> LocalLimiter:
    return LocalLimiter(calibrate=False)  # no first answer to wait for: nothing is sent here


async def _one_free_and_one_queued(limiter: LocalLimiter) -> None:
    await limiter.acquire("key", LIMIT)
    asyncio.get_running_loop().create_task(limiter.acquire("key", LIMIT))  # waits for the window
    await asyncio.sleep(0.05)


def test_a_loop_closed_with_calls_queued_does_not_block_the_next_loop() -> None:
    limiter = _limiter()
    first = asyncio.new_event_loop()
    first.run_until_complete(_one_free_and_one_queued(limiter))
    first.close()  # closed without cancelling the queued call's task, nor the dispatcher

    async def next_run() -> None:
        await asyncio.wait_for(limiter.acquire("key", LIMIT), 5)

    asyncio.run(next_run())  # before the fix: queued behind a dispatcher that never runs again


def test_a_limiter_in_use_by_another_running_loop_is_refused() -> None:
    limiter = _limiter()
    other = asyncio.new_event_loop()
    thread = threading.Thread(target=other.run_forever, daemon=True)
    thread.start()
    try:
        asyncio.run_coroutine_threadsafe(_one_free_and_one_queued(limiter), other).result(5)

        async def from_here() -> None:
            await limiter.acquire("key", LIMIT)

        with pytest.raises(ConfigurationError, match="another event loop that is still running"):
            asyncio.run(from_here())
    finally:
        other.call_soon_threadsafe(other.stop)
        thread.join(5)
        other.close()
