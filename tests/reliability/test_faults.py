"""Every fault the issue lists, for idempotent and non-idempotent methods.

For each: the typed error (or the success) the retry policy promises, within the configured
timeouts, the number of requests the server saw (a non-idempotent request is never sent twice),
and the failed response released: no connection left checked out of the pool, no socket held
beyond the idle pool, nothing growing at the server side from one failed call to the next.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import attrs
import pytest

from icalendly_async import ApiKey, ICalendly, RetryPolicy, errors
from icalendly_async.ratelimit import LocalLimiter
from icalendly_async.testing import Emulator, Fault

from .conftest import (
    FAST,
    IDEMPOTENT,
    ROOMY,
    AttemptCounter,
    HostileServer,
    RawRequest,
    acquired,
    drain_loop,
    emulator_client,
    pooled,
    port_of,
    proc_net_available,
    reply,
    settled_census,
)

# The reliability sweep runs in the full suite (.ci/run: pytest -m slow), not the default run.
pytestmark = pytest.mark.slow

PATH = "/v2/bookings/reliability-probe"
METHODS = ("GET", "DELETE", "POST", "PATCH")  # two idempotent, two not
TIMEOUT = 0.25  # connect and read, per attempt
# A call's timeout is one budget for all its attempts: the faults here are cut per attempt by
# the connect and read timeouts, within a budget roomy enough for every retry.
PER_ATTEMPT = aiohttp.ClientTimeout(total=10.0, connect=TIMEOUT, sock_read=TIMEOUT)
SLACK = 0.6  # seconds of scheduling slack on a loaded 2-core machine

RATE_HEADERS = {"X-RateLimit-Limit-Default": "5000", "X-RateLimit-Remaining-Default": "0"}

Expect = Callable[[str], tuple[type[Exception] | None, int]]


def by_idempotency(error: type[Exception] | None, idempotent: int, other: int) -> Expect:
    return lambda method: (error, idempotent if method in IDEMPOTENT else other)


def every_method(error: type[Exception] | None, sends: int) -> Expect:
    return lambda method: (error, sends)


@attrs.frozen
class Case:
    id: str
    fault: Fault
    expect: Expect
    slow: bool = False  # each attempt lasts the whole timeout
    message: str | None = None  # a fragment the error's text must contain
    status: int | None = None  # the APIError's status
    reps: int = 3


def _fault(kind: str, **kwargs: Any) -> Fault:
    return Fault(kind, path=PATH, times=-1, **kwargs)  # type: ignore[arg-type]


CASES = [
    *(
        Case(f"status-{s}", _fault("status", status=s), by_idempotency(errors.ServerError, 3, 1))
        for s in (500, 502, 503, 504)
    ),
    Case("status-408", _fault("status", status=408), every_method(errors.APIError, 3), status=408),
    Case(
        "html-502",
        _fault("html", status=502),
        by_idempotency(errors.ServerError, 3, 1),
        message="unexpected error body",
    ),
    Case("html-200", _fault("html", status=200), every_method(errors.DecodeError, 1)),
    Case(
        "reset",
        _fault("reset"),
        by_idempotency(errors.ConnectionError, 3, 1),
        message="connection broke",
    ),
    Case(
        "reset_mid_body",
        _fault("reset_mid_body"),
        by_idempotency(errors.ConnectionError, 3, 1),
        message="connection broke",
    ),
    Case(
        "hang",
        _fault("hang"),
        by_idempotency(errors.TimeoutError, 3, 1),
        slow=True,
        reps=2,
        message="timeout",
    ),
    Case(
        # 8 pieces over 3 s: a pause of 0.375 s between pieces, past the 0.25-s read timeout
        "slow_body",
        _fault("slow_body", delay=3.0),
        by_idempotency(errors.TimeoutError, 3, 1),
        slow=True,
        reps=2,
        message="timeout",
    ),
    Case("truncated", _fault("truncated"), every_method(errors.DecodeError, 1), message="JSON"),
    Case("invalid_json", _fault("invalid_json"), every_method(errors.DecodeError, 1)),
    Case(
        "no_envelope",
        _fault("no_envelope"),
        every_method(errors.DecodeError, 1),
        message="envelope",
    ),
    Case(
        "429-without-headers",
        _fault("status", status=429),
        every_method(errors.RateLimitError, 3),
        status=429,
    ),
    Case(
        "429-short-reset",
        _fault("status", status=429, headers={**RATE_HEADERS, "X-RateLimit-Reset-Default": "0.1"}),
        every_method(errors.RateLimitError, 3),
        status=429,
    ),
    Case(
        # a wait beyond max_rate_limit_wait: raised at once, not slept. One rep: the credential
        # is held for the 120 s afterwards (see test_rate_limits.py for what that does).
        "429-long-reset",
        _fault("status", status=429, headers={**RATE_HEADERS, "X-RateLimit-Reset-Default": "120"}),
        every_method(errors.RateLimitError, 1),
        status=429,
        reps=1,
    ),
    Case(
        "401",
        _fault("status", status=401),
        every_method(errors.AuthenticationError, 1),
        status=401,
    ),
    Case(
        "498-api-key",
        _fault("status", status=498),
        every_method(errors.AuthenticationError, 1),
        status=498,
    ),
    # a slow network below the timeout: the usual answer (404: the probe booking does not exist)
    Case(
        "latency-below-timeout",
        _fault("latency", delay=0.1),
        every_method(errors.NotFoundError, 1),
        status=404,
    ),
]


def _sends(emu: Emulator, method: str, before: int) -> int:
    return sum(1 for r in emu.request_log[before:] if r.method == method and r.path == PATH)


async def _call(client: ICalendly, method: str, **kwargs: Any) -> Any:
    body = {"probe": 1} if method in ("POST", "PATCH", "PUT") else None
    return await client.request(method, PATH, json=body, timeout=PER_ATTEMPT, **kwargs)


def _bound(sends: int, slow: bool, policy: RetryPolicy, waits: float = 0.0) -> float:
    per_attempt = TIMEOUT + 0.05 if slow else 0.15
    return sends * per_attempt + (sends - 1) * policy.backoff_max + waits + SLACK


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
async def test_persistent_fault(case: Case, method: str) -> None:
    """A fault on every request of the path, met ``case.reps`` times in a row on one client."""
    expected_error, expected_sends = case.expect(method)
    reset = case.fault.headers.get("X-RateLimit-Reset-Default")
    waits = 0.0 if reset is None or float(reset) > 60 else float(reset) * (expected_sends - 1)
    async with Emulator(rate_limit=ROOMY) as emu:
        counter = AttemptCounter()
        limiter = LocalLimiter(margin=0.01, calibrate=False)
        async with emulator_client(emu, observers=[counter], limiter=limiter) as client:
            await client.request("GET", "/v2/me")  # one pooled connection to start from
            emu.inject(case.fault)
            open_after: list[int] = []
            for _ in range(case.reps):
                before = len(emu.request_log)
                counter.reset()
                started = time.perf_counter()
                outcome: BaseException | None = None
                try:
                    await _call(client, method)
                except Exception as exc:
                    outcome = exc
                elapsed = time.perf_counter() - started
                await drain_loop()

                # the typed error (or success) the policy promises
                if expected_error is None:
                    assert outcome is None, repr(outcome)
                else:
                    assert isinstance(outcome, expected_error), repr(outcome)
                    assert isinstance(outcome, errors.ICalendlyError)
                    if case.message is not None:
                        assert case.message in str(outcome), str(outcome)
                    if case.status is not None:
                        assert isinstance(outcome, errors.APIError)
                        assert outcome.status == case.status
                # exactly the sends the policy allows: never a non-idempotent one twice
                assert _sends(emu, method, before) == expected_sends
                assert counter.attempts == expected_sends
                if method not in IDEMPOTENT and case.fault.effective_status not in (408, 429):
                    assert counter.attempts == 1
                # within the configured timeouts
                assert elapsed < _bound(expected_sends, case.slow, FAST, waits), elapsed
                if case.slow:
                    assert elapsed >= expected_sends * TIMEOUT * 0.9, elapsed
                # the failed response released
                assert acquired(client) == 0
                if proc_net_available():
                    census = await settled_census(client, port_of(emu.base_url))
                    assert census.client["CLOSE_WAIT"] == 0, census
                    assert census.open_at_client <= pooled(client), census
                    open_after.append(census.open_at_server)
            if open_after:
                assert max(open_after) <= max(open_after[0], 1), open_after
            if isinstance(outcome, errors.RateLimitError):
                if reset is not None:
                    assert outcome.retry_after == pytest.approx(float(reset))
                else:
                    assert outcome.retry_after is None


ME = "/v2/me"
TRANSIENT = [
    Fault("status", status=503, path=ME, times=2),
    Fault("status", status=500, path=ME, times=2),
    Fault("reset", path=ME, times=2),
    Fault("reset_mid_body", path=ME, times=2),
    Fault("hang", path=ME, times=2),
    Fault("slow_body", delay=3.0, path=ME, times=2),
    Fault("status", status=408, path=ME, times=2),
    Fault("status", status=429, path=ME, times=2),
]


@pytest.mark.parametrize("method", ("GET", "PUT", "POST"))
@pytest.mark.parametrize("fault", TRANSIENT, ids=lambda f: f"{f.kind}-{f.effective_status}")
async def test_burst_of_two_then_recovery(fault: Fault, method: str) -> None:
    """Two failures, then the server answers for itself: idempotent calls (and every call after
    a 408/429) get that answer on the third attempt; a POST fails after its single send.

    ``GET /v2/me`` succeeds; the emulator has no ``PUT``/``POST /v2/me``, so their own answer
    is its 404, which proves the third attempt reached the handler just as well.
    """
    retried = method in IDEMPOTENT or fault.effective_status in (408, 429)
    async with Emulator(rate_limit=ROOMY) as emu:
        limiter = LocalLimiter(margin=0.01, calibrate=False)
        async with emulator_client(emu, limiter=limiter) as client:
            emu.inject(fault)
            started = time.perf_counter()
            outcome: Any
            try:
                outcome = await client.request_response(
                    method, ME, json={"p": 1} if method != "GET" else None, timeout=PER_ATTEMPT
                )
            except errors.ICalendlyError as exc:
                outcome = exc
            elapsed = time.perf_counter() - started
            log = emu.request_log
            if retried:
                assert len(log) == 3 and log[-1].fault is None and log[0].fault == fault.kind
                if method == "GET":
                    assert outcome.attempts == 3 and "email" in outcome.data
                else:
                    assert isinstance(outcome, errors.NotFoundError), repr(outcome)
            else:
                assert len(log) == 1 and log[0].fault == fault.kind
                assert isinstance(outcome, errors.ICalendlyError), repr(outcome)
            slow = fault.kind in ("hang", "slow_body")
            assert elapsed < _bound(len(log), slow, FAST)
            await drain_loop()
            assert acquired(client) == 0


async def test_retry_after_on_503_is_honoured() -> None:
    async with Emulator(rate_limit=ROOMY) as emu, emulator_client(emu) as client:
        emu.inject(Fault("status", status=503, path=ME, times=2, headers={"Retry-After": "0.3"}))
        started = time.perf_counter()
        response = await client.request_response("GET", ME)
        elapsed = time.perf_counter() - started
        assert response.attempts == 3
        assert 0.55 <= elapsed < 0.6 + SLACK


# -- connection refused --------------------------------------------------------------------------


@pytest.mark.parametrize("method", METHODS)
async def test_connection_refused_is_retried_for_every_method(
    closed_port_url: str, method: str
) -> None:
    counter = AttemptCounter()
    async with ICalendly(
        ApiKey("ical_0123456789abcdef"),
        base_url=closed_port_url,
        allow_insecure_http=True,
        retry=FAST,
        observers=[counter],
    ) as client:
        started = time.perf_counter()
        with pytest.raises(errors.ConnectionError, match="cannot connect") as info:
            await client.request(method, "/v2/me", json={} if method in ("POST", "PATCH") else None)
        assert time.perf_counter() - started < 3 * 0.05 + 2 * FAST.backoff_max + SLACK
        assert counter.attempts == 3  # the request never left: safe to resend, whatever the method
        assert isinstance(info.value, ConnectionError)  # the builtin too
        await drain_loop()
        assert acquired(client) == 0


# -- a hostile server ----------------------------------------------------------------------------


async def _run_against(
    server: HostileServer, method: str, timeout: Any = PER_ATTEMPT, **kwargs: Any
) -> tuple[BaseException | None, float, ICalendly]:
    client = ICalendly(
        ApiKey("ical_0123456789abcdef"),
        base_url=server.base_url,
        allow_insecure_http=True,
        retry=kwargs.pop("retry", FAST),
        **kwargs,
    )
    started = time.perf_counter()
    outcome: BaseException | None = None
    try:
        await client.request(method, PATH, json={} if method == "POST" else None, timeout=timeout)
    except Exception as exc:
        outcome = exc
    elapsed = time.perf_counter() - started
    await drain_loop()
    assert acquired(client) == 0
    await client.aclose()
    return outcome, elapsed, client


HostileFactory = Callable[..., Awaitable[HostileServer]]


@pytest.mark.parametrize("method", ("GET", "POST"))
async def test_a_server_that_accepts_and_never_reads(hostile: HostileFactory, method: str) -> None:
    server = await hostile(read_requests=False)
    outcome, elapsed, _ = await _run_against(server, method)
    sends = 3 if method == "GET" else 1
    assert isinstance(outcome, errors.TimeoutError), repr(outcome)
    assert server.connections == sends  # one fresh connection per attempt, none reused
    assert sends * TIMEOUT * 0.9 <= elapsed < _bound(sends, True, FAST)


@pytest.mark.parametrize("method", ("GET", "POST"))
async def test_a_body_trickling_within_the_read_timeout_is_cut_by_the_total(
    hostile: HostileFactory, method: str
) -> None:
    """One byte every 50 ms never trips a 0.3-s read timeout; the call's 0.5-s total ends it,
    and nothing more is sent: the total is the whole call's budget, not each attempt's."""

    async def trickle(request: RawRequest, writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n")
        while True:
            writer.write(b" ")
            await writer.drain()
            await asyncio.sleep(0.05)

    server = await hostile(trickle)
    timeout = aiohttp.ClientTimeout(total=0.5, sock_read=0.3)
    outcome, elapsed, _ = await _run_against(server, method, timeout=timeout)
    assert isinstance(outcome, errors.TimeoutError), repr(outcome)
    assert outcome.phase == "in_flight" and outcome.attempts == 1
    assert len(server.requests) == 1
    assert 0.45 <= elapsed < 0.55 + SLACK


def _garbage_status(request: RawRequest, writer: asyncio.StreamWriter) -> Awaitable[None]:
    writer.write(b"HTTP/1.1 abc Broken\r\nContent-Length: 0\r\n\r\n")
    return writer.drain()


async def _headers_then_close(request: RawRequest, writer: asyncio.StreamWriter) -> None:
    writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/js")
    await writer.drain()
    writer.transport.abort()


async def _length_lies(request: RawRequest, writer: asyncio.StreamWriter) -> None:
    writer.write(b'HTTP/1.1 200 OK\r\nContent-Length: 500\r\n\r\n{"status": "succ')
    await writer.drain()
    writer.close()


@pytest.mark.parametrize("method", ("GET", "POST"))
@pytest.mark.parametrize(
    "behaviour",
    [_garbage_status, _headers_then_close, _length_lies],
    ids=["garbage-status-line", "headers-then-close", "content-length-lies"],
)
async def test_malformed_responses_are_connection_errors(
    hostile: HostileFactory, behaviour: Any, method: str
) -> None:
    server = await hostile(behaviour)
    outcome, elapsed, _ = await _run_against(server, method)
    sends = 3 if method == "GET" else 1
    assert isinstance(outcome, errors.ConnectionError), repr(outcome)
    assert len(server.requests) == sends
    assert elapsed < _bound(sends, False, FAST)


@pytest.mark.parametrize("status", [408, 429, 503])
async def test_an_unreadable_retry_after_is_ignored(hostile: HostileFactory, status: int) -> None:
    async def answer(request: RawRequest, writer: asyncio.StreamWriter) -> None:
        body = b'{"status":"error","error":{"code":"X","message":"busy"}}'
        await reply(writer, status, body, {"Retry-After": "soon"})

    server = await hostile(answer)
    outcome, _, _ = await _run_against(server, "GET")
    assert isinstance(outcome, errors.APIError), repr(outcome)
    assert len(server.requests) == 3


# -- a user-supplied session ----------------------------------------------------------------------


async def test_a_supplied_session_never_resends_behind_the_limiters_back() -> None:
    import aiohttp

    async with Emulator(rate_limit=ROOMY) as emu, aiohttp.ClientSession() as session:
        counter = AttemptCounter()
        async with emulator_client(emu, session=session, observers=[counter]) as client:
            await client.request("GET", ME)  # leaves a pooled connection to reuse
            emu.reset_stats()
            counter.reset()
            emu.inject(Fault("reset", path=ME, times=-1))
            with pytest.raises(errors.ConnectionError):
                await client.request("GET", ME)
        assert counter.attempts == 3
        assert emu.stats.requests == counter.attempts


async def test_the_clients_own_session_never_resends_behind_the_limiters_back() -> None:
    async with Emulator(rate_limit=ROOMY) as emu:
        counter = AttemptCounter()
        async with emulator_client(emu, observers=[counter]) as client:
            await client.request("GET", ME)
            emu.reset_stats()
            counter.reset()
            emu.inject(Fault("reset", path=ME, times=-1))
            with pytest.raises(errors.ConnectionError):
                await client.request("GET", ME)
        assert emu.stats.requests == counter.attempts == 3
