"""Every operation of the document, through its generated method, against the emulator.

For each of the document's operations (its operationId is the test id) a fresh emulator with
``document_answers=True`` (the operations it does not implement answer from the document) is
called through the operation's generated method, with arguments built from the repaired
document: path parameters positional in path order, query parameters as keywords (the
generator's snake_case rule), the body as a dict with wire names. Then:

(a) the request the emulator received validates against the repaired request schema (path,
    query, body): the emulator records it (``received_requests``) and its request validation,
    which is tested against the document on its own in ``test_emulator_validation.py``, found
    nothing wrong;
(b) the call succeeded and its result has the method's declared return type, checked against the
    method's return annotation at runtime (models field by field, list items, a paginator's
    first page of items);
and every answer the emulator sent validated against the document (``ICALENDLY_EMULATOR_VALIDATE``
is on for the suite).

Path parameters name the emulator's seeded data where the operation is emulated (the
organization, its teams and users, the owner's event types and bookings, the platform client
and its managed users); a webhook, a slot reservation or a schedule to change is created first
through the same client. ``ADJUSTMENTS`` lists the few body values the document allows but the
emulated service refuses (a subscriber URL off this machine), each with its reason.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import inspect
import re
import types
import typing
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import attrs
import pytest

from icalendly_async import ApiKey, ICalendly, PlatformClient
from icalendly_async.endpoints import OPERATIONS, AuthRequirement, Operation
from icalendly_async.models import Model
from icalendly_async.pagination import AsyncPaginator
from icalendly_async.ratelimit import Unlimited
from icalendly_async.testing import Emulator
from icalendly_async.testing._spec import load_document
from tools.codegen.naming import safe_param, snake
from tools.codegen.samples import Sampler
from tools.codegen.spec import iter_operations

DOCUMENT = load_document()
SAMPLER = Sampler(DOCUMENT)
RAW = {op["operationId"]: (path, op) for path, _method, op in iter_operations(DOCUMENT)}


# --- arguments from the document ------------------------------------------------------------------


@dataclasses.dataclass
class Call:
    """What the sweep sends: path values in order, query keywords, the body (wire names)."""

    args: list[Any]
    kwargs: dict[str, Any]


def method_of(client: ICalendly, operation: Operation) -> Any:
    target: Any = client
    for part in operation.python_name.split("."):
        target = getattr(target, part)
    return target


def _keyword(name: str, params: typing.Mapping[str, inspect.Parameter]) -> str:
    """The method's keyword for the query parameter ``name`` (the generator's rule)."""
    keyword = safe_param(snake(name))
    while keyword not in params:  # the generator appends "_" on a clash with another argument
        keyword += "_"
        if len(keyword) > len(name) + 8:
            raise AssertionError(f"no keyword for query parameter {name!r} in {list(params)}")
    return keyword


def _as_annotated(value: Any, hint: Any) -> Any:
    """A sampled JSON value as the parameter's annotation asks (date-times, dates, enums)."""
    options = typing.get_args(hint) if _is_union(hint) else (hint,)
    for option in options:
        if option is dt.datetime and isinstance(value, str):
            return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        if option is dt.date and isinstance(value, str):
            return dt.date.fromisoformat(value)
        if isinstance(option, type) and issubclass(option, enum.Enum):
            return option(value)
        origin = typing.get_origin(option)
        if origin in (list, tuple) and isinstance(value, list):
            (item,) = typing.get_args(option)[:1]
            return [_as_annotated(v, item) for v in value]
    return value


def query_value(param: dict[str, Any]) -> Any:
    """The parameter's own example where it fits its schema (written ``?name=value`` in this
    document, which is unwrapped), else a sample of its schema."""
    schema = param.get("schema") or {}
    example = param.get("example")
    if isinstance(example, str) and schema.get("type") == "string":
        example = re.sub(r"^\?\w+=", "", example)
        if SAMPLER._fits_scalar(schema, example):
            return example
    return SAMPLER.sample(schema)


def build_call(operation: Operation, method: Any, path_values: dict[str, Any]) -> Call:
    """Arguments for ``method`` built from the repaired document (``path_values`` first)."""
    _path, raw = RAW[operation.operation_id]
    params = inspect.signature(method).parameters
    hints = hints_of(method)
    values: dict[str, Any] = {}
    kwargs: dict[str, Any] = {}
    for param in raw.get("parameters", ()):
        if param["in"] == "path":
            name = param["name"]
            values[name] = path_values.get(name, SAMPLER.sample(param.get("schema")))
        elif param["in"] == "query":
            keyword = _keyword(param["name"], params)
            kwargs[keyword] = _as_annotated(query_value(param), hints.get(keyword))
    media = raw.get("requestBody", {}).get("content", {}).get("application/json")
    if media is not None:
        kwargs["body"] = SAMPLER.sample(media.get("schema"))
    if operation.paginated:  # one page is enough: the first
        kwargs.pop("skip", None)
        kwargs.pop("offset", None)
    return Call([values[name] for name in operation.path_params], kwargs)


# --- the emulated state: what the path parameters name --------------------------------------------


class World:
    """The values of path parameters for the emulator's seeded (and freshly created) data."""

    def __init__(self, emu: Emulator, client: ICalendly, platform: ICalendly) -> None:
        self.emu = emu
        self.client = client
        self.platform = platform
        data = emu.data
        self.org_id = data.organization_id
        self.team_id = min(team.id for team in data.teams.children(self.org_id))
        self.event_type_id = min(data.event_types.by_id)
        self.managed_user_id = data.users_of_client[emu.client_id][0]
        members = [m for m in data.teams.of_team(self.org_id) if m.user_id != data.owner.id]
        self.org_membership = members[0]
        team_members = [m for m in data.teams.of_team(self.team_id) if m.user_id != data.owner.id]
        self.team_membership = team_members[0]

    async def path_values(self, operation: Operation) -> dict[str, Any]:
        path = operation.path
        values: dict[str, Any] = {
            "orgId": self.org_id,
            "teamId": self.team_id,
            "eventTypeId": self.event_type_id,
            "clientId": self.emu.client_id,
        }
        if path.startswith("/v2/oauth-clients/{clientId}/users"):
            values["userId"] = self.managed_user_id
        elif "{userId}" in path:
            values["userId"] = self.org_membership.user_id
        if "/teams/{teamId}/memberships" in path:
            values["membershipId"] = self.team_membership.id
        elif "{membershipId}" in path:
            values["membershipId"] = self.org_membership.id
        if "{bookingUid}" in path:
            values["bookingUid"] = self._booking_uid(operation)
        if "{routingFormId}" in path:
            team = self.team_id if "/teams/{teamId}/" in path else None
            form = next(
                f for f in self.emu.data.routing_forms.of_org(self.org_id) if f.team_id == team
            )
            values["routingFormId"] = form.id
            if "{responseId}" in path:
                values["responseId"] = self.emu.data.routing_forms.responses_of(form.id)[0].id
        if "{oooId}" in path:
            entry = min(self.emu.data.out_of_office.entries.values(), key=lambda e: e.id)
            values["userId"], values["oooId"] = entry.user_id, entry.id
        for name, create in self._creators(operation).items():
            values[name] = await create(values)
        return values

    def _booking_uid(self, operation: Operation) -> str:
        """A seeded booking the operation can act on: pending to confirm or decline, past to
        mark absent, upcoming otherwise."""
        now = dt.datetime.now(dt.timezone.utc).timestamp()
        wanted = "pending" if operation.path.endswith(("/confirm", "/decline")) else "accepted"
        past = operation.path.endswith("/mark-absent")
        for row in self.emu.data.bookings:
            if row.status == wanted and (row.end < now) == past and not row.recurring:
                return row.uid
        raise AssertionError(f"no {wanted} booking in the seeded data for {operation}")

    async def free_slot(self) -> str:
        """The start of a slot of the owner's first event type that is free (asked through
        the client, as a booker would)."""
        start = dt.datetime.now(dt.timezone.utc).date() + dt.timedelta(days=1)
        slots = await self.client.slots.get_available(
            start=start,
            end=start + dt.timedelta(days=14),
            event_type_id=self.event_type_id,
        )
        for day in sorted(slots):
            for slot in slots[day]:
                return str(slot.start.isoformat())
        raise AssertionError("the owner has no free slot in the next two weeks")

    def outsider_id(self, team_id: int) -> int:
        """A user of the organization who is not a member of ``team_id``."""
        members = {m.user_id for m in self.emu.data.teams.of_team(team_id)}
        for membership in self.emu.data.teams.of_team(self.org_id):
            if membership.user_id not in members:
                return membership.user_id
        raise AssertionError(f"every user of the organization is in team {team_id}")

    def _creators(
        self, operation: Operation
    ) -> dict[str, Callable[[dict[str, Any]], Awaitable[Any]]]:
        """Resources that are not seeded: made first through the collection's create."""
        path = operation.path
        found: dict[str, Callable[[dict[str, Any]], Awaitable[Any]]] = {}
        if path.endswith("/webhooks/{webhookId}"):
            found["webhookId"] = lambda values: self._create(path.rsplit("/", 1)[0], values, "id")
        if path == "/v2/slots/reservations/{uid}":
            found["uid"] = lambda values: self._create(
                "/v2/slots/reservations", values, "reservation_uid"
            )
        if path == "/v2/schedules/{scheduleId}":
            found["scheduleId"] = lambda values: self._create("/v2/schedules", values, "id")
        if path.startswith("/v2/organizations/{orgId}/users/{userId}/schedules/{scheduleId}"):
            found["scheduleId"] = lambda values: self._create(
                "/v2/organizations/{orgId}/users/{userId}/schedules", values, "id"
            )
        return found

    async def _create(self, collection: str, values: dict[str, Any], field: str) -> Any:
        (create,) = [op for op in OPERATIONS if op.method == "POST" and op.path == collection]
        client = self.platform if create.auth is not AuthRequirement.ANY else self.client
        method = method_of(client, create)
        call = build_call(create, method, values)
        await adjust(create, call, self)
        if "isDefault" in call.kwargs["body"]:
            call.kwargs["body"]["isDefault"] = False  # the default schedule cannot be deleted
        created = await method(*call.args, **call.kwargs)
        return getattr(created, field)


# --- what the document allows and the emulated service refuses ------------------------------------


Adjustment = Callable[[Call, World], Awaitable[None]]


def _body(**values: Any) -> Adjustment:
    async def adjust(call: Call, world: World) -> None:
        call.kwargs["body"].update(values)

    return adjust


def _without(*names: str, place: str = "body") -> Adjustment:
    async def adjust(call: Call, world: World) -> None:
        target = call.kwargs if place == "query" else call.kwargs["body"]
        for name in names:
            target.pop(name, None)

    return adjust


def _chain(*steps: Adjustment) -> Adjustment:
    async def adjust(call: Call, world: World) -> None:
        for step in steps:
            await step(call, world)

    return adjust


async def _refresh_token(call: Call, world: World) -> None:
    call.kwargs["body"]["refreshToken"] = world.emu.issue_tokens().refresh_token


async def _new_org_member(call: Call, world: World) -> None:
    call.kwargs["body"]["userId"] = world.managed_user_id


async def _new_team_member(call: Call, world: World) -> None:
    call.kwargs["body"]["userId"] = world.outsider_id(world.team_id)


async def _booking(call: Call, world: World) -> None:
    call.kwargs["body"].update(eventTypeId=world.event_type_id, start=await world.free_slot())
    call.kwargs["body"].pop("lengthInMinutes", None)


async def _reschedule(call: Call, world: World) -> None:
    call.kwargs["body"]["start"] = await world.free_slot()


async def _attendee(call: Call, world: World) -> None:
    booking = world.emu.data.bookings_by_uid[call.args[0]]
    email = booking.data["attendees"][0]["email"]
    call.kwargs["body"]["attendees"] = [{"email": email, "absent": True}]


async def _out_of_office(call: Call, world: World) -> None:
    user_id = call.args[1]  # /v2/organizations/{orgId}/users/{userId}/ooo…
    cover = next(
        m.user_id for m in world.emu.data.teams.of_team(world.org_id) if m.user_id != user_id
    )
    start = dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=3 * 365)  # past any seeded entry
    call.kwargs["body"].update(
        toUserId=cover, start=start.isoformat(), end=(start + dt.timedelta(days=2)).isoformat()
    )


async def _slots_query(call: Call, world: World) -> None:
    start = dt.datetime.now(dt.timezone.utc).date() + dt.timedelta(days=1)
    call.kwargs = {
        "start": start,
        "end": dt.datetime.combine(start + dt.timedelta(days=7), dt.time(18), dt.timezone.utc),
        "event_type_id": world.event_type_id,
        "time_zone": call.kwargs["time_zone"],
        "format_": call.kwargs["format_"],
    }


async def _reservation(call: Call, world: World) -> None:
    call.kwargs["body"].update(eventTypeId=world.event_type_id, slotStart=await world.free_slot())
    call.kwargs["body"].pop("slotDuration", None)


_LOOPBACK = "the emulator delivers webhooks only to this machine (a loopback subscriber URL)"
_TIME_FORMAT = "the service takes a time format of 12 or 24 (the document: any number)"
_EMAIL = "the service checks that an email is one (the document: any string)"
_TIME_ZONE = "the service takes an IANA time zone (the document: any string)"
_SLOT = "a booking or reservation needs a free slot of an event type that exists"
_NO_SCHEDULE = "the document's example schedule id is not one of this user's schedules"
_NOT_EMULATED = "recurring and seated event types are not emulated"
_OOO = (
    "who covers (toUserId) is another user of the organization, and a user's entries do not overlap"
)

#: operationId → (why, what): body and query values the document allows and the emulated
#: service refuses (or that must name the emulator's state).
ADJUSTMENTS: dict[str, tuple[str, Adjustment]] = {
    op.operation_id: (_LOOPBACK, _body(subscriberUrl="http://127.0.0.1:9/hook"))
    for op in OPERATIONS
    if op.method in ("POST", "PATCH") and op.path.rsplit("/", 1)[-1] in ("webhooks", "{webhookId}")
}
ADJUSTMENTS |= {
    "OAuthFlowController_refreshTokens": (
        "a refresh token is a secret the service issued, not a value from the document",
        _refresh_token,
    ),
    "OAuthClientUsersController_updateUser": (
        f"{_EMAIL}; {_TIME_ZONE}; {_NO_SCHEDULE}",
        _chain(
            _body(email="updated@example.com", timeZone="Europe/Rome"),
            _without("defaultScheduleId"),
        ),
    ),
    "MeController_updateMe": (_TIME_ZONE, _body(timeZone="Europe/Rome")),
    "TeamsController_createTeam": (_TIME_FORMAT, _body(timeFormat=24)),
    "TeamsController_updateTeam": (_TIME_FORMAT, _body(timeFormat=24)),
    "OrganizationsTeamsController_createTeam": (_TIME_FORMAT, _body(timeFormat=24)),
    "OrganizationsTeamsController_updateTeam": (_TIME_FORMAT, _body(timeFormat=24)),
    "OrganizationsMembershipsController_createMembership": (
        "a new membership is of a user who is not a member yet",
        _new_org_member,
    ),
    "TeamsMembershipsController_createTeamMembership": (
        "a new membership is of a user who is not a member yet",
        _new_team_member,
    ),
    "OrganizationsTeamsMembershipsController_createOrgTeamMembership": (
        "a new membership is of a user who is not a member yet",
        _new_team_member,
    ),
    "OrganizationsUsersController_createOrganizationUser": (
        _NO_SCHEDULE,
        _without("defaultScheduleId"),
    ),
    "EventTypesController_2024_06_14_createEventType": (
        _NOT_EMULATED,
        _without("recurrence", "seats"),
    ),
    "EventTypesController_2024_06_14_updateEventType": (
        _NOT_EMULATED,
        _without("recurrence", "seats"),
    ),
    "EventTypesController_2024_06_14_getEventTypes": (
        "usernames asks for a dynamic event type, which is not emulated",
        _without("usernames", "username", "event_slug", "org_slug", "org_id", place="query"),
    ),
    "BookingsController_2024_08_13_createBooking": (_SLOT, _booking),
    "SlotsController_2024_09_04_getAvailableSlots": (_SLOT, _slots_query),
    "BookingsController_2024_08_13_rescheduleBooking": (_SLOT, _reschedule),
    "BookingsController_2024_08_13_markNoShow": (
        "only an attendee of the booking can be marked absent",
        _attendee,
    ),
    "OrganizationsUsersOOOController_createOrganizationUserOOO": (_OOO, _out_of_office),
    "OrganizationsUsersOOOController_updateOrganizationUserOOO": (_OOO, _out_of_office),
    "SlotsController_2024_09_04_reserveSlot": (_SLOT, _reservation),
    "SlotsController_2024_09_04_updateReservedSlot": (_SLOT, _reservation),
}


async def adjust(operation: Operation, call: Call, world: World) -> None:
    entry = ADJUSTMENTS.get(operation.operation_id)
    if entry is not None:
        await entry[1](call, world)


# --- the return type, at runtime ------------------------------------------------------------------


def hints_of(function: Any) -> dict[str, Any]:
    """The resolved annotations of a generated method (``Timeout`` names aiohttp lazily)."""
    return typing.get_type_hints(function, localns={"aiohttp": aiohttp})


def _is_union(hint: Any) -> bool:
    return typing.get_origin(hint) in (typing.Union, types.UnionType)


def type_errors(value: Any, hint: Any, where: str = "$", depth: int = 0) -> list[str]:
    """Where ``value`` is not of type ``hint`` (empty: it is)."""
    if hint is Any or depth > 12:
        return []
    if hint is None or hint is type(None):
        return [] if value is None else [f"{where}: {value!r} is not None"]
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if _is_union(hint):
        tries = [type_errors(value, option, where, depth) for option in args]
        if any(not errors for errors in tries):
            return []
        closest = min(tries, key=len)
        return [f"{where}: {type(value).__name__} matches none of {hint}", *closest]
    if origin is typing.Literal:
        return [] if value in args else [f"{where}: {value!r} is not one of {args}"]
    if origin in (list, tuple, set, frozenset) or origin is typing.Sequence:
        if not isinstance(value, origin if origin is not typing.Sequence else list):
            return [f"{where}: {type(value).__name__} is not a {origin.__name__}"]
        item = args[0] if args else Any
        return [
            e for i, v in enumerate(value) for e in type_errors(v, item, f"{where}[{i}]", depth)
        ]
    if origin in (dict, typing.Mapping) or origin is getattr(typing, "Mapping", None):
        if not isinstance(value, dict):
            return [f"{where}: {type(value).__name__} is not a dict"]
        item = args[1] if len(args) == 2 else Any
        return [e for k, v in value.items() for e in type_errors(v, item, f"{where}.{k}", depth)]
    if origin is not None:
        hint = origin
    if not isinstance(hint, type):
        return []
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        return []
    if not isinstance(value, hint):
        return [f"{where}: {type(value).__name__} {value!r:.80} is not a {hint.__name__}"]
    if attrs.has(hint):
        fields = typing.get_type_hints(hint)
        return [
            error
            for field in attrs.fields(hint)
            if field.name in fields and not field.name.startswith("_")
            for error in type_errors(
                getattr(value, field.name), fields[field.name], f"{where}.{field.name}", depth + 1
            )
        ]
    return []


# --- the sweep ------------------------------------------------------------------------------------

#: Operations that fail today for a reason that is the typed layer's job (issue #16 items 3-4).
TYPED: dict[str, str] = {}


def cases(operations: list[Operation], typed: dict[str, str]) -> list[Any]:
    """One test case per operation (its operationId the id); ``typed`` ones are strict xfails."""
    found = []
    for operation in operations:
        reason = typed.get(operation.operation_id)
        marks = [] if reason is None else [pytest.mark.xfail(strict=True, reason=reason)]
        found.append(pytest.param(operation, id=operation.operation_id, marks=marks))
    return found


async def call_and_check(operation: Operation, method: Any, call: Call) -> list[str]:
    """Call ``method`` (a list: its paginator's first page) and say where the result is not of
    the method's declared return type (empty: it is)."""
    returns = hints_of(method)["return"]
    result = method(*call.args, **call.kwargs)
    if operation.paginated:  # every operation that pages is a paginator (lists that do not, too)
        assert isinstance(result, AsyncPaginator), type(result)
    if typing.get_origin(returns) is AsyncPaginator:
        assert isinstance(result, AsyncPaginator), type(result)
        page = await result
        (item_type,) = typing.get_args(returns)
        errors = type_errors(page.items, list[item_type])  # type: ignore[valid-type]
    else:
        errors = type_errors(await result, returns)
    return [f"{operation}: the result is not a {returns}:", *errors[:10]] if errors else []


def test_the_sweep_covers_every_operation_of_the_document() -> None:
    documented = {op_id for op_id, (_p, op) in RAW.items() if "x-icalendly-addition" not in op}
    assert len(documented) == 230
    assert {operation.operation_id for operation in OPERATIONS} == documented
    assert set(TYPED) <= documented
    assert set(ADJUSTMENTS) <= documented


@pytest.mark.parametrize("operation", cases(list(OPERATIONS), TYPED))
async def test_operation(operation: Operation) -> None:
    async with Emulator(enforce_rate_limits=False, document_answers=True) as emu:
        options: dict[str, Any] = {
            "base_url": emu.base_url,
            "allow_insecure_http": True,
            "limiter": Unlimited(),
            "max_retries": 0,
        }
        async with ICalendly(ApiKey(emu.api_key), **options) as client:
            platform = client.with_credential(PlatformClient(emu.client_id, emu.client_secret))
            world = World(emu, client, platform)
            caller = client if operation.auth is AuthRequirement.ANY else platform
            method = method_of(caller, operation)
            call = build_call(operation, method, await world.path_values(operation))
            await adjust(operation, call, world)
            before = len(emu.received_requests)
            errors = await call_and_check(operation, method, call)
        received = emu.received_requests[before:]
    assert [r.operation_id for r in received] == [operation.operation_id]
    (request,) = received
    assert request.problem is None, request
    assert list(request.path_params) == list(operation.path_params), request
    assert not errors, "\n".join(errors)


def test_models_are_checked_field_by_field() -> None:
    """The return-type check is not vacuous."""
    from icalendly_async.models import WebhookTrigger

    assert type_errors([WebhookTrigger("BOOKING_CREATED")], list[WebhookTrigger]) == []
    assert type_errors(["x"], list[int]) != []
    assert type_errors(None, int | None) == []
    assert type_errors(1, str | None) != []
    assert issubclass(Model, object)
