"""``icalendly sync``: the API into DuckDB or PostgreSQL, incrementally (extra ``sync``).

A progress bar per resource (rows and rate) while it runs, a table at the end: rows loaded, new,
updated, requests, 429s, time. A failed run exits 1 with one line saying where it failed; what
it extracted is loaded by the next run, which goes on from the cursors of the last good one.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from types import FrameType
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from ..errors import ConfigurationError
from ..sync._catalog import DEFAULT_CHUNK_SECONDS, DEFAULT_LOOKBACK, RESOURCES
from ._settings import add_connection_options, make_client

if TYPE_CHECKING:
    from ..sync import ResourceStats, SyncResult

__all__ = ["add_parser", "run"]

DEFAULT_TO = "duckdb:///icalendly.duckdb"
_TO_ENV = "ICALENDLY_SYNC_TO"


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    lines = "\n".join(f"  {name:<24} {text}" for name, text in RESOURCES.items())
    parser = sub.add_parser(
        "sync",
        help="sync bookings and more into DuckDB or PostgreSQL, incrementally",
        description=(
            "Load the API into a database with dlt: bookings by their updatedAt cursor, the "
            "rest re-read and merged on their keys. Run it again to load what changed.\n\n"
            f"{lines}"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--to",
        help=f"where: duckdb:///file.duckdb (relative; four slashes for an absolute path) or "
        f"postgresql://user@host:5432/db, password in PGPASSWORD (env {_TO_ENV}; "
        f"default {DEFAULT_TO}, i.e. ./icalendly.duckdb)",
    )
    parser.add_argument(
        "--resources", help="comma-separated names from the list above (default: all)"
    )
    parser.add_argument(
        "--full-refresh",
        action="store_true",
        help="drop the tables and cursors of these resources first, and read everything again",
    )
    parser.add_argument(
        "--lookback",
        type=float,
        default=DEFAULT_LOOKBACK,
        help=f"seconds re-read before the saved cursor, for late changes ({DEFAULT_LOOKBACK:g})",
    )
    parser.add_argument(
        "--dataset",
        default="icalendly_dataset",
        help="the dataset (schema) of the tables (icalendly_dataset)",
    )
    parser.add_argument("--page-size", type=int, default=100, help="rows per request (100)")
    parser.add_argument(
        "--chunk-seconds",
        type=_positive_seconds,
        default=DEFAULT_CHUNK_SECONDS,
        metavar="SECONDS",
        help="load (and save the cursor) after every SECONDS of reading bookings, and after "
        f"each window's worth under a binding rate limit ({DEFAULT_CHUNK_SECONDS:g}; each "
        "load costs a few tenths of a second)",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    add_connection_options(parser)


def _positive_seconds(text: str) -> float:
    try:
        seconds = float(text)
    except ValueError:
        seconds = 0.0
    if not seconds > 0:  # NaN too
        raise argparse.ArgumentTypeError(f"must be a number of seconds > 0, got {text!r}")
    return seconds


def run(args: argparse.Namespace, say: Callable[[str], None]) -> int:
    """Run the sync the arguments describe; 0 when it succeeded."""
    try:
        from ..sync import sync
    except ImportError as exc:
        raise ConfigurationError(str(exc)) from None
    to = args.to or os.environ.get(_TO_ENV) or DEFAULT_TO
    if urlsplit(to).password:
        print(
            "icalendly: warning: the password in --to is visible to other users of this machine "
            "(ps); leave it out and set PGPASSWORD",
            file=sys.stderr,
        )
    resources = (
        [name.strip() for name in args.resources.split(",") if name.strip()]
        if args.resources
        else None
    )
    client = make_client(args)  # the settings: credential, plan, server, limiter
    if not args.debug:  # dlt's notes on the schema it infers are for developers
        os.environ.setdefault("RUNTIME__LOG_LEVEL", "ERROR")
    with _Bars(args.quiet) as bars, _quiet_on_ctrl_c():
        result = sync(
            client.credential,
            to,
            resources=resources,
            plan=client.plan,
            base_url=client.base_url,
            allow_insecure_http=client.base_url.startswith("http://"),
            lookback=args.lookback,
            page_size=args.page_size,
            limiter=lambda: client.limiter,  # one run, one loop: the limiter the settings made
            dataset_name=args.dataset,
            full_refresh=args.full_refresh,
            progress=bars.update,
            chunk_seconds=args.chunk_seconds,
        )
    for line in summary(result):
        say(line)
    return 0


@contextlib.contextmanager
def _quiet_on_ctrl_c() -> Iterator[None]:
    """Ctrl-C stops the run as usual (``KeyboardInterrupt``: exit 130 with one line), without
    the screenful dlt's event loop logs as it is torn down mid-read (asynchronous generators
    closed while running, tasks whose exception nobody retrieved: noise once the user stopped
    the run), nor what Python prints as the reads' coroutines are collected after that loop
    closed ("Exception ignored in ...: Event loop is closed"; seen in 1 of 3 clean-clone runs of
    tests/test_cli_sync.py's Ctrl-C test)."""
    if (
        threading.current_thread() is not threading.main_thread()
        or signal.getsignal(signal.SIGINT) is not signal.default_int_handler
    ):  # not ours to change (a host program's handler, or SIGINT ignored)
        yield
        return

    def interrupted(signum: int, frame: FrameType | None) -> None:
        logging.getLogger("asyncio").disabled = True
        sys.unraisablehook = _ignore  # the command is ending: what is collected now is teardown
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGINT, interrupted)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _ignore(unraisable: Any) -> None:
    """An ``unraisablehook`` that prints nothing."""


def summary(result: SyncResult) -> list[str]:
    """The table printed at the end of a run."""
    header = ("resource", "rows", "new", "updated", "requests", "429s", "time")
    rows: list[tuple[str, ...]] = []
    left_out = []
    for table in result.tables:
        if table.left_out is not None:
            left_out.append(f"left out {table.name}: {table.left_out}")
            continue
        rows.append(
            (
                table.name,
                f"{table.rows:,}",
                "?" if table.new is None else f"{table.new:,}",
                "?" if table.updated is None else f"{table.updated:,}",
                f"{table.requests:,}",
                f"{table.rate_limited:,}",
                f"{table.seconds:.1f} s",
            )
        )
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]

    def line(cells: tuple[str, ...]) -> str:
        first = cells[0].ljust(widths[0])
        rest = "  ".join(
            cell.rjust(width) for cell, width in zip(cells[1:], widths[1:], strict=True)
        )
        return f"{first}  {rest}"

    lines = [line(header), *(line(row) for row in rows)]
    if result.finished_pending:
        lines.insert(0, "loaded first what the previous run had read but not loaded")
    lines += left_out
    lines.append(
        f"synced {len(rows)} resource(s) into {result.destination} "
        f"(dataset {result.dataset_name}) in {result.seconds:.1f} s; "
        f"429s received: {result.rate_limited}"
    )
    return lines


class _Bars:
    """One tqdm bar per resource on standard error (when it is a terminal and not quiet)."""

    def __init__(self, quiet: bool) -> None:
        self._tqdm: Any = None
        self._bars: dict[str, Any] = {}
        self._lock = threading.Lock()
        if quiet or not sys.stderr.isatty():
            return
        try:
            from tqdm import tqdm
        except ImportError:
            return
        self._tqdm = tqdm

    def update(self, stats: ResourceStats) -> None:
        if self._tqdm is None or stats.left_out is not None:
            return
        with self._lock:
            bar = self._bars.get(stats.name)
            if bar is None:
                bar = self._bars[stats.name] = self._tqdm(
                    desc=f"{stats.name:<24}",
                    unit=" rows",
                    position=len(self._bars),
                    file=sys.stderr,
                    leave=True,
                    dynamic_ncols=True,
                )
            if stats.expected is not None and bar.total != stats.expected:
                bar.total = stats.expected
            bar.update(stats.rows - bar.n)

    def __enter__(self) -> _Bars:
        return self

    def __exit__(self, *exc: object) -> None:
        with self._lock:
            for bar in self._bars.values():
                bar.close()
