"""LocalLimiter on its own: the window guarantee, FIFO, independence, feedback, cancellation."""

from __future__ import annotations

import asyncio
import itertools
import math
import random
import time

import pytest

from icalendly_async.errors import ConfigurationError
from icalendly_async.ratelimit import LocalLimiter, Priority, RateLimit, RateLimitState

from ._limits import max_in_window, state


async def _run(limiter: LocalLimiter, key: str, rl: RateLimit, n: int) -> list[float]:
    loop = asyncio.get_running_loop()
    starts: list[float] = []

    async def one() -> None:
        await limiter.acquire(key, rl)
        starts.append(loop.time())
        await limiter.observe(key, RateLimitState())

    await asyncio.gather(*(one() for _ in range(n)))
    return starts


@pytest.mark.slow
async def test_window_guarantee_with_10000_coroutines() -> None:
    rl = RateLimit(2000, 0.5)
    limiter = LocalLimiter(margin=0.01, calibrate=False)
    starts = sorted(await _run(limiter, "k", rl, 10_000))
    assert len(starts) == 10_000
    assert max_in_window(starts, rl.window_seconds) <= rl.limit
    # The ideal schedule: L at once, then L more as each window ends. Each batch's first grant
    # comes one window (plus the margin) after the previous batch's first, on a timer, whatever
    # the load on the machine: check those gaps, not the wall time of starting 10,000 tasks and
    # granting them, which is CPU work. (The lower bound is the window check above: a start is
    # recorded when its task resumes, which a loaded machine delays by a varying amount.)
    span = rl.window_seconds + 0.01
    for k in range(1, math.ceil(10_000 / rl.limit)):
        gap = starts[k * rl.limit] - starts[(k - 1) * rl.limit]
        assert gap < span + 0.25, (k, gap)


async def test_burst_goes_out_at_once_then_waits_for_the_window() -> None:
    rl = RateLimit(10, 0.4)
    limiter = LocalLimiter(margin=0.0, calibrate=False)
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    starts = await _run(limiter, "k", rl, 25)
    rel = sorted(s - t0 for s in starts)
    assert all(r < 0.05 for r in rel[:10])  # the first L at once
    assert all(0.39 <= r < 0.5 for r in rel[10:20])  # the next L one window later
    assert all(0.79 <= r < 0.95 for r in rel[20:])
    assert max_in_window(starts, 0.4) <= 10


async def test_fifo_within_a_key() -> None:
    rl = RateLimit(3, 0.2)
    limiter = LocalLimiter(margin=0.0, calibrate=False)
    order: list[int] = []

    async def one(i: int) -> None:
        await limiter.acquire("k", rl)
        order.append(i)

    tasks = []
    for i in range(12):
        tasks.append(asyncio.create_task(one(i)))
        await asyncio.sleep(0)  # enqueue in a known order
    await asyncio.gather(*tasks)
    assert order == list(range(12))


async def test_keys_are_independent() -> None:
    rl = RateLimit(2, 5.0)
    limiter = LocalLimiter(calibrate=False)
    await limiter.acquire("a", rl)
    await limiter.acquire("a", rl)
    blocked = asyncio.create_task(limiter.acquire("a", rl))
    await asyncio.sleep(0.01)
    assert not blocked.done()
    # Another credential is not delayed by "a" waiting for its window.
    await asyncio.wait_for(limiter.acquire("b", rl), 0.05)
    blocked.cancel()


async def test_remaining_zero_holds_until_reset() -> None:
    rl = RateLimit(100, 10)
    limiter = LocalLimiter(margin=0.0)
    loop = asyncio.get_running_loop()
    await limiter.acquire("k", rl)
    await limiter.observe("k", state(100, 0, 0.3))
    t0 = loop.time()
    await limiter.acquire("k", rl)
    assert loop.time() - t0 >= 0.29


async def test_remaining_counts_requests_in_flight() -> None:
    rl = RateLimit(100, 10)
    limiter = LocalLimiter(margin=0.0)
    loop = asyncio.get_running_loop()
    await limiter.acquire("k", rl)
    await limiter.observe("k", RateLimitState())  # calibrated, nothing learned
    for _ in range(3):
        await limiter.acquire("k", rl)  # three in flight
    # The server says 3 remain, but our three are still in flight: none remain for new calls.
    await limiter.observe("k", state(100, 4, 0.3))  # one of them answered; two still out
    t0 = loop.time()
    await limiter.acquire("k", rl)  # budget 4 - 2 = 2: goes at once
    await limiter.acquire("k", rl)
    assert loop.time() - t0 < 0.05
    await limiter.acquire("k", rl)  # budget exhausted: waits for the reset
    assert loop.time() - t0 >= 0.29


async def test_follows_a_lower_server_limit() -> None:
    rl = RateLimit(30, 0.5)
    limiter = LocalLimiter(margin=0.0)
    await limiter.acquire("k", rl)
    await limiter.observe("k", state(5, 4, 0.5))
    snap = limiter.snapshot("k")
    assert snap is not None and snap.limit == 5


async def test_calibration_sends_the_first_request_alone() -> None:
    rl = RateLimit(10, 5)
    limiter = LocalLimiter()
    await limiter.acquire("k", rl)  # the probe
    second = asyncio.create_task(limiter.acquire("k", rl))
    await asyncio.sleep(0.05)
    assert not second.done()  # waits for the probe's headers
    await limiter.observe("k", state(10, 9, 5))
    await asyncio.wait_for(second, 0.1)


async def test_calibration_restarts_when_the_probe_fails() -> None:
    rl = RateLimit(10, 5)
    limiter = LocalLimiter()
    await limiter.acquire("k", rl)
    second = asyncio.create_task(limiter.acquire("k", rl))
    await asyncio.sleep(0.01)
    await limiter.observe("k", RateLimitState.no_response())
    await asyncio.wait_for(second, 0.1)  # the next call becomes the probe
    third = asyncio.create_task(limiter.acquire("k", rl))
    await asyncio.sleep(0.05)
    assert not third.done()
    third.cancel()


async def test_penalize_holds_every_caller() -> None:
    rl = RateLimit(100, 10)
    limiter = LocalLimiter(margin=0.0, calibrate=False)
    loop = asyncio.get_running_loop()
    await limiter.acquire("k", rl)
    await limiter.penalize("k", 0.3)
    t0 = loop.time()
    await asyncio.gather(*(limiter.acquire("k", rl) for _ in range(5)))
    assert loop.time() - t0 >= 0.29


async def test_cancelling_1000_waiters_leaves_a_consistent_bucket() -> None:
    rl = RateLimit(5, 0.3)
    limiter = LocalLimiter(margin=0.0, calibrate=False)
    for _ in range(5):
        await limiter.acquire("k", rl)
    tasks = [asyncio.create_task(limiter.acquire("k", rl)) for _ in range(1000)]
    await asyncio.sleep(0.01)
    random.Random(1).shuffle(tasks)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    snap = limiter.snapshot("k")
    assert snap is not None and snap.waiting == 0 and snap.recent_starts == 5
    # No slot leaked: the next window grants exactly L, and the one after waits again.
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    starts = await _run(limiter, "k", rl, 10)
    assert max_in_window(starts, 0.3) <= 5
    assert max(starts) - t0 < 0.7


async def test_cancelling_the_head_passes_the_turn_on() -> None:
    rl = RateLimit(1, 0.2)
    limiter = LocalLimiter(margin=0.0, calibrate=False)
    await limiter.acquire("k", rl)
    head = asyncio.create_task(limiter.acquire("k", rl))
    await asyncio.sleep(0.01)
    follower = asyncio.create_task(limiter.acquire("k", rl))
    await asyncio.sleep(0.01)
    head.cancel()
    await asyncio.wait_for(follower, 0.5)


async def test_idle_buckets_are_evicted() -> None:
    rl = RateLimit(5, 0.05)
    limiter = LocalLimiter(margin=0.0, calibrate=False, sweep_every=100)
    for i in range(99):
        await limiter.acquire(f"k{i}", rl)
        await limiter.observe(f"k{i}", RateLimitState())
    assert len(limiter) == 99
    await asyncio.sleep(0.06)
    await limiter.acquire("last", rl)  # the 100th acquisition sweeps
    assert len(limiter) == 1


async def test_smooth_pacing_spaces_requests_evenly() -> None:
    rl = RateLimit(5, 0.4)
    limiter = LocalLimiter(pacing="smooth", margin=0.0, calibrate=False)
    starts = await _run(limiter, "k", rl, 6)
    starts.sort()
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    assert min(gaps) >= 0.09  # (W + margin) / (L - 1) = 0.1 s apart
    assert max_in_window(starts, 0.4) <= 5


async def test_bad_settings_are_refused() -> None:
    with pytest.raises(ConfigurationError):
        LocalLimiter(pacing="fast")  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError):
        LocalLimiter(margin=-1)
    with pytest.raises(ConfigurationError):
        await LocalLimiter().acquire("k", RateLimit(2, 1), cost=3)
    with pytest.raises(ConfigurationError):
        RateLimit(0, 60)
    with pytest.raises(ConfigurationError):
        RateLimit(10, 0)
    assert RateLimit.parse("120/60") == RateLimit(120, 60)
    with pytest.raises(ConfigurationError):
        RateLimit.parse("fast")


async def test_a_late_resume_paces_the_next_burst_from_when_the_calls_went_out(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The loop stalls (a GC pause, a long callback) right after the second burst is granted:
    # those calls go out 0.15 s late, and the third burst must wait a window from then, not
    # from the grant, or three bursts' worth would reach the server within one window.
    from icalendly_async.ratelimit import local

    loop = asyncio.get_running_loop()
    original = local._Bucket.commit
    commits = 0

    def commit(self: local._Bucket, now: float, cost: int, calibrate: bool, bulk: bool) -> None:
        nonlocal commits
        commits += 1
        original(self, now, cost, calibrate, bulk)
        if commits == 4:  # the first grant of the second burst, before its call resumes
            loop.call_soon(time.sleep, 0.15)

    monkeypatch.setattr(local._Bucket, "commit", commit)
    rl = RateLimit(3, 0.2)
    limiter = LocalLimiter(margin=0.0, calibrate=False)
    starts = sorted(await _run(limiter, "k", rl, 9))
    assert starts[3] - starts[0] >= 0.2 + 0.14  # the second burst went out late
    assert starts[6] - starts[3] >= 0.2 - 0.005  # the third waited a window from then
    assert max_in_window(starts, 0.2) <= 3


async def test_try_acquire_takes_a_free_request_and_declines_otherwise() -> None:
    rl = RateLimit(3, 10)
    limiter = LocalLimiter(margin=0.0, calibrate=False)
    assert [limiter.try_acquire("k", rl) for _ in range(4)] == [True, True, True, False]
    snap = limiter.snapshot("k")
    assert snap is not None and snap.in_flight == 3  # a declined try took nothing
    for _ in range(3):
        await limiter.observe("k", RateLimitState())
    assert limiter.try_acquire("k", rl) is False  # the window is still full
    # BULK calls and calls behind a queue go through acquire(), which orders them.
    assert LocalLimiter().try_acquire("b", rl, Priority.BULK) is False
    waiter = asyncio.create_task(limiter.acquire("k", rl))
    await asyncio.sleep(0.01)
    assert limiter.try_acquire("k", rl) is False
    waiter.cancel()
    # An exhausted server budget declines, and so does a hold after a 429 (the session then
    # checks max_rate_limit_wait before it waits).
    other = LocalLimiter(margin=0.0, calibrate=False)
    assert other.try_acquire("h", rl)
    await other.observe("h", state(3, 0, 0.3))
    assert other.try_acquire("h", rl) is False
    assert other.try_acquire("p", rl)
    await other.observe("p", RateLimitState())
    await other.penalize("p", 0.3)  # the answer was a 429
    assert other.try_acquire("p", rl) is False and other.hold_remaining("p") > 0.2


async def test_a_third_party_limiter_is_used_through_the_declared_protocol_only() -> None:
    from icalendly_async import ApiKey, ICalendly
    from icalendly_async.testing import Emulator

    class Remote:
        """The five methods of the protocol, as a limiter that asks elsewhere has them."""

        def __init__(self) -> None:
            self.inner = LocalLimiter()
            self.calls: list[str] = []

        def try_acquire(self, key: str, rate_limit: RateLimit, priority: int = 1) -> bool:
            self.calls.append("try_acquire")
            return False  # it must always ask: the pipeline then awaits acquire()

        async def acquire(
            self, key: str, rate_limit: RateLimit, cost: int = 1, *, priority: int = 1
        ) -> None:
            self.calls.append("acquire")
            await self.inner.acquire(key, rate_limit, cost, priority=priority)

        async def observe(self, key: str, state: RateLimitState) -> None:
            self.calls.append("observe")
            await self.inner.observe(key, state)

        async def penalize(self, key: str, seconds: float) -> None:
            await self.inner.penalize(key, seconds)

        def hold_remaining(self, key: str) -> float:
            self.calls.append("hold_remaining")
            return 0.0

    class Partial:  # an old-style limiter without try_acquire / hold_remaining
        async def acquire(
            self, key: str, rate_limit: RateLimit, cost: int = 1, *, priority: int = 1
        ) -> None: ...

        async def observe(self, key: str, state: RateLimitState) -> None: ...

        async def penalize(self, key: str, seconds: float) -> None: ...

    with pytest.raises(ConfigurationError, match="try_acquire, acquire, observe"):
        ICalendly(ApiKey("ical_0123456789abcdef"), limiter=Partial())  # type: ignore[arg-type]

    remote = Remote()
    async with Emulator() as emu:
        client = ICalendly(
            ApiKey(emu.api_key), base_url=emu.base_url, allow_insecure_http=True, limiter=remote
        )
        async with client:
            await client.request("GET", "/v2/me")
            await client.request("GET", "/v2/me")
    assert remote.calls == ["try_acquire", "hold_remaining", "acquire", "observe"] * 2
