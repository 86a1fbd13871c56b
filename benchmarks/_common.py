"""Helpers the benchmarks share: closed-loop load, the typed call, percentiles, formatting."""

from __future__ import annotations

import asyncio
import contextlib
import math
import statistics
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any

__all__ = [
    "X",
    "LoopFigures",
    "closed_loop",
    "fmt_rate",
    "log",
    "me_getter",
    "parts_only",
    "percentile",
    "ratio",
]


X = "\u00d7"  # the multiplication sign, for "0.93x" (ruff flags the literal as a confusable)


def log(message: str) -> None:
    """Progress on standard error (standard output stays free for results)."""
    print(f"  {message}", file=sys.stderr, flush=True)


class LoopFigures:
    """What one closed-loop run measured."""

    __slots__ = ("calls", "cpu_us", "errors", "rate", "seconds")

    def __init__(self, calls: int, seconds: float, cpu: float, errors: int) -> None:
        self.calls = calls
        self.seconds = seconds
        self.rate = calls / seconds if seconds > 0 else 0.0
        self.cpu_us = cpu / calls * 1e6 if calls else math.nan  # client CPU per call
        self.errors = errors


async def closed_loop(
    call: Callable[[], Awaitable[object]], concurrency: int, seconds: float, warmup: float
) -> LoopFigures:
    """``concurrency`` workers call ``call()`` back to back; counts completions after ``warmup``.

    The rate is completions between two instants divided by the time between them, so the
    ramp-up and the drain at the end are not part of it.
    """
    done = 0
    errors = 0
    stop = False

    async def worker() -> None:
        nonlocal done, errors
        while not stop:
            try:
                await call()
            except Exception:
                errors += 1
            done += 1

    tasks = [asyncio.create_task(worker()) for _ in range(concurrency)]
    try:
        await asyncio.sleep(warmup)
        calls0, errors0 = done, errors
        t0, cpu0 = time.perf_counter(), time.process_time()
        await asyncio.sleep(seconds)
        calls1, errors1 = done, errors
        t1, cpu1 = time.perf_counter(), time.process_time()
    finally:
        stop = True
        await asyncio.gather(*tasks, return_exceptions=True)
    return LoopFigures(calls1 - calls0, t1 - t0, cpu1 - cpu0, errors1 - errors0)


def me_getter(client: Any) -> tuple[Callable[[], Awaitable[object]], str]:
    """The typed ``GET /v2/me`` (an attrs ``MeOutput``), and how it was reached.

    ``client.me.get()`` once the generated groups are attached to the client; before that the
    generated group itself (``Me(client).get()``: the same code path); without generated code
    ``client.request("GET", "/v2/me")`` (a dict, no model decoding).
    """
    group = getattr(client, "me", None)
    if group is not None and hasattr(group, "get"):
        return group.get, "client.me.get() (attrs MeOutput)"
    try:
        from icalendly_async.endpoints._generated.me import Me
    except ImportError:

        async def untyped() -> object:
            return await client.request("GET", "/v2/me")

        return untyped, 'client.request("GET", "/v2/me") (no generated models: JSON only)'
    return Me(client).get, "Me(client).get() (generated group, attrs MeOutput)"


def parts_only(client: Any, base_url: str, api_key: str) -> Callable[[], Awaitable[object]]:
    """``GET /v2/me`` through our parts with nothing of the pipeline around them: the limiter's
    grant, the request on ``client``'s own session with its settings, the rate-limit headers
    parsed and fed back, the envelope and the ``MeOutput`` decoder (what a call would cost if
    the pipeline's structure cost nothing; benchmarks/README, issue #17)."""
    from icalendly_async import RateLimit
    from icalendly_async._request import DEFAULT_TIMEOUT
    from icalendly_async.models._generated.me import decode_MeOutput
    from icalendly_async.models.envelope import decode_success
    from icalendly_async.ratelimit import LocalLimiter, RateLimitState
    from icalendly_async.ratelimit.headers import parse_headers

    session = client._pipeline.http.session
    url, auth = f"{base_url}/v2/me", {"Authorization": f"Bearer {api_key}"}
    limiter, limit = LocalLimiter(), client.credential.rate_limit
    assert isinstance(limit, RateLimit)

    async def call() -> object:
        if not limiter.try_acquire(api_key, limit):
            await limiter.acquire(api_key, limit)
        try:
            async with session.request(
                "GET", url, headers=auth, timeout=DEFAULT_TIMEOUT, allow_redirects=False, ssl=True
            ) as resp:
                status, headers, body = resp.status, resp.headers, await resp.read()
        except BaseException:
            await limiter.observe(api_key, RateLimitState.no_response())
            raise
        await limiter.observe(api_key, parse_headers(headers)[0])
        return decode_MeOutput(decode_success(status, body).data)

    return call


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0-100), linear between ranks; NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    rank = (len(ordered) - 1) * q / 100
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def ratio(numerators: Sequence[float], denominators: Sequence[float]) -> float:
    """The median of paired ratios (rounds measured back to back drift together)."""
    pairs = [n / d for n, d in zip(numerators, denominators, strict=True) if d > 0]
    return statistics.median(pairs) if pairs else math.nan


def fmt_rate(value: float) -> str:
    return f"{value:,.0f}"


@contextlib.asynccontextmanager
async def canned_network() -> AsyncIterator[None]:
    """Replace the transport's send with an instant answer (the trivial server's ``/v2/me``).

    What is left is the client's own work around aiohttp, measured without the noise of the
    network, the server or other load: the way to price one part of the pipeline precisely.
    """
    from multidict import CIMultiDict, CIMultiDictProxy

    from icalendly_async._http import Answer, HttpTransport

    from ._servers import TRIVIAL_LIMIT, me_body

    body = await me_body()
    headers = CIMultiDictProxy(
        CIMultiDict(
            {
                "Content-Type": "application/json; charset=utf-8",
                "Content-Length": str(len(body)),
                "Date": "Wed, 25 Nov 2026 12:00:00 GMT",
                "Server": "Python/3.11 aiohttp",
                "X-RateLimit-Limit-Default": str(TRIVIAL_LIMIT),
                "X-RateLimit-Remaining-Default": str(TRIVIAL_LIMIT - 1000),
                "X-RateLimit-Reset-Default": "42",
            }
        )
    )

    async def canned(*_args: Any, **_kwargs: Any) -> Answer:
        return Answer(200, headers, body)

    original = HttpTransport.send
    HttpTransport.send = canned  # type: ignore[method-assign]
    try:
        yield
    finally:
        HttpTransport.send = original  # type: ignore[method-assign]


async def cpu_per_call(call: Callable[[], Awaitable[object]], calls: int, runs: int = 5) -> float:
    """The best of ``runs`` of ``calls`` sequential calls: process CPU µs per call."""
    for _ in range(min(500, calls)):
        await call()
    best = math.inf
    for _ in range(runs):
        started = time.process_time()
        for _ in range(calls):
            await call()
        best = min(best, time.process_time() - started)
    return best / calls * 1e6
