"""``icalendly sync`` killed and resumed, with the data changing, into DuckDB and PostgreSQL.

Each run is the real command in a subprocess (``python -m icalendly_async.cli sync``) against an
emulator in this process holding 10,000 bookings, paced by a rate limit scaled down in time
(40 requests a second instead of 2) so that a run takes seconds yet can be killed in the middle.
After the last run, the table must equal the emulator's store exactly: the same keys, each row
equal field by field, its attendees and hosts too (:func:`tests._sync_check.assert_table_matches`).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest

from icalendly_async import RateLimit
from icalendly_async.testing import Emulator

from ._sync_check import Fetch, assert_table_matches, duckdb_fetch, postgres_fetch
from .postgres_server import PostgresServer
from .postgres_server import postgres_server_fixture as postgres_server_fixture

pytestmark = pytest.mark.slow

BOOKINGS = 10_000
PACE = RateLimit(20, 0.5)  # the service's 120/min, scaled down in time: 100 pages in ~2.5 s


@attrs.frozen
class Destination:
    to: str
    fetch: Fetch


@pytest.fixture(params=["duckdb", "postgres"])
def destination(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Destination]:
    if request.param == "duckdb":
        yield Destination(
            f"duckdb:///{tmp_path / 'sync.duckdb'}", duckdb_fetch(tmp_path / "sync.duckdb")
        )
        return
    server: PostgresServer = request.getfixturevalue("postgres_server")
    yield Destination(server.url, postgres_fetch(server.url))


class Runs:
    """Runs of ``icalendly sync --resources bookings`` against ``emu`` into ``destination``
    (or of another command: ``command``)."""

    def __init__(
        self,
        emu: Emulator,
        destination: Destination,
        tmp_path: Path,
        command: list[str] | None = None,
    ) -> None:
        self.emu = emu
        self.destination = destination
        self.command = command or [
            "sync",
            "--quiet",
            "--to",
            destination.to,
            "--resources",
            "bookings",
            "--plan",
            "platform",
        ]
        self.env = {
            **os.environ,
            "ICALENDLY_API_KEY": emu.api_key,
            "ICALENDLY_BASE_URL": emu.base_url,
            "DLT_DATA_DIR": str(tmp_path / "dlt"),  # the pipeline's working files
        }
        self.env.pop("ICALENDLY_REDIS_URL", None)

    async def start(self, *more: str) -> asyncio.subprocess.Process:
        return await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "icalendly_async.cli",
            *self.command,
            *more,
            env=self.env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )

    async def complete(self, *more: str) -> str:
        """One run to its end; its summary."""
        process = await self.start(*more)
        out, err = await asyncio.wait_for(process.communicate(), 120)
        assert process.returncode == 0, err.decode()
        return out.decode()

    async def kill_after(self, requests: int, *, then: float = 0.0) -> int | None:
        """A run killed with SIGKILL once the emulator has had ``requests`` more requests (and
        ``then`` seconds more); its exit status (0: it finished first)."""
        target = self.emu.stats.requests + requests
        process = await self.start()
        while self.emu.stats.requests < target and process.returncode is None:  # noqa: ASYNC110
            await asyncio.sleep(0.01)  # the emulator's counter has no event to wait on
        await asyncio.sleep(then)
        if process.returncode is None:
            process.send_signal(signal.SIGKILL)
        await asyncio.wait_for(process.communicate(), 60)
        return process.returncode

    def expected(self) -> list[dict[str, Any]]:
        return [row.data for row in self.emu.data.bookings if row.host_id == 1]

    def check(self) -> int:
        return assert_table_matches(
            self.destination.fetch,
            "bookings",
            self.expected(),
            key="uid",
            children=("attendees", "hosts", "guests"),
        )


async def test_a_killed_sync_resumes_without_losing_or_doubling_a_booking(
    destination: Destination, tmp_path: Path
) -> None:
    async with Emulator(bookings=BOOKINGS, rate_limit=PACE, churn_seed=7) as emu:
        runs = Runs(emu, destination, tmp_path)
        # Killed while it reads the API: a third of the pages read, nothing loaded.
        assert await runs.kill_after(35) == -signal.SIGKILL
        emu.apply_churn(40)  # updates, cancellations and new bookings meanwhile
        emu.apply_churn(10, backdate=20)  # and some stamped before the cursor
        # Killed once it has read everything: while it prepares or loads the rows (or just
        # after: then it finished, which must be as good).
        assert await runs.kill_after(100, then=0.5) in (-signal.SIGKILL, 0)
        emu.apply_churn(40)
        summary = await runs.complete()
        assert "429s received: 0" in summary
        assert runs.check() == len([row for row in emu.data.bookings if row.host_id == 1])


async def test_a_sync_while_the_data_changes_then_one_more_run(
    destination: Destination, tmp_path: Path
) -> None:
    # 25 changes a second while the sync walks, a quarter of them visible up to 2 s late.
    async with Emulator(bookings=BOOKINGS, rate_limit=PACE, churn=25, churn_seed=3) as emu:
        runs = Runs(emu, destination, tmp_path)
        await runs.complete()
        await emu.stop_churn()
        assert emu.churned > 25
        before = emu.stats.requests
        await runs.complete()
        # The changes since the cursor and the lookback window: a few pages, not a hundred.
        assert emu.stats.requests - before <= 10
        runs.check()


def _summary_row(summary: str, name: str) -> list[str]:
    return next(line.split() for line in summary.splitlines() if line.startswith(name + " "))


async def test_the_next_run_reads_only_what_changed(tmp_path: Path) -> None:
    destination = Destination(
        f"duckdb:///{tmp_path / 'sync.duckdb'}", duckdb_fetch(tmp_path / "sync.duckdb")
    )
    async with Emulator(bookings=2_000, enforce_rate_limits=False, churn_seed=5) as emu:
        runs = Runs(emu, destination, tmp_path)
        first = _summary_row(await runs.complete(), "bookings")
        assert first[1:4] == ["2,000", "2,000", "0"]  # rows, new, updated
        emu.apply_churn(11)
        emu.reset_stats()
        await runs.complete()
        assert emu.stats.requests == 1  # one page: the lookback window and what changed
        runs.check()


async def test_a_killed_export_resumes_by_the_cursor_and_misses_no_booking(
    tmp_path: Path,
) -> None:
    out = tmp_path / "bookings.jsonl"
    async with Emulator(bookings=BOOKINGS, rate_limit=PACE, churn_seed=11) as emu:
        unused = Destination("", duckdb_fetch(tmp_path / "unused.duckdb"))
        command = ["export", "bookings", "--out", str(out), "--quiet"]
        runs = Runs(emu, unused, tmp_path, command)
        assert await runs.kill_after(30) == -signal.SIGKILL
        written = len(out.read_text().splitlines())
        assert 0 < written < BOOKINGS
        # Changes between the kill and the resume: an offset walk would skip as many bookings
        # as moved behind its offset; the cursor walk reads the changed ones again.
        emu.apply_churn(60)
        summary = await runs.complete("--resume")
        assert "resumed at record" in summary
    last: dict[str, dict[str, Any]] = {}
    for line in out.read_text().splitlines():
        row = json.loads(line)
        last[row["uid"]] = row  # a booking changed meanwhile comes again: the last line wins
    expected = {row["uid"]: row for row in runs.expected()}
    assert set(last) == set(expected)
    assert [uid for uid in expected if last[uid] != expected[uid]] == []
