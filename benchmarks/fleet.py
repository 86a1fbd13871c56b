"""Fleet: 1, 2, 4 and 8 processes sharing one credential through a ``RedisLimiter``.

This process starts a ``redis-server`` on a free port and the emulator (the service's window and
block, scaled down in time), then for each fleet size starts that many worker processes
(``python -m benchmarks.fleet worker CONFIG``). Each worker builds a client with a
``RedisLimiter``, says it is ready, and on the common start signal makes its share of ``N`` calls
at once. The figures, as in the pacing benchmark, come from the emulator's request log:
**ratio = T* / T** with ``T* = (ceil(N / L) - 1) * W`` and ``T`` the server's time from the first
request to the last successful one; plus the 429s, and Redis calls per granted call (counted by
the limiters, and by the Redis server's ``INFO commandstats``). In the full run one more row shows
four workers that each pace with their own ``LocalLimiter`` (no sharing), for contrast.
"""

from __future__ import annotations

import asyncio
import json
import math
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from ._common import log
from ._results import Result, check

NAME = "fleet"
TITLE = "Fleet"

TARGET_RATIO = 0.97
_ROOT = Path(__file__).absolute().parent.parent
# The commands that are round trips of the limiters (what their scripts run inside Redis is
# counted by the server too, but costs no round trip).
_ROUND_TRIPS = frozenset({"evalsha", "eval", "evalsha_ro", "eval_ro", "script", "fcall"})


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class _RedisServer:
    def __init__(self, binary: str) -> None:
        self.port = _free_port()
        self._dir = tempfile.mkdtemp(prefix="icalendly-bench-redis-")
        self._process = subprocess.Popen(
            [
                binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                self._dir,
                "--loglevel",
                "warning",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    async def wait_ready(self) -> None:
        import redis.asyncio as redis_asyncio

        deadline = time.monotonic() + 10
        while True:
            client = redis_asyncio.Redis.from_url(self.url)
            try:
                await client.ping()
                return
            except Exception:
                if time.monotonic() > deadline or self._process.poll() is not None:
                    raise RuntimeError("redis-server did not start") from None
                await asyncio.sleep(0.05)
            finally:
                await client.aclose()

    def stop(self) -> None:
        self._process.terminate()
        try:
            self._process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        shutil.rmtree(self._dir, ignore_errors=True)


def _stat(stats: Any, *names: str) -> int:
    for name in names:
        value = getattr(stats, name, None)
        if isinstance(value, int):
            return value
    return 0


# -- the worker process ---------------------------------------------------------------------------


async def _worker(config: dict[str, Any]) -> dict[str, Any]:
    from icalendly_async import ApiKey, ICalendly, Plan, RateLimit
    from icalendly_async.ratelimit import LocalLimiter, Unlimited

    limiter: Any
    if config["shared"]:
        from icalendly_async.ratelimit.redis import RedisLimiter

        limiter = RedisLimiter(config["redis_url"], prefix=config["prefix"])
    else:
        limiter = LocalLimiter()
    client = ICalendly(
        ApiKey(config["api_key"], rate_limit=RateLimit(config["limit"], config["window"])),
        plan=Plan.PLATFORM,
        base_url=config["base_url"],
        allow_insecure_http=True,
        limiter=limiter,
        max_retries=10,
    )
    loop = asyncio.get_running_loop()
    # Warm up outside the shared log: imports, the models' code paths, a connection to Redis.
    warm = ICalendly(
        ApiKey(config["api_key"]),
        plan=Plan.PLATFORM,
        base_url=config["base_url"],
        allow_insecure_http=True,
        limiter=Unlimited(),
    )
    try:
        await warm.me.get()
    finally:
        await warm.aclose()
    redis_client = getattr(limiter, "redis", None)
    if redis_client is not None:
        await redis_client.ping()
    print("ready", flush=True)
    await loop.run_in_executor(None, sys.stdin.readline)
    started = time.time()
    results = await asyncio.gather(
        *(client.me.get() for _ in range(config["calls"])), return_exceptions=True
    )
    ended = time.time()
    stats = getattr(limiter, "stats", limiter)
    try:
        return {
            "started": started,
            "ended": ended,
            "ok": sum(not isinstance(r, BaseException) for r in results),
            "errors": [repr(r) for r in results if isinstance(r, BaseException)][:5],
            "grants": _stat(stats, "grants"),
            "script_calls": _stat(stats, "calls", "script_calls"),
            "grant_calls": _stat(stats, "grant_calls"),
            "feedback_calls": _stat(stats, "feedback_calls"),
        }
    finally:
        await client.aclose()
        if hasattr(limiter, "aclose"):
            await limiter.aclose()


# -- the conductor ---------------------------------------------------------------------------------


async def _commandstats(url: str) -> dict[str, int]:
    import redis.asyncio as redis_asyncio

    client = redis_asyncio.Redis.from_url(url)
    try:
        info = await client.info("commandstats")
    finally:
        await client.aclose()
    counts: dict[str, int] = {}
    for name, fields in info.items():
        command = name.removeprefix("cmdstat_").split("|")[0]
        if command in _ROUND_TRIPS and isinstance(fields, dict):
            counts[command] = counts.get(command, 0) + int(fields.get("calls", 0))
    return counts


async def _fleet(
    emu: Any,
    redis_url: str,
    processes: int,
    calls: int,
    limit: int,
    window: float,
    shared: bool,
) -> dict[str, Any]:
    emu.reset_rate_limits()
    emu.reset_stats()
    shares = [calls // processes + (1 if i < calls % processes else 0) for i in range(processes)]
    prefix = f"bench:{processes}:{time.monotonic_ns()}"  # one log for the whole fleet
    workers = []
    for share in shares:
        config = {
            "redis_url": redis_url,
            "prefix": prefix,
            "api_key": emu.api_key,
            "base_url": emu.base_url,
            "limit": limit,
            "window": window,
            "calls": share,
            "shared": shared,
        }
        workers.append(
            await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "benchmarks.fleet",
                "worker",
                json.dumps(config),
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                cwd=_ROOT,
            )
        )
    for worker in workers:
        assert worker.stdout is not None
        line = await worker.stdout.readline()
        if line.strip() != b"ready":
            raise RuntimeError(f"a fleet worker did not start: {line!r}")
    # The warm-up calls opened a window: start from a fresh one, as a new job would.
    await asyncio.sleep(0.05)
    emu.reset_rate_limits()
    emu.reset_stats()
    before = await _commandstats(redis_url)
    for worker in workers:
        assert worker.stdin is not None
        worker.stdin.write(b"go\n")
        await worker.stdin.drain()
    reports = []
    for worker in workers:
        assert worker.stdout is not None
        reports.append(json.loads(await worker.stdout.readline()))
        await worker.wait()
    after = await _commandstats(redis_url)
    commands = sum(after.values()) - sum(before.values())
    digest = emu.credential_digest(emu.api_key)
    records = [r for r in emu.request_log if r.credential == digest]
    first = min(r.received_at for r in records)
    ok_times = sorted(r.received_at - first for r in records if r.status == 200)
    ideal = (math.ceil(calls / limit) - 1) * window
    span = ok_times[-1] if ok_times else math.inf
    grants = sum(r["grants"] for r in reports)
    return {
        "processes": processes,
        "shared": shared,
        "ratio": ideal / span if span > 0 else math.nan,
        "span_seconds": span,
        "ideal_seconds": ideal,
        "rate_limited": emu.stats.rate_limited,
        "ok": sum(r["ok"] for r in reports),
        "errors": [e for r in reports for e in r["errors"]],
        "grants": grants,
        "script_calls": sum(r["script_calls"] for r in reports),
        "grant_calls": sum(r["grant_calls"] for r in reports),
        "feedback_calls": sum(r["feedback_calls"] for r in reports),
        "redis_commands": commands,
        "redis_per_grant": commands / grants if grants else math.nan,
        "scripts_per_grant": sum(r["script_calls"] for r in reports) / grants
        if grants
        else math.nan,
        "commands": {k: after.get(k, 0) - before.get(k, 0) for k in after},
        "ok_times": ok_times,
    }


async def _run(quick: bool) -> Result:
    from icalendly_async import RateLimit
    from icalendly_async.ratelimit.local import default_margin
    from icalendly_async.testing import Emulator

    try:
        import icalendly_async.ratelimit.redis  # noqa: F401
    except ImportError as exc:
        return _skipped(f"icalendly_async.ratelimit.redis is not importable ({exc})", quick)
    binary = shutil.which("redis-server")
    if binary is None:
        return _skipped("redis-server is not installed (apt-get install -y redis-server)", quick)
    limit, window, calls = (20, 1.0, 60) if quick else (30, 2.0, 150)
    sizes = (1, 8) if quick else (1, 2, 4, 8)
    server = _RedisServer(binary)
    runs: dict[str, dict[str, Any]] = {}
    try:
        await server.wait_ready()
        async with Emulator(rate_limit=RateLimit(limit, window), block_seconds=window) as emu:
            for processes in sizes:
                log(f"fleet: {processes} process(es) on Redis")
                runs[str(processes)] = await _fleet(
                    emu, server.url, processes, calls, limit, window, shared=True
                )
            if not quick:
                log("fleet: 4 processes, each with its own LocalLimiter")
                runs["4 local"] = await _fleet(
                    emu, server.url, 4, calls, limit, window, shared=False
                )
    finally:
        server.stop()
    shared = [runs[str(p)] for p in sizes]
    worst = min(r["ratio"] for r in shared)
    limited = sum(r["rate_limited"] for r in shared)
    per_grant = max(r["redis_per_grant"] for r in shared)
    rows = []
    for r in runs.values():
        rows.append(
            [
                f"{r['processes']}, {'RedisLimiter' if r['shared'] else 'LocalLimiter each'}",
                f"{r['ratio']:.3f}",
                f"{r['span_seconds']:.2f}",
                str(r["rate_limited"]),
                f"{r['ok']}/{calls}",
                f"{r['redis_per_grant']:.2f}" if r["shared"] else "—",
                f"{r['scripts_per_grant']:.2f}" if r["shared"] else "—",
            ]
        )
    return {
        "title": TITLE,
        "checks": [
            check(
                "aggregate ideal / achieved, 1-8 processes on Redis (worst)",
                worst,
                ", ".join(f"{r['ratio']:.3f}" for r in shared)
                + " for "
                + ", ".join(map(str, sizes)),
                f"≥ {TARGET_RATIO}",
                worst >= TARGET_RATIO,
            ),
            check(
                "429s, 1-8 processes on Redis",
                float(limited),
                str(limited),
                "0",
                limited == 0,
            ),
            check(
                "Redis round trips per granted call (worst fleet size)",
                per_grant,
                ", ".join(f"{r['redis_per_grant']:.2f}" for r in shared),
                "≈ 1",
                per_grant <= 1.25,
            ),
        ],
        "tables": [
            {
                "title": f"{calls} calls per fleet, limit {limit} per {window:g} s, block "
                f"{window:g} s; ideal T* = {(math.ceil(calls / limit) - 1) * window:g} s",
                "columns": [
                    "processes",
                    "T* / T",
                    "T (s)",
                    "429s",
                    "succeeded",
                    "Redis round trips / grant",
                    "limiter scripts / grant",
                ],
                "rows": rows,
            }
        ],
        "notes": [
            "Each worker warms up first (one call through an unpaced client, a Redis PING); "
            "then the emulator's windows are reset and all workers start on one signal.",
            "Redis round trips are counted by the server (INFO commandstats: EVALSHA, EVAL, "
            "SCRIPT): grant scripts, feedback writes, penalties, releases, script loads. "
            "Limiter scripts are the limiters' own counters. One grant script grants a whole "
            "batch of waiting calls, so a fleet can need less than one round trip per call.",
            "The default margin (0.25 s, at most 1 % of the window) caps the ratio at "
            f"{window / (window + default_margin(window)):.3f} on these scaled windows, as in "
            "the pacing benchmark.",
        ],
        "plots": ["fleet.png"],
        "data": {
            "limit": limit,
            "window": window,
            "calls": calls,
            "processes": list(sizes),
            "runs": runs,
            "target_ratio": TARGET_RATIO,
        },
    }


def _skipped(reason: str, quick: bool) -> Result:
    log(f"fleet: skipped: {reason}")
    return {
        "title": TITLE,
        "checks": [check("fleet benchmark", None, f"not run: {reason}", "", None)],
        "notes": [reason],
    }


async def run(quick: bool) -> Result:
    return await _run(quick)


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "worker":
        print(json.dumps(asyncio.run(_worker(json.loads(sys.argv[2])))), flush=True)
    else:
        sys.exit("usage: python -m benchmarks.fleet worker CONFIG_JSON")
