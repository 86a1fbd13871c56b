"""Priorities: how long interactive calls wait behind a saturating bulk load on one credential.

A bulk job queues ``B`` calls at once (several windows' worth) on a credential limited to ``L``
per ``W`` (the emulator enforcing it); while it drains, interactive calls arrive at random
(Poisson, the same arrival times in both runs) through another view of the same client. Two
runs: **FIFO**, every call ``NORMAL``, so an interactive call waits behind everything queued
before it; and **priorities**, the interactive view made with
``client.with_options(priority=Priority.INTERACTIVE)``, so it overtakes the queued bulk calls
and waits at most for the next window. The figure is each interactive call's latency (its
wait for the limiter plus the round trip); p50 and p99 over all of them.
"""

from __future__ import annotations

import asyncio
import math
import random
from typing import Any

from ._common import log, me_getter, percentile
from ._results import Result, check

NAME = "priorities"
TITLE = "Priorities"

FIFO = "FIFO (all NORMAL)"
PRIORITIES = "priorities (INTERACTIVE view), default aging"
NO_AGING = "priorities, LocalLimiter(aging=3600)"


async def _mode(
    interactive_first: bool,
    aging: float | None,
    limit: int,
    window: float,
    bulk: int,
    arrivals: list[float],
) -> dict[str, Any]:
    from icalendly_async import ApiKey, ICalendly, Plan, Priority, RateLimit
    from icalendly_async.ratelimit import LocalLimiter
    from icalendly_async.testing import Emulator

    rate_limit = RateLimit(limit, window)
    loop = asyncio.get_running_loop()
    async with (
        Emulator(rate_limit=rate_limit, block_seconds=window) as emu,
        ICalendly(
            ApiKey(emu.api_key, rate_limit=rate_limit),
            plan=Plan.PLATFORM,
            base_url=emu.base_url,
            allow_insecure_http=True,
            limiter=LocalLimiter(aging=aging),
        ) as client,
    ):
        interactive = (
            client.with_options(priority=Priority.INTERACTIVE) if interactive_first else client
        )
        bulk_get, _ = me_getter(client)
        interactive_get, _ = me_getter(interactive)
        started = loop.time()
        bulk_done: list[float] = []
        latencies: list[float] = []
        starts: list[float] = []

        async def one_bulk() -> None:
            await bulk_get()
            bulk_done.append(loop.time() - started)

        async def one_interactive(at: float) -> None:
            await asyncio.sleep(max(0.0, started + at - loop.time()))
            t0 = loop.time()
            await interactive_get()
            starts.append(t0 - started)
            latencies.append(loop.time() - t0)

        await asyncio.gather(
            *(one_bulk() for _ in range(bulk)), *(one_interactive(at) for at in arrivals)
        )
        order = sorted(range(len(starts)), key=starts.__getitem__)
        return {
            "interactive_start": [starts[i] for i in order],
            "interactive_latency": [latencies[i] for i in order],
            "p50": percentile(latencies, 50),
            "p99": percentile(latencies, 99),
            "max": max(latencies),
            "bulk_seconds": max(bulk_done),
            "all_seconds": max(
                max(bulk_done), *(s + w for s, w in zip(starts, latencies, strict=True))
            ),
            "rate_limited": emu.stats.rate_limited,
        }


async def _run(quick: bool) -> Result:
    # Windows of whole seconds: the service's Reset header counts whole seconds.
    limit, window, bulk, per_second = (20, 1.0, 60, 8.0) if quick else (40, 1.0, 240, 12.0)
    rng = random.Random(7)
    # Interactive calls arrive while the bulk queue is still deep: from half a window after the
    # first burst until about a window and a half before the bulk alone would be done.
    first, last = 0.5 * window, (math.ceil(bulk / limit) - 1.5) * window
    arrivals, t = [], first
    while True:
        t += rng.expovariate(per_second)
        if t > last:
            break
        arrivals.append(t)
    modes: dict[str, dict[str, Any]] = {}
    no_aging = 3600.0
    for name, interactive_first, aging in (
        (FIFO, False, None),
        (PRIORITIES, True, None),
        (NO_AGING, True, no_aging),
    ):
        log(f"priorities: {name}")
        modes[name] = await _mode(interactive_first, aging, limit, window, bulk, arrivals)
    fifo, prio, free = modes[FIFO], modes[PRIORITIES], modes[NO_AGING]
    rows = [
        [
            name,
            f"{m['p50']:.3f}",
            f"{m['p99']:.3f}",
            f"{m['max']:.3f}",
            f"{m['bulk_seconds']:.2f}",
            f"{m['all_seconds']:.2f}",
            str(m["rate_limited"]),
        ]
        for name, m in modes.items()
    ]
    limited = sum(m["rate_limited"] for m in modes.values())
    return {
        "title": TITLE,
        "checks": [
            check(
                "interactive p50 / p99 under bulk load, priorities (default aging)",
                prio["p99"],
                f"{prio['p50']:.2f} s / {prio['p99']:.2f} s (FIFO: {fifo['p50']:.2f} s / "
                f"{fifo['p99']:.2f} s)",
                f"p99 ≤ one window ({window:g} s) + transit",
                prio["p99"] <= window * 1.1,
            ),
            check(
                "interactive p50 / p99, priorities without aging (aging=3600)",
                free["p99"],
                f"{free['p50']:.2f} s / {free['p99']:.2f} s",
                f"p99 ≤ one window ({window:g} s) + transit",
                free["p99"] <= window * 1.1,
            ),
            check(
                "429s in all runs",
                float(limited),
                str(limited),
                "0",
                limited == 0,
            ),
        ],
        "tables": [
            {
                "title": f"{bulk} bulk calls queued at once, limit {limit} per {window:g} s, "
                f"{len(arrivals)} interactive calls (Poisson, {per_second:g}/s)",
                "columns": [
                    "queueing",
                    "interactive p50 (s)",
                    "p99 (s)",
                    "max (s)",
                    "bulk job done after (s)",
                    "everything done after (s)",
                    "429s",
                ],
                "rows": rows,
            }
        ],
        "notes": [
            "Latency = from the interactive call's start to its decoded result (limiter wait "
            "+ round trip). With priorities an interactive call waits only for the next slot: "
            "at most the rest of the current window when the bulk job has spent it.",
            "Everything (bulk + interactive) is done at about the same time in every run: "
            "priorities reorder the queue, they neither add nor waste capacity.",
            "Default aging (two windows): every call that has waited `aging` seconds counts "
            "one class higher, and ties go to the longest waiting. A bulk queue deeper than "
            "two windows therefore ages into the INTERACTIVE class ahead of every new "
            "interactive call, and the queue is FIFO again; `aging=3600` shows the queue "
            "without that rule. See the report for the proposed change (age a class only "
            "while it is not being served).",
        ],
        "plots": ["priorities.png"],
        "data": {
            "limit": limit,
            "window": window,
            "bulk_calls": bulk,
            "interactive_calls": len(arrivals),
            "modes": modes,
        },
    }


async def run(quick: bool) -> Result:
    return await _run(quick)
