"""Bulk export: records per second reading every booking from the emulator, limits off.

The emulator (its own process, its own CPU) holds ``N`` seeded bookings and does not enforce
rate limits. Three exports of all of them, page by page (``take``/``skip``, 100 per page, the
API's default), interleaved over several rounds:

* ``icalendly_async``: ``async for booking in client.bookings.list(take=100)``: the
  ``AsyncPaginator``, every booking decoded into its model by the generated decoder;
* ``client.bookings.list(take=100).items(decode=False)``: the same paginator yielding the JSON
  objects the server sent (what a hand-written loop yields, and what an export or a sync that
  stores JSON needs);
* the same pages through ``client.request_response("GET", "/v2/bookings", ...)`` (envelope
  decoded, no models, one page at a time), to separate the paginator from the rest;
* a hand-written aiohttp loop: ``session.get`` + ``resp.json()`` per page until
  ``hasNextPage`` is false.

Our client runs with its default ``LocalLimiter`` and a credential limit that never binds.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp

from ._common import X, log, ratio
from ._results import Result, check
from ._servers import client_cpus, pin_to, serve_in_child

NAME = "export"
TITLE = "Bulk export"

TARGET_RATIO = 0.9
#: Typed export (models) against the same paginator yielding JSON (issue #17, item 5).
DECODE_TARGET = 0.80
PAGE = 100
API_VERSION = "2024-08-13"
TYPED = "icalendly_async: client.bookings.list() (models)"
JSON_ITEMS = "icalendly_async: client.bookings.list().items(decode=False) (JSON)"
UNTYPED = "icalendly_async: request_response page loop (JSON only)"
RAW = "aiohttp page loop (resp.json())"


async def _run(quick: bool) -> Result:
    from icalendly_async import ApiKey, ICalendly, Plan, RateLimit

    bookings, rounds = (10_000, 1) if quick else (50_000, 3)
    log(f"export: seeding {bookings:,} bookings")
    async with serve_in_child("emulator", "--bookings", str(bookings), "--no-limits") as server:
        previous = pin_to(client_cpus())
        base_url, key = server["base_url"], server["api_key"]
        headers = {"Authorization": f"Bearer {key}", "cal-api-version": API_VERSION}
        session = aiohttp.ClientSession()
        client = ICalendly(
            ApiKey(key, rate_limit=RateLimit(10_000_000, 60)),
            plan=Plan.PLATFORM,
            base_url=base_url,
            allow_insecure_http=True,
        )
        how = TYPED
        group = getattr(client, "bookings", None)

        async def typed() -> int:
            count = 0
            async for _booking in group.list(take=PAGE):  # type: ignore[union-attr]
                count += 1
            return count

        async def json_items() -> int:
            count = 0
            async for _booking in group.list(take=PAGE).items(decode=False):  # type: ignore[union-attr]
                count += 1
            return count

        async def untyped() -> int:
            count, skip = 0, 0
            while True:
                response = await client.request_response(
                    "GET",
                    "/v2/bookings",
                    params={"take": PAGE, "skip": skip},
                    api_version=API_VERSION,
                )
                items = response.data or []
                count += len(items)
                skip += len(items)
                if not items or not (response.pagination or {}).get("hasNextPage"):
                    return count

        async def raw() -> int:
            count, skip = 0, 0
            url = f"{base_url}/v2/bookings"
            while True:
                params = {"take": str(PAGE), "skip": str(skip)}
                async with session.get(url, params=params, headers=headers) as resp:
                    resp.raise_for_status()
                    payload = await resp.json()
                items = payload["data"]
                count += len(items)
                skip += len(items)
                if not items or not (payload.get("pagination") or {}).get("hasNextPage"):
                    return count

        exports: dict[str, Callable[[], Awaitable[int]]] = {RAW: raw, UNTYPED: untyped}
        if group is not None and hasattr(group, "list"):
            exports = {TYPED: typed, JSON_ITEMS: json_items, **exports}
        else:
            how = UNTYPED
        rates: dict[str, list[float]] = {name: [] for name in exports}
        counts: dict[str, int] = {}
        try:
            await raw()  # the server encodes and caches every booking once
            for index in range(rounds):
                log(f"export: round {index + 1}/{rounds}")
                for name, export in exports.items():
                    started = time.perf_counter()
                    counts[name] = await export()
                    rates[name].append(counts[name] / (time.perf_counter() - started))
        finally:
            await session.close()
            await client.aclose()
            if previous is not None:
                pin_to(previous)
    ours_name = TYPED if TYPED in exports else UNTYPED
    ours = ratio(rates[ours_name], rates[RAW])
    untyped_ratio = ratio(rates[UNTYPED], rates[RAW])
    json_name = JSON_ITEMS if JSON_ITEMS in exports else UNTYPED
    json_ratio = ratio(rates[json_name], rates[RAW])
    decode_ratio = ratio(rates[ours_name], rates[json_name])
    rows = [
        [
            name,
            f"{statistics.median(rates[name]):,.0f}",
            f"{ratio(rates[name], rates[RAW]):.2f}{X}",
            f"{counts[name]:,}",
            f"{counts[name] / statistics.median(rates[name]):.2f}",
        ]
        for name in exports
    ]
    data: dict[str, Any] = {
        "bookings": bookings,
        "page_size": PAGE,
        "records_per_second": rates,
        "counts": counts,
        "ratio": ours,
        "json_ratio": json_ratio,
        "decode_ratio": decode_ratio,
    }
    return {
        "title": TITLE,
        "checks": [
            check(
                f"ours / hand-written aiohttp loop, records/s ({bookings:,} bookings)",
                ours,
                f"{ours:.2f}{X} ({statistics.median(rates[ours_name]):,.0f} vs "
                f"{statistics.median(rates[RAW]):,.0f} records/s)",
                f"≥ {TARGET_RATIO}{X}",
                ours >= TARGET_RATIO and counts[ours_name] == bookings,
            ),
            check(
                "ours yielding JSON, like the loop (paginator, items(decode=False)) / aiohttp loop",
                json_ratio,
                f"{json_ratio:.2f}{X} ({statistics.median(rates[json_name]):,.0f} records/s)",
                f"≥ {TARGET_RATIO}{X}",
                json_ratio >= TARGET_RATIO and counts[json_name] == bookings,
            ),
            check(
                "typed export (models) / the same paginator yielding JSON (decode=False)",
                decode_ratio,
                f"{decode_ratio:.2f}{X}",
                f"≥ {DECODE_TARGET}{X}",
                decode_ratio >= DECODE_TARGET and counts[ours_name] == bookings,
            ),
            check(
                "ours without model decoding (request_response loop) / aiohttp loop",
                untyped_ratio,
                f"{untyped_ratio:.2f}{X}",
                "",
                None,
            ),
        ],
        "tables": [
            {
                "title": f"Exporting {bookings:,} bookings, {PAGE} per page",
                "columns": ["export", "records/s", "vs aiohttp loop", "records", "seconds"],
                "rows": rows,
            }
        ],
        "notes": [
            f"Ours: {how}. {rounds} round(s), interleaved; records/s is the median round, "
            "ratios the median of per-round ratios.",
            "The hand-written loop and the request_response loop read one page at a time; our "
            "paginator asks for the next page as soon as one arrives (prefetch), so the next "
            "page travels while this one is decoded. The server is warmed (every booking "
            "encoded once) before timing.",
            "With models the export is bound by our process's CPU: the generated decoder of a "
            "booking (25 fields, four date-times, nested attendees, hosts and event type) "
            "costs about twice what orjson spends parsing it. "
            "benchmarks/results/profiles/export.txt shows where the time goes.",
        ],
        "plots": ["export.png"],
        "data": data,
    }


async def run(quick: bool) -> Result:
    return await _run(quick)
