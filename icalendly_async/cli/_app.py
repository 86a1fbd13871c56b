"""The ``icalendly`` command: argument parsing, dispatch, and one-line errors."""

from __future__ import annotations

import argparse
import asyncio
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path

from .._version import __version__
from ..client import ICalendly
from ..endpoints import Operation
from ..errors import ICalendlyError
from ..ratelimit import Priority
from . import _demo, _mock, _sync
from ._export import Exporter, ExportResult
from ._progress import Progress
from ._resources import FILTERS, RESOURCES, Resource, operation_for
from ._settings import add_connection_options, make_client

__all__ = ["main"]


def _say(line: str) -> None:
    print(line, flush=True)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="icalendly", description="The iCalendly API v2 from the command line."
    )
    parser.add_argument("--version", action="version", version=f"icalendly {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _demo.add_parser(sub)
    _add_export(sub)
    _sync.add_parser(sub)
    _mock.add_parser(sub)
    return parser


def _add_export(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    lines = "\n".join(f"  {name:<14} {r.help}" for name, r in RESOURCES.items())
    parser = sub.add_parser(
        "export",
        help="export a collection to JSONL or CSV, resumably",
        description=f"Export every record of RESOURCE, paced to your rate limit.\n\n{lines}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("resource", choices=list(RESOURCES), metavar="RESOURCE")
    parser.add_argument("--out", required=True, help="output file: *.csv for CSV, else JSONL")
    parser.add_argument("--resume", action="store_true", help="continue an interrupted export")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing file")
    parser.add_argument(
        "--concurrency",
        type=int,
        default=4,
        help="pages in flight (4) for collections paged by offset; bookings are read by their "
        "updatedAt cursor, one page after another",
    )
    parser.add_argument("--page-size", type=int, default=100, help="records per request (100)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.add_argument("--team-id", type=int, help="the team (memberships)")
    parser.add_argument("--org-id", type=int, help="the organization (org-users)")
    filters = parser.add_argument_group("filters (bookings)")
    for name, (_, multiple) in FILTERS.items():
        filters.add_argument(
            f"--{name}",
            action="append" if multiple else "store",
            help="repeatable" if multiple else None,
        )
    add_connection_options(parser)


async def _export(args: argparse.Namespace) -> ExportResult:
    resource = RESOURCES[args.resource]
    operation = operation_for(resource)
    client = make_client(args, platform=resource.name == "managed-users")
    try:
        return await _export_with(client, resource, operation, args)
    finally:
        await client.aclose()
        close = getattr(client.limiter, "aclose", None)  # a RedisLimiter made for this run
        if close is not None:
            await close()


async def _export_with(
    client: ICalendly, resource: Resource, operation: Operation, args: argparse.Namespace
) -> ExportResult:
    path_params: list[object] = []
    for name in resource.path_params:
        value = getattr(args, name.replace("-", "_"), None)
        if value is None and name == "client-id":
            value = getattr(client.credential, "client_id", None)
        if value is None:
            raise ICalendlyError(f"exporting {resource.name} needs --{name}")
        path_params.append(value)
    query: dict[str, object] = {}
    for name, (param, _) in FILTERS.items():
        value = getattr(args, name.replace("-", "_"), None)
        if value is not None:
            if name not in resource.filters:
                raise ICalendlyError(f"--{name} does not apply to {resource.name}")
            query[param] = value
    with Progress(args.quiet, desc=resource.name) as bar:
        return await Exporter(
            client.with_options(priority=Priority.BULK),
            operation,
            tuple(path_params),
            query,
            Path(args.out),
            page_size=args.page_size,
            concurrency=args.concurrency,
            resume=args.resume,
            overwrite=args.overwrite,
            cursor=resource.cursor,
            progress=bar.update,
        ).run()


def _run(args: argparse.Namespace) -> int:
    if args.command == "demo":
        out = _demo.output_path(args)
        _say(f"writing the bookings to {out}")
        report = asyncio.run(_demo.run(args, out))
        for line in report.lines():
            _say(line)
        return 0
    if args.command == "export":
        result = asyncio.run(_export(args))
        resumed = f" (resumed at record {result.resumed_from})" if result.resumed_from else ""
        _say(f"exported {result.total_records} {args.resource} to {result.out}{resumed}")
        return 0
    if args.command == "sync":
        return _sync.run(args, _say)
    asyncio.run(_mock.run(args, _say))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``icalendly`` console script."""
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        return _run(args)
    except KeyboardInterrupt:
        if args.command == "export":
            print("interrupted: run the same command with --resume to continue", file=sys.stderr)
        elif args.command == "sync":
            print("interrupted: run the same command again to go on", file=sys.stderr)
        return 130
    except (ICalendlyError, OSError) as exc:
        if args.debug:
            traceback.print_exc()
        print(f"icalendly: error: {exc}", file=sys.stderr)
        return 1
