"""Servers for the benchmarks, each in a process of its own (so it does not share a core or an
event loop with the client it serves).

``trivial``: an aiohttp app that answers ``GET /v2/me`` with the exact body the emulator sends
for its API key (the ``MeOutput`` envelope) plus ``X-RateLimit-*`` headers from a fixed-window
counter with a limit that never binds, as the real service sends them on every answer.
``emulator``: the bundled :class:`~icalendly_async.testing.Emulator` (for the export).

Run as ``python -m benchmarks._servers trivial|emulator [--bookings N] [--no-limits]``: the child
prints one JSON line (``base_url``, ``api_key``) when it is ready and serves until stdin closes.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

from aiohttp import web

__all__ = ["TRIVIAL_API_KEY", "TRIVIAL_LIMIT", "me_body", "pin_to", "serve_in_child"]

TRIVIAL_API_KEY = "ical_bench_0123456789abcdef"
TRIVIAL_LIMIT = 1_000_000  # per 60 s: reported in the headers, never reached
_ROOT = Path(__file__).absolute().parent.parent  # not resolved: a symlinked checkout works


# What the emulator answered for its ready key when this was written (used if it cannot start).
_FALLBACK_ME = (
    b'{"status":"success","data":{"id":1,"username":"owner","email":"owner@example.com",'
    b'"timeFormat":24,"defaultScheduleId":1,"weekStart":"Monday","timeZone":"Europe/London",'
    b'"organizationId":100,"organization":{"isPlatform":true,"id":100}}}'
)


async def me_body() -> bytes:
    """The body the emulator answers ``GET /v2/me`` with, for its ready API key."""
    import aiohttp

    try:
        from icalendly_async.testing import Emulator

        async with Emulator() as emu, aiohttp.ClientSession() as http:
            headers = {"Authorization": f"Bearer {emu.api_key}"}
            async with http.get(f"{emu.base_url}/v2/me", headers=headers) as resp:
                if resp.status == 200:
                    return await resp.read()
    except Exception as exc:  # the emulator is someone else's work in progress
        print(f"benchmarks: emulator unavailable ({exc!r}); fixed /v2/me body", file=sys.stderr)
    return _FALLBACK_ME


def pin_to(cpus: set[int]) -> set[int] | None:
    """Pin this process to ``cpus`` (Linux); returns the previous set, ``None`` if unsupported."""
    if not hasattr(os, "sched_setaffinity") or not cpus:
        return None
    previous = os.sched_getaffinity(0)
    try:
        os.sched_setaffinity(0, cpus)
    except OSError:
        return None
    return previous


def _server_cpus() -> set[int]:
    if not hasattr(os, "sched_getaffinity"):
        return set()
    cpus = sorted(os.sched_getaffinity(0))
    return {cpus[-1]} if len(cpus) > 1 else set()


def client_cpus() -> set[int]:
    """The CPUs the client side should use: all but the one a child server is pinned to."""
    if not hasattr(os, "sched_getaffinity"):
        return set()
    cpus = sorted(os.sched_getaffinity(0))
    return set(cpus[:-1]) if len(cpus) > 1 else set()


def _trivial_app(body: bytes) -> web.Application:
    window = {"start": time.monotonic(), "count": 0}

    async def me(request: web.Request) -> web.Response:
        now = time.monotonic()
        if now - window["start"] >= 60:
            window["start"], window["count"] = now, 0
        window["count"] += 1
        headers = {
            "X-RateLimit-Limit-Default": str(TRIVIAL_LIMIT),
            "X-RateLimit-Remaining-Default": str(max(0, TRIVIAL_LIMIT - window["count"])),
            "X-RateLimit-Reset-Default": str(math.ceil(60 - (now - window["start"]))),
        }
        return web.Response(body=body, content_type="application/json", headers=headers)

    app = web.Application()
    app.router.add_get("/v2/me", me)
    return app


async def _serve(args: argparse.Namespace) -> None:
    pin_to(_server_cpus())
    if args.kind == "trivial":
        runner = web.AppRunner(_trivial_app(await me_body()), access_log=None, handle_signals=False)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0, backlog=1024)
        await site.start()
        port = runner.addresses[0][1]
        try:
            await _announce_and_wait(f"http://127.0.0.1:{port}", TRIVIAL_API_KEY)
        finally:
            await runner.cleanup()
        return
    from icalendly_async.testing import Emulator

    emulator = Emulator(
        bookings=args.bookings,
        enforce_rate_limits=not args.no_limits,
        validate_responses=False,  # a benchmark measures serving, not checking
    )
    async with emulator as emu:
        await _announce_and_wait(emu.base_url, emu.api_key)


async def _announce_and_wait(base_url: str, api_key: str) -> None:
    """Tell the parent where we listen; serve until it closes our stdin (or dies)."""
    print(json.dumps({"base_url": base_url, "api_key": api_key}), flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)


@contextlib.asynccontextmanager
async def serve_in_child(kind: str, *args: str) -> AsyncIterator[dict[str, str]]:
    """Start a server process; yields ``{"base_url", "api_key"}``; stops it on exit."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "benchmarks._servers",
        kind,
        *args,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        cwd=_ROOT,
    )
    try:
        assert process.stdout is not None
        line = await process.stdout.readline()
        if not line:
            code = await process.wait()
            raise RuntimeError(f"the {kind} server did not start (exit code {code})")
        yield json.loads(line)
    finally:
        if process.stdin is not None:
            process.stdin.close()
        try:
            await asyncio.wait_for(process.wait(), 5)
        except asyncio.TimeoutError:
            process.kill()
            await process.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("kind", choices=("trivial", "emulator"))
    parser.add_argument("--bookings", type=int, default=50)
    parser.add_argument("--no-limits", action="store_true")
    asyncio.run(_serve(parser.parse_args()))


if __name__ == "__main__":
    main()
