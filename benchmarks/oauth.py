"""OAuth: 1,000 calls as one user whose token expires mid-run, from 4 processes sharing Redis.

This process starts a ``redis-server`` on a free port and the emulator, logs one user in
through the partner-app flow (the pair goes to a ``RedisTokenStore``), and starts four worker
processes (``python -m benchmarks.oauth worker CONFIG``). Each worker has its own ``OAuthApp``
on the shared store and, on the common start signal, launches its 250 calls evenly over
``SPREAD`` seconds, building the user's credential per call (``app.credential("user-1")``), as a
web app does per request. Three runs:

- **baseline**: the token stays valid (the cost of the calls alone);
- **expires (ahead)**: the token's refresh point (``expires_at - refresh_margin``) falls in the
  middle of the run: the client refreshes before the server would refuse it;
- **expires (498)**: the server expires the token in the middle of the run (the client learns
  it from 498 answers and refreshes then).

The figures: the token refreshes the emulator saw (the target is exactly one per run, however
many processes and calls want one), the calls that failed (target: none), and the latency the
refresh adds (p50/p99/max against the baseline run).
"""

from __future__ import annotations

import asyncio
import json
import shutil
import statistics
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from ._common import log, percentile
from ._results import Result, check
from .fleet import _RedisServer

NAME = "oauth"
TITLE = "OAuth: one user's refresh across a fleet"

PROCESSES = 4
CALLS = 1000
SPREAD = 2.0  # seconds over which each worker launches its calls
MARGIN = 2.0  # the workers' refresh_margin
_ROOT = Path(__file__).absolute().parent.parent
_USER = "user-1"


# -- the worker process ---------------------------------------------------------------------------


async def _worker(config: dict[str, Any]) -> dict[str, Any]:
    from icalendly_async import ApiKey, ICalendly, OAuthApp, RateLimit
    from icalendly_async.ratelimit.redis import RedisTokenStore

    roomy = RateLimit(100_000, 60)
    store = RedisTokenStore(config["redis_url"], prefix=config["prefix"])
    app = OAuthApp(
        config["client_id"],
        client_secret=config["client_secret"],
        redirect_uri=config["redirect_uri"],
        store=store,
        base_url=config["base_url"],
        authorize_url=config["authorize_url"],
        allow_insecure_http=True,
        refresh_margin=config["margin"],
        rate_limit=roomy,
    )
    client = ICalendly(base_url=config["base_url"], allow_insecure_http=True)
    # Warm up: imports, the pipeline, a connection to the API and to Redis.
    await client.with_credential(ApiKey(config["api_key"], rate_limit=roomy)).me.get()
    await store.get("warm-up")
    print("ready", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    latencies: list[float] = []
    errors: list[str] = []

    async def call() -> None:
        begun = time.perf_counter()
        try:
            await client.with_credential(app.credential(_USER)).me.get()
        except Exception as exc:
            errors.append(repr(exc))
        else:
            latencies.append(time.perf_counter() - begun)

    started = time.time()
    gap = config["spread"] / config["calls"]
    tasks = []
    for _ in range(config["calls"]):
        tasks.append(asyncio.create_task(call()))
        if gap:
            await asyncio.sleep(gap)
    await asyncio.gather(*tasks)
    ended = time.time()
    try:
        return {
            "started": started,
            "ended": ended,
            "ok": len(latencies),
            "errors": errors[:5],
            "failed": len(errors),
            "latencies": latencies,
        }
    finally:
        await client.aclose()
        await app.aclose()
        await store.aclose()


# -- the conductor ---------------------------------------------------------------------------------


async def _log_in(app: Any) -> None:
    import aiohttp

    request = app.authorization_url()
    async with (
        aiohttp.ClientSession() as browser,
        browser.get(request.url, allow_redirects=False) as answer,
    ):
        callback = dict(parse_qsl(urlsplit(answer.headers["Location"]).query))
    await app.exchange_code(
        callback["code"],
        state=callback["state"],
        expected_state=request.state,
        user_key=_USER,
    )


async def _scenario(
    name: str,
    redis_url: str,
    *,
    spread: float,
    ttl: float,
    margin: float = MARGIN,
    head_start: float = 0.0,
    expire_at: float | None = None,
) -> dict[str, Any]:
    """One run: the user logs in ``head_start`` seconds before the start signal; the server
    expires the token ``expire_at`` seconds into the run (``None``: it does not)."""
    from icalendly_async import OAuthApp, RateLimit
    from icalendly_async.ratelimit.redis import RedisTokenStore
    from icalendly_async.testing import Emulator

    prefix = f"bench-oauth:{name}:{time.monotonic_ns()}"
    async with Emulator(rate_limit=RateLimit(100_000, 60), oauth_token_ttl=ttl) as emu:
        partner = emu.oauth_app
        config = {
            "redis_url": redis_url,
            "prefix": prefix,
            "client_id": partner.client_id,
            "client_secret": partner.client_secret,
            "redirect_uri": partner.redirect_uris[0],
            "base_url": emu.base_url,
            "authorize_url": emu.authorize_url,
            "api_key": emu.api_key,
            "margin": margin,
            "spread": spread,
            "calls": CALLS // PROCESSES,
        }
        workers = [
            await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "benchmarks.oauth",
                "worker",
                json.dumps(config),
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                cwd=_ROOT,
            )
            for _ in range(PROCESSES)
        ]
        for worker in workers:
            assert worker.stdout is not None
            line = await worker.stdout.readline()
            if line.strip() != b"ready":
                raise RuntimeError(f"an oauth worker did not start: {line!r}")
        store = RedisTokenStore(redis_url, prefix=prefix)
        async with OAuthApp(
            partner.client_id,
            client_secret=partner.client_secret,
            redirect_uri=partner.redirect_uris[0],
            store=store,
            base_url=emu.base_url,
            authorize_url=emu.authorize_url,
            allow_insecure_http=True,
        ) as app:
            await _log_in(app)  # the token's life starts now
        await store.aclose()
        await asyncio.sleep(head_start)
        emu.reset_stats()
        if expire_at == 0.0:
            emu.expire_access_tokens()  # before any call: every first attempt gets a 498
        for worker in workers:
            assert worker.stdin is not None
            worker.stdin.write(b"go\n")
            await worker.stdin.drain()
        if expire_at:
            await asyncio.sleep(expire_at)
            emu.expire_access_tokens()
        reports = []
        for worker in workers:
            assert worker.stdout is not None
            reports.append(json.loads(await worker.stdout.readline()))
            await worker.wait()
        stats = emu.stats
        latencies = sorted(x for r in reports for x in r["latencies"])
        return {
            "name": name,
            "spread": spread,
            "refreshes": stats.refreshes,
            "refresh_failures": stats.refresh_failures,
            "expired_answers": stats.by_status[498],
            "ok": sum(r["ok"] for r in reports),
            "failed": sum(r["failed"] for r in reports),
            "errors": [e for r in reports for e in r["errors"]][:5],
            "p50_ms": percentile(latencies, 50) * 1000,
            "p99_ms": percentile(latencies, 99) * 1000,
            "max_ms": latencies[-1] * 1000 if latencies else float("nan"),
            "mean_ms": statistics.fmean(latencies) * 1000 if latencies else float("nan"),
        }


async def _run(quick: bool) -> Result:
    binary = shutil.which("redis-server")
    if binary is None:
        reason = "redis-server is not installed (apt-get install -y redis-server)"
        log(f"oauth: skipped: {reason}")
        return {
            "title": TITLE,
            "checks": [check("oauth benchmark", None, f"not run: {reason}", "", None)],
            "notes": [reason],
        }
    server = _RedisServer(binary)
    # Ahead of expiry: the refresh is due LIFE seconds after the login, in the middle of the
    # run; the new token's own refresh falls LIFE seconds later, after the run has ended.
    life = SPREAD + 1.0
    scenarios: list[tuple[str, dict[str, Any]]] = [
        ("spread, baseline", {"spread": SPREAD, "ttl": 1800}),
        (
            "spread, due mid-run",
            {"spread": SPREAD, "ttl": MARGIN + life, "head_start": life - SPREAD / 2},
        ),
        ("spread, 498 mid-run", {"spread": SPREAD, "ttl": 1800, "expire_at": SPREAD / 2}),
        ("burst, baseline", {"spread": 0.0, "ttl": 1800}),
        # 9 s of life left at the start, a 10-s margin: due at once; the new token's refresh
        # falls 5 s later, after the burst.
        ("burst, due at once", {"spread": 0.0, "ttl": 15, "margin": 10, "head_start": 6}),
        ("burst, 498 at once", {"spread": 0.0, "ttl": 1800, "expire_at": 0.0}),
    ]
    if quick:
        scenarios = [scenarios[0], scenarios[2], scenarios[5]]
    runs: list[dict[str, Any]] = []
    try:
        await server.wait_ready()
        for name, options in scenarios:
            log(f"oauth: {name}")
            runs.append(await _scenario(name, server.url, **options))
    finally:
        server.stop()
    baselines = {r["spread"]: r for r in runs if r["name"].endswith("baseline")}
    expiring = [r for r in runs if not r["name"].endswith("baseline")]
    for r in runs:
        r["added_p99_ms"] = r["p99_ms"] - baselines[r["spread"]]["p99_ms"]
        r["added_max_ms"] = r["max_ms"] - baselines[r["spread"]]["max_ms"]
    refreshes = [r["refreshes"] for r in expiring]
    failed = sum(r["failed"] for r in runs)
    worst = max(r["added_p99_ms"] for r in expiring)
    rows = [
        [
            r["name"],
            str(r["refreshes"]),
            str(r["refresh_failures"]),
            str(r["expired_answers"]),
            f"{r['ok']}/{CALLS}",
            f"{r['p50_ms']:.1f}",
            f"{r['p99_ms']:.1f}",
            f"{r['max_ms']:.1f}",
            "—" if r in baselines.values() else f"{r['added_p99_ms']:+.1f}",
        ]
        for r in runs
    ]
    return {
        "title": TITLE,
        "checks": [
            check(
                "token refreshes per run, the token expiring during the run",
                float(max(refreshes)),
                ", ".join(str(n) for n in refreshes),
                "exactly 1",
                all(n == 1 for n in refreshes),
            ),
            check(
                f"failed calls of {CALLS * len(runs)}",
                float(failed),
                str(failed),
                "0",
                failed == 0,
            ),
            check(
                "added p99 latency, worst run vs its baseline (ms)",
                worst,
                f"{worst:+.1f}",
                "",
                None,
            ),
        ],
        "tables": [
            {
                "title": f"{CALLS} calls as one user from {PROCESSES} processes sharing a "
                f"RedisTokenStore, a credential built per call; 'spread': launched over "
                f"{SPREAD:g} s, 'burst': all at once",
                "columns": [
                    "run",
                    "refreshes",
                    "refused refreshes",
                    "498 answers",
                    "succeeded",
                    "p50 (ms)",
                    "p99 (ms)",
                    "max (ms)",
                    "added p99 (ms)",
                ],
                "rows": rows,
            }
        ],
        "notes": [
            "Due mid-run / at once: the token's refresh point (expires_at minus the refresh "
            "margin) passes during the run, and the client refreshes before the server would "
            "refuse it. 498: the server expires the token during the run (at once: just before the "
            "start), and the client learns it from the refused calls, which are replayed.",
            "Latency is per call, from the call to its result, in the worker that made it. "
            "Calls made while the refresh runs wait for it (the token request, the Redis lock, "
            "the store write); the other calls are untouched.",
            "Each worker warms up first (one call with an API key, one Redis read); the user "
            "logs in after the workers are ready, so the token's life is known at the start.",
        ],
        "data": {"runs": runs, "processes": PROCESSES, "calls": CALLS, "spread": SPREAD},
    }


async def run(quick: bool) -> Result:
    return await _run(quick)


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "worker":
        print(json.dumps(asyncio.run(_worker(json.loads(sys.argv[2])))), flush=True)
    else:
        sys.exit("usage: python -m benchmarks.oauth worker CONFIG_JSON")
