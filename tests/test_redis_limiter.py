"""RedisLimiter against a real redis-server: the window guarantee across limiters (each one
stands for a process), exact waits, no write on denial, feedback and penalties shared, the
fleet-wide probe, cancellation, and the failure policy."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
import redis.asyncio as redis_asyncio
from redis.exceptions import ResponseError

from icalendly_async import ApiKey, ICalendly, RetryPolicy, errors
from icalendly_async.ratelimit import (
    CredentialHeld,
    Limiter,
    Priority,
    RateLimit,
    RateLimitState,
)
from icalendly_async.ratelimit.headers import NamedLimit
from icalendly_async.ratelimit.redis import LimiterUnavailableError, RedisLimiter
from icalendly_async.testing import Emulator, Fault, VirtualClock

from ._limits import Starts, max_in_window, state
from .redis_server import RedisServer, free_port, redis_server_fixture  # noqa: F401

pytestmark = [pytest.mark.redis, pytest.mark.timeout(60)]

_prefixes = iter(range(10_000))


@pytest.fixture
def prefix() -> str:
    """A key prefix of this test's own, so tests sharing the server never meet."""
    return f"t{next(_prefixes)}:{time.monotonic_ns()}"


@pytest.fixture
async def redis(redis_server: RedisServer) -> AsyncIterator[redis_asyncio.Redis]:
    client = redis_asyncio.Redis.from_url(redis_server.url, decode_responses=True)
    yield client
    await client.aclose()


@pytest.fixture
async def make(
    redis_server: RedisServer, prefix: str
) -> AsyncIterator[Callable[..., RedisLimiter]]:
    """``make(**kwargs)``: a RedisLimiter on the test server (closed after the test)."""
    made: list[RedisLimiter] = []

    def factory(**kwargs: Any) -> RedisLimiter:
        kwargs.setdefault("prefix", prefix)
        limiter = RedisLimiter(kwargs.pop("url", redis_server.url), **kwargs)
        made.append(limiter)
        return limiter

    yield factory
    for limiter in made:
        await limiter.aclose()


async def _run(
    limiters: list[RedisLimiter], key: str, rl: RateLimit, n: int, **kwargs: Any
) -> list[float]:
    loop = asyncio.get_running_loop()
    starts: list[float] = []

    async def one(limiter: RedisLimiter) -> None:
        await limiter.acquire(key, rl, **kwargs)
        starts.append(loop.time())
        await limiter.observe(key, RateLimitState())

    await asyncio.gather(*(one(limiters[i % len(limiters)]) for i in range(n)))
    return starts


async def _commandstats(redis: redis_asyncio.Redis) -> dict[str, int]:
    info = await redis.info("commandstats")
    return {name: int(value["calls"]) for name, value in info.items()}


# -- the window guarantee -------------------------------------------------------------------------


@pytest.mark.slow
async def test_three_limiters_share_one_window_and_reach_the_ideal(
    make: Callable[..., RedisLimiter],
) -> None:
    rl = RateLimit(20, 0.5)
    limiters = [make(calibrate=False, margin=0.01) for _ in range(3)]
    loop = asyncio.get_running_loop()
    started = loop.time()
    starts = await _run(limiters, "api_key:one", rl, 150)
    elapsed = loop.time() - started
    assert max_in_window(starts, rl.window_seconds) <= rl.limit
    ideal = (math.ceil(150 / 20) - 1) * rl.window_seconds  # 3.5 s
    # One window of slack for a loaded 2-core CI host: this test guards against a stall;
    # how close the fleet gets to the ideal is measured by `benchmarks fleet`.
    assert ideal <= elapsed < ideal * 1.1 + rl.window_seconds
    calls = sum(limiter.stats.grant_calls for limiter in limiters)
    assert sum(limiter.stats.grants for limiter in limiters) == 150
    assert calls < 60  # batched: far fewer script calls than grants


@pytest.mark.slow
async def test_window_guarantee_with_10000_coroutines_in_two_processes(
    make: Callable[..., RedisLimiter],
) -> None:
    rl = RateLimit(2000, 0.5)
    limiters = [make(calibrate=False, margin=0.01) for _ in range(2)]
    loop = asyncio.get_running_loop()
    started = loop.time()
    starts = await _run(limiters, "api_key:many", rl, 10_000)
    elapsed = loop.time() - started
    assert len(starts) == 10_000
    assert max_in_window(starts, rl.window_seconds) <= rl.limit
    ideal = (math.ceil(10_000 / 2000) - 1) * rl.window_seconds
    # 2.2-2.5 s here when the machine is quiet, 3.0 s while benchmarks ran beside it: 10,000
    # tasks cost CPU time, so the bound leaves room for a busy CI machine. The batching itself
    # is asserted on the script calls below; the speed is the fleet benchmark's.
    assert elapsed < ideal * 2, elapsed
    calls = sum(limiter.stats.grant_calls for limiter in limiters)
    assert calls < 10_000 / 64 * 2 + 20  # batches of 64, not one call per grant


async def test_a_burst_is_granted_in_one_call_and_the_next_waits_exactly(
    make: Callable[..., RedisLimiter],
) -> None:
    rl = RateLimit(10, 0.4)
    # A margin large enough that a busy machine's round trip to Redis (a call resumed more than
    # half the margin after its grant was asked for is restamped) does not move the first ten.
    limiter = make(calibrate=False, margin=0.2)
    loop = asyncio.get_running_loop()
    started = loop.time()
    starts = await _run([limiter], "api_key:burst", rl, 20)
    starts.sort()
    assert starts[9] - started < 0.1  # the first ten at once
    assert starts[10] - started >= 0.6  # the next ten when the window (plus margin) ends
    # One call grants the first ten and returns the exact wait; one more grants the rest.
    assert limiter.stats.grant_calls == 2


async def test_a_late_resume_paces_the_next_burst_from_when_the_calls_went_out(
    make: Callable[..., RedisLimiter], monkeypatch: pytest.MonkeyPatch
) -> None:
    # The loop stalls right after the second burst is granted: those calls go out 0.2 s after
    # Redis stamped them, and the third burst must wait a window from then, not from the
    # stamp, or two bursts would reach the server within one window.
    loop = asyncio.get_running_loop()
    original = RedisLimiter._grant_batch
    grants = 0

    async def grant_batch(self: RedisLimiter, *args: Any) -> Any:
        nonlocal grants
        outcome = await original(self, *args)
        if outcome.grants:
            grants += 1
            if grants == 2:  # before the granted calls resume
                loop.call_soon(time.sleep, 0.2)
        return outcome

    monkeypatch.setattr(RedisLimiter, "_grant_batch", grant_batch)
    rl = RateLimit(3, 0.4)
    limiter = make(calibrate=False, margin=0.1)  # late: more than 0.05 s after the ask
    starts = sorted(await _run([limiter], "api_key:late", rl, 9))
    assert starts[3] - starts[0] >= 0.5 + 0.19  # the second burst went out late
    assert starts[6] - starts[3] >= 0.5  # the third waited a window from then
    assert limiter.stats.restamp_calls == 1  # the three late calls in one write; the rest on time


async def test_a_denial_writes_nothing(
    make: Callable[..., RedisLimiter], redis: redis_asyncio.Redis
) -> None:
    rl = RateLimit(3, 5)
    limiter = make(calibrate=False)
    await _run([limiter], "api_key:deny", rl, 3)
    before = await _commandstats(redis)
    waiting = asyncio.create_task(limiter.acquire("api_key:deny", rl))
    await asyncio.sleep(0.2)  # the script ran once and denied
    after = await _commandstats(redis)
    assert limiter.stats.grant_calls == 2
    for command in ("cmdstat_zadd", "cmdstat_zremrangebyscore", "cmdstat_pexpire", "cmdstat_set"):
        assert after.get(command, 0) == before.get(command, 0), command
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting


@pytest.mark.slow  # waits 2.3 s of real time for Redis to expire the keys
async def test_keys_share_a_hash_tag_and_expire_when_idle(
    make: Callable[..., RedisLimiter], redis: redis_asyncio.Redis, prefix: str
) -> None:
    key = ApiKey("ical_0123456789abcdef").limit_key
    limiter = make(margin=0.0)
    rl = RateLimit(5, 0.2)
    await limiter.acquire(key, rl)
    await limiter.observe(key, state(5, 4, 1))
    keys = sorted(await redis.keys(f"{prefix}:*"))
    assert keys == [f"{prefix}:{{{key}}}:{part}" for part in ("budgets", "cal", "log")]
    for name in keys:
        ttl = await redis.pttl(name)
        assert 0 < ttl <= 2200, (name, ttl)
    await asyncio.sleep(2.3)
    assert await redis.keys(f"{prefix}:*") == []


async def test_a_key_with_braces_is_hashed_into_a_safe_tag(
    make: Callable[..., RedisLimiter], redis: redis_asyncio.Redis, prefix: str
) -> None:
    limiter = make(calibrate=False)
    await limiter.acquire("my {odd} key", RateLimit(5, 1))
    (name,) = await redis.keys(f"{prefix}:*")
    assert isinstance(name, str)
    assert name.startswith(f"{prefix}:{{h:") and name.count("{") == 1


async def test_a_rate_change_applies_at_once(make: Callable[..., RedisLimiter]) -> None:
    limiter = make(calibrate=False, margin=0.0)
    loop = asyncio.get_running_loop()
    await _run([limiter], "api_key:change", RateLimit(5, 1), 5)
    started = loop.time()
    await _run([limiter], "api_key:change", RateLimit(10, 1), 5)  # same window, higher limit
    assert loop.time() - started < 0.2


# -- feedback, penalties, calibration -------------------------------------------------------------


async def test_remaining_zero_from_one_process_holds_the_others(
    make: Callable[..., RedisLimiter],
) -> None:
    a, b = make(calibrate=False), make(calibrate=False)
    rl = RateLimit(100, 60)
    await a.acquire("api_key:fb", rl)
    await a.observe("api_key:fb", state(100, 0, 0.6))  # spent elsewhere: nothing left for 0.6 s
    loop = asyncio.get_running_loop()
    started = loop.time()
    await b.acquire("api_key:fb", rl)
    assert 0.55 <= loop.time() - started < 1.2


async def test_feedback_is_written_only_when_it_is_news(make: Callable[..., RedisLimiter]) -> None:
    a, b = make(calibrate=False), make(calibrate=False)
    rl = RateLimit(100, 60)
    for remaining in range(99, 89, -1):  # a trickle: each answer echoes our own grant
        await a.acquire("api_key:news", rl)
        await a.observe("api_key:news", state(100, remaining, 50))
    assert a.stats.feedback_calls == 1
    await a.acquire("api_key:news", rl)
    await a.observe("api_key:news", state(100, 0, 0.5))  # someone outside spent the rest
    assert a.stats.feedback_calls == 2
    loop = asyncio.get_running_loop()
    started = loop.time()
    await b.acquire("api_key:news", rl)
    assert loop.time() - started >= 0.4


async def test_a_server_limit_lower_than_configured_binds_the_fleet(
    make: Callable[..., RedisLimiter],
) -> None:
    a, b = make(calibrate=False, margin=0.0), make(calibrate=False, margin=0.0)
    rl = RateLimit(10, 0.5)
    await a.acquire("api_key:lower", rl)
    await a.observe("api_key:lower", RateLimitState((NamedLimit("Default", 3, None, None),)))
    starts = await _run([b], "api_key:lower", rl, 6)
    assert max_in_window([*starts, min(starts) - 0.01], 0.5) <= 3 + 1


async def test_a_penalty_holds_every_process(make: Callable[..., RedisLimiter]) -> None:
    a, b = make(calibrate=False), make(calibrate=False)
    rl = RateLimit(100, 60)
    await a.acquire("api_key:pen", rl)
    await a.penalize("api_key:pen", 0.5)
    loop = asyncio.get_running_loop()
    started = loop.time()
    await b.acquire("api_key:pen", rl)
    assert loop.time() - started >= 0.5


async def test_a_fresh_credential_sends_one_probe_for_the_whole_fleet(
    make: Callable[..., RedisLimiter],
) -> None:
    a, b = make(), make()
    rl = RateLimit(50, 10)
    loop = asyncio.get_running_loop()
    await a.acquire("api_key:cal", rl)  # the probe
    waiting = asyncio.create_task(b.acquire("api_key:cal", rl))
    await asyncio.sleep(0.3)
    assert not waiting.done()  # B waits for the probe's headers
    answered = loop.time()
    await a.observe("api_key:cal", state(50, 49, 10))
    await waiting
    assert loop.time() - answered < 0.2  # B polls every probe_poll (0.05 s)


async def test_a_probe_without_an_answer_lets_the_next_call_probe(
    make: Callable[..., RedisLimiter],
) -> None:
    a, b = make(), make()
    rl = RateLimit(50, 10)
    await a.acquire("api_key:lost", rl)
    waiting = asyncio.create_task(b.acquire("api_key:lost", rl))
    await asyncio.sleep(0.1)
    await a.observe("api_key:lost", RateLimitState.no_response())
    await asyncio.wait_for(waiting, 0.5)


async def test_a_fleet_hold_longer_than_max_hold_fails_fast_in_another_process(
    make: Callable[..., RedisLimiter],
) -> None:
    clock = VirtualClock()
    a = make(calibrate=False, margin=0.0, clock=clock)
    b = make(calibrate=False, margin=0.0, clock=clock)
    rl = RateLimit(1, 60)
    key = "api_key:maxhold"

    async def scenario() -> float:
        await a.acquire(key, rl)
        queued = asyncio.create_task(b.acquire(key, rl, max_hold=300))  # waits for the window
        await clock.sleep(10)
        assert not queued.done()
        await a.penalize(key, 600)  # a 429 in process A: the fleet is held for 600 s
        with pytest.raises(CredentialHeld) as held:
            await queued  # B learns it when its wait for the window ends, and fails then
        assert clock.monotonic() == pytest.approx(60)
        # B now knows of the hold: a new call fails before it asks Redis.
        calls = b.stats.grant_calls
        with pytest.raises(CredentialHeld):
            await b.acquire(key, rl, max_hold=300)
        assert b.stats.grant_calls == calls
        return held.value.seconds

    assert await clock.run(
        scenario(), grace=0.05
    )  # real Redis round trips on a loaded host == pytest.approx(550, abs=1)


async def test_max_rate_limit_wait_applies_with_a_redis_limiter(
    make: Callable[..., RedisLimiter],
) -> None:
    async with Emulator() as emu:
        clients = [
            ICalendly(
                ApiKey(emu.api_key),
                base_url=emu.base_url,
                allow_insecure_http=True,
                limiter=make(),
                retry=RetryPolicy(max_rate_limit_wait=10),
            )
            for _ in range(2)
        ]
        first, second = clients
        await first.me.get()
        await first.limiter.penalize(first.credential.limit_key, 60)  # as after a 429
        sent = emu.stats.requests
        started = time.perf_counter()
        with pytest.raises(errors.RateLimitError, match="max_rate_limit_wait") as caught:
            await second.me.get()
        assert time.perf_counter() - started < 1.0
        assert caught.value.retry_after is not None and caught.value.retry_after > 10
        assert emu.stats.requests == sent  # nothing was sent
        for client in clients:
            await client.aclose()


async def test_pacing_on_a_virtual_clock(make: Callable[..., RedisLimiter]) -> None:
    # The log's times and the dispatcher's waits come from the injected clock: three windows
    # of pacing in a few milliseconds of wall time, with Redis deciding every grant.
    clock = VirtualClock()
    limiter = make(calibrate=False, margin=0.0, clock=clock)
    rl = RateLimit(5, 60)
    starts: list[float] = []

    async def one() -> None:
        await limiter.acquire("api_key:virtual", rl)
        starts.append(clock.monotonic())
        await limiter.observe("api_key:virtual", RateLimitState())

    async def burst() -> None:
        await asyncio.gather(*(one() for _ in range(15)))

    wall = time.perf_counter()
    await clock.run(burst(), grace=0.05)  # real Redis round trips on a loaded host
    assert time.perf_counter() - wall < 5
    assert sorted(starts) == [0.0] * 5 + [pytest.approx(60.0)] * 5 + [pytest.approx(120.0)] * 5


async def test_a_servers_window_gets_the_default_margin_for_its_length(
    make: Callable[..., RedisLimiter],
) -> None:
    # Configured 5 per 60 s; the server says 10 per 20-s window. The grant script then spaces
    # windows by 20 s plus the default margin for 20 s (0.2 s: 1 % of it, under the 0.25-s cap),
    # the same rule the local limiter follows (ratelimit.default_margin).
    from icalendly_async.ratelimit.local import default_margin

    clock = VirtualClock()
    limiter = make(calibrate=False, clock=clock)
    rl, key = RateLimit(5, 60), "api_key:server-window"
    starts: list[float] = []

    async def one() -> None:
        await limiter.acquire(key, rl)
        starts.append(clock.monotonic())

    async def scenario() -> None:
        await one()
        await limiter.observe(key, state(10, 9, 20.0))
        await asyncio.gather(*(one() for _ in range(10)))

    await clock.run(scenario(), grace=0.05)  # real Redis round trips on a loaded host
    assert sorted(starts)[:10] == [0.0] * 10
    assert sorted(starts)[10] == pytest.approx(20 + default_margin(20), abs=0.002)


# -- priorities -----------------------------------------------------------------------------------


async def test_interactive_calls_overtake_bulk_ones(make: Callable[..., RedisLimiter]) -> None:
    limiter = make(calibrate=False, margin=0.0)
    rl = RateLimit(2, 0.3)
    order: list[str] = []
    await _run([limiter], "api_key:prio", rl, 2)  # the window is full

    async def call(name: str, priority: Priority) -> None:
        await limiter.acquire("api_key:prio", rl, priority=priority)
        order.append(name)

    tasks = [asyncio.create_task(call(f"bulk{i}", Priority.BULK)) for i in range(3)]
    await asyncio.sleep(0.05)
    tasks.append(asyncio.create_task(call("interactive", Priority.INTERACTIVE)))
    await asyncio.gather(*tasks)
    assert order[0] == "interactive"


async def test_the_bulk_share_holds_across_processes(make: Callable[..., RedisLimiter]) -> None:
    a, b = make(calibrate=False, bulk_share=0.5), make(calibrate=False, bulk_share=0.5)
    rl = RateLimit(10, 30)
    key = "api_key:share"
    for _ in range(5):  # B's bulk job takes the fleet's bulk share of the window
        await b.acquire(key, rl, priority=Priority.BULK)
    blocked = [asyncio.create_task(a.acquire(key, rl, priority=Priority.BULK)) for _ in range(3)]
    await asyncio.sleep(0.2)
    assert not any(task.done() for task in blocked)  # half the window for BULK, fleet-wide
    # The rest of the window is for everyone else, even behind A's waiting bulk calls.
    await asyncio.wait_for(a.acquire(key, rl), 0.3)
    await asyncio.wait_for(b.acquire(key, rl, priority=Priority.INTERACTIVE), 0.3)
    for task in blocked:
        task.cancel()
    await asyncio.gather(*blocked, return_exceptions=True)


# -- cancellation ---------------------------------------------------------------------------------


async def test_cancelled_waiters_take_nothing(
    make: Callable[..., RedisLimiter], redis: redis_asyncio.Redis, prefix: str
) -> None:
    limiter = make(calibrate=False)
    rl = RateLimit(3, 30)
    key = "api_key:cancel"
    await _run([limiter], key, rl, 3)
    waiting = [asyncio.create_task(limiter.acquire(key, rl)) for _ in range(100)]
    await asyncio.sleep(0.1)
    for task in waiting:
        task.cancel()
    await asyncio.gather(*waiting, return_exceptions=True)
    await asyncio.sleep(0.05)
    assert await redis.zcard(f"{prefix}:{{{key}}}:log") == 3
    cred = limiter._credentials[key]  # nothing left behind in the process either
    assert cred.queue is None and cred.in_flight == 0


async def test_a_call_cancelled_during_its_grant_gives_the_slot_back(
    make: Callable[..., RedisLimiter], redis: redis_asyncio.Redis, prefix: str
) -> None:
    limiter = make(calibrate=False)
    script = limiter._grant

    async def slow(*args: Any, **kwargs: Any) -> Any:
        await asyncio.sleep(0.1)  # a slow network: the call is cancelled meanwhile
        return await script(*args, **kwargs)

    limiter._grant = slow  # type: ignore[assignment]
    rl = RateLimit(3, 30)
    task = asyncio.create_task(limiter.acquire("api_key:mid", rl))
    await asyncio.sleep(0.05)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await asyncio.sleep(0.15)
    assert await redis.zcard(f"{prefix}:{{api_key:mid}}:log") == 0


async def test_a_call_cancelled_after_its_grant_gives_the_slot_back(
    make: Callable[..., RedisLimiter], redis: redis_asyncio.Redis, prefix: str
) -> None:
    limiter = make(calibrate=False)
    grant_batch = limiter._grant_batch
    holder: list[asyncio.Task[None]] = []

    async def then_cancel(*args: Any) -> Any:
        outcome = await grant_batch(*args)
        # Cancel before the waiter resumes, after the dispatcher hands it the grant.
        asyncio.get_running_loop().call_soon(holder[0].cancel)
        return outcome

    limiter._grant_batch = then_cancel  # type: ignore[method-assign,assignment]
    task = asyncio.create_task(limiter.acquire("api_key:after", RateLimit(3, 30)))
    holder.append(task)
    with pytest.raises(asyncio.CancelledError):
        await task
    await asyncio.sleep(0.1)
    assert await redis.zcard(f"{prefix}:{{api_key:after}}:log") == 0
    cred = limiter._credentials.get("api_key:after")
    assert cred is None or cred.in_flight == 0


# -- the failure policy ---------------------------------------------------------------------------


async def _blackhole() -> tuple[asyncio.Server, str]:
    """A server that accepts connections and never answers: a hung Redis."""

    async def swallow(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(-1)

    server = await asyncio.start_server(swallow, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    return server, f"redis://127.0.0.1:{port}/0"


async def test_fail_closed_raises_a_transport_error_quickly(
    make: Callable[..., RedisLimiter],
) -> None:
    limiter = make(url=f"redis://127.0.0.1:{free_port()}/0", timeout=0.5)
    waiters = [
        asyncio.create_task(limiter.acquire("api_key:x", RateLimit(5, 1))) for _ in range(50)
    ]
    started = time.perf_counter()
    results = await asyncio.gather(*waiters, return_exceptions=True)
    assert all(isinstance(r, LimiterUnavailableError) for r in results)
    assert isinstance(results[0], errors.TransportError)
    assert time.perf_counter() - started < 1.0
    assert "Nothing was sent" in str(results[0]) and "fallback='local'" in str(results[0])


async def test_a_hung_redis_never_holds_a_call_past_the_timeout(
    make: Callable[..., RedisLimiter],
) -> None:
    server, url = await _blackhole()
    try:
        limiter = make(url=url, timeout=0.3)
        started = time.perf_counter()
        with pytest.raises(LimiterUnavailableError, match=r"0\.3 s"):
            await limiter.acquire("api_key:hung", RateLimit(5, 1))
        assert time.perf_counter() - started < 0.8
        # Within recheck_after, calls fail at once instead of waiting again.
        started = time.perf_counter()
        with pytest.raises(LimiterUnavailableError):
            await limiter.acquire("api_key:hung", RateLimit(5, 1))
        assert time.perf_counter() - started < 0.25  # not the 0.3-s timeout again
    finally:
        server.close()


async def test_fallback_paces_locally_at_the_workers_share(
    make: Callable[..., RedisLimiter],
) -> None:
    limiter = make(
        url=f"redis://127.0.0.1:{free_port()}/0",
        timeout=0.3,
        fallback="local",
        expected_workers=2,
        margin=0.0,
        calibrate=False,
    )
    rl = RateLimit(10, 0.5)
    loop = asyncio.get_running_loop()
    started = loop.time()
    starts = await _run([limiter], "api_key:fb", rl, 15)
    assert max_in_window(starts, 0.5) <= 5  # limit // expected_workers
    assert loop.time() - started >= 1.0


def test_fallback_needs_expected_workers() -> None:
    with pytest.raises(errors.ConfigurationError, match="expected_workers"):
        RedisLimiter("redis://127.0.0.1:1/0", fallback="local")
    with pytest.raises(errors.ConfigurationError, match="braces"):
        RedisLimiter("redis://127.0.0.1:1/0", prefix="a{b}")
    with pytest.raises(errors.ConfigurationError, match="redis"):
        RedisLimiter(42)  # type: ignore[arg-type]


async def test_an_outage_then_recovery_backfills_the_log(prefix: str) -> None:
    from .redis_server import require_redis_server

    server = RedisServer(require_redis_server())
    server.start()
    limiter = RedisLimiter(
        server.url,
        prefix=prefix,
        timeout=0.3,
        fallback="local",
        expected_workers=2,
        recheck_after=0.2,
        calibrate=False,
    )
    probe = redis_asyncio.Redis.from_url(server.url)
    try:
        rl = RateLimit(10, 30)
        await _run([limiter], "api_key:rec", rl, 2)
        server.stop()
        await _run([limiter], "api_key:rec", rl, 3)  # paced locally
        server.start()
        await asyncio.sleep(0.25)
        await _run([limiter], "api_key:rec", rl, 1)
        # The restarted server lost the log: it now holds the 3 local starts and the new one.
        assert await probe.zcard(f"{prefix}:{{api_key:rec}}:log") == 4
    finally:
        await probe.aclose()
        await limiter.aclose()
        server.close()


async def test_aclose_closes_only_what_it_created(redis: redis_asyncio.Redis, prefix: str) -> None:
    limiter = RedisLimiter(redis, prefix=prefix)
    await limiter.acquire("api_key:own", RateLimit(5, 1))
    await limiter.aclose()
    assert await redis.ping()
    with pytest.raises(errors.ConfigurationError, match="closed"):
        await limiter.acquire("api_key:own", RateLimit(5, 1))


async def test_client_clock_mode_paces_too(make: Callable[..., RedisLimiter]) -> None:
    limiter = make(clock="client", calibrate=False, margin=0.0)
    starts = await _run([limiter], "api_key:clock", RateLimit(5, 0.3), 10)
    assert max_in_window(starts, 0.3) <= 5


async def test_a_server_refusing_time_in_scripts_switches_to_the_client_clock(
    make: Callable[..., RedisLimiter],
) -> None:
    limiter = make(calibrate=False, margin=0.0)
    script = limiter._grant

    async def old_server(*, keys: list[str], args: list[str | int | float]) -> Any:
        if args[1] == "1":  # what Redis < 5 answers a script that writes after TIME
            raise ResponseError(
                "Write commands not allowed after non deterministic commands. Call "
                "redis.replicate_commands() at the start of your script"
            )
        return await script(keys=keys, args=args)

    limiter._grant = old_server  # type: ignore[assignment]
    starts = await _run([limiter], "api_key:old", RateLimit(5, 0.3), 10)
    assert max_in_window(starts, 0.3) <= 5
    assert limiter._server_time is False


def test_it_is_a_limiter() -> None:
    limiter = RedisLimiter("redis://127.0.0.1:1/0")
    assert isinstance(limiter, Limiter)
    assert "RedisLimiter" in repr(limiter)


async def test_bad_costs_and_priorities_are_refused(make: Callable[..., RedisLimiter]) -> None:
    limiter = make()
    with pytest.raises(errors.ConfigurationError, match="cost"):
        await limiter.acquire("api_key:bad", RateLimit(5, 1), 6)
    with pytest.raises(errors.ConfigurationError, match="cost"):
        await limiter.acquire("api_key:bad", RateLimit(5, 1), 0)
    with pytest.raises(errors.ConfigurationError, match="priority"):
        await limiter.acquire("api_key:bad", RateLimit(5, 1), priority=7)


# -- end to end -----------------------------------------------------------------------------------


def _two_clients(
    emu: Emulator, make: Callable[..., RedisLimiter], limit: RateLimit | None, **options: Any
) -> list[ICalendly]:
    """Two clients of the emulator's key, each with a RedisLimiter of its own (two workers)."""
    return [
        ICalendly(
            ApiKey(emu.api_key, rate_limit=limit),
            base_url=emu.base_url,
            allow_insecure_http=True,
            limiter=make(),
            retry=RetryPolicy(max_retries=0),
            **options,
        )
        for _ in range(2)
    ]


@pytest.mark.slow
async def test_two_clients_share_the_emulators_window(make: Callable[..., RedisLimiter]) -> None:
    limit = RateLimit(10, 1)
    async with Emulator(rate_limit=limit) as emu:
        starts = Starts()
        clients = _two_clients(emu, make, limit, observers=[starts])
        started = time.perf_counter()
        await asyncio.gather(*(clients[i % 2].request("GET", "/v2/me") for i in range(40)))
        elapsed = time.perf_counter() - started
        for client in clients:
            await client.aclose()
        assert emu.stats.rate_limited == 0
        # The fleet's guarantee is about starts (when the emulator, in this process, counts a
        # request also depends on how busy the loop is): never more than 10 in any 1-s window.
        assert max_in_window(starts.times, 1.0) <= 10
        assert elapsed < (math.ceil(40 / 10) - 1) * 1.0 * 1.1 + 1.0  # one window of slack


@pytest.mark.slow
async def test_a_window_opened_late_at_the_server_is_not_overrun_by_the_fleet(
    make: Callable[..., RedisLimiter],
) -> None:
    # As tests/test_client.py's test of that name, through Redis: the first request reaches
    # the server 0.4 s after it starts, so the server's window ends later than the fleet's
    # log says; the answers' headers must hold the second window's calls.
    limit = RateLimit(30, 3)
    async with Emulator(rate_limit=limit) as emu:
        emu.inject(Fault("latency", delay=0.4, path="/v2/me", times=1))
        clients = _two_clients(emu, make, limit)
        try:
            await asyncio.gather(*(clients[i % 2].request("GET", "/v2/me") for i in range(60)))
        finally:
            for client in clients:
                await client.aclose()
        assert emu.stats.rate_limited == 0
        assert emu.stats.requests == 60


@pytest.mark.slow
async def test_the_fleet_follows_the_servers_window_too(make: Callable[..., RedisLimiter]) -> None:
    # Keys left at their default (120 per 60 s); the server says 10 per 1-s window.
    async with Emulator(rate_limit=RateLimit(10, 1)) as emu:
        clients = _two_clients(emu, make, None)

        async def worker(client: ICalendly) -> None:
            for _ in range(15):
                await client.request("GET", "/v2/me")

        started = time.perf_counter()
        await asyncio.gather(*(worker(c) for c in clients))
        elapsed = time.perf_counter() - started
        for client in clients:
            await client.aclose()
        assert emu.stats.rate_limited == 0
        assert elapsed < 4.5  # (ceil(30 / 10) - 1) x 1 s ideal; 60-s windows would take minutes
