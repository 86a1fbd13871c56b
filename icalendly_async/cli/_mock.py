"""``icalendly mock-server``: the emulator on a port of your choice, until Ctrl-C."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from .._request import is_loopback
from ..testing import ServerInfo, serve
from ._settings import non_negative_float, non_negative_int

__all__ = ["add_parser", "run"]


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "mock-server",
        help="run the bundled iCalendly emulator (for your tests and experiments)",
        description="Serves the emulator on loopback and prints its base URL and a ready API key.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="loopback address (127.0.0.1)")
    parser.add_argument("--port", type=int, default=8080, help="port (8080; 0: any free port)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the generated data")
    parser.add_argument(
        "--bookings", type=non_negative_int, default=50, help="how many bookings to seed"
    )
    parser.add_argument(
        "--rate-limit",
        help="REQUESTS/SECONDS for every credential (default: the service's, 120/60 for keys)",
    )
    parser.add_argument(
        "--no-rate-limit", action="store_true", help="do not enforce rate limits at all"
    )
    parser.add_argument(
        "--churn",
        type=non_negative_float,
        default=0.0,
        metavar="RATE",
        help="change RATE bookings per second (updates, cancellations, new ones; some become "
        "visible late), as on a live account",
    )


async def run(args: argparse.Namespace, say: Callable[[str], None]) -> None:
    if not is_loopback(args.host):
        print(
            f"icalendly: WARNING: --host {args.host} is not a loopback address: the emulator "
            "will serve working test credentials (printed below, and its platform client's "
            "secret) to every machine that can reach this one. Use --host 127.0.0.1 unless "
            "that is what you want.",
            file=sys.stderr,
            flush=True,
        )

    def announce(info: ServerInfo) -> None:
        say(f"iCalendly emulator listening on {info.base_url}")
        for name, value in info.environment().items():  # throwaway test credentials
            say(f"{name}={value}")
        say("Ctrl-C to stop.")

    await serve(
        host=args.host,
        port=args.port,
        seed=args.seed,
        bookings=args.bookings,
        rate_limit=args.rate_limit,
        enforce_rate_limits=not args.no_rate_limit,
        churn=args.churn,
        on_ready=announce,
    )
