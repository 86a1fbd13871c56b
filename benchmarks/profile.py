"""Profiles that explain the misses:
``python -m benchmarks.profile [overhead|export|decode|pipeline|instructions]``.

* ``overhead``: pyinstrument over our typed ``GET /v2/me`` at concurrency 64 against the trivial
  server (the same set-up as the overhead benchmark);
* ``export``: pyinstrument over ``client.bookings.list()`` exporting 10,000 bookings;
* ``decode``: what the typed export adds to ``decode=False``, in isolation: one page of 100
  bookings from the emulator, parsed (orjson) and decoded into models over and over in this
  process; CPU per booking with the cyclic GC on and off, and cProfile's account of the decoders;
* ``pipeline``: our pipeline's own CPU per call, without any network: the transport's send
  replaced by a canned response, so what remains is everything the client does around
  aiohttp (building the request, the limiter, the feedback, the envelope, the models, the
  observers), with each part switched off in turn;
* ``instructions``: machine instructions per call at concurrency 64 against the trivial server,
  counted by valgrind's callgrind (needs ``valgrind``): our typed call, the same with parts
  switched off, and raw aiohttp. Counts do not depend on other load on the machine, so two
  versions of the code can be compared on a busy machine (it prices instructions only, not
  cache misses or system calls, which the overhead benchmark's wall-clock figures include).

Text reports go to ``benchmarks/results/profiles/``. Needs ``pyinstrument`` (the ``bench``
extra) for the first two.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from ._common import closed_loop, log, parts_only
from ._results import RESULTS_DIR
from ._servers import TRIVIAL_LIMIT, client_cpus, pin_to, serve_in_child

PROFILES = RESULTS_DIR / "profiles"


def _write(name: str, text: str) -> Path:
    PROFILES.mkdir(parents=True, exist_ok=True)
    path = PROFILES / f"{name}.txt"
    path.write_text(text)
    return path


def _profile_text(profiler: Any) -> str:
    text: str = profiler.output_text(unicode=True, color=False, show_all=False)
    return text


async def _overhead(seconds: float) -> str:
    from pyinstrument import Profiler

    from icalendly_async import ApiKey, ICalendly, Plan, RateLimit

    async with serve_in_child("trivial") as server:
        previous = pin_to(client_cpus())
        client = ICalendly(
            ApiKey(server["api_key"], rate_limit=RateLimit(TRIVIAL_LIMIT, 60)),
            plan=Plan.PLATFORM,
            base_url=server["base_url"],
            allow_insecure_http=True,
        )
        try:
            await closed_loop(client.me.get, 64, 0.5, 0.2)
            profiler = Profiler(interval=0.0002, async_mode="disabled")
            profiler.start()
            figures = await closed_loop(client.me.get, 64, seconds, 0.0)
            profiler.stop()
        finally:
            await client.aclose()
            if previous is not None:
                pin_to(previous)
    header = (
        f"client.me.get() at concurrency 64 for {seconds:g} s: {figures.rate:,.0f} req/s, "
        f"{figures.cpu_us:.0f} µs CPU per call (with the profiler on)\n\n"
    )
    return header + _profile_text(profiler)


async def _export(bookings: int) -> str:
    from pyinstrument import Profiler

    from icalendly_async import ApiKey, ICalendly, Plan, RateLimit

    async with serve_in_child("emulator", "--bookings", str(bookings), "--no-limits") as server:
        client = ICalendly(
            ApiKey(server["api_key"], rate_limit=RateLimit(10_000_000, 60)),
            plan=Plan.PLATFORM,
            base_url=server["base_url"],
            allow_insecure_http=True,
        )
        try:
            async for _ in client.bookings.list(take=100):
                pass
            profiler = Profiler(interval=0.0002, async_mode="disabled")
            profiler.start()
            started = time.perf_counter()
            count = 0
            async for _ in client.bookings.list(take=100):
                count += 1
            elapsed = time.perf_counter() - started
            profiler.stop()
        finally:
            await client.aclose()
    header = (
        f"async for booking in client.bookings.list(take=100): {count:,} bookings in "
        f"{elapsed:.2f} s (with the profiler on)\n\n"
    )
    return header + _profile_text(profiler)


async def _bookings_page(bookings: int) -> bytes:
    """One page (100 bookings) of ``GET /v2/bookings`` as the emulator sends it."""
    import aiohttp

    async with serve_in_child("emulator", "--bookings", str(bookings), "--no-limits") as server:
        headers = {"Authorization": f"Bearer {server['api_key']}", "cal-api-version": "2024-08-13"}
        async with aiohttp.ClientSession() as session:
            url = f"{server['base_url']}/v2/bookings"
            async with session.get(url, params={"take": "100"}, headers=headers) as resp:
                resp.raise_for_status()
                return await resp.read()


def _decode_pages(mode: str, pages: int, body: bytes) -> None:
    """Parse (``mode`` "parse") or parse and decode ("decode") the page ``body`` ``pages``
    times (what :func:`_decode` times, and the process :func:`_decode_instructions` counts)."""
    import orjson

    # The decoder the paginator of client.bookings.list() runs on each item.
    from icalendly_async.models._generated.bookings import decode_Booking_family

    for _ in range(pages):
        if mode == "decode":
            for _item in [decode_Booking_family(x) for x in orjson.loads(body)["data"]]:
                pass
        else:
            for _item in orjson.loads(body)["data"]:
                pass


def _decode_instructions(body: bytes, per_page: int) -> list[str]:
    """Instructions per booking of the parse and of parse + decode (callgrind, GC on): a run of
    40 pages minus a run of 10, so that start-up and imports cancel out."""
    import tempfile

    if shutil.which("valgrind") is None:
        return ["(instructions: valgrind is not installed)"]
    with tempfile.TemporaryDirectory() as folder:
        body_file = Path(folder) / "page.json"
        body_file.write_bytes(body)

        def counted(mode: str, pages: int) -> int:
            return _callgrind("--decode-pages", mode, str(pages), str(body_file))

        per_booking = {
            mode: (counted(mode, 40) - counted(mode, 10)) / (30 * per_page)
            for mode in ("parse", "decode")
        }
    parse, both = per_booking["parse"], per_booking["decode"]
    return [
        "Instructions per booking (callgrind, GC on, PYTHONHASHSEED=0; 40 pages minus 10):",
        f"  parse {parse:,.0f}, parse + decode {both:,.0f}: the decoding {both - parse:,.0f}",
        "",
    ]


def _decode(pages: int) -> str:
    """CPU per booking of parsing a page and of decoding it, with the GC on and off; the same
    in instructions (callgrind) when valgrind is there."""
    import cProfile
    import gc
    import io
    import pstats

    import orjson

    body = asyncio.run(_bookings_page(1_000))
    per_page = len(orjson.loads(body)["data"])

    def parse() -> None:
        _decode_pages("parse", pages, body)

    def parse_and_decode() -> None:
        _decode_pages("decode", pages, body)

    def cpu_us(run: Callable[[], None]) -> float:
        best = float("inf")
        for _ in range(7):
            started = time.process_time()
            run()
            best = min(best, time.process_time() - started)
        return best / (pages * per_page) * 1e6

    lines = _decode_instructions(body, per_page)
    lines += [
        f"One page of {per_page} bookings from the emulator, parsed (orjson) and decoded "
        f"{pages} times in one process; CPU per booking, best of 7 runs.",
        "",
    ]
    for gc_on in (True, False):
        if not gc_on:
            gc.disable()  # a diagnostic only: the library never switches the GC off
        try:
            parsed, decoded = cpu_us(parse), cpu_us(parse_and_decode)
        finally:
            gc.enable()
        lines.append(
            f"GC {'on ' if gc_on else 'off'}: parse {parsed:5.2f} µs, parse + decode "
            f"{decoded:5.2f} µs: the decoding {decoded - parsed:5.2f} µs per booking "
            f"(parse / (parse + decode) = {parsed / decoded:.2f})"
        )
    profiler = cProfile.Profile()
    profiler.enable()
    parse_and_decode()
    profiler.disable()
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(12)
    lines += ["", "cProfile (its own overhead included), by own time:", out.getvalue()]
    return "\n".join(lines) + "\n"


async def _pipeline(calls: int) -> str:
    """CPU per call of the client's own work, the network replaced by a canned answer."""
    from icalendly_async import ApiKey, ICalendly, Plan, RateLimit
    from icalendly_async.ratelimit import Unlimited

    from ._common import canned_network, cpu_per_call

    async with canned_network():
        credential = ApiKey("ical_0123456789abcdef", rate_limit=RateLimit(TRIVIAL_LIMIT, 60))

        def client(**options: Any) -> ICalendly:
            return ICalendly(
                credential,
                plan=Plan.PLATFORM,
                base_url="http://127.0.0.1:9",
                allow_insecure_http=True,
                **options,
            )

        default = client()
        bare = client(observers=[])
        unpaced = client(observers=[], limiter=Unlimited())

        async def untyped() -> object:
            return await unpaced.request("GET", "/v2/me")

        variants: dict[str, Callable[[], Awaitable[object]]] = {
            "client.me.get(), defaults": default.me.get,
            "  without the LoggingObserver (observers=[])": bare.me.get,
            "  and without the LocalLimiter (Unlimited())": unpaced.me.get,
            '  and without models (request("GET", "/v2/me"))': untyped,
        }
        results = {name: await cpu_per_call(call, calls) for name, call in variants.items()}
        for c in (default, bare, unpaced):
            await c.aclose()
    lines = [
        "Our pipeline's CPU per call without any network (the transport's send answers at once",
        "with the trivial server's response): everything the client does around aiohttp.",
        f"Best of 5 runs of {calls:,} calls, one after another.",
        "",
    ]
    previous_value: float | None = None
    for name, value in results.items():
        step = (
            f"  ({previous_value - value:+.1f} µs: the part switched off)" if previous_value else ""
        )
        lines.append(f"{value:7.1f} µs  {name}{step}")
        previous_value = value
    return "\n".join(lines) + "\n"


# What ``instructions`` measures: each in its own process, under callgrind.
_INSTRUCTION_KINDS = {
    "aiohttp (raw): session.get + resp.json()": "raw",
    "aiohttp: session.get + resp.read()": "raw-read",
    "aiohttp with our request settings (session, timeout, request arguments) + resp.read()": (
        "settings"
    ),
    "a plain pipeline of our parts: the settings above, grant, header parse, observe, envelope, "
    "MeOutput decoder": "reference",
    "ours: client.me.get() (defaults)": "ours",
    "ours: observers=[]": "ours-no-observer",
    "ours: limiter=Unlimited()": "ours-unlimited",
    'ours: request("GET", "/v2/me") (no models)': "ours-json",
}
_CONCURRENCY = 64


async def _calls(kind: str, calls: int, base_url: str, api_key: str) -> None:
    """``calls`` calls of ``kind`` at concurrency 64 after one warm-up call per worker (the
    process :func:`_instructions` counts)."""
    import aiohttp

    from icalendly_async import ApiKey, ICalendly, Plan, RateLimit
    from icalendly_async._request import DEFAULT_TIMEOUT
    from icalendly_async.ratelimit import Unlimited

    url = f"{base_url}/v2/me"
    auth = {"Authorization": f"Bearer {api_key}"}
    options: dict[str, Any] = {}
    if kind == "ours-no-observer":
        options["observers"] = []
    elif kind == "ours-unlimited":
        options["limiter"] = Unlimited()
    client = ICalendly(
        ApiKey(api_key, rate_limit=RateLimit(TRIVIAL_LIMIT, 60)),
        plan=Plan.PLATFORM,
        base_url=base_url,
        allow_insecure_http=True,
        **options,
    )
    plain = aiohttp.ClientSession()
    ours = client._pipeline.http.session  # the client's own, as its transport set it up

    async def raw() -> object:
        async with plain.get(url, headers=auth) as resp:
            return await resp.json()

    async def raw_read() -> object:
        async with plain.get(url, headers=auth) as resp:
            return await resp.read()

    async def settings() -> object:
        async with ours.request(
            "GET", url, headers=auth, timeout=DEFAULT_TIMEOUT, allow_redirects=False, ssl=True
        ) as resp:
            return resp.status, resp.headers, await resp.read()

    async def untyped() -> object:
        return await client.request("GET", "/v2/me")

    reference = parts_only(client, base_url, api_key)

    call: Callable[[], Awaitable[object]] = {
        "raw": raw,
        "raw-read": raw_read,
        "settings": settings,
        "reference": reference,
        "ours-json": untyped,
    }.get(kind, client.me.get)
    left = calls

    async def worker() -> None:
        nonlocal left
        while left > 0:
            left -= 1
            await call()

    try:
        await asyncio.gather(*(call() for _ in range(_CONCURRENCY)))  # connections open
        await asyncio.gather(*(worker() for _ in range(_CONCURRENCY)))
    finally:
        await client.aclose()
        await plain.close()


def _callgrind(*arguments: str) -> int:
    """The instructions ``python -m benchmarks.profile *arguments`` executes (callgrind)."""
    command = ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null"]
    command += [sys.executable, "-m", "benchmarks.profile", *arguments]
    env = {**os.environ, "PYTHONHASHSEED": "0"}  # the same dict layouts in every run
    done = subprocess.run(command, capture_output=True, text=True, env=env, check=True)
    match = re.search(r"Collected : (\d+)", done.stderr)
    if match is None:
        raise RuntimeError(f"callgrind reported no count for {arguments}: {done.stderr[-500:]}")
    return int(match.group(1))


def _counted(kind: str, calls: int, server: dict[str, str]) -> int:
    """The instructions one process making ``calls`` calls of ``kind`` executes."""
    return _callgrind("--calls", kind, str(calls), server["base_url"], server["api_key"])


async def _instructions(calls: int) -> str:
    """Instructions per call: a run of ``calls`` + 200 calls minus a run of 200 (start-up,
    imports and warm-up cancel out)."""
    if shutil.which("valgrind") is None:
        raise SystemExit("the instructions profile needs valgrind (apt-get install valgrind)")
    figures: dict[str, float] = {}
    async with serve_in_child("trivial") as server:
        for name, kind in _INSTRUCTION_KINDS.items():
            log(f"instructions: {name}")
            short, long = await asyncio.gather(
                asyncio.to_thread(_counted, kind, 200, server),
                asyncio.to_thread(_counted, kind, 200 + calls, server),
            )
            figures[name] = (long - short) / calls
    raw = figures["aiohttp (raw): session.get + resp.json()"]
    lines = [
        f"Instructions per call at concurrency {_CONCURRENCY} against the trivial server "
        f"(callgrind; {calls:,} calls, minus a 200-call run).",
        "'vs raw' is raw aiohttp's count over this one: the req/s ratio a run limited only by",
        "instructions would show (the overhead benchmark's wall-clock ratio is lower: our",
        "Python runs at fewer instructions per cycle than aiohttp's C parts, and both pay the",
        "same system calls).",
        "",
    ]
    for name, value in figures.items():
        lines.append(f"{value:>10,.0f}  {raw / value:5.2f}x  {name}")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.profile", description=__doc__)
    parser.add_argument(
        "which",
        nargs="*",
        default=["pipeline", "overhead", "export", "decode"],
        help="what to profile",
    )
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--calls", nargs=4, help=argparse.SUPPRESS)  # one counted process
    parser.add_argument("--decode-pages", nargs=3, help=argparse.SUPPRESS)  # one counted process
    args = parser.parse_args()
    if args.decode_pages:
        mode, pages, body_file = args.decode_pages
        _decode_pages(mode, int(pages), Path(body_file).read_bytes())
        return
    if args.calls:
        kind, calls, base_url, api_key = args.calls
        asyncio.run(_calls(kind, int(calls), base_url, api_key))
        return
    for which in args.which:
        log(f"profile: {which}")
        if which == "overhead":
            text = asyncio.run(_overhead(args.seconds))
        elif which == "export":
            text = asyncio.run(_export(10_000))
        elif which == "decode":
            text = _decode(200)
        elif which == "pipeline":
            text = asyncio.run(_pipeline(20_000))
        elif which == "instructions":
            text = asyncio.run(_instructions(2_000))
        else:
            parser.error(f"unknown profile {which!r}")
        print(f"{_write(which, text)}")


if __name__ == "__main__":
    main()
