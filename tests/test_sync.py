"""The dlt source and ``sync()`` against the emulator, into DuckDB, in this process.

``sync()`` blocks, so these tests call it as async code should: ``await asyncio.to_thread(...)``,
while the emulator serves on the test's event loop. Each table is compared with the emulator's
store field by field (:mod:`tests._sync_check`).
"""

from __future__ import annotations

import asyncio
import gc
import logging
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from icalendly_async import ApiKey, ICalendly, Plan, RateLimit
from icalendly_async.errors import ConfigurationError
from icalendly_async.sync import (
    ResourceStats,
    SyncError,
    SyncResult,
    TableResult,
    icalendly_source,
    sync,
)
from icalendly_async.testing import Emulator

from ._sync_check import Fetch, assert_table_matches, duckdb_fetch
from .redis_server import free_port

LIFTED = RateLimit(1_000_000, 60)  # the emulator enforces no limit in most of these tests


def _fetch(path: Path) -> Fetch:
    return duckdb_fetch(path)


async def _sync(emu: Emulator, tmp_path: Path, **options: Any) -> SyncResult:
    options.setdefault("plan", Plan.PLATFORM)
    options.setdefault("resources", ["bookings"])
    credential = options.pop("credential", None) or ApiKey(emu.api_key, rate_limit=LIFTED)
    return await asyncio.to_thread(
        sync,
        credential,
        options.pop("to", None) or f"duckdb:///{tmp_path / 'icalendly.duckdb'}",
        base_url=emu.base_url,
        allow_insecure_http=True,
        pipelines_dir=str(tmp_path / "dlt"),
        **options,
    )


def _table(result: SyncResult, name: str) -> TableResult:
    return next(table for table in result.tables if table.name == name)


def _bookings(emu: Emulator) -> list[dict[str, Any]]:
    return [row.data for row in emu.data.bookings if row.host_id == 1]


def _check_bookings(emu: Emulator, tmp_path: Path) -> int:
    return assert_table_matches(
        _fetch(tmp_path / "icalendly.duckdb"),
        "bookings",
        _bookings(emu),
        key="uid",
        children=("attendees", "hosts", "guests"),
    )


async def test_a_full_sync_then_an_incremental_one(tmp_path: Path) -> None:
    async with Emulator(bookings=300, enforce_rate_limits=False) as emu:
        first = await _sync(emu, tmp_path, page_size=40)
        assert _check_bookings(emu, tmp_path) == 300
        bookings = _table(first, "bookings")
        assert (bookings.rows, bookings.new, bookings.updated) == (300, 300, 0)
        assert bookings.requests == 8 and bookings.rate_limited == 0
        async with ICalendly(
            ApiKey(emu.api_key), base_url=emu.base_url, allow_insecure_http=True
        ) as client:
            active = [row.uid for row in emu.data.bookings if row.active][:3]
            for uid in active:  # cancelled bookings come back as a status change
                await client.request("POST", f"/v2/bookings/{uid}/cancel", json={})
        emu.apply_churn(5)
        emu.reset_stats()
        second = await _sync(emu, tmp_path, page_size=40)
        assert _check_bookings(emu, tmp_path) == len(_bookings(emu))
        assert emu.stats.requests <= 2  # only what changed, from the cursor on
        statuses = _fetch(tmp_path / "icalendly.duckdb")(
            "SELECT status FROM icalendly_dataset.bookings WHERE uid IN ("
            + ",".join(f"'{uid}'" for uid in active)
            + ")"
        )
        assert [row["status"] for row in statuses] == ["cancelled"] * 3
        changed = _table(second, "bookings")
        assert changed.new is not None and changed.updated is not None
        assert changed.new + changed.updated == changed.rows >= 8


async def test_rows_stamped_alike_across_pages_are_neither_lost_nor_doubled(
    tmp_path: Path,
) -> None:
    async with Emulator(bookings=400, enforce_rate_limits=False) as emu:
        stamps = Counter(row.data["updatedAt"] for row in emu.data.bookings)
        assert max(stamps.values()) >= 2  # the seed stamps to the minute: ties exist
        tied = sum(count for count in stamps.values() if count > 1)
        assert tied > 7
        result = await _sync(emu, tmp_path, page_size=3)
        assert _check_bookings(emu, tmp_path) == 400
        assert _table(result, "bookings").rows == 400


@pytest.mark.slow  # about 10 s: many dlt runs
async def test_a_late_change_is_caught_by_the_lookback_and_lost_without_it(
    tmp_path: Path,
) -> None:
    for where in ("no-lookback", "lookback"):
        (tmp_path / where).mkdir()
    async with Emulator(bookings=200, enforce_rate_limits=False) as emu:
        await _sync(emu, tmp_path / "no-lookback", lookback=0)
        await _sync(emu, tmp_path / "lookback", lookback=30)
        emu.apply_churn(4)  # moves the cursor on
        await _sync(emu, tmp_path / "no-lookback", lookback=0)
        await _sync(emu, tmp_path / "lookback", lookback=30)
        await asyncio.sleep(0.05)
        emu.apply_churn(6, backdate=10)  # stamped before the cursor, visible only now
        await _sync(emu, tmp_path / "no-lookback", lookback=0)
        await _sync(emu, tmp_path / "lookback", lookback=30)
        _check_bookings(emu, tmp_path / "lookback")
        with pytest.raises(AssertionError, match=r"missing|difference"):
            _check_bookings(emu, tmp_path / "no-lookback")


async def test_every_resource_matches_the_server(tmp_path: Path) -> None:
    async with Emulator(bookings=120, enforce_rate_limits=False) as emu:
        result = await _sync(emu, tmp_path, resources=None)
        fetch = _fetch(tmp_path / "icalendly.duckdb")
        assert {table.name for table in result.tables if table.left_out} == set()
        _check_bookings(emu, tmp_path)
        async with ICalendly(
            ApiKey(emu.api_key), plan=Plan.PLATFORM, base_url=emu.base_url, allow_insecure_http=True
        ) as client:
            expected = {
                "event_types": await client.request("GET", "/v2/event-types"),
                "schedules": await client.request("GET", "/v2/schedules"),
                "teams": await client.request("GET", "/v2/teams"),
                "org_users": await client.request("GET", "/v2/organizations/100/users"),
                "out_of_office": await client.request("GET", "/v2/organizations/100/ooo"),
                "routing_forms": await client.request("GET", "/v2/organizations/100/routing-forms"),
                "profile": [await client.request("GET", "/v2/me")],
            }
            memberships = [
                member
                for team in expected["teams"]
                for member in await client.request("GET", f"/v2/teams/{team['id']}/memberships")
            ]
        for name, rows in expected.items():
            assert_table_matches(fetch, name, rows, key="id")
        assert_table_matches(fetch, "memberships", memberships, key="id")
        assert_table_matches(
            fetch,
            "org_bookings",
            [row.data for row in emu.data.bookings],
            key="uid",
            children=("attendees",),
        )
        assert (
            fetch("SELECT COUNT(*) AS n FROM icalendly_dataset.event_types__booking_fields")[0]["n"]
            > 0
        )
        responses = fetch(
            "SELECT id, form_id, response FROM icalendly_dataset.routing_form_responses"
        )
        assert len(responses) == sum(
            len(emu.data.routing_forms.responses_of(form)) for form in emu.data.routing_forms.forms
        )
        assert all(
            isinstance(row["response"], str) and "label" in row["response"] for row in responses
        )


async def test_a_first_sync_prints_no_hint_about_columns_without_values(
    tmp_path: Path,
    capfd: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # dlt's multi-line note on the fields that are null in every row so far ("Unless type hints
    # are provided, these columns will not be materialized...") is for authors of dlt resources:
    # the column appears when a value does. dlt's other warnings still show.
    monkeypatch.setenv("RUNTIME__LOG_LEVEL", "WARNING")
    caplog.set_level(logging.DEBUG, "icalendly_async.sync")
    async with Emulator(bookings=5, enforce_rate_limits=False) as emu:
        await _sync(emu, tmp_path, resources=["event_types", "org_users", "routing_forms"])
    err = capfd.readouterr().err
    assert "could not have their types inferred" not in err, err
    assert "event_types: no values yet in " in caplog.text  # one line, for whoever asks


async def test_routing_form_responses_are_read_again_once_changed(tmp_path: Path) -> None:
    async with Emulator(bookings=20, enforce_rate_limits=False) as emu:
        options = {"resources": ["routing_form_responses"], "lookback": 1.0}
        first = await _sync(emu, tmp_path, **options)
        total = _table(first, "routing_form_responses").rows
        assert total > 50
        await asyncio.sleep(1.2)  # the next run asks from one second before the last began
        second = await _sync(emu, tmp_path, **options)
        assert _table(second, "routing_form_responses").rows == 0
        form = next(iter(emu.data.routing_forms.forms))
        response_id = emu.data.routing_forms.responses_of(form)[0].id
        async with ICalendly(
            ApiKey(emu.api_key), base_url=emu.base_url, allow_insecure_http=True
        ) as client:
            await client.request(
                "PATCH",
                f"/v2/organizations/100/routing-forms/{form}/responses/{response_id}",
                json={"response": {"extra": {"label": "Extra", "value": "yes"}}},
            )
        third = await _sync(emu, tmp_path, **options)
        changed = _table(third, "routing_form_responses")
        assert (changed.rows, changed.new, changed.updated) == (1, 0, 1)
        stored = _fetch(tmp_path / "icalendly.duckdb")(
            "SELECT response FROM icalendly_dataset.routing_form_responses "
            f"WHERE id = {response_id}"
        )
        assert '"Extra"' in stored[0]["response"]


async def test_resources_outside_the_plan_are_left_out_before_anything_is_sent(
    tmp_path: Path,
) -> None:
    async with Emulator(bookings=10, enforce_rate_limits=False, plan=Plan.TEAMS) as emu:
        result = await _sync(emu, tmp_path, plan=Plan.TEAMS, resources=None)
        left = {table.name: table.left_out for table in result.tables if table.left_out}
        assert set(left) == {
            "org_users",
            "org_bookings",
            "routing_forms",
            "routing_form_responses",
            "out_of_office",
        }
        assert all("Organizations or Platform plan; this is Teams" in r for r in left.values())
        assert not any("/organizations/" in record.path for record in emu.request_log)
        assert _table(result, "teams").rows == 5


async def test_a_resource_the_server_refuses_is_left_out_with_the_reason(tmp_path: Path) -> None:
    async with Emulator(bookings=10, enforce_rate_limits=False, plan=Plan.ORGANIZATIONS) as emu:
        # No plan given: /v2/teams (Teams plan) is tried, and the server refuses it.
        result = await _sync(emu, tmp_path, plan=None, resources=["bookings", "teams"])
        reason = _table(result, "teams").left_out
        assert reason is not None and "403" in reason
        assert _table(result, "bookings").rows == 10


async def test_webhook_secrets_are_not_stored_and_new_fields_become_columns(
    tmp_path: Path,
) -> None:
    async with Emulator(bookings=5, enforce_rate_limits=False) as emu:
        async with ICalendly(
            ApiKey(emu.api_key), base_url=emu.base_url, allow_insecure_http=True
        ) as client:
            await client.request(
                "POST",
                "/v2/webhooks",
                json={
                    "active": True,
                    "subscriberUrl": "http://127.0.0.1:9/hook",
                    "triggers": ["BOOKING_CREATED"],
                    "secret": "whsec-do-not-store",
                },
            )
            await _sync(emu, tmp_path, resources=["webhooks", "bookings"])
            fetch = _fetch(tmp_path / "icalendly.duckdb")
            assert "secret" not in fetch("SELECT * FROM icalendly_dataset.webhooks")[0]
            assert "whsec-do-not-store" not in (tmp_path / "icalendly.duckdb").read_bytes().decode(
                "latin-1"
            )
            # A field the table has not seen yet: the schema grows a column for it.
            slots = await client.request(
                "GET",
                "/v2/slots",
                params={"eventTypeId": 12, "start": "2099-01-05", "end": "2099-01-06"},
            )
            start = next(iter(slots.values()))[0]["start"]
            await client.request(
                "POST",
                "/v2/bookings",
                json={
                    "start": start,
                    "eventTypeId": 12,
                    "attendee": {"name": "N", "email": "n@example.com", "timeZone": "UTC"},
                    "metadata": {"campaign": "spring"},
                },
            )
        await _sync(emu, tmp_path, resources=["bookings"])
        rows = fetch(
            "SELECT metadata__campaign FROM icalendly_dataset.bookings "
            "WHERE metadata__campaign IS NOT NULL"
        )
        assert rows == [{"metadata__campaign": "spring"}]
        _check_bookings(emu, tmp_path)


@pytest.mark.slow  # 20,600 bookings in one run: about 10 s
async def test_a_field_first_seen_past_duckdbs_sample_is_loaded(tmp_path: Path) -> None:
    # DuckDB's read_json guesses the columns from the first 20,480 rows of a file; a key first
    # seen after them failed the load (DuckDB 2.0: "has unknown key"; 1.5: dropped silently).
    # A field the service adds shows up on the bookings updated last: the end of the walk.
    async with Emulator(
        bookings=20_600, enforce_rate_limits=False, validate_responses=False
    ) as emu:
        async with ICalendly(
            ApiKey(emu.api_key), base_url=emu.base_url, allow_insecure_http=True
        ) as client:
            slots = await client.request(
                "GET",
                "/v2/slots",
                params={"eventTypeId": 12, "start": "2099-01-05", "end": "2099-01-06"},
            )
            await client.request(
                "POST",
                "/v2/bookings",
                json={
                    "start": next(iter(slots.values()))[0]["start"],
                    "eventTypeId": 12,
                    "attendee": {"name": "N", "email": "n@example.com", "timeZone": "UTC"},
                    "metadata": {"campaign": "spring"},
                },
            )
        result = await _sync(emu, tmp_path, page_size=250, chunk_seconds=600)
        assert len(result.traces) == 1 and _table(result, "bookings").rows == 20_601
        rows = _fetch(tmp_path / "icalendly.duckdb")(
            "SELECT metadata__campaign FROM icalendly_dataset.bookings "
            "WHERE metadata__campaign IS NOT NULL"
        )
        assert rows == [{"metadata__campaign": "spring"}]


@pytest.mark.slow  # waits for the rate limit's windows: about 3 s
async def test_under_a_binding_limit_each_run_reads_one_window(tmp_path: Path) -> None:
    # A run ends once it has read a window's worth and the window is spent: its load happens
    # while the next window's requests wait, not in that window's first seconds.
    limit = RateLimit(3, 1.0)
    async with Emulator(bookings=300, rate_limit=limit) as emu:
        result = await _sync(
            emu,
            tmp_path,
            credential=ApiKey(emu.api_key, rate_limit=limit),
            page_size=50,
            chunk_seconds=600,  # never due by time: only the windows end the runs
        )
        bookings = _table(result, "bookings")
        assert bookings.rate_limited == 0 and bookings.requests >= 7
        assert len(result.traces) == -(-bookings.requests // 3)  # one run per window
        assert _check_bookings(emu, tmp_path) == 300


@pytest.mark.slow
async def test_resources_share_one_window_per_credential(tmp_path: Path) -> None:
    limit = RateLimit(12, 1.0)
    async with Emulator(bookings=600, rate_limit=limit) as emu:
        second_key = emu.add_api_key(rate_limit=limit)
        started = time.monotonic()
        result = await _sync(
            emu,
            tmp_path,
            credential=[
                ApiKey(emu.api_key, rate_limit=limit),
                ApiKey(second_key, rate_limit=limit),
            ],
            resources=None,
            page_size=50,
        )
        elapsed = time.monotonic() - started
        # The emulator enforces the limit per credential (a fixed window, as the service does):
        # a dozen resources each pacing on its own would overrun it at once and get 429s.
        assert result.rate_limited == 0 and emu.stats.rate_limited == 0
        sent = emu.stats.requests
        assert sent > 2 * 12  # enough to need several windows
        # Each credential paced on its own: both windows in use, so about half the time one
        # credential would need (never faster than its own limit allows).
        per_key = max(
            sum(1 for r in emu.request_log if r.credential == emu.credential_digest(k))
            for k in (emu.api_key, second_key)
        )
        assert elapsed >= (per_key // 12 - 1) * 1.0
        _check_bookings(emu, tmp_path)


def test_bad_input_is_refused_before_anything_is_sent(tmp_path: Path) -> None:
    key = ApiKey("ical_0123456789abcdef")
    with pytest.raises(ConfigurationError, match=r"unknown resource.*'bookngs'.*bookings"):
        icalendly_source(key, resources=["bookngs"])
    with pytest.raises(ConfigurationError, match="page_size"):
        icalendly_source(key, page_size=0)
    with pytest.raises(ConfigurationError, match="credential"):
        icalendly_source("ical_0123456789abcdef")  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="http"):
        icalendly_source(key, base_url="http://example.com")
    with pytest.raises(ConfigurationError, match="does not exist"):
        sync(key, f"duckdb:///{tmp_path}/missing/dir/x.duckdb")
    with pytest.raises(ConfigurationError, match="unknown destination"):
        sync(key, "mysql://u:secret@host/db")
    try:
        sync(key, "mysql://u:secret@host/db")
    except ConfigurationError as exc:
        assert "secret" not in str(exc)


async def test_a_failed_run_says_where_and_the_next_run_completes(tmp_path: Path) -> None:
    from icalendly_async.testing import Fault

    async with Emulator(bookings=250, enforce_rate_limits=False) as emu:
        emu.inject(Fault("status", status=404, times=1, path="/v2/bookings"))
        with pytest.raises(SyncError, match="reading the API") as caught:
            await _sync(emu, tmp_path, page_size=50, client_options={"max_retries": 0})
        assert caught.value.step == "extract"
        await _sync(emu, tmp_path, page_size=50)
        assert _check_bookings(emu, tmp_path) == 250


@pytest.mark.slow  # about 10 s: many dlt runs
async def test_a_sync_in_chunks_goes_on_where_each_run_stopped(tmp_path: Path) -> None:
    # A run per page (chunk_seconds: as small as it gets), while the data changes.
    async with Emulator(
        bookings=300, enforce_rate_limits=False, churn=40, churn_delay=0, churn_seed=9
    ) as emu:
        result = await _sync(emu, tmp_path, page_size=40, chunk_seconds=1e-9)
        assert len(result.traces) >= 8  # one dlt run per page at least
        bookings = _table(result, "bookings")
        assert bookings.new == bookings.rows >= 300  # the total counted over all runs
        await emu.stop_churn()
        assert emu.churned > 0
        emu.reset_stats()
        await _sync(emu, tmp_path, page_size=40, chunk_seconds=1e-9)
        assert _check_bookings(emu, tmp_path) == len(_bookings(emu))


async def test_a_sync_in_chunks_keeps_what_it_loaded_when_a_later_chunk_fails(
    tmp_path: Path,
) -> None:
    from icalendly_async.testing import Fault

    async with Emulator(bookings=300, enforce_rate_limits=False) as emu:
        loop = asyncio.get_running_loop()
        fault = Fault("status", status=500, times=1, path="/v2/bookings")

        injected = False

        def fail_later(figures: ResourceStats) -> None:  # called from dlt's thread
            nonlocal injected
            if figures.rows >= 120 and not injected:
                injected = True
                loop.call_soon_threadsafe(emu.inject, fault)

        with pytest.raises(SyncError, match="reading the API"):
            await _sync(
                emu,
                tmp_path,
                page_size=40,
                chunk_seconds=1e-9,
                progress=fail_later,
                client_options={"max_retries": 0},
            )
        loaded = _fetch(tmp_path / "icalendly.duckdb")(
            "SELECT COUNT(*) AS n FROM icalendly_dataset.bookings"
        )[0]["n"]
        assert 80 <= loaded < 300  # the chunks before the failure stayed loaded
        emu.reset_stats()
        result = await _sync(emu, tmp_path, page_size=40)
        assert _check_bookings(emu, tmp_path) == 300
        assert _table(result, "bookings").new == 300 - loaded
        assert emu.stats.requests < 8  # from the saved cursor, not from the start


async def test_a_refused_key_fails_every_resource_cleanly(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # Every resource at once meets the 401: the sync says so once, and the resources still
    # reading are stopped and closed by the sync, not torn down mid-request by dlt (which
    # filled stderr with "asynchronous generator is already running" tracebacks).
    async with Emulator(bookings=50, enforce_rate_limits=False) as emu:
        with caplog.at_level(logging.WARNING, logger="asyncio"):
            with pytest.raises(SyncError, match="reading the API: AuthenticationError"):
                await _sync(
                    emu,
                    tmp_path,
                    resources=None,
                    credential=ApiKey("ical_not_a_key_the_server_knows", rate_limit=LIFTED),
                )
            gc.collect()  # a task whose error nobody read reports it when it is collected
        assert [r.getMessage() for r in caplog.records if r.name == "asyncio"] == []


async def test_a_database_that_is_not_there_is_said_so_before_anything_is_read(
    tmp_path: Path,
) -> None:
    port = free_port()  # nothing listens on it
    async with Emulator(bookings=10, enforce_rate_limits=False) as emu:
        with pytest.raises(SyncError, match="connecting to the database") as caught:
            await _sync(emu, tmp_path, to=f"postgresql://someone:hunter2@127.0.0.1:{port}/nowhere")
        assert caught.value.step == "connect"
        assert "hunter2" not in str(caught.value)
        assert emu.stats.requests == 0


async def test_a_postgresql_url_without_a_user_connects_as_libpq_would(tmp_path: Path) -> None:
    # psql and libpq take the user from PGUSER, else the login name: so does the sync (dlt
    # alone stopped with a page on its configuration providers, as a failed load).
    port = free_port()  # nothing listens on it
    async with Emulator(bookings=10, enforce_rate_limits=False) as emu:
        with pytest.raises(SyncError, match="connecting to the database") as caught:
            await _sync(emu, tmp_path, to=f"postgresql://127.0.0.1:{port}/warehouse")
        assert caught.value.step == "connect"
        assert "\n" not in str(caught.value).strip() and emu.stats.requests == 0


async def test_a_second_sync_of_the_same_pipeline_at_once_stops_before_it_starts(
    tmp_path: Path,
) -> None:
    # Two syncs of one destination, dataset and account at once (an overlapping cron job)
    # shared dlt's working files: one loaded, or deleted, what the other had extracted, and
    # failed on a missing file. The second one stops before it reads anything.
    async with Emulator(bookings=200, rate_limit=RateLimit(4, 1)) as emu:
        options: dict[str, Any] = {"page_size": 20, "credential": ApiKey(emu.api_key)}
        first = asyncio.create_task(_sync(emu, tmp_path, **options))
        while emu.stats.requests < 2:  # noqa: ASYNC110  (the counter has no event to wait on)
            await asyncio.sleep(0.01)
        with pytest.raises(SyncError, match="another sync") as caught:
            await _sync(emu, tmp_path, **options)
        assert caught.value.step == "start"  # before its source was run
        assert not first.done()
        await first
        assert _check_bookings(emu, tmp_path) == 200


async def test_a_duckdb_file_another_process_holds_is_said_so_before_anything_is_read(
    tmp_path: Path,
) -> None:
    # sync() opens the DuckDB file once for the whole sync: a file another process has open
    # fails there, before a request is sent.
    path = tmp_path / "held.duckdb"
    holder = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        f"import duckdb, sys; c = duckdb.connect({str(path)!r}); print('open', flush=True); "
        "sys.stdin.read()",
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        assert holder.stdout is not None and await holder.stdout.readline() == b"open\n"
        async with Emulator(bookings=10, enforce_rate_limits=False) as emu:
            with pytest.raises(SyncError, match="connecting to the database") as caught:
                await _sync(emu, tmp_path, to=f"duckdb:///{path}")
            assert caught.value.step == "connect"
            assert emu.stats.requests == 0
    finally:
        await holder.communicate(b"")


async def test_the_collector_skips_what_existed_before_a_sync_and_gets_it_back(
    tmp_path: Path,
) -> None:
    # dlt's rows set off full collections; during a sync they walk only the sync's own objects.
    assert gc.get_freeze_count() == 0
    during: list[int] = []
    async with Emulator(bookings=30, enforce_rate_limits=False) as emu:
        result = await _sync(emu, tmp_path, progress=lambda _: during.append(gc.get_freeze_count()))
        assert _table(result, "bookings").rows == 30
        assert during and min(during) > 0  # frozen while the sync ran
        assert gc.get_freeze_count() == 0  # and given back

        # An application that freezes objects itself keeps its freeze as it was.
        gc.freeze()
        try:
            frozen = gc.get_freeze_count()
            during.clear()
            await _sync(emu, tmp_path, full_refresh=True)
            await _sync(emu, tmp_path, progress=lambda _: during.append(gc.get_freeze_count()))
            # Nothing more frozen (frozen objects that die leave the count), nothing unfrozen.
            assert during and max(during) <= frozen
            assert 0 < gc.get_freeze_count() <= frozen
        finally:
            gc.unfreeze()
