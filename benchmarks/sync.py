"""Sync: 10,000 bookings into DuckDB with ``icalendly_async.sync``, against the JSONL export and
against the ideal the rate limit sets; peak memory.

Each run is a fresh process (``python -m benchmarks.sync --worker …``) that imports what it
needs, then times one full run: ``sync()`` of the ``bookings`` resource into a new DuckDB file
(what ``icalendly sync --resources bookings`` runs: extract, normalize, load), or the
``Exporter`` of ``icalendly export bookings`` into a new JSONL file. Its peak memory is the
process's maximum resident set size. The emulator serves from this process, which does nothing
else meanwhile.

* **Limit lifted**: the emulator enforces nothing and the credential's limit never binds; the
  sync and the export alternate over several rounds. The export walks bookings by their
  ``updatedAt`` cursor as the sync does (one page after another); the same export by offset
  (``--concurrency 4``, pages in parallel, what ``export`` did before the cursor) is shown
  beside it for reference.
* **Rate-limit bound**: the service allows 120 requests per 60-s window; at that window the 102
  requests of 10,000 bookings fit in the first one and the limit would never bind. So, as the
  pacing benchmark does, the window is scaled down in time and the rate kept: the emulator
  enforces 12 requests per ``W`` = 6 s (120 a minute; 12 per 1 s in quick runs, six times the
  rate), with its fixed windows and blocks, and the client's limiter margin is scaled like
  the window.
  A limiter that wastes nothing sends the last of ``N`` requests ``(ceil(N / 12) - 1) * W``
  after the first: that is the ideal, and **ratio = ideal / the whole run's time** (extract,
  normalize and load included).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from ._common import X, log, ratio
from ._results import RESULTS_DIR, Result, check

NAME = "sync"
TITLE = "Sync into DuckDB"

BOOKINGS = 10_000
PAGE = 100
LIMIT = 12  # requests per window: the service's 120 a minute, in windows a tenth as long
REAL_WINDOW = 60.0
REAL_MARGIN = 0.25  # the limiter's default margin at the service's 60-s window
TARGET_RATE_BOUND = 0.95
TARGET_VS_EXPORT = 0.5
TARGET_PEAK_MB = 300.0
SYNC = "icalendly_async.sync.sync() into DuckDB (jsonl)"
_ROOT = Path(__file__).absolute().parent.parent
EXPORT = "icalendly export bookings (JSONL, updatedAt cursor)"
EXPORT_OFFSET = "the same export by offset, 4 pages at once (reference)"
PROFILE = RESULTS_DIR / "profiles" / "sync.txt"


# --- the worker: one timed run in a fresh process ----------------------------------------------


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def _work(args: argparse.Namespace) -> dict[str, Any]:
    from icalendly_async import ApiKey, Plan, RateLimit
    from icalendly_async.ratelimit import LocalLimiter

    limit = RateLimit(args.limit, args.window)
    margin = REAL_MARGIN * args.window / REAL_WINDOW
    folder = Path(args.dir)
    credential = ApiKey(args.key, rate_limit=limit)
    if args.worker == "sync":
        from icalendly_async.sync import sync

        profiler: Any = None
        if args.profile:
            from pyinstrument import Profiler

            profiler = Profiler()  # this thread: normalize and load (extract runs in dlt's)
            profiler.start()
        started = time.perf_counter()
        result = sync(
            credential,
            f"duckdb:///{folder / 'bookings.duckdb'}",
            resources=["bookings"],
            plan=Plan.PLATFORM,
            base_url=args.base_url,
            allow_insecure_http=True,
            page_size=PAGE,
            limiter=lambda: LocalLimiter(margin=margin),
            pipelines_dir=str(folder / "dlt"),
        )
        seconds = time.perf_counter() - started
        if profiler is not None:
            profiler.stop()
            PROFILE.parent.mkdir(parents=True, exist_ok=True)
            PROFILE.write_text(profiler.output_text(unicode=True, color=False, show_all=True))
        table = result.tables[0]
        steps: dict[str, float] = {}
        for trace in result.traces:  # one dlt run per chunk: each step's time summed over them
            for step in trace.steps:
                if step.step in ("extract", "normalize", "load") and step.finished_at is not None:
                    spent = (step.finished_at - step.started_at).total_seconds()
                    steps[str(step.step)] = steps.get(str(step.step), 0.0) + spent
        return {
            "seconds": seconds,
            "rows": table.rows,
            "429s": table.rate_limited,
            "steps": steps,
            "runs": len(result.traces),
        }
    return asyncio.run(_export(args, credential, margin, folder))


async def _export(
    args: argparse.Namespace, credential: Any, margin: float, folder: Path
) -> dict[str, Any]:
    from icalendly_async import ICalendly, Plan, Priority
    from icalendly_async.cli._export import Exporter
    from icalendly_async.cli._resources import RESOURCES, operation_for
    from icalendly_async.ratelimit import LocalLimiter

    bookings = RESOURCES["bookings"]
    async with ICalendly(
        credential,
        plan=Plan.PLATFORM,
        base_url=args.base_url,
        allow_insecure_http=True,
        limiter=LocalLimiter(margin=margin),
    ) as client:
        started = time.perf_counter()
        result = await Exporter(
            client.with_options(priority=Priority.BULK),
            operation_for(bookings),
            (),
            {},
            folder / "bookings.jsonl",
            page_size=PAGE,
            concurrency=4,
            cursor=bookings.cursor if args.worker == "export" else None,
        ).run()
        seconds = time.perf_counter() - started
    return {"seconds": seconds, "rows": result.total_records, "429s": 0}


def _worker_main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--worker", choices=("sync", "export", "export-offset"), required=True)
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--dir", required=True)
    parser.add_argument("--limit", type=int, default=1_000_000)
    parser.add_argument("--window", type=float, default=60.0)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args(argv)
    os.environ.setdefault("RUNTIME__LOG_LEVEL", "ERROR")  # dlt's schema notes
    figures = _work(args)
    figures["peak_mb"] = _peak_mb()
    print(json.dumps(figures), flush=True)


async def _run_worker(kind: str, emu: Any, *extra: str) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="icalendly-bench-sync-") as folder:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "benchmarks.sync",
            "--worker",
            kind,
            "--base-url",
            emu.base_url,
            "--key",
            emu.api_key,
            "--dir",
            folder,
            *extra,
            stdout=subprocess.PIPE,
            cwd=_ROOT,
        )
        out, _ = await process.communicate()
    if process.returncode != 0:
        raise RuntimeError(f"the {kind} worker failed (exit code {process.returncode})")
    figures: dict[str, Any] = json.loads(out.decode().strip().splitlines()[-1])
    return figures


# --- the benchmark -----------------------------------------------------------------------------


async def _lifted(rounds: int) -> dict[str, list[dict[str, Any]]]:
    from icalendly_async.testing import Emulator

    runs: dict[str, list[dict[str, Any]]] = {"sync": [], "export": [], "export-offset": []}
    async with Emulator(
        bookings=BOOKINGS, enforce_rate_limits=False, validate_responses=False
    ) as emu:
        await _run_worker("export", emu)  # the server encodes and caches every booking once
        for index in range(rounds):
            log(f"sync: limit lifted, round {index + 1}/{rounds}")
            for kind in runs:
                runs[kind].append(await _run_worker(kind, emu))
    return runs


async def profile() -> None:
    """``python -m benchmarks.sync --profile``: pyinstrument over one lifted sync's normalize and
    load (and what runs around them in the calling thread) into ``results/profiles/sync.txt``."""
    from icalendly_async.testing import Emulator

    async with Emulator(
        bookings=BOOKINGS, enforce_rate_limits=False, validate_responses=False
    ) as emu:
        figures = await _run_worker("sync", emu, "--profile")
    log(f"sync: profiled a {figures['seconds']:.2f} s run: {PROFILE}")


async def _bound(window: float) -> dict[str, Any]:
    from icalendly_async import RateLimit
    from icalendly_async.testing import Emulator

    log(f"sync: rate-limit bound, {LIMIT} per {window:g} s")
    async with Emulator(
        bookings=BOOKINGS,
        rate_limit=RateLimit(LIMIT, window),
        block_seconds=window,
        validate_responses=False,
    ) as emu:
        figures = await _run_worker("sync", emu, "--limit", str(LIMIT), "--window", str(window))
        digest = emu.credential_digest(emu.api_key)
        arrivals = sorted(r.received_at for r in emu.request_log if r.credential == digest)
        requests = len(arrivals)
        figures["requests"] = requests
        figures["span"] = arrivals[-1] - arrivals[0]
        figures["arrivals"] = [round(moment - arrivals[0], 4) for moment in arrivals]
        figures["ideal"] = (math.ceil(requests / LIMIT) - 1) * window
        figures["server_429s"] = emu.stats.rate_limited
    return figures


def _median_run(runs: list[dict[str, Any]]) -> dict[str, Any]:
    return sorted(runs, key=lambda run: float(run["seconds"]))[len(runs) // 2]


def _stage(run: dict[str, Any], key: str | None) -> str:
    """One step's seconds in ``run`` (``None``: what the three steps leave of the whole)."""
    steps: dict[str, float] = run.get("steps", {})
    if key == "seconds":
        return f"{run['seconds']:.2f}"
    if key is None:
        return f"{run['seconds'] - sum(steps.values()):.2f}"
    return f"{steps.get(key, float('nan')):.2f}"


def _rate(run: dict[str, Any]) -> float:
    return float(run["rows"]) / float(run["seconds"])


async def _run(quick: bool) -> Result:
    rounds, window = (1, 1.0) if quick else (3, 6.0)
    lifted = await _lifted(rounds)
    bound = await _bound(window)
    rates = {kind: [_rate(run) for run in runs] for kind, runs in lifted.items()}
    vs_export = ratio(rates["sync"], rates["export"])
    vs_offset = ratio(rates["sync"], rates["export-offset"])
    peak = max(run["peak_mb"] for run in lifted["sync"] + [bound])
    bound_ratio = bound["ideal"] / bound["seconds"]
    rows_ok = all(run["rows"] == BOOKINGS for runs in lifted.values() for run in runs)
    names = {"sync": SYNC, "export": EXPORT, "export-offset": EXPORT_OFFSET}
    stages = [
        [label, *(_stage(run, key) for run in (_median_run(lifted["sync"]), bound))]
        for label, key in (
            ("extract (reading the API, writing the rows)", "extract"),
            ("normalize (child tables, types)", "normalize"),
            ("load (DuckDB: staging tables, merge)", "load"),
            ("the rest (pipeline state, counting rows before and after)", None),
            ("the whole run", "seconds"),
        )
    ]
    table = [
        [
            names[kind],
            f"{statistics.median(rates[kind]):,.0f}",
            f"{statistics.median(run['seconds'] for run in runs):.2f}",
            f"{max(run['peak_mb'] for run in runs):,.0f}",
        ]
        for kind, runs in lifted.items()
    ]
    return {
        "title": TITLE,
        "checks": [
            check(
                f"sync at the service's limit ({LIMIT} per {window:g} s, {BOOKINGS:,} bookings): "
                "the limiter's ideal / the whole run",
                bound_ratio,
                f"{bound_ratio:.3f} ({bound['seconds']:.1f} s for {bound['requests']} requests; "
                f"ideal {bound['ideal']:.0f} s; 429s {bound['server_429s']})",
                f"≥ {TARGET_RATE_BOUND}",
                bound_ratio >= TARGET_RATE_BOUND and bound["server_429s"] == 0,
            ),
            check(
                "sync / JSONL export, rows/s, limit lifted",
                vs_export,
                f"{vs_export:.2f}{X} ({statistics.median(rates['sync']):,.0f} vs "
                f"{statistics.median(rates['export']):,.0f} rows/s)",
                f"≥ {TARGET_VS_EXPORT}{X}",
                vs_export >= TARGET_VS_EXPORT and rows_ok,
            ),
            check(
                "sync / the export by offset (4 pages at once), rows/s, limit lifted",
                vs_offset,
                f"{vs_offset:.2f}{X} ({statistics.median(rates['export-offset']):,.0f} rows/s)",
                "",
                None,
            ),
            check(
                f"sync peak memory ({BOOKINGS:,} bookings)",
                peak,
                f"{peak:,.0f} MB",
                f"< {TARGET_PEAK_MB:.0f} MB",
                peak < TARGET_PEAK_MB,
            ),
        ],
        "tables": [
            {
                "title": f"{BOOKINGS:,} bookings, {PAGE} per page, limit lifted",
                "columns": ["run", "rows/s", "seconds", "peak MB"],
                "rows": table,
            },
            {
                "title": "Where the sync's time goes (seconds; limit lifted: the median run)",
                "columns": ["step", "limit lifted", f"{LIMIT} per {window:g} s"],
                "rows": stages,
            },
            {
                "title": f"At the service's rate: {LIMIT} requests per {window:g} s",
                "columns": ["requests", "first to last request", "ideal", "whole run", "ratio"],
                "rows": [
                    [
                        str(bound["requests"]),
                        f"{bound['span']:.1f} s",
                        f"{bound['ideal']:.1f} s",
                        f"{bound['seconds']:.1f} s",
                        f"{bound_ratio:.3f}",
                    ]
                ],
            },
        ],
        "notes": [
            "Each figure is one fresh process timing one full run after its imports; rows/s "
            f"is the median of {rounds} round(s), the ratios the median of per-round ratios. "
            "Peak memory is the process's maximum resident set size, imports included.",
            "The cursor walk asks for each page from the last updatedAt seen, so it cannot "
            "fetch pages in parallel as the offset walk does; the rows at the cursor come "
            "again at the top of the next page (102 requests for 10,000 bookings, not 100).",
            f"The service's window is 60 s for 120 requests: the 102 requests would all fit in "
            f"its first window. The rate is kept and the window scaled down in time, as in the "
            f"pacing benchmark: {LIMIT} requests per {window:g} s"
            + (" (quick run: six times the service's rate)." if quick else " (120 a minute)."),
            "The sync loads in chunks, a dlt run per 5 s of reading (sync()'s chunk_seconds) "
            "or, under a binding limit, per window's worth of pages, each going on from where "
            "the walk stopped: limit lifted, the 10,000 bookings are read in "
            f"{_median_run(lifted['sync']).get('runs', 1)} run(s); at the service's rate in "
            f"{bound.get('runs', 1)}, each chunk normalized and loaded while the next chunk's "
            "requests wait for the limiter, so only the last chunk's are left after the last "
            "request. A step's time is summed over the runs.",
        ],
        "data": {"lifted": lifted, "bound": bound, "window": window, "limit": LIMIT},
    }


async def run(quick: bool) -> Result:
    try:
        import dlt  # noqa: F401
    except ImportError:
        reason = "dlt is not installed: pip install -e '.[bench,sync]'"
        log(f"sync: skipped: {reason}")
        return {
            "title": TITLE,
            "checks": [check("sync benchmark", None, f"not run: {reason}", "", None)],
            "notes": [reason],
        }
    return await _run(quick)


if __name__ == "__main__":
    if sys.argv[1:] == ["--profile"]:
        asyncio.run(profile())
    else:
        _worker_main(sys.argv[1:])
