"""Soak: 200,000 requests with faults sprinkled in; memory flat, limiter registry bounded.

The emulator runs in a subprocess (so that its own growing request log is not measured, and the
two share the machine's two cores); it injects a random fault every 20 ms (5xx, 408, 429 with a
reset, resets before and mid-body, HTML pages, truncated and invalid JSON, missing envelopes,
latency, trickling bodies, the odd hang). The client runs here: 128 workers, each call through a
fresh view of a random credential of the 24 "live" ones; every 5,000 requests the live set
rotates to the next 24 of 240 keys, so credentials keep going idle and must be evicted.

Checked: every call ends in a result or an ICalendlyError; after a warm-up of 20,000 requests
the allocated memory blocks do not grow; over the last 30,000 requests, traced with
``tracemalloc``, the memory still held does not grow; the limiter never holds many more buckets
than live credentials, and only the live ones once the rest have idled; nothing is left checked
out, queued or running. The figures are printed (``pytest -s``) for the README.
"""

from __future__ import annotations

import asyncio
import collections
import gc
import json
import os
import random
import sys
import time
import tracemalloc
from typing import Any

import aiohttp
import pytest

from icalendly_async import ApiKey, ICalendly, RateLimit, RetryPolicy, errors
from icalendly_async.ratelimit import LocalLimiter, RateLimitState

from .conftest import acquired, library_tasks

TOTAL = int(os.environ.get("ICALENDLY_SOAK_REQUESTS", "200000"))
WARM_UP = TOTAL // 10
TRACED_TAIL = min(20_000, TOTAL // 5)
LOOK_EVERY = max(1, TOTAL // 40)
WORKERS = 128
KEYS = 240
LIVE = 24
ROTATE_EVERY = 5_000
LIMIT = RateLimit(200, 1)  # per key, on both sides: 24 live keys allow 4,800 requests/s
IDLE_GRACE = 4.0  # seconds

SERVER = r"""
import asyncio, json, random, sys
from icalendly_async import RateLimit
from icalendly_async.testing import Emulator, Fault

RESET = {"X-RateLimit-Limit-Default": "200", "X-RateLimit-Remaining-Default": "0",
         "X-RateLimit-Reset-Default": "1"}
MENU = [  # (weight, how many requests it hits at most, the fault)
    (12, 3, lambda r: Fault("status", status=r.choice([500, 502, 503, 504]))),
    (2, 3, lambda r: Fault("status", status=408)),
    (1, 1, lambda r: Fault("status", status=429, headers=RESET)),
    (5, 3, lambda r: Fault("reset")),
    (5, 3, lambda r: Fault("reset_mid_body")),
    (3, 3, lambda r: Fault("html", status=r.choice([502, 503]))),
    (3, 3, lambda r: Fault("truncated")),
    (3, 3, lambda r: Fault("invalid_json")),
    (3, 3, lambda r: Fault("no_envelope")),
    (4, 3, lambda r: Fault("latency", delay=0.05)),
    (4, 3, lambda r: Fault("slow_body", delay=0.08)),
    (1, 1, lambda r: Fault("hang")),
]

async def main():
    seed, keys, limit = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    window = float(sys.argv[4])
    async with Emulator(rate_limit=RateLimit(limit, window), bookings=20) as emu:
        ks = [emu.add_api_key() for _ in range(keys)]
        print(json.dumps({"base_url": emu.base_url, "keys": ks}), flush=True)
        rng = random.Random(seed)
        weights = [w for w, _, _ in MENU]
        loop = asyncio.get_running_loop()
        eof = loop.run_in_executor(None, sys.stdin.read)
        while not eof.done():
            _, most, make = rng.choices(MENU, weights)[0]
            fault = make(rng)
            emu.inject(Fault(fault.kind, status=fault.status, delay=fault.delay,
                             headers=fault.headers, times=rng.randint(1, most)))
            await asyncio.wait([eof], timeout=0.02)
        emu.clear_faults()
        s = emu.stats
        print(json.dumps({"requests": s.requests, "faults": s.faults,
                          "rate_limited": s.rate_limited,
                          "by_status": {str(k): v for k, v in s.by_status.items()}}), flush=True)

asyncio.run(main())
"""


def _rss_kib() -> int:
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


class Checkpoint:
    def __init__(self, done: int, buckets: int, tracing: bool, *, collect: bool = True) -> None:
        if collect:
            gc.collect()
        self.done = done
        self.buckets = buckets
        self.blocks = sys.getallocatedblocks()
        self.rss_kib = _rss_kib()
        self.traced = tracemalloc.get_traced_memory()[0] if tracing else None

    def as_dict(self) -> dict[str, Any]:
        return dict(vars(self))


@pytest.mark.slow
@pytest.mark.timeout(600)
async def test_soak_200000_requests_with_faults() -> None:
    server = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        SERVER,
        "7",
        str(KEYS),
        str(LIMIT.limit),
        str(LIMIT.window_seconds),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    assert server.stdin is not None and server.stdout is not None
    try:
        hello = json.loads(await asyncio.wait_for(server.stdout.readline(), 60))
        result = await _soak(hello["base_url"], hello["keys"])
    finally:
        server.stdin.close()
        try:
            tail = await asyncio.wait_for(server.stdout.read(), 30)
        finally:
            if server.returncode is None:
                server.kill()
            await server.wait()
    server_stats = json.loads(tail.decode().strip().splitlines()[-1])
    result["server"] = server_stats
    print("\nSOAK", json.dumps(result, indent=1))

    assert server_stats["requests"] >= TOTAL
    assert server_stats["faults"] >= TOTAL // 200  # faults really were sprinkled in


class Load:
    """The client side: workers calling through fresh views of the live credentials."""

    def __init__(self, client: ICalendly, limiter: LocalLimiter, keys: list[str]) -> None:
        self.client = client
        self.limiter = limiter
        self.keys = keys
        self.live = keys[:LIVE]
        self.rng = random.Random(11)
        self.done = 0
        self.generation = 0
        self.outcomes: collections.Counter[str] = collections.Counter()
        self.unexpected: list[BaseException] = []
        self.active: collections.Counter[str] = collections.Counter()
        self.last_active: dict[str, float] = {}
        self.max_buckets = 0
        self.excess: list[int] = []  # buckets beyond the credentials in use, per look
        self.curve: list[Checkpoint] = []  # in-flight looks, for the record

    async def run(self, requests: int, tracing: bool = False) -> None:
        """``requests`` more calls, then every worker has finished (a quiet point)."""
        target = self.done + requests
        await asyncio.gather(*(self._worker(target, tracing) for _ in range(WORKERS)))

    def _look(self, tracing: bool) -> None:
        buckets = len(self.limiter)
        self.max_buckets = max(self.max_buckets, buckets)
        # credentials in use: a call in flight, or one that ended within the time an idle
        # bucket may legitimately live (a window and its margin, a 1-s hold after a 429, and
        # up to a sweep interval)
        now = time.monotonic()
        in_use = sum(
            1
            for key, at in self.last_active.items()
            if self.active[key] > 0 or now - at < IDLE_GRACE
        )
        self.excess.append(buckets - in_use)
        self.curve.append(Checkpoint(self.done, buckets, tracing, collect=False))

    async def _worker(self, target: int, tracing: bool) -> None:
        while self.done < target:
            self.done += 1
            if self.done % ROTATE_EVERY == 0:
                self.generation += 1
                first = (self.generation * LIVE) % len(self.keys)
                self.live = (self.keys + self.keys)[first : first + LIVE]
            if self.done % LOOK_EVERY == 0:
                self._look(tracing)
            key = self.rng.choice(self.live)
            view = self.client.with_credential(ApiKey(key, rate_limit=LIMIT))
            roll = self.rng.random()
            self.active[key] += 1
            self.last_active[key] = time.monotonic()
            try:
                if roll < 0.9:
                    result: Any = await view.request("GET", "/v2/me")
                elif roll < 0.98:
                    result = await view.request("GET", "/v2/bookings", params={"take": 2})
                else:
                    result = await view.request("POST", "/v2/bookings", json={"start": "x"})
                self.outcomes[type(result).__name__] += 1
            except errors.ICalendlyError as exc:
                self.outcomes[type(exc).__name__] += 1
            except Exception as exc:  # the promise broken: not a library error
                self.unexpected.append(exc)
            finally:
                self.active[key] -= 1
                self.last_active[key] = time.monotonic()


async def _soak(base_url: str, keys: list[str]) -> dict[str, Any]:
    limiter = LocalLimiter(sweep_every=1024)
    client = ICalendly(
        base_url=base_url,
        allow_insecure_http=True,
        retry=RetryPolicy(backoff_base=0.01, backoff_max=0.05),
        limiter=limiter,
        # hangs are cut per attempt by the read timeout; a call's whole budget is roomier, so
        # that every call reaches the server (a call queued past its budget sends nothing)
        timeout=aiohttp.ClientTimeout(total=30.0, connect=1.0, sock_read=1.0),
        connection_limit=100,
    )
    load = Load(client, limiter, keys)
    timings: dict[str, float] = {}
    quiet: dict[str, Checkpoint] = {}
    top: list[str] = []
    try:
        started = time.perf_counter()
        await load.run(WARM_UP)
        timings["warm_up_s"] = time.perf_counter() - started
        quiet["after_warm_up"] = Checkpoint(load.done, len(limiter), False)
        await load.run(TOTAL - WARM_UP - TRACED_TAIL)
        quiet["before_tracing"] = Checkpoint(load.done, len(limiter), False)
        timings["untraced_s"] = time.perf_counter() - started - timings["warm_up_s"]
        tracemalloc.start(1)
        traced_started = time.perf_counter()
        await load.run(TRACED_TAIL // 4)  # what a first use allocates for good is not a leak
        quiet["traced_baseline"] = Checkpoint(load.done, len(limiter), True)
        baseline = tracemalloc.take_snapshot()
        await load.run(TRACED_TAIL - TRACED_TAIL // 4, tracing=True)
        quiet["traced_end"] = Checkpoint(load.done, len(limiter), True)
        timings["traced_s"] = time.perf_counter() - traced_started
        elapsed = time.perf_counter() - started
        snapshot = tracemalloc.take_snapshot()
        tracemalloc.stop()
        top = [str(stat) for stat in snapshot.compare_to(baseline, "lineno")[:6]]
        del baseline, snapshot

        assert not load.unexpected, load.unexpected[:3]
        assert acquired(client) == 0
        for key in keys:
            snap = limiter.snapshot(ApiKey(key).limit_key)
            assert snap is None or (snap.waiting == 0 and snap.in_flight == 0), snap
        # the registry follows the credentials in use, not the 240 used over the run
        assert max(load.excess) <= 0, load.excess
        assert load.max_buckets < KEYS // 3, load.max_buckets
        # ... and once they have all idled a window, a sweep leaves none of them
        await asyncio.sleep(LIMIT.window_seconds + 0.1)
        probe, roomy = "sweep-probe", RateLimit(100_000, 1)
        for _ in range(1024):  # a sweep runs every 1,024 acquisitions
            await limiter.acquire(probe, roomy)
            await limiter.observe(probe, RateLimitState.from_headers({}))
            if len(limiter) <= 1:
                break
        final_buckets = len(limiter)  # the probe's own bucket
    finally:
        if tracemalloc.is_tracing():
            tracemalloc.stop()
        await client.aclose()
    await asyncio.sleep(0.05)
    assert not library_tasks()
    assert final_buckets == 1, final_buckets

    # Memory: flat after the warm-up, measured at quiet points (no call in flight).
    block_growth = quiet["before_tracing"].blocks - quiet["after_warm_up"].blocks
    traced_base, traced_end = quiet["traced_baseline"].traced, quiet["traced_end"].traced
    assert traced_base is not None and traced_end is not None
    traced_growth = traced_end - traced_base
    traced_requests = quiet["traced_end"].done - quiet["traced_baseline"].done
    # a leak of one block per request would add ~150,000 blocks here
    assert block_growth < 20_000, {k: c.as_dict() for k, c in quiet.items()}
    # a leak of 32 bytes per request would add ~500 KB here
    assert traced_growth < 500_000, (traced_growth, top)
    # the process as the OS sees it (allocator arenas included): no gross native leak either
    rss_growth = quiet["before_tracing"].rss_kib - quiet["after_warm_up"].rss_kib
    assert rss_growth < 16 * 1024, {k: c.as_dict() for k, c in quiet.items()}

    return {
        "requests": load.done,
        "elapsed_s": round(elapsed, 1),
        "timings_s": {k: round(v, 1) for k, v in timings.items()},
        "outcomes": dict(load.outcomes),
        "memory": {
            "quiet_points": {k: c.as_dict() for k, c in quiet.items()},
            "block_growth_after_warm_up": block_growth,
            "rss_growth_kib_after_warm_up": rss_growth,
            "traced_requests": traced_requests,
            "traced_growth_bytes": traced_growth,
            "traced_top_growth": top,
        },
        "registry": {
            "keys_used": KEYS,
            "live_per_generation": LIVE,
            "max_buckets": load.max_buckets,
            "max_excess_over_in_use": max(load.excess),
            "after_idle": final_buckets,
        },
        "curve": [c.as_dict() for c in load.curve],
    }
