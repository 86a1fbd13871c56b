"""LocalLimiter on its own, on virtual time: the window guarantee, FIFO, independence, feedback,
holds, cancellation. Each test takes milliseconds however many windows it spans."""

from __future__ import annotations

import asyncio
import itertools
import math
import random

import pytest

from icalendly_async.errors import ConfigurationError
from icalendly_async.ratelimit import (
    CredentialHeld,
    Limiter,
    LocalLimiter,
    Priority,
    RateLimit,
    RateLimitState,
)
from icalendly_async.testing import VirtualClock

from ._limits import max_in_window, state


async def _starts(limiter: LocalLimiter, key: str, rl: RateLimit, n: int) -> list[float]:
    """Start ``n`` calls at once; when each was granted, on the limiter's clock."""
    clock = limiter.clock
    starts: list[float] = []

    async def one() -> None:
        await limiter.acquire(key, rl)
        starts.append(clock.monotonic())
        await limiter.observe(key, RateLimitState())

    await asyncio.gather(*(one() for _ in range(n)))
    return starts


def _limiter(**options: object) -> tuple[VirtualClock, LocalLimiter]:
    clock = VirtualClock()
    options.setdefault("calibrate", False)
    return clock, LocalLimiter(clock=clock, **options)  # type: ignore[arg-type]


async def test_window_guarantee_with_10000_coroutines() -> None:
    rl = RateLimit(2000, 0.5)
    clock, limiter = _limiter(margin=0.01)
    starts = sorted(await clock.run(_starts(limiter, "k", rl, 10_000)))
    assert len(starts) == 10_000
    assert max_in_window(starts, rl.window_seconds + 0.01) <= rl.limit
    # The ideal schedule, exactly: L at once, then L more as each window (and margin) ends.
    for k in range(math.ceil(10_000 / rl.limit)):
        batch = starts[k * rl.limit : (k + 1) * rl.limit]
        assert batch[0] == batch[-1] == pytest.approx(k * 0.51)


async def test_burst_goes_out_at_once_then_waits_for_the_window() -> None:
    rl = RateLimit(10, 0.4)
    clock, limiter = _limiter(margin=0.0)
    starts = sorted(await clock.run(_starts(limiter, "k", rl, 25)))
    assert starts == [0.0] * 10 + [pytest.approx(0.4)] * 10 + [pytest.approx(0.8)] * 5


async def test_fifo_within_a_key() -> None:
    rl = RateLimit(3, 0.2)
    clock, limiter = _limiter(margin=0.0)
    order: list[int] = []

    async def one(i: int) -> None:
        await limiter.acquire("k", rl)
        order.append(i)

    async def scenario() -> None:
        tasks = []
        for i in range(12):
            tasks.append(asyncio.create_task(one(i)))
            await asyncio.sleep(0)  # enqueue in a known order
        await asyncio.gather(*tasks)

    await clock.run(scenario())
    assert order == list(range(12))


async def test_keys_are_independent() -> None:
    rl = RateLimit(2, 5.0)
    clock, limiter = _limiter(margin=0.0)
    await limiter.acquire("a", rl)
    await limiter.acquire("a", rl)
    blocked = asyncio.create_task(limiter.acquire("a", rl))
    await clock.advance(1)
    assert not blocked.done()
    # Another credential is not delayed by "a" waiting for its window.
    assert limiter.try_acquire("b", rl)
    await clock.advance(4)
    assert blocked.done()


async def test_remaining_zero_holds_until_reset() -> None:
    rl = RateLimit(100, 10)
    clock, limiter = _limiter(margin=0.0, calibrate=True)
    await limiter.acquire("k", rl)
    await limiter.observe("k", state(100, 0, 3))
    late = asyncio.create_task(limiter.acquire("k", rl))
    await clock.advance(2.9)
    assert not late.done()
    await clock.advance(0.2)
    assert late.done()


async def test_remaining_counts_requests_in_flight() -> None:
    rl = RateLimit(100, 10)
    clock, limiter = _limiter(margin=0.0, calibrate=True)
    await limiter.acquire("k", rl)
    await limiter.observe("k", RateLimitState())  # calibrated, nothing learned
    for _ in range(3):
        await limiter.acquire("k", rl)  # three in flight
    # The server says 4 remain after one of them; two are still in flight: 4 - 2 = 2 left.
    await limiter.observe("k", state(100, 4, 3))
    assert limiter.try_acquire("k", rl) and limiter.try_acquire("k", rl)
    assert not limiter.try_acquire("k", rl)  # the budget is spent until the reset
    third = asyncio.create_task(limiter.acquire("k", rl))
    await clock.advance(2.9)
    assert not third.done()
    await clock.advance(0.2)
    assert third.done()


async def test_follows_a_lower_server_limit_and_its_window() -> None:
    rl = RateLimit(30, 60)
    clock, limiter = _limiter(margin=0.0, calibrate=True)
    await limiter.acquire("k", rl)
    await limiter.observe("k", state(5, 4, 10))  # a window's first answer: the whole window
    snap = limiter.snapshot("k")
    assert snap is not None and snap.limit == 5
    starts = sorted(await clock.run(_starts(limiter, "k", rl, 9)))
    assert max_in_window([0.0, *starts], 10) <= 5
    assert starts[-1] == pytest.approx(10.0)  # the server's 10-s window, not the 60 configured


async def test_calibration_sends_the_first_request_alone() -> None:
    rl = RateLimit(10, 5)
    clock, limiter = _limiter(calibrate=True)
    await limiter.acquire("k", rl)  # the probe
    second = asyncio.create_task(limiter.acquire("k", rl))
    await clock.advance(1)
    assert not second.done()  # waits for the probe's headers
    await limiter.observe("k", state(10, 9, 5))
    await clock.advance(0)
    assert second.done()


async def test_a_slow_probe_is_waited_for_only_calibration_timeout() -> None:
    rl = RateLimit(10, 60)
    clock, limiter = _limiter(calibrate=True, calibration_timeout=2.0)
    await limiter.acquire("k", rl)
    second = asyncio.create_task(limiter.acquire("k", rl))
    await clock.advance(1.9)
    assert not second.done()
    await clock.advance(0.2)
    assert second.done()


async def test_calibration_restarts_when_the_probe_fails() -> None:
    rl = RateLimit(10, 5)
    clock, limiter = _limiter(calibrate=True)
    await limiter.acquire("k", rl)
    second = asyncio.create_task(limiter.acquire("k", rl))
    await clock.advance(0.01)
    await limiter.observe("k", RateLimitState.no_response())
    await clock.advance(0)
    assert second.done()  # the next call becomes the probe
    third = asyncio.create_task(limiter.acquire("k", rl))
    await clock.advance(1)
    assert not third.done()
    third.cancel()


async def test_an_idle_window_calibrates_again() -> None:
    rl = RateLimit(10, 5)
    clock, limiter = _limiter(calibrate=True, margin=0.0)
    await limiter.acquire("k", rl)
    await limiter.observe("k", state(10, 9, 5))
    assert limiter.try_acquire("k", rl)
    await limiter.observe("k", RateLimitState())
    await clock.advance(6)  # a whole window without a call: the server's count is unknown again
    assert limiter.try_acquire("k", rl)  # the probe
    assert not limiter.try_acquire("k", rl)


async def test_penalize_holds_every_caller() -> None:
    rl = RateLimit(100, 10)
    clock, limiter = _limiter(margin=0.0)
    await limiter.acquire("k", rl)
    await limiter.penalize("k", 3)
    assert limiter.hold_remaining("k") == pytest.approx(3)
    callers = asyncio.gather(*(limiter.acquire("k", rl) for _ in range(5)))
    await clock.advance(2.9)
    assert not callers.done()
    await clock.advance(0.2)
    assert callers.done()


async def test_a_hold_longer_than_max_hold_fails_fast_even_for_queued_calls() -> None:
    rl = RateLimit(1, 10)
    clock, limiter = _limiter(margin=0.0)
    await limiter.acquire("k", rl)
    patient = asyncio.create_task(limiter.acquire("k", rl, max_hold=100))
    hasty = asyncio.create_task(limiter.acquire("k", rl, max_hold=5))
    await clock.advance(1)
    assert not patient.done() and not hasty.done()  # an ordinary wait for the window
    await limiter.penalize("k", 30)  # a 429: the server blocks the credential for 30 s
    await clock.advance(0)
    with pytest.raises(CredentialHeld) as held:
        await hasty
    assert held.value.seconds == pytest.approx(30)
    with pytest.raises(CredentialHeld):  # a new call learns it at once
        await limiter.acquire("k", rl, max_hold=5)
    assert not patient.done()
    await clock.advance(30)
    assert patient.done()


async def test_a_limit_spent_until_a_distant_reset_is_a_hold() -> None:
    rl = RateLimit(100, 60)
    _, limiter = _limiter(margin=0.0)
    await limiter.acquire("k", rl)
    await limiter.observe("k", state(1000, 0, 3000, name="Daily"))
    assert limiter.hold_remaining("k") == pytest.approx(3000)
    with pytest.raises(CredentialHeld):
        await limiter.acquire("k", rl, max_hold=60)


async def test_cancelling_1000_waiters_leaves_a_consistent_state() -> None:
    rl = RateLimit(5, 3)
    clock, limiter = _limiter(margin=0.0)
    for _ in range(5):
        await limiter.acquire("k", rl)
    tasks = [asyncio.create_task(limiter.acquire("k", rl)) for _ in range(1000)]
    await clock.advance(0.1)
    random.Random(1).shuffle(tasks)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    snap = limiter.snapshot("k")
    assert snap is not None and snap.waiting == 0 and snap.recent_starts == 5
    # No slot leaked: the next window grants exactly L, and the one after waits again.
    starts = sorted(await clock.run(_starts(limiter, "k", rl, 10)))
    assert starts == [pytest.approx(3.0)] * 5 + [pytest.approx(6.0)] * 5


async def test_cancelling_the_head_passes_the_turn_on() -> None:
    rl = RateLimit(1, 2)
    clock, limiter = _limiter(margin=0.0)
    await limiter.acquire("k", rl)
    head = asyncio.create_task(limiter.acquire("k", rl))
    await clock.advance(0.1)
    follower = asyncio.create_task(limiter.acquire("k", rl))
    await clock.advance(0.1)
    head.cancel()
    await clock.advance(1.8)
    assert follower.done() and clock.monotonic() == pytest.approx(2.0)


async def test_a_call_cancelled_after_its_grant_gives_the_slot_back() -> None:
    rl = RateLimit(1, 3)
    clock, limiter = _limiter(margin=0.0)
    await limiter.acquire("k", rl)
    waiter = asyncio.create_task(limiter.acquire("k", rl))
    await asyncio.sleep(0)
    # Let the clock reach the grant, then cancel before the waiting task resumes.
    clock_task = asyncio.create_task(clock.advance(3))
    for _ in range(100):  # a few turns of the loop: the dispatcher grants it
        snap = limiter.snapshot("k")
        if snap is not None and snap.waiting == 0:
            break
        await asyncio.sleep(0)
    else:
        pytest.fail("the call was never granted")
    assert not waiter.done()  # granted, not resumed yet
    waiter.cancel()
    await clock_task
    assert waiter.cancelled()
    snap = limiter.snapshot("k")
    assert snap is not None and snap.waiting == 0 and snap.recent_starts == 0
    assert limiter.try_acquire("k", rl)  # the slot is free again


async def test_idle_credentials_are_forgotten() -> None:
    rl = RateLimit(5, 0.05)
    clock, limiter = _limiter(margin=0.0, sweep_every=100)
    for i in range(99):
        await limiter.acquire(f"k{i}", rl)
        await limiter.observe(f"k{i}", RateLimitState())
    assert len(limiter) == 99
    await clock.advance(0.06)
    await limiter.acquire("last", rl)  # the 100th acquisition sweeps
    assert len(limiter) == 1


async def test_smooth_pacing_spaces_requests_evenly() -> None:
    rl = RateLimit(5, 0.4)
    clock, limiter = _limiter(pacing="smooth", margin=0.0)
    starts = sorted(await clock.run(_starts(limiter, "k", rl, 6)))
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    assert gaps == [pytest.approx(0.1)] * 5  # (W + margin) / (L - 1) apart
    assert max_in_window(starts, 0.4) <= 5


async def test_bad_settings_are_refused() -> None:
    with pytest.raises(ConfigurationError):
        LocalLimiter(pacing="fast")  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError):
        LocalLimiter(margin=-1)
    with pytest.raises(ConfigurationError):
        LocalLimiter(calibration_timeout=0)
    with pytest.raises(ConfigurationError):
        LocalLimiter(sweep_every=0)
    with pytest.raises(ConfigurationError):
        await LocalLimiter().acquire("k", RateLimit(2, 1), cost=3)
    with pytest.raises(ConfigurationError):
        await LocalLimiter().acquire("k", RateLimit(2, 1), cost=0)
    with pytest.raises(ConfigurationError):
        RateLimit(0, 60)
    with pytest.raises(ConfigurationError):
        RateLimit(10, 0)
    assert RateLimit.parse("120/60") == RateLimit(120, 60)
    with pytest.raises(ConfigurationError):
        RateLimit.parse("fast")


async def test_a_cost_over_the_servers_lower_limit_is_refused_while_queued() -> None:
    rl = RateLimit(10, 5)
    clock, limiter = _limiter(margin=0.0, calibrate=True)
    await limiter.acquire("k", rl)  # the probe: others wait for its answer
    big = asyncio.create_task(limiter.acquire("k", rl, cost=8))
    await clock.advance(0)
    await limiter.observe("k", state(5, 4, 5))  # the server's limit is 5
    await clock.advance(0)
    with pytest.raises(ConfigurationError, match="can never start"):
        await big


async def test_a_call_that_can_never_start_is_refused_even_when_the_window_is_free() -> None:
    rl = RateLimit(20, 5)
    _, limiter = _limiter(margin=0.0, calibrate=False, bulk_share=0.1)
    with pytest.raises(ConfigurationError, match="bulk share of 2"):
        await limiter.acquire("bulk", rl, cost=3, priority=Priority.BULK)
    await limiter.acquire("k", rl)
    await limiter.observe("k", state(5, 4, 5))  # the server's limit is 5, the window free
    with pytest.raises(ConfigurationError, match="limit of 5 per window in force"):
        await limiter.acquire("k", rl, cost=6)
    await limiter.acquire("k", rl, cost=4)  # what fits is still granted at once
    snapshot = limiter.snapshot("k")
    assert snapshot is not None and snapshot.recent_starts == 5


class _StallingClock(VirtualClock):
    """A virtual clock whose readings can jump ahead without waking anyone: a stalled loop."""

    stalled = 0.0

    def monotonic(self) -> float:
        return super().monotonic() + self.stalled


async def test_a_late_resume_paces_the_next_burst_from_when_the_calls_went_out(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The loop stalls (a GC pause, a long callback) right after the second burst is granted:
    # those calls go out 0.15 s late, and the third burst must wait a window from then, not
    # from the grant, or three bursts' worth would reach the server within one window.
    from icalendly_async.ratelimit import local

    clock = _StallingClock()
    loop = asyncio.get_running_loop()
    original = local._Credential.take
    takes = 0

    def take(self: local._Credential, now: float, cost: int, bulk: bool) -> float:
        nonlocal takes
        takes += 1
        if takes == 4:  # the first grant of the second burst, before its call resumes
            loop.call_soon(setattr, clock, "stalled", 0.15)
        return original(self, now, cost, bulk)

    monkeypatch.setattr(local._Credential, "take", take)
    rl = RateLimit(3, 0.2)
    limiter = LocalLimiter(margin=0.0, calibrate=False, clock=clock)
    starts = sorted(await clock.run(_starts(limiter, "k", rl, 9)))
    assert starts[3] == pytest.approx(0.2 + 0.15)  # the second burst went out late
    assert starts[6] - starts[3] >= 0.2 - 1e-9  # the third waited a window from then
    assert max_in_window(starts, 0.2) <= 3


async def test_try_acquire_takes_a_free_request_and_declines_otherwise() -> None:
    rl = RateLimit(3, 10)
    clock, limiter = _limiter(margin=0.0)
    assert [limiter.try_acquire("k", rl) for _ in range(4)] == [True, True, True, False]
    snap = limiter.snapshot("k")
    assert snap is not None and snap.in_flight == 3  # a declined try took nothing
    for _ in range(3):
        await limiter.observe("k", RateLimitState())
    assert limiter.try_acquire("k", rl) is False  # the window is still full
    await clock.advance(10)
    # Calls behind a queue go through acquire(), which orders them.
    waiters = [asyncio.create_task(limiter.acquire("k", rl)) for _ in range(4)]
    await clock.advance(0)
    assert limiter.try_acquire("k", rl) is False
    for waiter in waiters:
        waiter.cancel()
    # An exhausted server budget declines, and so does a hold after a 429.
    _, other = _limiter(margin=0.0)
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
        """The methods of the protocol, as a limiter that asks elsewhere has them."""

        def __init__(self) -> None:
            self.inner = LocalLimiter()
            self.calls: list[str] = []

        def try_acquire(self, key: str, rate_limit: RateLimit, priority: int = 1) -> bool:
            self.calls.append("try_acquire")
            return False  # it must always ask: the pipeline then awaits acquire()

        async def acquire(
            self,
            key: str,
            rate_limit: RateLimit,
            cost: int = 1,
            *,
            priority: int = 1,
            max_hold: float = math.inf,
        ) -> None:
            self.calls.append("acquire")
            await self.inner.acquire(key, rate_limit, cost, priority=priority, max_hold=max_hold)

        async def observe(self, key: str, state: RateLimitState) -> None:
            self.calls.append("observe")
            await self.inner.observe(key, state)

        async def penalize(self, key: str, seconds: float) -> None:
            await self.inner.penalize(key, seconds)

        def hold_remaining(self, key: str) -> float:
            return self.inner.hold_remaining(key)

    class Partial:  # an old-style limiter without try_acquire / hold_remaining
        async def acquire(
            self, key: str, rate_limit: RateLimit, cost: int = 1, *, priority: int = 1
        ) -> None: ...

        async def observe(self, key: str, state: RateLimitState) -> None: ...

        async def penalize(self, key: str, seconds: float) -> None: ...

    with pytest.raises(ConfigurationError, match="try_acquire, acquire, observe"):
        ICalendly(ApiKey("ical_0123456789abcdef"), limiter=Partial())  # type: ignore[arg-type]

    remote = Remote()
    assert isinstance(remote, Limiter)
    async with Emulator() as emu:
        client = ICalendly(
            ApiKey(emu.api_key), base_url=emu.base_url, allow_insecure_http=True, limiter=remote
        )
        async with client:
            await client.request("GET", "/v2/me")
            await client.request("GET", "/v2/me")
    assert remote.calls == ["try_acquire", "acquire", "observe"] * 2


@pytest.mark.parametrize("priority", list(Priority))
async def test_every_priority_is_granted_at_once_when_free(priority: Priority) -> None:
    _, limiter = _limiter(bulk_share=0.5)
    assert limiter.try_acquire("k", RateLimit(4, 1), priority)
