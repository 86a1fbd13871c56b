"""The emulator as a server: simple GETs per second, seeding and walking 20,000 bookings.

The emulator serves in this process (pinned to one CPU where the OS allows); the load comes from
another process (pinned to the other CPUs): a lean HTTP/1.1 keep-alive client on raw asyncio
streams, so that the client's own cost does not cap the figure. Rate limiting is on, with a limit
that never binds (every answer carries the ``X-RateLimit-*`` headers and counts in the window),
and response validation is off, as in a benchmark or a demo.

Target: at least 3,000 ``GET /v2/me`` per second on a 2-core machine.

``python -m benchmarks.bench_emulator [--quick]`` writes ``benchmarks/results/emulator.json``;
``python -m benchmarks`` runs it with the others (through :func:`run`).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import multiprocessing
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from icalendly_async.ratelimit import RateLimit
from icalendly_async.testing import Emulator

try:  # the suite's helpers, when run with it
    from ._results import Result, check, machine
except ImportError:  # run as a script
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from benchmarks._results import Result, check, machine  # type: ignore[no-redef, unused-ignore]

__all__ = ["run"]

RESULTS = Path(__file__).resolve().parent / "results" / "emulator.json"
TARGET_RPS = 3000
NEVER_BINDS = RateLimit(1_000_000_000, 60)


def _cpus() -> tuple[set[int], set[int]]:
    """(the server's CPUs, the load generator's CPUs)."""
    if not hasattr(os, "sched_getaffinity"):
        return set(), set()
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        return set(), set()
    return {cpus[0]}, set(cpus[1:])


def _pin(cpus: set[int]) -> None:
    if cpus and hasattr(os, "sched_setaffinity"):
        with contextlib.suppress(OSError):
            os.sched_setaffinity(0, cpus)


# --- the load generator (another process) ----------------------------------------------------


async def _connection(
    host: str,
    port: int,
    request: bytes,
    stop_at: float,
    count_from: float,
    latencies: list[float],
    statuses: dict[int, int],
) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    clock = time.perf_counter
    try:
        while True:
            sent = clock()
            if sent >= stop_at:
                break
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head[9:12])
            length = 0
            for line in head.split(b"\r\n"):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
                    break
            await reader.readexactly(length)
            done = clock()
            if sent >= count_from:
                latencies.append(done - sent)
                statuses[status] = statuses.get(status, 0) + 1
    finally:
        writer.close()


async def _load(
    host: str, port: int, path: str, key: str, connections: int, warmup: float, seconds: float
) -> dict[str, Any]:
    request = (
        f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nAuthorization: Bearer {key}\r\n"
        "cal-api-version: 2024-08-13\r\nAccept: application/json\r\n\r\n"
    ).encode()
    start = time.perf_counter()
    count_from = start + warmup
    stop_at = count_from + seconds
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    await asyncio.gather(
        *(
            _connection(host, port, request, stop_at, count_from, latencies, statuses)
            for _ in range(connections)
        )
    )
    return {"latencies": latencies, "statuses": statuses, "seconds": seconds}


def _load_process(
    host: str,
    port: int,
    path: str,
    key: str,
    connections: int,
    warmup: float,
    seconds: float,
    cpus: set[int],
    queue: Any,
) -> None:
    _pin(cpus)
    queue.put(asyncio.run(_load(host, port, path, key, connections, warmup, seconds)))


async def _measure(
    emu: Emulator, path: str, connections: int, warmup: float, seconds: float
) -> dict[str, Any]:
    """Requests per second and latency percentiles for ``GET path``, load from a child."""
    _, client_cpus = _cpus()
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    host, port = emu.base_url.rsplit("//", 1)[1].rsplit(":", 1)
    child = context.Process(
        target=_load_process,
        args=(host, int(port), path, emu.api_key, connections, warmup, seconds, client_cpus, queue),
    )
    child.start()
    loop = asyncio.get_running_loop()
    result: dict[str, Any] = await loop.run_in_executor(None, queue.get)
    await loop.run_in_executor(None, child.join)
    latencies = sorted(result["latencies"])
    count = len(latencies)

    def percentile(share: float) -> float:
        return latencies[min(count - 1, int(share * count))] * 1000 if count else float("nan")

    return {
        "path": path,
        "connections": connections,
        "seconds": seconds,
        "requests": count,
        "rps": count / seconds,
        "statuses": {str(key): value for key, value in sorted(result["statuses"].items())},
        "p50_ms": percentile(0.50),
        "p90_ms": percentile(0.90),
        "p99_ms": percentile(0.99),
        "mean_ms": statistics.fmean(latencies) * 1000 if latencies else float("nan"),
    }


# --- seeding and walking ---------------------------------------------------------------------


async def _walk(emu: Emulator, take: int) -> tuple[float, int]:
    import aiohttp

    headers = {"Authorization": f"Bearer {emu.api_key}"}
    seen = 0
    started = time.perf_counter()
    async with aiohttp.ClientSession() as http:
        skip = 0
        while True:
            async with http.get(
                f"{emu.base_url}/v2/bookings?take={take}&skip={skip}", headers=headers
            ) as answer:
                body = await answer.json()
            seen += len(body["data"])
            if not body["pagination"]["hasNextPage"]:
                break
            skip += take
    return time.perf_counter() - started, seen


async def _bench(quick: bool) -> Result:
    server_cpus, _ = _cpus()
    _pin(server_cpus)
    seconds = 3.0 if quick else 8.0
    warmup = 1.0
    connections = 32
    bookings = 20_000
    started = time.perf_counter()
    emulator = Emulator(seed=7, bookings=bookings, rate_limit=NEVER_BINDS, validate_responses=False)
    seed_seconds = time.perf_counter() - started
    runs = []
    async with emulator as emu:
        uid = emu.data.bookings[len(emu.data.bookings) // 2].uid
        for path in ("/v2/me", f"/v2/bookings/{uid}", "/v2/bookings?take=10"):
            runs.append(await _measure(emu, path, connections, warmup, seconds))
        walk_seconds, walked = await _walk(emu, 250)
        rate_limited = emu.stats.rate_limited
    me = runs[0]
    all_ok = all(set(item["statuses"]) == {"200"} for item in runs) and rate_limited == 0
    result: Result = {
        "title": "Emulator",
        "checks": [
            check(
                "GET /v2/me per second (rate limiting on, not binding)",
                round(me["rps"]),
                f"{me['rps']:,.0f}/s",
                f">= {TARGET_RPS:,}/s",
                me["rps"] >= TARGET_RPS and all_ok,
            ),
            check(
                f"seeding {bookings:,} bookings",
                round(seed_seconds, 2),
                f"{seed_seconds:.2f} s",
                "< 2 s",
                seed_seconds < 2.0,
            ),
            check(
                f"walking {bookings:,} bookings, 250 a page",
                round(walk_seconds, 2),
                f"{walk_seconds:.2f} s ({walked:,} seen)",
                "each once",
                walked == bookings,
            ),
        ],
        "tables": [
            {
                "title": f"{connections} keep-alive connections from another process, "
                f"{seconds:g} s after {warmup:g} s of warm-up",
                "columns": ["GET", "requests/s", "p50 ms", "p90 ms", "p99 ms", "statuses"],
                "rows": [
                    [
                        f"`{item['path']}`",
                        f"{item['rps']:,.0f}",
                        f"{item['p50_ms']:.2f}",
                        f"{item['p90_ms']:.2f}",
                        f"{item['p99_ms']:.2f}",
                        ", ".join(f"{k}: {v:,}" for k, v in item["statuses"].items()),
                    ]
                    for item in runs
                ],
            }
        ],
        "notes": [
            "The emulator serves in the benchmark's process on one CPU; the load generator (raw "
            "asyncio HTTP/1.1, keep-alive) runs in a child process on the other CPUs.",
            "Rate limiting is enforced with a limit that never binds: every answer is counted "
            "and carries the X-RateLimit-* headers. Response validation is off.",
        ],
        "data": {
            "runs": runs,
            "seed_seconds": seed_seconds,
            "walk_seconds": walk_seconds,
            "bookings": bookings,
            "rate_limited": rate_limited,
        },
    }
    return result


def run(quick: bool = False) -> Result:
    """Run the benchmark (for ``python -m benchmarks``); also writes ``results/emulator.json``."""
    result = asyncio.run(_bench(quick))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    record = {**result, "quick": quick, "machine": machine()}
    RESULTS.write_text(json.dumps(record, indent=1) + "\n")
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="shorter runs")
    args = parser.parse_args()
    result = run(args.quick)
    for item in result.get("checks", []):
        mark = "met" if item["met"] else "MISSED"
        print(f"{item['metric']}: {item['display']} (target {item['target']}: {mark})")
    return 0 if all(item["met"] for item in result.get("checks", [])) else 1


if __name__ == "__main__":
    raise SystemExit(main())
