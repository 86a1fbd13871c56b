"""The emulator against the document: the requests it accepts and refuses, what it records, and
the answers it builds from the document for the operations it does not implement.

Raw HTTP (aiohttp) throughout: the emulator is tested against the repaired document, never
against the client.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from typing import Any

import aiohttp
import pytest
import pytest_asyncio

from icalendly_async import ApiKey, ICalendly
from icalendly_async.ratelimit import Unlimited
from icalendly_async.testing import Emulator, ReceivedRequest
from icalendly_async.testing._validation import NO_BODY, RequestValidator, ResponseValidator

from ._schema_validation import validate_emulator_responses  # noqa: F401


@pytest_asyncio.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def send(
    http: aiohttp.ClientSession,
    emu: Emulator,
    method: str,
    path: str,
    *,
    json_body: Any = None,
    data: bytes | None = None,
    headers: Mapping[str, str] | None = None,
    key: bool = True,
) -> tuple[int, Any]:
    sent = dict(headers or {})
    if key:
        sent.setdefault("Authorization", f"Bearer {emu.api_key}")
    async with http.request(
        method, emu.base_url + path, json=json_body, data=data, headers=sent
    ) as answer:
        return answer.status, await answer.json(content_type=None)


def refused(answer: tuple[int, Any]) -> str:
    """The message of a 400 in the service's error envelope."""
    status, body = answer
    assert status == 400, body
    assert body["status"] == "error" and body["error"]["code"] == "BadRequestException", body
    message: str = body["error"]["message"]
    return message


# --- request validation ---------------------------------------------------------------------------


async def test_query_parameters_unknown_missing_and_mistyped(http: aiohttp.ClientSession) -> None:
    async with Emulator() as emu:
        message = refused(await send(http, emu, "GET", "/v2/bookings?take=2&colour=red"))
        assert message.startswith("property colour should not exist")
        assert "take" in message and "afterStart" in message  # the known ones are listed
        assert refused(await send(http, emu, "GET", "/v2/slots?eventTypeId=11")) == (
            "query parameter start is required"
        )
        message = refused(await send(http, emu, "GET", "/v2/bookings?take=many"))
        assert message == "query parameter take must be of type number"
        message = refused(await send(http, emu, "GET", "/v2/bookings?afterStart=yesterday"))
        assert message == "query parameter afterStart must be a date-time"
        message = refused(await send(http, emu, "GET", "/v2/bookings?status=upcoming,someday"))
        assert message.startswith("query parameter status[1] must be one of upcoming, recurring")
        # arrays repeated or comma-separated, numbers and date-times as the document types them
        for query in (
            "status=upcoming&status=past",
            "status=upcoming,past",
            "take=5&skip=0&afterStart=2030-01-07T09:00:00.000Z&sortStart=desc",
        ):
            status, body = await send(http, emu, "GET", f"/v2/bookings?{query}")
            assert status == 200, (query, body)


async def test_path_parameters_and_bodies(http: aiohttp.ClientSession) -> None:
    async with Emulator() as emu:
        message = refused(await send(http, emu, "GET", "/v2/event-types/eleven"))
        assert message == "path parameter eventTypeId must be of type number"
        hook = {"active": True, "subscriberUrl": "http://127.0.0.1:9/h", "triggers": ["PING"]}
        assert refused(await send(http, emu, "POST", "/v2/webhooks")) == (
            "The request needs a JSON body"
        )
        assert refused(await send(http, emu, "POST", "/v2/webhooks", data=b"{nope")) == (
            "The body is not valid JSON"
        )
        assert refused(await send(http, emu, "POST", "/v2/webhooks", json_body={})) == (
            "body.active is required"
        )
        secret = {**hook, "secret": 12345, "triggers": ["BOOKING_CREATED"]}
        message = refused(await send(http, emu, "POST", "/v2/webhooks", json_body=secret))
        assert message == "body.secret must be of type string"  # the value is never echoed
        message = refused(await send(http, emu, "POST", "/v2/webhooks", json_body=hook))
        assert message.startswith("body.triggers[0] must be one of BOOKING_CREATED, ")
        one = {**hook, "triggers": "BOOKING_CREATED"}
        message = refused(await send(http, emu, "POST", "/v2/webhooks", json_body=one))
        assert message == "body.triggers must be of type array"
        good = {**hook, "triggers": ["BOOKING_CREATED"]}
        status, body = await send(http, emu, "POST", "/v2/webhooks", json_body=good)
        assert status == 201, body


async def test_what_was_received_is_recorded(http: aiohttp.ClientSession) -> None:
    async with Emulator() as emu:
        await send(http, emu, "GET", "/v2/bookings?status=upcoming&status=past&take=3")
        await send(http, emu, "PATCH", "/v2/event-types/11", json_body={"title": 5})
        await send(http, emu, "GET", "/v2/me")
        first, second, third = emu.received_requests
        assert first == ReceivedRequest(
            "BookingsController_2024_08_13_getBookings",
            "GET",
            "/v2/bookings",
            {},
            (("status", "upcoming"), ("status", "past"), ("take", "3")),
            NO_BODY,
            None,
        )
        assert second.operation_id == "EventTypesController_2024_06_14_updateEventType"
        assert second.path_params == {"eventTypeId": "11"}
        assert second.body == {"title": 5}
        assert second.problem == "body.title must be of type string"
        assert (third.operation_id, third.body, third.problem) == (
            "MeController_getMe",
            NO_BODY,
            None,
        )
        emu.reset_stats()
        assert emu.received_requests == []


async def test_validation_runs_after_credentials_and_can_be_turned_off(
    http: aiohttp.ClientSession,
) -> None:
    async with Emulator() as emu:
        assert emu.validates_requests
        status, _ = await send(http, emu, "GET", "/v2/bookings?colour=red", key=False)
        assert status == 401  # who you are is checked first; nothing is recorded
        assert emu.received_requests == []
    async with Emulator(validate_requests=False) as emu:
        assert not emu.validates_requests
        status, body = await send(http, emu, "GET", "/v2/bookings?colour=red")
        assert status == 200, body  # the handler ignores what it does not know
        assert emu.received_requests == []


async def test_the_documented_additions_check_their_own_requests(
    http: aiohttp.ClientSession,
) -> None:
    """The OAuth 2.0 token endpoint answers RFC 6749 errors, not the error envelope."""
    async with Emulator() as emu:
        status, body = await send(http, emu, "POST", "/v2/auth/oauth2/token", json_body={})
        assert status == 400 and body["error"] == "invalid_request", body
        assert emu.received_requests == []


def test_the_validator_reads_the_repaired_document() -> None:
    checker = RequestValidator()
    assert checker.covers("BookingsController_2024_08_13_getBookings")
    assert not checker.covers("OAuth2Controller_token")
    received = checker.receive(
        "SchedulesController_2024_06_11_createSchedule",
        "POST",
        "/v2/schedules",
        {},
        (),
        b'{"name": "Work", "timeZone": "Europe/Rome", "isDefault": true,'
        b' "availability": [{"days": ["Funday"], "startTime": "25:00", "endTime": "17:00"}]}',
    )
    assert received.problem is not None
    assert received.problem.startswith("body.availability[0].")


# --- document-driven answers ----------------------------------------------------------------------


async def test_operations_not_implemented_answer_501_by_default(
    http: aiohttp.ClientSession,
) -> None:
    async with Emulator() as emu:
        status, body = await send(http, emu, "GET", "/v2/organizations/100/attributes")
        assert status == 501 and body["error"]["code"] == "NotImplemented"


async def test_document_answers_are_valid_and_the_same_for_the_same_seed(
    http: aiohttp.ClientSession,
) -> None:
    path = "/v2/organizations/100/attributes"
    bodies = []
    for seed in (3, 3, 2):  # the examples fit; how many items a list has is drawn
        async with Emulator(seed=seed, document_answers=True) as emu:
            status, body = await send(http, emu, "GET", path)
            assert status == 200, body
            bodies.append(body)
            # emulated operations are not affected
            status, me = await send(http, emu, "GET", "/v2/me")
            assert status == 200 and me["data"]["id"] == 1
    assert bodies[0] == bodies[1]
    assert bodies[0] != bodies[2]
    operation = "OrganizationsAttributesController_getOrganizationAttributes"
    validator = ResponseValidator()
    for body in bodies:
        assert validator.check(operation, 200, json.dumps(body).encode()) is None
    # a later page is empty, so a paginator stops
    async with Emulator(seed=3, document_answers=True) as emu:
        status, later = await send(http, emu, "GET", f"{path}?skip=10&take=10")
        assert status == 200 and later["data"] == []


async def test_a_paginator_over_a_document_answer_ends() -> None:
    async with Emulator(document_answers=True) as emu:
        options: dict[str, Any] = {
            "base_url": emu.base_url,
            "allow_insecure_http": True,
            "limiter": Unlimited(),
        }
        async with ICalendly(ApiKey(emu.api_key), **options) as client:
            first = await client.orgs.attributes.list(100, take=1)
            items = [item async for item in client.orgs.attributes.list(100, take=1)]
    assert 1 <= len(first.items) <= 2
    assert len(items) == len(first.items)


def test_request_validation_follows_jsonschema_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without jsonschema the emulator still runs (the CLI's demo); asked for, it says why not."""
    from icalendly_async.testing import _validation

    def missing() -> None:
        raise ImportError("No module named 'jsonschema'")

    monkeypatch.setattr(_validation, "_jsonschema", missing)
    assert not Emulator().validates_requests
    with pytest.raises(ImportError, match=r"icalendly-async\[testing\]"):
        Emulator(validate_requests=True)


def test_the_emulator_knows_the_service_from_the_document_alone() -> None:
    """It never imports the client's models or endpoints, nor the generator."""
    import ast
    from pathlib import Path

    import icalendly_async.testing as testing

    root = Path(testing.__file__).parent
    for source in sorted(root.rglob("*.py")):
        tree = ast.parse(source.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
                dots = node.level
            elif isinstance(node, ast.Import):
                names, dots = [alias.name for alias in node.names], 0
            else:
                continue
            for name in names:
                resolved = name if dots == 0 else "." * dots + name
                assert not resolved.lstrip(".").startswith(("models", "endpoints", "tools")), (
                    f"{source.relative_to(root)} imports {resolved}"
                )
                assert not name.startswith(("icalendly_async.models", "icalendly_async.endpoints"))
