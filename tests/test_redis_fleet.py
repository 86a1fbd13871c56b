"""Four OS processes share one credential through Redis, against one emulator.

The workers are ``tests/_fleet_worker.py``; the emulator runs here, in the test's event loop.
Each worker announces itself and waits for one start signal, so process start-up (imports,
connections) is measured apart from the run.
"""

from __future__ import annotations

import asyncio
import json
import math
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as redis_asyncio

from icalendly_async import RateLimit
from icalendly_async.testing import Emulator

from ._limits import max_in_window
from .redis_server import RedisServer, redis_server_fixture  # noqa: F401

pytestmark = [pytest.mark.redis, pytest.mark.slow, pytest.mark.timeout(120)]

ROOT = Path(__file__).resolve().parent.parent
WORKERS = 4


async def _fleet(
    redis_url: str, config: dict[str, Any], workers: list[dict[str, Any]] | None = None
) -> tuple[list[dict[str, Any]], float]:
    """Start the workers, wait until all are ready, start them at once; (results, go time).

    Every worker gets ``config``; ``workers`` (one dict per worker) adds per-worker settings.
    """
    prefix = f"fleet:{time.monotonic_ns()}"
    config = {
        **config,
        "redis_url": redis_url,
        "prefix": prefix,
        "ready_key": f"{prefix}:ready",
        "go_key": f"{prefix}:go",
    }
    signals = redis_asyncio.Redis.from_url(redis_url)
    processes = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "tests._fleet_worker",
            json.dumps({**config, **own}),
            cwd=ROOT,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        for own in (workers or [{}] * WORKERS)
    ]
    count = len(processes)
    try:
        spawned = time.monotonic()
        while await signals.llen(config["ready_key"]) < count:
            assert time.monotonic() - spawned < 30, "the workers did not start"
            await asyncio.sleep(0.02)
        startup = time.monotonic() - spawned
        go = time.time()
        await signals.rpush(config["go_key"], *["go"] * count)
        outputs = [await process.communicate() for process in processes]
    finally:
        for process in processes:
            if process.returncode is None:
                process.kill()
                await process.wait()
        await signals.aclose()
    results = []
    for process, (out, err) in zip(processes, outputs, strict=True):
        assert process.returncode == 0, err.decode()[-2000:]
        results.append(json.loads(out.decode().strip().splitlines()[-1]))
    print(f"worker start-up (spawn to all ready): {startup:.2f} s")
    return results, go


async def test_four_processes_share_one_window_with_no_429(redis_server: RedisServer) -> None:
    limit = RateLimit(40, 4)
    calls = 40  # per worker: 160 in all, four windows
    async with Emulator(rate_limit=limit) as emu:
        results, go = await _fleet(
            redis_server.url,
            {
                "mode": "rate",
                "base_url": emu.base_url,
                "api_key": emu.api_key,
                "limit": limit.limit,
                "window": limit.window_seconds,
                "calls": calls,
            },
        )
        digest = emu.credential_digest(emu.api_key)
        assert emu.stats.rate_limited == 0
        assert emu.stats.requests == WORKERS * calls
        # The fleet's guarantee is about starts; when the emulator (in this process, its loop
        # busy with four workers' calls) reads a request is later, by how much varies.
        starts = [t for r in results for t in r["starts"]]
        assert max_in_window(starts, limit.window_seconds) <= limit.limit
        received = sorted(r.received_at for r in emu.request_log if r.credential == digest)
    assert all(r["ok"] == calls and not r["errors"] for r in results)
    total = max(r["ended"] for r in results) - go
    ideal = (math.ceil(WORKERS * calls / limit.limit) - 1) * limit.window_seconds  # 12 s
    span = received[-1] - received[0]
    grants = sum(r["grants"] for r in results)
    grant_calls = sum(r["grant_calls"] for r in results)
    feedback_calls = sum(r["feedback_calls"] for r in results)
    print(
        f"fleet: {WORKERS * calls} calls in {total:.2f} s (ideal {ideal:.0f} s, "
        f"x{total / ideal:.3f}); server saw them over {span:.2f} s; "
        f"{grant_calls} grant + {feedback_calls} feedback script calls for {grants} grants "
        f"({(grant_calls + feedback_calls) / grants:.2f} per grant)"
    )
    assert total <= ideal * 1.1
    assert span >= ideal  # never faster than the window allows


async def test_four_processes_refresh_an_expired_token_exactly_once(
    redis_server: RedisServer,
) -> None:
    limit = RateLimit(500, 60)
    calls = 25
    async with Emulator(rate_limit=limit) as emu:
        pair = emu.issue_tokens()
        emu.expire_access_tokens()
        results, _ = await _fleet(
            redis_server.url,
            {
                "mode": "refresh",
                "base_url": emu.base_url,
                "access_token": pair.access_token,
                "refresh_token": pair.refresh_token,
                "client_id": emu.client_id,
                "client_secret": emu.client_secret,
                "limit": limit.limit,
                "window": limit.window_seconds,
                "calls": calls,
            },
        )
        assert emu.stats.refreshes == 1
        assert emu.stats.refresh_failures == 0
        assert emu.stats.rate_limited == 0
    assert all(r["ok"] == calls and not r["errors"] for r in results), results
    pairs = {tuple(r["pair"]) for r in results}
    assert len(pairs) == 1
    (final,) = pairs
    assert final[0] != pair.access_token and final[1] != pair.refresh_token


async def test_a_bulk_process_and_an_interactive_one_share_a_credential(
    redis_server: RedisServer,
) -> None:
    # One process floods the credential with BULK calls (at most 80% of each window); another
    # serves a steady trickle of INTERACTIVE calls. Both progress; no interactive call waits more
    # than one window; no 429.
    limit = RateLimit(20, 2)
    async with Emulator(rate_limit=limit) as emu:
        results, _ = await _fleet(
            redis_server.url,
            {
                "mode": "rate",
                "base_url": emu.base_url,
                "api_key": emu.api_key,
                "limit": limit.limit,
                "window": limit.window_seconds,
                "bulk_share": 0.8,
            },
            [
                {"priority": "BULK", "calls": 80},
                {"priority": "INTERACTIVE", "calls": 12, "interval": 0.5, "delay": 0.5},
            ],
        )
        assert emu.stats.rate_limited == 0
    bulk, interactive = results
    assert bulk["ok"] == 80 and interactive["ok"] == 12, (bulk["errors"], interactive["errors"])
    worst = max(interactive["latencies"])
    print(f"interactive calls under a bulk flood: worst wait {worst:.2f} s")
    assert worst <= limit.window_seconds
