"""The injected clock: VirtualClock wakes sleepers in order and only when told to."""

from __future__ import annotations

import asyncio

import pytest

from icalendly_async._clock import SYSTEM_CLOCK, Clock, VirtualClock


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
