"""The generated endpoint groups: every operation reachable, with the right route and arguments.

A fake client records what the generated methods hand to ``_call`` (no HTTP here: the session is
tested elsewhere, and the Prism contract test sends every operation for real).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import inspect
import re
from collections.abc import Mapping
from typing import Any

import attrs
import pytest

from icalendly_async.endpoints import (
    OPERATIONS,
    GeneratedGroups,
    Operation,
    Param,
    capture_responses,
)
from icalendly_async.errors import DecodeError, ParameterError
from icalendly_async.models import Model, parse_datetime
from icalendly_async.models import _generated as gen
from icalendly_async.pagination import AsyncPaginator, Page
from icalendly_async.plans import Plan, Tier
from icalendly_async.response import Response
from tools.codegen import spec
from tools.codegen.naming import safe_param, snake
from tools.codegen.samples import Sampler

ORIGINAL = spec.load_original()
DOC = spec.repair(ORIGINAL).doc
SAMPLER = Sampler(DOC)
RAW = {op["operationId"]: (path, method, op) for path, method, op in spec.iter_operations(DOC)}
COMMON = ("extra_headers", "extra_query", "timeout", "api_version")
NEVER_ARGUMENTS = {"authorization", "x_cal_client_id", "x_cal_secret_key", "cal_api_version"}


class FakeClient(GeneratedGroups):
    """Records every ``_call`` and answers with ``data``."""

    def __init__(self, data: Any = None, pagination: Mapping[str, Any] | None = None) -> None:
        self.calls: list[dict[str, Any]] = []
        self.data = data
        self.pagination = pagination

    async def _call(
        self,
        operation: Operation,
        path_params: tuple[object, ...] = (),
        *,
        query: Mapping[str, object] | None = None,
        body: object = None,
        extra_headers: Mapping[str, str] | None = None,
        extra_query: Mapping[str, object] | None = None,
        timeout: Any = None,
        api_version: str | None = None,
    ) -> Response:
        self.calls.append(
            {
                "operation": operation,
                "path_params": path_params,
                "query": dict(query or {}),
                "body": body,
                "extra_headers": extra_headers,
                "extra_query": extra_query,
                "timeout": timeout,
                "api_version": api_version,
            }
        )
        return Response(
            status=200,
            method=operation.method,
            url="https://api.icalendly.com" + operation.path,
            headers={"x-request-id": "req-1"},
            data=self.data,
            pagination=self.pagination,
            request_id="req-1",
        )


def method_of(client: Any, operation: Operation) -> Any:
    target = client
    for part in operation.python_name.split("."):
        target = getattr(target, part)
    return target


def sample_arguments(operation: Operation) -> tuple[list[Any], dict[str, Any]]:
    """Valid arguments for the operation's method, built from ``operation.params`` and the
    document: path values in order, every query parameter, the body as a dict of wire names."""
    _path, _method, raw = RAW[operation.operation_id]
    schemas = {(p["in"], p["name"]): p.get("schema") for p in raw["parameters"]}
    args: list[Any] = []
    kwargs: dict[str, Any] = {}
    for param in operation.params:
        if param.location == "body":
            continue
        value = argument(param, SAMPLER.sample(schemas[(param.location, param.wire)]))
        if param.location == "path":
            args.append(value)
        else:
            kwargs[param.name] = value
    body = raw.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")
    if body is not None:
        kwargs["body"] = SAMPLER.sample(body)
    return args, kwargs


def argument(param: Param, value: Any) -> Any:
    """A sample of the document (JSON) as the method takes it (``param.kind``)."""
    if param.array:
        items = value if isinstance(value, list) else [value]
        return [argument(attrs.evolve(param, array=False), item) for item in items]
    if param.kind == "datetime":
        return parse_datetime(value)
    if param.kind == "date":
        return dt.date.fromisoformat(value[:10])
    return value


def response_data(operation: Operation) -> Any:
    """A valid ``data`` for the operation's success response (``None`` when it has none)."""
    _path, _method, raw = RAW[operation.operation_id]
    content = spec.success_response(raw).get("content") or {}
    schema = SAMPLER.resolve(content.get("application/json", {}).get("schema") or {})
    data = (schema.get("properties") or {}).get("data")
    return None if data is None else SAMPLER.sample(data)


@pytest.mark.parametrize("operation", OPERATIONS, ids=lambda op: op.python_name)
async def test_every_operation_is_a_method_with_its_route(operation: Operation) -> None:
    path, method_name, raw = RAW[operation.operation_id]
    client = FakeClient(data=response_data(operation))
    method = method_of(client, operation)
    assert callable(method)
    args, kwargs = sample_arguments(operation)
    result = method(*args, **kwargs)
    if operation.paginated:
        assert isinstance(result, AsyncPaginator)
    if isinstance(result, AsyncPaginator):
        page = await result
        assert isinstance(page, Page)
        if isinstance(client.data, list):
            assert len(page.items) == len(client.data)
    else:
        assert inspect.iscoroutinefunction(method)
        decoded = await result
        if isinstance(client.data, dict) and isinstance(decoded, Model):
            assert decoded.raw_response is not None
    call = client.calls[0]
    sent: Operation = call["operation"]
    assert sent is operation
    assert (sent.method, sent.path) == (method_name.upper(), path)
    assert sent.operation_id == raw["operationId"]
    assert call["path_params"] == tuple(str(a) for a in args)
    query_names = {p["name"] for p in raw["parameters"] if p["in"] == "query"}
    assert set(call["query"]) == query_names
    if "body" in kwargs:
        assert call["body"] == kwargs["body"]  # the sample is JSON already: sent as given


@pytest.mark.parametrize("operation", OPERATIONS, ids=lambda op: op.python_name)
def test_signatures(operation: Operation) -> None:
    method = method_of(FakeClient(), operation)
    params = inspect.signature(method).parameters
    names = list(params)
    positional = [n for n, p in params.items() if p.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD]
    path_names = [safe_param(snake(name)) for name in operation.path_params]
    assert positional[: len(path_names)] == path_names
    assert set(positional) <= {*path_names, "body"}
    for name in COMMON:
        assert params[name].kind is inspect.Parameter.KEYWORD_ONLY
        assert params[name].default is None
    assert not NEVER_ARGUMENTS & set(names), names
    if operation.paginated:
        assert "max_items" in names


@pytest.mark.parametrize("operation", OPERATIONS, ids=lambda op: op.python_name)
def test_docstrings_give_summary_tier_and_version(operation: Operation) -> None:
    doc = inspect.getdoc(method_of(FakeClient(), operation)) or ""
    first = doc.split("\n", 1)[0]
    assert first.rstrip(".") == (operation.summary or operation.operation_id).rstrip(".")
    flat = " ".join(doc.split())
    assert f"``{operation.method} {operation.path}``" in flat
    assert f"tier: {operation.tier.value}" in flat
    assert (
        f"API version: ``{operation.api_version}``" in flat
        if operation.api_version
        else ("API version: none" in flat)
    )


def test_groups_are_cached_and_lazy() -> None:
    client = FakeClient()
    assert client.bookings is client.bookings
    assert client.orgs.teams.memberships is client.orgs.teams.memberships
    assert type(client.platform.managed_users).__name__ == "PlatformManagedUsers"
    assert "bookings" in repr(client.bookings).lower()


async def test_path_params_positional_query_keyword_and_options() -> None:
    client = FakeClient(data=[])
    await client.orgs.teams.memberships.list(
        1, 2, take=5, extra_headers={"x-a": "1"}, extra_query={"z": 1}, timeout=3.0
    ).first_page()
    call = client.calls[0]
    assert call["operation"].python_name == "orgs.teams.memberships.list"
    assert call["path_params"] == ("1", "2")
    assert call["query"] == {"take": 5}
    assert call["extra_headers"] == {"x-a": "1"}
    assert call["extra_query"] == {"z": 1}
    assert call["timeout"] == 3.0
    with pytest.raises(TypeError):
        client.orgs.teams.memberships.list(1, 2, 5)  # type: ignore[call-arg]


async def test_query_params_are_snake_case_keywords_sent_camel_case() -> None:
    client = FakeClient(data=[])
    after = dt.datetime(2024, 8, 13, 11, 30, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    await client.bookings.list(
        status=["upcoming", "past"],
        attendee_email="a@b.c",
        sort_start="asc",
        after_start=after,
        take=10,
    ).first_page()
    query = client.calls[0]["query"]
    assert query == {
        "status": ["upcoming", "past"],  # the document's style: repeated keys
        "attendeeEmail": "a@b.c",
        "sortStart": "asc",
        "afterStart": "2024-08-13T09:30:00.000Z",  # aware datetimes go out in UTC
        "take": 10,
    }
    client.data = {}
    await client.slots.get_available(start=dt.date(2050, 9, 5), end=dt.date(2050, 9, 6))
    assert client.calls[1]["query"] == {"start": "2050-09-05", "end": "2050-09-06"}


@pytest.mark.parametrize(
    ("call", "parameter", "expected"),
    [
        (lambda c: c.bookings.list(after_start="2024-08-13"), "after_start", "aware datetime"),
        (lambda c: c.bookings.list(after_start=dt.datetime(2024, 8, 13)), "after_start", "naive"),
        (lambda c: c.bookings.list(status=["soon"]), "status", "'upcoming'"),
        (lambda c: c.bookings.list(status="upcoming"), "status", "a list of"),
        (lambda c: c.bookings.list(take="10"), "take", "int"),
        (lambda c: c.bookings.list(take=True), "take", "int"),
        (lambda c: c.event_types.get("12"), "event_type_id", "int"),
        (lambda c: c.slots.get_available(start="2050-09-05", end="x"), "start", "date"),
    ],
)
async def test_wrong_argument_types_are_refused_before_sending(
    call: Any, parameter: str, expected: str
) -> None:
    client = FakeClient(data=[])
    with pytest.raises(ParameterError) as info:
        result = call(client)
        await (result.first_page() if isinstance(result, AsyncPaginator) else result)
    assert info.value.parameter == parameter
    assert expected in str(info.value)
    assert client.calls == []


async def test_api_version_is_the_operations_and_can_be_overridden_per_call() -> None:
    data = SAMPLER.sample(DOC["components"]["schemas"]["EventTypeOutput_2024_06_14"])
    client = FakeClient(data=data)
    await client.event_types.get(1)
    assert client.calls[0]["operation"].api_version == "2024-06-14"
    assert client.calls[0]["api_version"] is None
    await client.event_types.get(1, api_version="2024-09-99")
    assert client.calls[1]["api_version"] == "2024-09-99"


async def test_body_as_model_dict_or_keywords() -> None:
    client = FakeClient(
        data=SAMPLER.sample(DOC["components"]["schemas"]["ScheduleOutput_2024_06_11"])
    )
    model = gen.CreateScheduleInput_2024_06_11(
        name="Work", time_zone="Europe/Rome", is_default=True
    )
    wire = {"name": "Work", "timeZone": "Europe/Rome", "isDefault": True}
    first = await client.schedules.create(model)
    second = await client.schedules.create(name="Work", time_zone="Europe/Rome", is_default=True)
    third = await client.schedules.create(
        {"name": "Work", "time_zone": "Europe/Rome", "isDefault": True}
    )
    assert [call["body"] for call in client.calls] == [wire, wire, wire]
    assert isinstance(first, gen.ScheduleOutput_2024_06_11) and first == second == third
    assert first.raw_response is not None and first.raw_response.request_id == "req-1"
    with pytest.raises(ParameterError, match="not both"):
        await client.schedules.create(model, name="x")  # type: ignore[call-overload]
    with pytest.raises(ParameterError, match="timeZone"):
        await client.schedules.create(name="x")  # type: ignore[call-overload]
    assert len(client.calls) == 3


async def test_dict_bodies_are_checked_against_the_schema() -> None:
    client = FakeClient(data=None)
    with pytest.raises(ParameterError) as info:
        await client.schedules.create({"name": "Work", "timeZon": "Europe/Rome", "isDefault": True})
    assert info.value.parameter == "timeZon"
    assert "'timeZone'" in str(info.value) and info.value.suggestions[0] == "timeZone"
    with pytest.raises(ParameterError) as info:
        await client.schedules.create(name="Work", time_zone=5, is_default=True)  # type: ignore[call-overload]
    assert info.value.parameter == "timeZone" and info.value.expected == "str"
    assert "time_zone" in str(info.value)
    with pytest.raises(ParameterError) as nested:
        await client.bookings.create(  # type: ignore[call-overload]
            start=dt.datetime(2030, 1, 7, 9, tzinfo=dt.timezone.utc),
            attendee={"name": "Ada", "email": "ada@example.com", "timezone": "Europe/Rome"},
        )
    assert nested.value.parameter == "attendee.timezone"
    assert "timeZone" in nested.value.suggestions
    with pytest.raises(ParameterError) as wrong:
        await client.bookings.create(  # type: ignore[call-overload]
            start="tomorrow",
            attendee=gen.CreateBookingAttendee(
                name="Ada", email="ada@example.com", time_zone="Europe/Rome"
            ),
        )
    assert wrong.value.parameter == "start"
    assert client.calls == []


async def test_union_bodies_and_bodies_without_required_fields() -> None:
    client = FakeClient(
        data=SAMPLER.sample(DOC["components"]["schemas"]["BookingOutput_2024_08_13"])
    )
    body = gen.CancelSeatedBookingInput_2024_08_13(seat_uid="seat-1")
    booking = await client.bookings.cancel("uid-1", body)
    assert client.calls[0]["body"] == {"seatUid": "seat-1"}
    assert client.calls[0]["path_params"] == ("uid-1",)
    assert isinstance(booking, gen.BookingOutput_2024_08_13)
    await client.bookings.cancel("uid-1")  # no field is required: the body may be left out
    assert client.calls[1]["body"] == {}
    await client.bookings.cancel("uid-1", cancellation_reason="sick")
    assert client.calls[2]["body"] == {"cancellationReason": "sick"}
    attendee = gen.CreateBookingAttendee(name="Ada", email="ada@example.com", time_zone="UTC")
    start = dt.datetime(2030, 1, 7, 9, tzinfo=dt.timezone.utc)
    await client.bookings.create(start=start, attendee=attendee, event_type_id=1, instant=True)
    assert client.calls[3]["body"] == {
        "start": "2030-01-07T09:00:00.000Z",
        "attendee": {"name": "Ada", "email": "ada@example.com", "timeZone": "UTC"},
        "eventTypeId": 1,
        "instant": True,
    }


async def test_results_without_a_model_and_capture_responses() -> None:
    client = FakeClient(data=None)
    with capture_responses() as responses:
        await client.verified_resources.request_email_code(email="a@b.c")  # returns None
        client.data = {"anything": [1]}
        assert await client.calendars.check_ics_feed() == {"anything": [1]}
        client.data = ["https://x/t1"]
        assert await client.bookings.list_transcripts("uid").collect() == ["https://x/t1"]
    assert [r.status for r in responses] == [200, 200, 200]
    assert responses[0].request_id == "req-1"
    client.data = None  # an empty body where the document declares an empty object
    assert await client.calendars.check_ics_feed() == {}


async def test_untyped_responses_return_any() -> None:
    client = FakeClient(data={"whatever": True})
    assert await client.orgs.users.ooo.list(1, 2).collect() == [{"whatever": True}]
    assert await client.orgs.teams.workflows.delete(1, 2, 3) == {"whatever": True}


async def test_a_response_that_does_not_fit_names_the_operation_the_path_and_the_type() -> None:
    booking = SAMPLER.sample(DOC["components"]["schemas"]["BookingOutput_2024_08_13"])
    booking["attendees"] = [*booking["attendees"], {**booking["attendees"][0], "email": 7}]
    client = FakeClient(data=booking)
    with pytest.raises(DecodeError) as info:
        await client.bookings.get("uid-1")
    error = info.value
    assert error.operation == "bookings.get"
    assert error.path == f"data.attendees[{len(booking['attendees']) - 1}].email"
    assert error.expected == "str"
    assert "bookings.get" in str(error) and "data.attendees[" in str(error)
    client.data = [booking]
    with pytest.raises(DecodeError) as listed:
        await client.bookings.list().first_page()
    assert listed.value.path == f"data[0].attendees[{len(booking['attendees']) - 1}].email"


def test_operations_are_allowed_per_plan_as_notes_md_says() -> None:
    gated = {
        Plan.TEAMS: [op for op in OPERATIONS if not op.allowed_for(Plan.TEAMS)],
        Plan.ORGANIZATIONS: [op for op in OPERATIONS if not op.allowed_for(Plan.ORGANIZATIONS)],
    }
    assert {op.tier for op in gated[Plan.TEAMS]} == {Tier.ORGANIZATIONS, Tier.PLATFORM}
    assert {op.tier for op in gated[Plan.ORGANIZATIONS]} == {Tier.TEAMS, Tier.PLATFORM}
    assert all(
        re.match(r"(orgs|platform|oauth_clients)\.", op.python_name) for op in gated[Plan.TEAMS]
    )


def test_sample_bodies_are_valid_for_the_document() -> None:
    # What the methods send (after checking) must match the schemas.
    import jsonschema  # type: ignore[import-untyped, unused-ignore]
    from referencing import Registry
    from referencing.jsonschema import DRAFT202012

    registry = Registry().with_resource("urn:doc", DRAFT202012.create_resource(DOC))
    checked = 0
    for operation in OPERATIONS:
        _path, _method, raw = RAW[operation.operation_id]
        body = raw.get("requestBody", {}).get("content", {}).get("application/json", {})
        if "schema" not in body:
            continue
        client = FakeClient(data=response_data(operation))
        args, kwargs = sample_arguments(operation)
        result = method_of(client, operation)(*args, **kwargs)
        asyncio.run(result.first_page() if isinstance(result, AsyncPaginator) else result)
        schema = _rebase(body["schema"])
        jsonschema.Draft202012Validator(schema, registry=registry).validate(client.calls[0]["body"])
        checked += 1
    assert checked == 83


def _rebase(schema: Any) -> Any:
    if isinstance(schema, dict):
        return {k: ("urn:doc" + v if k == "$ref" else _rebase(v)) for k, v in schema.items()}
    if isinstance(schema, list):
        return [_rebase(v) for v in schema]
    return schema


def _real_client_class() -> Any:
    import icalendly_async

    if not issubclass(icalendly_async.ICalendly, GeneratedGroups):
        pytest.fail("ICalendly must inherit icalendly_async.endpoints.GeneratedGroups")
    return icalendly_async.ICalendly


@pytest.mark.parametrize(
    ("plan", "name", "args"),
    [
        (Plan.TEAMS, "orgs.teams.memberships.list", (1, 2)),
        (Plan.TEAMS, "platform.webhooks.get", ("client", "hook")),
        (Plan.ORGANIZATIONS, "teams.list", ()),
        (Plan.ORGANIZATIONS, "orgs.managed_orgs.get", (1, 2)),
        (Plan.ORGANIZATIONS, "oauth_clients.list", ()),
    ],
)
async def test_plan_tier_error_before_any_byte_is_sent(
    recording_server: Any, plan: Plan, name: str, args: tuple[Any, ...]
) -> None:
    from icalendly_async import ApiKey, PlatformClient
    from icalendly_async.errors import PlanTierError

    cls = _real_client_class()
    operation = next(op for op in OPERATIONS if op.python_name == name)
    credential: Any = ApiKey("ical_test_key_0123456789")
    if operation.auth is not operation.auth.ANY:
        credential = PlatformClient("client", "secret-0123456789abcdef")
    async with cls(
        credential, plan=plan, base_url=recording_server.base_url, allow_insecure_http=True
    ) as client:
        method = method_of(client, operation)
        with pytest.raises(PlanTierError) as info:
            result = method(*args)
            await (result.first_page() if isinstance(result, AsyncPaginator) else result)
    message = str(info.value)
    assert name in message
    assert f"Plan.{plan.name}" in message
    for allowed in operation.tier.plans:
        assert f"Plan.{allowed.name}" in message
    assert recording_server.requests == []


async def test_allowed_plan_and_no_plan_do_send(recording_server: Any) -> None:
    from aiohttp import web

    from icalendly_async import ApiKey

    async def empty_list(_request: web.Request) -> web.Response:
        return web.json_response({"status": "success", "data": []})

    recording_server.handler = empty_list
    cls = _real_client_class()
    for plan in (Plan.TEAMS, None):
        async with cls(
            ApiKey("ical_test_key_0123456789"),
            plan=plan,
            base_url=recording_server.base_url,
            allow_insecure_http=True,
        ) as client:
            assert (await client.teams.list()).items == []
    assert [r["path"] for r in recording_server.requests] == ["/v2/teams", "/v2/teams"]
    assert all(r["headers"].get("cal-api-version") is None for r in recording_server.requests)


async def test_the_operations_api_version_is_sent(recording_server: Any) -> None:
    from icalendly_async import ApiKey

    cls = _real_client_class()
    async with cls(
        ApiKey("ical_test_key_0123456789"),
        base_url=recording_server.base_url,
        allow_insecure_http=True,
        api_versions={"Schedules": "2099-01-01"},
    ) as client:
        with contextlib.suppress(Exception):  # the recording server's data is not a booking
            await client.bookings.get("uid-1")
        with contextlib.suppress(Exception):
            await client.bookings.get("uid-1", api_version="2030-01-01")
        with contextlib.suppress(Exception):
            await client.schedules.get(5)
    versions = [r["headers"].get("cal-api-version") for r in recording_server.requests]
    assert versions == ["2024-08-13", "2030-01-01", "2099-01-01"]


async def test_a_call_without_arguments_sends_its_views_version_every_time(
    recording_server: Any,
) -> None:
    """Calls with nothing of their own reuse their operation's request: each view still sends
    its own api_versions, and a per-call version or header still applies."""
    from icalendly_async import ApiKey

    cls = _real_client_class()
    async with cls(
        ApiKey("ical_test_key_0123456789"),
        base_url=recording_server.base_url,
        allow_insecure_http=True,
    ) as client:
        newer = client.with_options(api_versions={"Schedules": "2099-01-01"})
        for call in (
            client.schedules.get_default,
            newer.schedules.get_default,
            client.schedules.get_default,
            lambda: client.schedules.get_default(api_version="2030-01-01"),
            lambda: client.schedules.get_default(extra_headers={"X-Trace": "t1"}),
            newer.schedules.get_default,
        ):
            with contextlib.suppress(Exception):  # the recording server's data is no schedule
                await call()
    sent = [
        (r["headers"].get("cal-api-version"), r["headers"].get("X-Trace"))
        for r in recording_server.requests
    ]
    assert sent == [
        ("2024-06-11", None),
        ("2099-01-01", None),
        ("2024-06-11", None),
        ("2030-01-01", None),
        ("2024-06-11", "t1"),
        ("2099-01-01", None),
    ]


async def test_answers_as_a_server_following_the_published_document_sends_them(
    recording_server: Any,
) -> None:
    """Where the published document declares no envelope (Prism answers as it says), an empty
    body is no data and a bare JSON body is the data; elsewhere the envelope is required."""
    from aiohttp import web

    from icalendly_async import ApiKey

    bodies = {
        "/v2/organizations/1/users/2/ooo": b"",  # no content declared: an empty 200
        "/v2/calendars/ics-feed/check": b"{}",  # `type: object`, no envelope declared
        "/v2/me": b"",  # the envelope is declared: an empty body is an error
    }

    async def answer(request: web.Request) -> web.Response:
        return web.Response(body=bodies[request.path], content_type="application/json")

    recording_server.handler = answer
    cls = _real_client_class()
    async with cls(
        ApiKey("ical_test_key_0123456789"),
        base_url=recording_server.base_url,
        allow_insecure_http=True,
    ) as client:
        assert (await client.orgs.users.ooo.list(1, 2)).items == []
        assert await client.calendars.check_ics_feed() == {}
        with pytest.raises(DecodeError, match="empty body"):
            await client.me.get()
        raw = await client.request("GET", "/v2/calendars/ics-feed/check")
        assert raw == {}  # a raw call of such an operation reads it alike
