"""Quick start: 90 concurrent calls on one credential limited to 30 per 3 s, against the emulator.

The fastest safe schedule sends 30 at once and 30 more as each window ends: about 6 s. Run it:

    python examples/quickstart.py
"""

from __future__ import annotations

import asyncio
import time

from icalendly_async import ApiKey, ICalendly, Plan, RateLimit
from icalendly_async.testing import Emulator


async def main() -> None:
    limit = RateLimit(30, 3)
    async with Emulator(rate_limit=limit, bookings=200) as emu:
        key = ApiKey(emu.api_key, rate_limit=limit)
        async with ICalendly(
            key, plan=Plan.PLATFORM, base_url=emu.base_url, allow_insecure_http=True
        ) as client:
            me = await client.request("GET", "/v2/me")
            print(f"signed in as {me['email']}")
            started = time.perf_counter()
            pages = await asyncio.gather(
                *(
                    client.request("GET", "/v2/bookings", params={"take": 2, "skip": 2 * i})
                    for i in range(89)
                )
            )
            elapsed = time.perf_counter() - started
        print(
            f"{1 + len(pages)} calls at {limit}: {elapsed:.1f} s "
            f"(ideal about 6 s), 429s received: {emu.stats.rate_limited}"
        )


if __name__ == "__main__":
    asyncio.run(main())
