"""The injected clock: VirtualClock wakes sleepers in order and only when told to."""

from __future__ import annotations

import asyncio

import pytest

from icalendly_async._clock import SYSTEM_CLOCK, Clock, VirtualClock, sleep_or_wake


async def test_virtual_sleepers_wake_in_deadline_order_when_advanced() -> None:
    clock = VirtualClock()
    woke: list[tuple[str, float]] = []

    async def nap(name: str, seconds: float) -> None:
        await clock.sleep(seconds)
        woke.append((name, clock.monotonic()))

    tasks = [asyncio.create_task(nap(n, s)) for n, s in (("b", 2.0), ("a", 1.0), ("c", 5.0))]
    await clock.advance(0)
    assert clock.sleepers == 3 and woke == []
    await clock.advance(2.5)
    assert woke == [("a", 1.0), ("b", 2.0)]
    assert clock.monotonic() == 2.5
    await clock.run_until_idle()
    assert woke[-1] == ("c", 5.0)
    await asyncio.gather(*tasks)


async def test_virtual_clock_cancelled_sleeper_is_dropped_and_time_is_epoch_based() -> None:
    clock = VirtualClock(epoch=1000.0)
    task = asyncio.create_task(clock.sleep(10))
    await clock.advance(1)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert clock.next_deadline() is None
    assert clock.time() == 1001.0
    with pytest.raises(ValueError):
        await clock.advance(-1)


def test_both_clocks_satisfy_the_protocol() -> None:
    assert isinstance(SYSTEM_CLOCK, Clock)
    assert isinstance(VirtualClock(), Clock)


async def test_run_advances_by_itself_from_deadline_to_deadline() -> None:
    clock = VirtualClock()

    async def an_hour_of_naps() -> list[float]:
        woke = []
        for _ in range(60):
            await clock.sleep(60)
            woke.append(clock.monotonic())
        return woke

    woke = await clock.run(an_hour_of_naps())
    assert woke == [60.0 * (i + 1) for i in range(60)]  # never early, never late


async def test_run_says_when_nothing_can_ever_wake_the_awaitable() -> None:
    clock = VirtualClock()
    never = asyncio.get_running_loop().create_future()
    with pytest.raises(RuntimeError, match="deadlock"):
        await clock.run(never)
    assert never.cancelled()
    with pytest.raises(RuntimeError, match="still running after 10 virtual seconds"):
        await clock.run(clock.sleep(11), limit=10)


async def test_sleep_or_wake_returns_on_the_wakeup_or_the_deadline() -> None:
    clock = VirtualClock()
    loop = asyncio.get_running_loop()
    wakeup: asyncio.Future[None] = loop.create_future()
    sleeper = asyncio.create_task(sleep_or_wake(clock, 10, wakeup))
    await clock.advance(1)
    assert not sleeper.done()
    wakeup.set_result(None)
    await clock.advance(0)
    assert sleeper.done() and clock.sleepers == 0  # its timer is gone too
    timed = asyncio.create_task(sleep_or_wake(clock, 10, loop.create_future()))
    await clock.advance(10)
    assert timed.done()
    real: asyncio.Future[None] = loop.create_future()
    await sleep_or_wake(SYSTEM_CLOCK, 0.001, real)  # the real clock's timer resolves it
    assert real.done()
