"""``icalendly sync`` as a user runs it: the real command in a subprocess, against an emulator
in this process, into a DuckDB file; its summary, its failures and a fleet's Redis."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from icalendly_async import ApiKey, ICalendly, RateLimit
from icalendly_async.testing import Emulator, Fault

from ._sync_check import assert_table_matches, duckdb_fetch
from .redis_server import RedisServer, redis_server_fixture  # noqa: F401

BOOKINGS = 300


async def _start(
    emu: Emulator, tmp_path: Path, *args: str, **env: str
) -> asyncio.subprocess.Process:
    """``icalendly sync --to <tmp>/sync.duckdb ARGS``, started."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("ICALENDLY_")}
    environment.update(
        ICALENDLY_API_KEY=emu.api_key,
        ICALENDLY_BASE_URL=emu.base_url,
        DLT_DATA_DIR=str(tmp_path / "dlt"),
        **env,
    )
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "icalendly_async.cli",
        "sync",
        "--to",
        f"duckdb:///{tmp_path / 'sync.duckdb'}",
        "--plan",
        "platform",
        *args,
        env=environment,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def _sync(emu: Emulator, tmp_path: Path, *args: str, **env: str) -> tuple[int, str, str]:
    """``icalendly sync --to <tmp>/sync.duckdb ARGS`` to its end: exit code, standard output
    and error."""
    process = await _start(emu, tmp_path, *args, **env)
    out, err = await asyncio.wait_for(process.communicate(), 120)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


def _row(summary: str, name: str) -> dict[str, str]:
    """The summary table's row for ``name``, by column."""
    lines = summary.splitlines()
    header = next(line.split() for line in lines if line.startswith("resource "))
    cells = next(line.split() for line in lines if line.startswith(name + " "))
    return dict(zip(header, [cells[0], *cells[1:6], " ".join(cells[6:])], strict=True))


def _check(emu: Emulator, tmp_path: Path) -> int:
    return assert_table_matches(
        duckdb_fetch(tmp_path / "sync.duckdb"),
        "bookings",
        [row.data for row in emu.data.bookings if row.host_id == 1],
        key="uid",
        children=("attendees", "hosts", "guests"),
    )


@pytest.mark.slow  # starts processes (seconds each): in the full run, not the fast set
async def test_a_sync_prints_its_summary_and_a_full_refresh_reads_everything_again(
    tmp_path: Path,
) -> None:
    async with Emulator(bookings=BOOKINGS, enforce_rate_limits=False) as emu:
        code, out, err = await _sync(emu, tmp_path, "--resources", "bookings,event_types")
        assert code == 0, err
        bookings = _row(out, "bookings")
        assert bookings["rows"] == bookings["new"] == f"{BOOKINGS}" and bookings["updated"] == "0"
        assert bookings["429s"] == "0" and bookings["time"].endswith(" s")
        assert int(_row(out, "event_types")["rows"]) == len(emu.data.event_types.of(1))
        assert "429s received: 0" in out and "Traceback" not in err
        assert _check(emu, tmp_path) == BOOKINGS

        emu.apply_churn(10)
        code, out, err = await _sync(emu, tmp_path, "--resources", "bookings", "--full-refresh")
        assert code == 0, err
        total = _check(emu, tmp_path)
        assert _row(out, "bookings")["rows"] == _row(out, "bookings")["new"] == f"{total}"
        assert "event_types" not in out.split("synced")[0]  # only what was asked for


@pytest.mark.slow  # starts processes (seconds each): in the full run, not the fast set
async def test_chunk_seconds_loads_as_it_reads_and_a_bad_value_is_refused(tmp_path: Path) -> None:
    async with Emulator(bookings=BOOKINGS, enforce_rate_limits=False) as emu:
        code, _, err = await _sync(emu, tmp_path, "--chunk-seconds", "0")
        assert code == 2 and "--chunk-seconds: must be a number of seconds > 0, got '0'" in err

        # As small as it gets: a dlt run, and a load, per page of 50.
        args = ("--resources", "bookings", "--page-size", "50", "--chunk-seconds", "1e-9")
        code, out, err = await _sync(emu, tmp_path, *args)
        assert code == 0, err
        assert _row(out, "bookings")["rows"] == f"{BOOKINGS}"
        assert _check(emu, tmp_path) == BOOKINGS
        loads = duckdb_fetch(tmp_path / "sync.duckdb")("SELECT * FROM icalendly_dataset._dlt_loads")
        assert len(loads) >= BOOKINGS // 50


@pytest.mark.slow  # starts processes (seconds each): in the full run, not the fast set
async def test_a_failed_sync_exits_1_with_one_line_and_the_next_run_completes(
    tmp_path: Path,
) -> None:
    async with Emulator(bookings=BOOKINGS, enforce_rate_limits=False) as emu:
        emu.inject(Fault("status", status=404, times=1, path="/v2/bookings"))
        code, _, err = await _sync(emu, tmp_path, "--resources", "bookings", "--page-size", "50")
        assert code == 1
        assert err.startswith("icalendly: error: sync failed while reading the API"), err
        assert err.count("\n") == 1 and "Traceback" not in err and emu.api_key not in err
        code, _, err = await _sync(emu, tmp_path, "--resources", "bookings", "--page-size", "50")
        assert code == 0, err
        assert _check(emu, tmp_path) == BOOKINGS


@pytest.mark.redis
@pytest.mark.slow  # starts processes (seconds each): in the full run, not the fast set
async def test_a_sync_paces_through_a_fleets_redis(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    limit = RateLimit(10, 0.5)
    async with Emulator(bookings=BOOKINGS, rate_limit=limit, block_seconds=0.5) as emu:
        options: dict[str, Any] = {"ICALENDLY_REDIS_URL": redis_server.url}
        code, out, err = await _sync(
            emu, tmp_path, "--resources", "bookings", "--page-size", "20", **options
        )
        assert code == 0, err
        assert emu.stats.rate_limited == 0 and "429s received: 0" in out
        assert emu.stats.requests > 10  # more than one window's worth, paced by Redis
        assert _check(emu, tmp_path) == BOOKINGS


async def test_mock_server_churn_changes_bookings_while_it_runs() -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "icalendly_async.cli",
        "mock-server",
        "--port",
        "0",
        "--bookings",
        "50",
        "--churn",
        "40",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={k: v for k, v in os.environ.items() if not k.startswith("ICALENDLY_")},
    )
    assert process.stdout is not None
    settings: dict[str, str] = {}
    try:
        while "ICALENDLY_API_KEY" not in settings or "ICALENDLY_BASE_URL" not in settings:
            line = (await asyncio.wait_for(process.stdout.readline(), 30)).decode()
            assert line, "mock-server ended before printing its settings"
            name, _, value = line.strip().partition("=")
            if name.startswith("ICALENDLY_") and value:
                settings[name] = value.split()[0]
        since = datetime.now(timezone.utc) - timedelta(minutes=1)  # seeded: weeks before
        async with ICalendly(
            ApiKey(settings["ICALENDLY_API_KEY"]),
            base_url=settings["ICALENDLY_BASE_URL"],
            allow_insecure_http=True,
        ) as client:
            changed: list[Any] = []
            for _ in range(50):  # the churn runs at 40 changes a second
                page = await client.bookings.list(after_updated_at=since)
                changed = list(page.items)
                if changed:
                    break
                await asyncio.sleep(0.1)
        assert changed, "no booking changed in 5 s of --churn 40"
    finally:
        process.send_signal(signal.SIGINT)
        await asyncio.wait_for(process.wait(), 10)


@pytest.mark.slow  # starts processes (seconds each): in the full run, not the fast set
async def test_ctrl_c_stops_a_sync_with_130_and_one_line_and_the_next_run_completes(
    tmp_path: Path,
) -> None:
    # Paced so that the run is still reading when Ctrl-C comes: 300 bookings in pages of 20
    # at 5 requests a second, with the event types read alongside.
    async with Emulator(bookings=BOOKINGS, rate_limit=RateLimit(5, 1)) as emu:
        args = ("--resources", "bookings,event_types", "--page-size", "20")
        process = await _start(emu, tmp_path, *args)
        while emu.stats.requests < 6:  # noqa: ASYNC110  (the counter has no event to wait on)
            await asyncio.sleep(0.01)
        process.send_signal(signal.SIGINT)
        _, err_bytes = await asyncio.wait_for(process.communicate(), 60)
        err = err_bytes.decode()
        assert process.returncode == 130, err
        assert err == "interrupted: run the same command again to go on\n", err

        code, _, err = await _sync(emu, tmp_path, *args)
        assert code == 0, err
        assert _check(emu, tmp_path) == BOOKINGS
