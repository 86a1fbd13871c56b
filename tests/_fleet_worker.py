"""One worker process of the fleet tests (``python -m tests._fleet_worker CONFIG_JSON``).

It builds a client the way a deployed worker would (a RedisLimiter, and for the refresh test a
RedisTokenStore), says it is ready, waits for the common start signal, makes its share of calls,
and prints one JSON line: when it started and ended (wall clock, comparable across processes on
one host), when each attempt started (``time.monotonic()``, one clock for every process of a
Linux host), how many calls succeeded, the errors, its Redis script calls, and the final pair.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from typing import Any

import redis.asyncio as redis_asyncio

from icalendly_async import ApiKey, ICalendly, Priority, RateLimit, RetryPolicy, TokenPair
from icalendly_async.auth import Credential
from icalendly_async.ratelimit.redis import RedisLimiter, RedisTokenStore

from ._limits import Starts


async def main(config: dict[str, Any]) -> dict[str, Any]:
    url = config["redis_url"]
    limit = RateLimit(config["limit"], config["window"])
    limiter = RedisLimiter(url, prefix=config["prefix"], bulk_share=config.get("bulk_share"))
    store: RedisTokenStore | None = None
    credential: Credential
    if config["mode"] == "refresh":
        store = RedisTokenStore(url, prefix=config["prefix"])
        credential = await store.access_token(
            "managed-user",
            initial=TokenPair(config["access_token"], config["refresh_token"]),
            client_id=config["client_id"],
            client_secret=config["client_secret"],
            rate_limit=limit,
        )
    else:
        credential = ApiKey(config["api_key"], rate_limit=limit)
    signals = redis_asyncio.Redis.from_url(url)
    starts = Starts()
    client = ICalendly(
        credential,
        base_url=config["base_url"],
        allow_insecure_http=True,
        limiter=limiter,
        retry=RetryPolicy(max_retries=2),
        observers=[starts],
    ).with_options(priority=Priority[config.get("priority", "NORMAL")])
    latencies: list[float] = []

    async def timed() -> Any:
        begun = time.monotonic()
        try:
            return await client.request("GET", "/v2/me")
        finally:
            latencies.append(time.monotonic() - begun)

    async def spaced(interval: float) -> list[Any]:
        # Calls issued one every `interval` seconds (a web app's steady trickle), each timed.
        tasks = []
        for _ in range(config["calls"]):
            tasks.append(asyncio.create_task(timed()))
            await asyncio.sleep(interval)
        return await asyncio.gather(*tasks, return_exceptions=True)

    try:
        await signals.rpush(config["ready_key"], "1")
        if not await signals.blpop([config["go_key"]], timeout=60):
            raise RuntimeError("no start signal")
        started = time.time()
        await asyncio.sleep(config.get("delay", 0.0))
        if config.get("interval"):
            results = await spaced(config["interval"])
        else:
            results = await asyncio.gather(
                *(timed() for _ in range(config["calls"])), return_exceptions=True
            )
        ended = time.time()
        pair = await store.get("managed-user") if store is not None else None
        return {
            "started": started,
            "ended": ended,
            "ok": sum(isinstance(r, dict) for r in results),
            "errors": [repr(r) for r in results if not isinstance(r, dict)],
            "grants": limiter.stats.grants,
            "grant_calls": limiter.stats.grant_calls,
            "feedback_calls": limiter.stats.feedback_calls,
            "pair": [pair.access_token, pair.refresh_token] if pair is not None else None,
            "latencies": latencies,
            "starts": starts.times,
        }
    finally:
        await client.aclose()
        await limiter.aclose()
        await signals.aclose()
        if store is not None:
            await store.aclose()


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main(json.loads(sys.argv[1])))))
