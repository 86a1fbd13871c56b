"""The emulator's route table against the document: what is emulated, the 501s, the repairs,
the response validator, and the README's list of emulated operations."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import pytest_asyncio

from icalendly_async.plans import Plan, tier_for_tag
from icalendly_async.testing import (
    Emulator,
    SchemaViolationError,
    implemented_operations,
)
from icalendly_async.testing import _views as views
from icalendly_async.testing._auth import AuthKind
from icalendly_async.testing._resources import ROUTES
from icalendly_async.testing._routes import route_table
from icalendly_async.testing._routes_doc import END, START, render_markdown, replace_block, stale
from icalendly_async.testing._spec import (
    _from_document,
    documented_additions,
    id_path_params,
    load_document,
    spec_path,
)
from icalendly_async.testing._validation import ResponseValidator
from tools.codegen import spec as codegen_spec

from ._schema_validation import validate_emulator_responses  # noqa: F401

README = Path(__file__).resolve().parents[1] / "README.md"

needs_spec = pytest.mark.skipif(
    spec_path() is None, reason="the repaired document is missing: run python -m tools.codegen"
)


@pytest_asyncio.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def call(
    http: aiohttp.ClientSession,
    emu: Emulator,
    method: str,
    path: str,
    headers: Mapping[str, str] | None = None,
) -> tuple[int, Any]:
    async with http.request(method, emu.base_url + path, headers=dict(headers or {})) as answer:
        return answer.status, await answer.json()


# --- the table -------------------------------------------------------------------------------


def _additions() -> dict[str, tuple[str, str]]:
    """The repaired document's documented additions (the OAuth 2.0 endpoints)."""
    return {
        operation["operationId"]: (method.upper(), path)
        for path, item in documented_additions().items()
        for method, operation in item.items()
    }


@needs_spec
def test_every_emulated_route_is_an_operation_of_the_document() -> None:
    document = {op.operation_id: op for op in _from_document()}
    assert len(document) == 230
    additions = _additions()
    assert set(additions) == {"OAuth2Controller_authorize", "OAuth2Controller_token"}
    ids = implemented_operations()
    assert len(ids) == len(set(ids)) == len(ROUTES) >= 90
    for spec in ROUTES:
        assert spec.operation_id is not None
        if spec.operation_id in additions:
            assert (spec.method, spec.path) == additions[spec.operation_id], spec
            continue
        operation = document[spec.operation_id]
        assert (spec.method, spec.path) == (operation.method, operation.path), spec
        assert spec.tier is tier_for_tag(operation.tag), spec
        if spec.auth is not AuthKind.PUBLIC:  # the service serves bookers without credentials
            assert spec.auth is operation.auth, spec


@needs_spec
def test_the_route_table_covers_every_operation_once() -> None:
    table = route_table()
    total = 230 + len(_additions())
    assert len(table) == total
    assert len({spec.operation_id for spec in table}) == total
    # a literal segment is tried before a parameter in the same place
    paths = [spec.path for spec in table]
    assert paths.index("/v2/schedules/default") < paths.index("/v2/schedules/{scheduleId}")
    assert paths.index("/v2/organizations/{orgId}/teams/me") < paths.index(
        "/v2/organizations/{orgId}/teams/{teamId}"
    )


@needs_spec
async def test_unimplemented_operations_answer_501_after_auth_limits_and_tier(
    http: aiohttp.ClientSession,
) -> None:
    async with Emulator(plan=Plan.ORGANIZATIONS) as emu:
        key = {"Authorization": f"Bearer {emu.api_key}"}
        status, body = await call(http, emu, "GET", "/v2/calendars")
        assert status == 401  # credentials first
        status, body = await call(http, emu, "GET", "/v2/calendars", key)
        assert status == 501
        assert body["status"] == "error"
        assert body["error"]["code"] == "NotImplemented"
        assert body["error"]["message"] == (
            "CalendarsController_getCalendars (GET /v2/calendars) is not implemented by the "
            "emulator"
        )
        # the tier is checked before: a Teams-tier operation on the Organizations plan is a 403
        status, body = await call(http, emu, "GET", "/v2/teams/1/event-types", key)
        assert status == 403
        # and the rate limit counted them all
        assert emu.stats.requests == 3
        assert emu.request_log[1].status == 501
    async with Emulator() as emu:
        status, body = await call(
            http,
            emu,
            "POST",
            "/v2/bookings/abc/reassign",
            {"Authorization": f"Bearer {emu.api_key}"},
        )
        assert status == 501
        assert "BookingsController_2024_08_13_reassignBooking" in body["error"]["message"]


# --- the repairs -----------------------------------------------------------------------------


@needs_spec
def test_the_emulator_reads_the_one_repaired_document() -> None:
    """No second table: what the emulator validates against is the generator's repair."""
    shipped = dict(load_document())
    shipped.pop("x-generated")
    assert shipped == codegen_spec.repair(codegen_spec.load_original()).doc
    # ids are whole numbers wherever the repaired document says so, and nowhere else
    assert {"orgId", "teamId", "eventTypeId", "scheduleId", "userId"} <= id_path_params()
    assert "webhookId" not in id_path_params() and "bookingUid" not in id_path_params()


@needs_spec
@pytest.mark.parametrize(
    ("repair_name", "operation", "path"),
    [
        ("placeholder-pattern", "SchedulesController_2024_06_11_getSchedules", "/v2/schedules"),
        ("enum-on-array", "SchedulesController_2024_06_11_getSchedules", "/v2/schedules"),
        ("webhook-triggers", "WebhooksController_getWebhooks", "/v2/webhooks"),
        (
            "object-with-scalar-example",
            "EventTypesController_2024_06_14_getEventTypes",
            "/v2/event-types",
        ),
        ("oneof-as-anyof", "BookingsController_2024_08_13_getBookings", "/v2/bookings?take=250"),
        (
            "list-data-not-array",
            "OrganizationsMembershipsController_getAllMemberships",
            "/v2/organizations/100/memberships",
        ),
    ],
)
async def test_each_repair_is_needed_for_correct_bodies(
    repair_name: str, operation: str, path: str, http: aiohttp.ClientSession
) -> None:
    """The emulator's (correct) body fails the document without the repair, passes with it."""
    async with Emulator(seed=3, bookings=200, validate_responses=False) as emu:
        key = {"Authorization": f"Bearer {emu.api_key}"}
        if repair_name == "webhook-triggers":
            async with http.post(
                emu.base_url + "/v2/webhooks",
                json={
                    "active": True,
                    "subscriberUrl": "http://127.0.0.1:9/hook",
                    "triggers": ["BOOKING_CREATED"],
                },
                headers=key,
            ) as answer:
                assert answer.status == 201
        async with http.get(emu.base_url + path, headers=key) as answer:
            assert answer.status == 200
            body = await answer.read()
    assert ResponseValidator().check(operation, 200, body) is None
    without = codegen_spec.repair(codegen_spec.load_original(), skip=frozenset({repair_name})).doc
    assert ResponseValidator(without).check(operation, 200, body) is not None


# --- the validator ---------------------------------------------------------------------------


@needs_spec
async def test_a_wrong_body_is_a_violation_that_fails_the_block(
    http: aiohttp.ClientSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = views.me

    def broken(user: Any, plan: Any) -> dict[str, Any]:
        body = real(user, plan)
        del body["email"]
        return body

    monkeypatch.setattr(views, "me", broken)
    emu = Emulator(validate_responses=True)
    with pytest.raises(SchemaViolationError) as caught:
        async with emu:
            status, _ = await call(
                http, emu, "GET", "/v2/me", {"Authorization": f"Bearer {emu.api_key}"}
            )
            assert status == 200  # the answer goes out; the violation is kept
            assert len(emu.schema_violations) == 1
    violation = caught.value.violations[0]
    assert violation.operation_id == "MeController_getMe"
    assert violation.status == 200
    assert "'email' is a required property" in violation.message
    assert "GET /v2/me -> 200" in str(caught.value)


@needs_spec
def test_the_validator_checks_statuses_and_error_envelopes() -> None:
    validator = ResponseValidator()
    me = "MeController_getMe"
    assert validator.check(me, 201, b'{"status":"success","data":{}}') is not None
    assert "not documented" in (validator.check(me, 201, b"{}") or "")
    error = b'{"status":"error","timestamp":"t","path":"/v2/me","error":{"code":"X","message":"m"}}'
    assert validator.check(me, 404, error) is None
    assert validator.check(me, 404, b'{"status":"error"}') is not None
    assert validator.check(me, 200, b"not json") == "the body is not JSON"
    assert validator.check("NoSuchOperation", 200, b"{}") is not None


async def test_validation_is_off_unless_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ICALENDLY_EMULATOR_VALIDATE", raising=False)
    assert not Emulator().validates_responses
    assert Emulator(validate_responses=True).validates_responses
    monkeypatch.setenv("ICALENDLY_EMULATOR_VALIDATE", "1")
    assert Emulator().validates_responses
    assert not Emulator(validate_responses=False).validates_responses


# --- the README ------------------------------------------------------------------------------


@needs_spec
def test_the_readme_lists_the_emulated_operations() -> None:
    text = README.read_text(encoding="utf-8") if README.exists() else ""
    if START not in text or END not in text:
        pytest.skip("README.md has no emulator-routes markers yet")
    assert not stale(README), (
        "the README's list of emulated operations is stale: run "
        "python -m icalendly_async.testing._routes_doc README.md"
    )


@needs_spec
def test_the_rendered_list(tmp_path: Path) -> None:
    block = render_markdown()
    total = 230 + len(_additions())
    assert f"implements {len(ROUTES)} of the document's {total} operations" in block
    assert block.startswith("<details>") and block.endswith("</details>")
    assert "| Bookings |" in block and "`POST /v2/bookings`" in block
    readme = tmp_path / "README.md"
    readme.write_text(f"intro\n{START}\nold\n{END}\nrest\n", encoding="utf-8")
    assert stale(readme) is True
    readme.write_text(replace_block(readme.read_text(), block) or "", encoding="utf-8")
    assert stale(readme) is False
    assert readme.read_text().startswith("intro\n") and readme.read_text().endswith("rest\n")
    assert replace_block("no markers", block) is None
