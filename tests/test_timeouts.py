"""A call's ``timeout`` bounds all of it: the limiter's queue, every attempt, every backoff.

When it runs out, ``TimeoutError`` says where the time went and nothing more is sent. These run
against the emulator on the wall clock (each takes about half a second).
"""

from __future__ import annotations

import asyncio
import time

import aiohttp
import pytest

from icalendly_async import AccessToken, ApiKey, ICalendly, RateLimit, RetryPolicy, errors
from icalendly_async.testing import Emulator, Fault

BUDGET = 0.5


def _client(emu: Emulator, **kwargs: object) -> ICalendly:
    limit = RateLimit(1, 60)
    return ICalendly(
        ApiKey(emu.api_key, rate_limit=limit),
        base_url=emu.base_url,
        allow_insecure_http=True,
        **kwargs,  # type: ignore[arg-type]
    )


async def test_a_call_queued_behind_a_saturated_credential_ends_at_its_timeout() -> None:
    # The server says nothing about limits here: the wait is the client's own pacing.
    async with Emulator(enforce_rate_limits=False) as emu, _client(emu) as client:
        await client.me.get()  # the credential's one request of the minute
        started = time.perf_counter()
        with pytest.raises(errors.TimeoutError) as caught:
            await client.me.get(timeout=BUDGET)
        elapsed = time.perf_counter() - started
        assert BUDGET * 0.9 <= elapsed < BUDGET + 0.4
        error = caught.value
        assert error.phase == "queued" and error.attempts == 0
        assert error.queued == pytest.approx(BUDGET, abs=0.2) and error.in_flight == 0
        assert "queued for the rate limiter" in str(error)
        assert "Nothing more was sent" in str(error)
        assert emu.stats.requests == 1  # the second call never reached the server
        # the slot it waited for is not lost: the limiter still has the call's place free
        assert client.limiter.hold_remaining(client.credential.limit_key) == 0.0


async def test_a_retry_that_would_start_after_the_deadline_is_not_sent() -> None:
    slow_backoff = RetryPolicy(max_retries=3, backoff_base=5.0, backoff_max=5.0)
    async with Emulator() as emu, _client(emu, retry=slow_backoff) as client:
        emu.inject(Fault("status", status=503, path="/v2/me", times=-1))
        started = time.perf_counter()
        with pytest.raises(errors.TimeoutError) as caught:
            await client.me.get(timeout=BUDGET)
        assert time.perf_counter() - started < BUDGET  # it did not sleep toward the deadline
        error = caught.value
        assert error.phase == "backing_off" and error.attempts == 1
        assert isinstance(error.__cause__, errors.ServerError)  # what the retry was for
        assert "before the next retry could start" in str(error)
        assert emu.stats.requests == 1


async def test_an_attempt_in_flight_is_cut_by_what_is_left_of_the_budget() -> None:
    async with Emulator() as emu, _client(emu) as client:
        emu.inject(Fault("hang", path="/v2/me", times=-1))
        started = time.perf_counter()
        with pytest.raises(errors.TimeoutError) as caught:
            await client.me.get(timeout=BUDGET)
        elapsed = time.perf_counter() - started
        assert BUDGET * 0.9 <= elapsed < BUDGET + 0.4
        assert caught.value.phase == "in_flight"
        assert caught.value.in_flight == pytest.approx(BUDGET, abs=0.2)
        assert emu.stats.requests == 1  # a GET, retryable: still never sent again


async def test_attempts_cut_by_sock_read_end_in_a_timeout_that_says_where_the_time_went() -> None:
    # Each attempt is cut by its read timeout, and the retries run out before the budget does:
    # the error still accounts for the whole call, as the README says of every TimeoutError.
    quick = RetryPolicy(max_retries=2, backoff_base=0.05, backoff_max=0.05)
    async with (
        Emulator() as emu,
        ICalendly(
            ApiKey(emu.api_key), base_url=emu.base_url, allow_insecure_http=True, retry=quick
        ) as client,
    ):
        emu.inject(Fault("hang", path="/v2/me", times=-1))
        with pytest.raises(errors.TimeoutError) as caught:
            await client.me.get(timeout=aiohttp.ClientTimeout(total=30, sock_read=0.1))
        error = caught.value
        assert error.phase == "in_flight" and error.attempts == 3
        assert error.in_flight == pytest.approx(0.3, abs=0.2)
        assert 0 < error.backing_off <= 0.1 + 1e-9 and error.timeout == 30
        text = str(error)
        assert text.startswith("me.get: ") and "sock_read=0.1 s" in text
        assert "3 attempt(s)" in text and "s in flight" in text
        assert "total=" not in text  # not the per-attempt budget the pipeline computed
        assert emu.stats.requests == 3


@pytest.mark.parametrize("how", ["refused", "expiring"])
async def test_a_token_refresh_that_hangs_is_bounded_by_the_calls_timeout(how: str) -> None:
    # The refresh is part of the call: its caller gets the call's TimeoutError at the deadline
    # (the refresh itself goes on for whoever else needs the new pair).
    async with (
        Emulator() as emu,
        ICalendly(base_url=emu.base_url, allow_insecure_http=True) as client,
    ):
        pair = emu.issue_tokens()
        expires = time.time() + (3600 if how == "refused" else 5)  # "expiring": inside the margin
        user = client.with_credential(
            AccessToken(
                pair.access_token,
                pair.refresh_token,
                expires,
                client_id=emu.client_id,
                client_secret=emu.client_secret,
            )
        )
        if how == "refused":
            emu.expire_access_tokens()  # the next call is answered 498, then refreshes
        emu.inject(Fault("hang", path=f"/v2/oauth/{emu.client_id}/refresh", times=1))
        started = time.perf_counter()
        with pytest.raises(errors.TimeoutError) as caught:
            await user.me.get(timeout=BUDGET)
        assert time.perf_counter() - started < BUDGET + 0.4
        error = caught.value
        assert error.phase == "in_flight" and "token refresh" in str(error)
        assert error.in_flight == pytest.approx(BUDGET, abs=0.2)


async def test_a_hung_token_refresh_gives_up_at_the_clients_timeout() -> None:
    # ICalendly(timeout=1): the refresh request is made under the client's timeout too, so a
    # refresh that hangs holds the user's calls for 1 s, not for the default 60 s.
    async with (
        Emulator() as emu,
        ICalendly(base_url=emu.base_url, allow_insecure_http=True, timeout=1) as client,
    ):
        pair = emu.issue_tokens()
        user = client.with_credential(
            AccessToken(
                pair.access_token,
                pair.refresh_token,
                client_id=emu.client_id,
                client_secret=emu.client_secret,
            )
        )
        emu.expire_access_tokens()
        emu.inject(Fault("hang", path=f"/v2/oauth/{emu.client_id}/refresh", times=1))
        with pytest.raises(errors.TimeoutError):
            await user.me.get()
        await asyncio.sleep(0.3)  # the refresh request has given up by now
        assert (await user.me.get(timeout=3)).email  # refreshed anew: a working pair


async def test_a_credential_held_longer_than_the_budget_fails_at_once() -> None:
    async with Emulator() as emu, _client(emu) as client:
        await client.me.get()
        await client.limiter.penalize(client.credential.limit_key, 30.0)  # a 429's block
        started = time.perf_counter()
        with pytest.raises(errors.TimeoutError, match="held for"):
            await client.me.get(timeout=BUDGET)
        assert time.perf_counter() - started < 0.1
        with pytest.raises(errors.RateLimitError, match="max_rate_limit_wait"):
            await client.with_options(retry=RetryPolicy(max_rate_limit_wait=10)).me.get()


def test_a_client_used_in_a_second_event_loop_says_what_to_do() -> None:
    emu = Emulator()
    client = ICalendly(ApiKey(emu.api_key), allow_insecure_http=True, base_url="http://127.0.0.1:1")

    async def first() -> None:
        await emu.start()
        # created outside any loop, used inside one: fine
        client_in_loop = ICalendly(
            ApiKey(emu.api_key), base_url=emu.base_url, allow_insecure_http=True
        )
        assert (await client_in_loop.me.get()).email
        await client_in_loop.aclose()
        with pytest.raises(errors.ConnectionError):  # nothing listens on port 1
            await client.me.get(timeout=2)
        await emu.stop()

    asyncio.run(first())

    async def second() -> None:
        with pytest.raises(errors.ConfigurationError, match=r"one client per asyncio\.run"):
            await client.me.get()

    asyncio.run(second())
