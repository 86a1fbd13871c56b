"""``icalendly demo``: export thousands of bookings from an in-process emulator, paced."""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path

import attrs

from ..auth import ApiKey
from ..client import ICalendly
from ..endpoints import OPERATIONS
from ..observability import LoggingObserver, MetricsObserver
from ..plans import Plan
from ..ratelimit import Priority, RateLimit
from ..testing import Emulator
from ._export import Exporter
from ._progress import Progress
from ._settings import non_negative_int

__all__ = ["OUT_DIR", "OUT_FILE", "DemoReport", "add_parser", "output_path", "run"]

OUT_DIR = "icalendly-demo"  # under the current directory; .gitignore lists it
OUT_FILE = "bookings.jsonl"


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "demo",
        help="export thousands of bookings from a local emulator, paced to its rate limit",
        description="Starts the bundled emulator with thousands of bookings and the service's "
        "rate limit scaled down in time (120 requests per 3 s instead of per 60 s), exports "
        "every booking through the client, and reports. No network or credentials needed.",
    )
    parser.add_argument(
        "--bookings", type=non_negative_int, default=10_000, help="how many (default 10000)"
    )
    parser.add_argument("--page-size", type=int, default=25, help="records per request")
    parser.add_argument("--concurrency", type=int, default=8, help="pages in flight")
    parser.add_argument(
        "--rate-limit", default="120/3", help="REQUESTS/SECONDS the emulator enforces (120/3)"
    )
    parser.add_argument(
        "--out-dir",
        default=OUT_DIR,
        help=f"the directory it writes under ({OUT_DIR}/, created if missing)",
    )
    parser.add_argument(
        "--out", help=f"the file to write instead of {OUT_DIR}/{OUT_FILE} (JSONL, or *.csv)"
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


@attrs.frozen
class DemoReport:
    records: int
    elapsed: float
    requests: int
    limit: RateLimit
    rate_limited: int
    retries: int
    out: Path

    @property
    def ideal(self) -> float:
        """The fastest safe schedule: (ceil(N / L) - 1) windows."""
        return (math.ceil(self.requests / self.limit.limit) - 1) * self.limit.window_seconds

    def lines(self) -> list[str]:
        allowed = self.limit.limit / self.limit.window_seconds
        achieved = self.requests / self.elapsed if self.elapsed else 0.0
        efficiency = self.ideal / self.elapsed if self.elapsed else 1.0
        return [
            f"records exported: {self.records}",
            f"elapsed: {self.elapsed:.1f} s for {self.requests} requests; the fastest safe "
            f"schedule takes {self.ideal:.1f} s ({efficiency:.0%} of it achieved)",
            f"request rate: {achieved:.1f}/s achieved, {allowed:.1f}/s allowed on average "
            f"({self.limit.limit} per {self.limit.window_seconds:g} s; a full window goes out "
            "at once)",
            f"429s received: {self.rate_limited}",
            f"retries: {self.retries}",
            f"written to: {self.out}",
        ]


def output_path(args: argparse.Namespace) -> Path:
    """Where the demo writes (absolute): ``--out``, else ``--out-dir``/bookings.jsonl."""
    out = Path(args.out) if args.out else Path(args.out_dir) / OUT_FILE
    return out.absolute()


async def run(args: argparse.Namespace, out: Path) -> DemoReport:
    """Run the demo, writing to ``out`` (see :func:`output_path`; its directory is created)."""
    limit = RateLimit.parse(args.rate_limit)
    out.parent.mkdir(parents=True, exist_ok=True)
    metrics = MetricsObserver()
    list_bookings = next(op for op in OPERATIONS if op.python_name == "bookings.list")
    async with Emulator(rate_limit=limit, bookings=args.bookings, seed=7) as emu:
        async with ICalendly(
            ApiKey(emu.api_key, rate_limit=limit),
            plan=Plan.PLATFORM,
            base_url=emu.base_url,
            allow_insecure_http=True,
            observers=[LoggingObserver(), metrics],
        ) as client:
            bulk = client.with_options(priority=Priority.BULK)
            started = time.perf_counter()
            with Progress(args.quiet, desc="bookings") as bar:
                result = await Exporter(
                    bulk,
                    list_bookings,
                    (),
                    {"sortCreated": "asc"},
                    out,
                    page_size=args.page_size,
                    concurrency=args.concurrency,
                    overwrite=True,
                    progress=bar.update,
                ).run()
            elapsed = time.perf_counter() - started
        totals = metrics.snapshot()["credentials"]
        attempts = sum(series["attempts"] for series in totals.values())
        retries = sum(series["retries"] for series in totals.values())
        return DemoReport(
            records=result.total_records,
            elapsed=elapsed,
            requests=attempts,
            limit=limit,
            rate_limited=emu.stats.rate_limited,
            retries=retries,
            out=out,
        )
