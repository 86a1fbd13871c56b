"""A bulk sync: walk every booking page by page at BULK priority, paced to the rate limit.

    ICALENDLY_BASE_URL=http://127.0.0.1:8080 ICALENDLY_API_KEY=ical_… python examples/bulk_sync.py

Without ICALENDLY_API_KEY it starts the bundled emulator itself.
"""

from __future__ import annotations

import asyncio
import os
import time

from icalendly_async import ApiKey, ICalendly, Priority, RateLimit
from icalendly_async.testing import Emulator


async def sync(client: ICalendly) -> dict[str, int]:
    """Count bookings per status: stands in for writing them to your database."""
    counts: dict[str, int] = {}
    bulk = client.with_options(priority=Priority.BULK)
    async for booking in bulk.bookings.list(take=100):
        status = str(getattr(booking, "status", "unknown"))
        counts[status] = counts.get(status, 0) + 1
    return counts


async def main() -> None:
    if "ICALENDLY_API_KEY" in os.environ:
        base_url = os.environ.get("ICALENDLY_BASE_URL", "https://api.icalendly.com")
        async with ICalendly(
            ApiKey(os.environ["ICALENDLY_API_KEY"]),
            base_url=base_url,
            allow_insecure_http=base_url.startswith("http://127.0.0.1"),
        ) as client:
            print(await sync(client))
        return
    limit = RateLimit(20, 1)
    async with (
        Emulator(rate_limit=limit, bookings=3000) as emu,
        ICalendly(
            ApiKey(emu.api_key, rate_limit=limit), base_url=emu.base_url, allow_insecure_http=True
        ) as client,
    ):
        started = time.perf_counter()
        counts = await sync(client)
        elapsed = time.perf_counter() - started
    print(f"synced {sum(counts.values())} bookings in {elapsed:.1f} s: {counts}")
    print(f"429s received: {emu.stats.rate_limited}")


if __name__ == "__main__":
    asyncio.run(main())
