"""``icalendly mock-server``: the emulator on a port of your choice, until Ctrl-C."""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Callable

from ..ratelimit import RateLimit
from ..testing import Emulator

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
    parser.add_argument("--bookings", type=int, default=50, help="how many bookings to seed")
    parser.add_argument(
        "--rate-limit",
        help="REQUESTS/SECONDS for every credential (default: the service's, 120/60 for keys)",
    )
    parser.add_argument(
        "--no-rate-limit", action="store_true", help="do not enforce rate limits at all"
    )


async def run(args: argparse.Namespace, say: Callable[[str], None]) -> None:
    emulator = Emulator(
        host=args.host,
        port=args.port,
        seed=args.seed,
        bookings=args.bookings,
        rate_limit=RateLimit.parse(args.rate_limit) if args.rate_limit else None,
        enforce_rate_limits=not args.no_rate_limit,
    )
    async with emulator as emu:
        say(f"iCalendly emulator listening on {emu.base_url}")
        say(f"ICALENDLY_BASE_URL={emu.base_url}")
        say(f"ICALENDLY_API_KEY={emu.api_key}")
        say(f"ICALENDLY_CLIENT_ID={emu.client_id}")
        say(f"ICALENDLY_CLIENT_SECRET={emu.client_secret}")
        say("Ctrl-C to stop.")
        await asyncio.Event().wait()
