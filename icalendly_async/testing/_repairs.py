"""The one table of the document's defects the emulator repairs, and how (NOTES.md).

The published document is wrong in places the service is not; validating the emulator's bodies
against it as is would fail on correct bodies (or, worse, make the emulator copy the defects).
Each :class:`Repair` names a defect, says what it does about it, and applies itself to a copy
of the document; :func:`repair` returns the repaired copy and where each repair acted (logged at
DEBUG on the ``icalendly_async.testing`` logger). Nothing else in the emulator edits schemas.

``ID_PATH_PARAMS`` is the repair of the ids typed ``number`` in one operation and ``string`` in
another: the emulator reads every one of them as a whole number, whatever the operation says.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable, Iterator
from typing import Any

import attrs

__all__ = ["ID_PATH_PARAMS", "REPAIRS", "Repair", "repair"]

_log = logging.getLogger("icalendly_async.testing")

Document = dict[str, Any]

HH_MM = r"^([01]\d|2[0-3]):[0-5]\d$"
_PLACEHOLDER_PATTERNS = {"TIME_FORMAT_HH_MM": HH_MM}

ID_PATH_PARAMS = frozenset(
    {
        "orgId",
        "teamId",
        "eventTypeId",
        "scheduleId",
        "userId",
        "membershipId",
        "webhookId",  # declared string, but the webhook outputs' ``id`` is a number
        "managedOrganizationId",
        "workflowId",
        "oooId",
        "responseId",
    }
)


@attrs.frozen
class Repair:
    """One defect of the document and what the emulator does about it."""

    name: str
    defect: str
    action: str
    apply: Callable[[Document], list[str]] = attrs.field(repr=False)


def _walk(node: Any, pointer: str = "#") -> Iterator[tuple[str, dict[str, Any]]]:
    if isinstance(node, dict):
        yield pointer, node
        for key, value in node.items():
            yield from _walk(value, f"{pointer}/{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _walk(value, f"{pointer}/{index}")


def _schemas(document: Document) -> dict[str, Any]:
    schemas: dict[str, Any] = document["components"]["schemas"]
    return schemas


def _oneof_as_anyof(document: Document) -> list[str]:
    where = []
    for pointer, node in _walk(document):
        if "oneOf" in node and "discriminator" not in node:
            node["anyOf"] = node.pop("oneOf")
            where.append(pointer)
    return where


def _scalar_type(value: Any) -> str | None:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    return None


def _object_with_scalar_example(document: Document) -> list[str]:
    where = []
    for pointer, node in _walk(document):
        if node.get("type") != "object" or "properties" in node:
            continue
        for key in ("example", "default"):
            told = _scalar_type(node.get(key))
            if told is not None:
                node["type"] = told
                where.append(f"{pointer} -> {told}")
                break
    return where


def _placeholder_pattern(document: Document) -> list[str]:
    where = []
    for pointer, node in _walk(document):
        pattern = node.get("pattern")
        if isinstance(pattern, str) and pattern in _PLACEHOLDER_PATTERNS:
            node["pattern"] = _PLACEHOLDER_PATTERNS[pattern]
            where.append(pointer)
    return where


def _js_literal_pattern(document: Document) -> list[str]:
    where = []
    for pointer, node in _walk(document):
        pattern = node.get("pattern")
        if isinstance(pattern, str) and len(pattern) > 2 and pattern[0] == "/":
            closing = pattern.rfind("/")
            if closing > 0 and set(pattern[closing + 1 :]) <= set("gimsuy"):
                node["pattern"] = pattern[1:closing]
                where.append(pointer)
    return where


def _enum_on_array(document: Document) -> list[str]:
    where = []
    for pointer, node in _walk(document):
        if node.get("type") == "array" and "enum" in node:
            items = node.setdefault("items", {})
            items.setdefault("enum", node.pop("enum"))
            where.append(pointer)
    return where


# Lists whose ``data`` the document declares as one object (the service sends an array).
_LIST_DATA = ("GetAllOrgMemberships", "GetTeamMembershipsOutput", "GetRoutingFormResponsesOutput")


def _list_data_not_array(document: Document) -> list[str]:
    where = []
    schemas = _schemas(document)
    for name in _LIST_DATA:
        data = schemas.get(name, {}).get("properties", {}).get("data")
        if data is not None and data.get("type") != "array":
            schemas[name]["properties"]["data"] = {"type": "array", "items": data}
            where.append(f"#/components/schemas/{name}/properties/data")
    return where


def _self_referencing_data(document: Document) -> list[str]:
    schemas = _schemas(document)
    envelope = schemas.get("GetReservedSlotOutput_2024_09_04")
    if envelope is None:
        return []
    envelope["properties"]["data"] = {
        "nullable": True,
        "allOf": [{"$ref": "#/components/schemas/ReserveSlotOutput_2024_09_04"}],
    }
    return ["#/components/schemas/GetReservedSlotOutput_2024_09_04/properties/data"]


def _slots_envelope(document: Document) -> list[str]:
    operation = document.get("paths", {}).get("/v2/slots", {}).get("get")
    if operation is None:
        return []
    time_slot = {"type": "object", "required": ["start"], "properties": {"start": _STRING}}
    range_slot = {
        "type": "object",
        "required": ["start", "end"],
        "properties": {"start": _STRING, "end": _STRING},
    }
    by_date = [
        {"type": "object", "additionalProperties": {"type": "array", "items": slot}}
        for slot in (time_slot, range_slot)
    ]
    content = operation["responses"]["200"]["content"]["application/json"]
    content["schema"] = {
        "type": "object",
        "required": ["status", "data"],
        "properties": {
            "status": {"type": "string", "enum": ["success"]},
            "data": {"anyOf": by_date},
        },
    }
    return ["#/paths/~1v2~1slots/get/responses/200"]


_STRING = {"type": "string"}
_WEBHOOK_OUTPUTS = (
    "UserWebhookOutputDto",
    "EventTypeWebhookOutputDto",
    "OAuthClientWebhookOutputDto",
    "TeamWebhookOutputDto",
)


def _webhook_triggers(document: Document) -> list[str]:
    schemas = _schemas(document)
    triggers = schemas.get("CreateWebhookInputDto", {}).get("properties", {}).get("triggers", {})
    item: dict[str, Any] = {"type": "string"}
    if "enum" in triggers:
        item["enum"] = list(triggers["enum"])
    where = []
    for name in _WEBHOOK_OUTPUTS:
        prop = schemas.get(name, {}).get("properties", {}).get("triggers")
        if prop is not None and prop.get("items", {}).get("type") == "object":
            prop["items"] = dict(item)
            where.append(f"#/components/schemas/{name}/properties/triggers")
    return where


_GENERIC_ENVELOPE = {
    "type": "object",
    "required": ["status"],
    "properties": {"status": {"type": "string", "enum": ["success"]}},
}


def _untyped_response(document: Document) -> list[str]:
    where = []
    for path, item in document.get("paths", {}).items():
        for method, operation in item.items():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            for status, response in operation["responses"].items():
                if not status.startswith("2"):
                    continue
                content = response.setdefault("content", {}).setdefault("application/json", {})
                if "schema" not in content:
                    content["schema"] = copy.deepcopy(_GENERIC_ENVELOPE)
                    where.append(f"{method.upper()} {path} {status}")
    return where


def _id_types(document: Document) -> list[str]:
    declared: dict[str, set[str]] = {}
    parameters = []
    for path, item in document.get("paths", {}).items():
        for method, operation in item.items():
            if not isinstance(operation, dict):
                continue
            for parameter in operation.get("parameters", ()):
                if parameter.get("in") == "path":
                    kind = parameter.get("schema", {}).get("type")
                    declared.setdefault(parameter["name"], set()).add(str(kind))
                    parameters.append((f"{method.upper()} {path}", parameter))
    mixed = {name for name, kinds in declared.items() if {"number", "string"} <= kinds}
    where = []
    for operation, parameter in parameters:
        schema = parameter.setdefault("schema", {})
        if parameter["name"] in mixed and schema.get("type") != "number":
            schema["type"] = "number"
            where.append(f"{operation} {parameter['name']}")
    return where


REPAIRS: tuple[Repair, ...] = (
    Repair(
        "oneof-as-anyof",
        "`oneOf` without a discriminator whose branches overlap (a valid value matches several)",
        "read as `anyOf`",
        _oneof_as_anyof,
    ),
    Repair(
        "object-with-scalar-example",
        "`type: object` (without properties) whose `example`/`default` is a scalar",
        "take the type from the example (`boolean`, `number`, `string`)",
        _object_with_scalar_example,
    ),
    Repair(
        "placeholder-pattern",
        "`pattern: TIME_FORMAT_HH_MM` is a placeholder, not a regex",
        f"use `{HH_MM}`",
        _placeholder_pattern,
    ),
    Repair(
        "js-literal-pattern",
        "pattern written as a JavaScript literal (`/^\\+[1-9]\\d{1,14}$/`)",
        "strip the slashes (and flags)",
        _js_literal_pattern,
    ),
    Repair(
        "enum-on-array",
        "`enum` on an array schema (schedule `days`)",
        "move it to `items`",
        _enum_on_array,
    ),
    Repair(
        "id-types",
        "id path parameters typed `number` in one operation and `string` in another "
        "(`orgId`, `teamId`, `eventTypeId`, `scheduleId`)",
        "type them `number` everywhere; the emulator reads every id of ID_PATH_PARAMS as a whole "
        "number whatever the operation declares",
        _id_types,
    ),
    Repair(
        "list-data-not-array",
        "list envelopes whose `data` is declared as one object (memberships, form responses)",
        "`data` is an array of that object",
        _list_data_not_array,
    ),
    Repair(
        "self-referencing-data",
        "`GetReservedSlotOutput_2024_09_04.data` is the envelope itself",
        "`data` is a nullable `ReserveSlotOutput_2024_09_04`",
        _self_referencing_data,
    ),
    Repair(
        "slots-envelope",
        "`GET /v2/slots` declares the map of dates as the whole body, and its time-format items "
        "as strings while its own example (and the service) sends `{start}` objects",
        "the envelope `{status, data}` with `data` a map of dates to `{start}` or `{start, end}`",
        _slots_envelope,
    ),
    Repair(
        "webhook-triggers",
        "webhook outputs declare `triggers` as an array of objects; the service sends the "
        "trigger names",
        "an array of strings from the triggers enum of `CreateWebhookInputDto`",
        _webhook_triggers,
    ),
    Repair(
        "untyped-response",
        "success responses without a schema",
        "the generic envelope `{status: success, …}`",
        _untyped_response,
    ),
)


def repair(
    document: Document, *, skip: frozenset[str] = frozenset()
) -> tuple[Document, dict[str, list[str]]]:
    """A repaired deep copy of ``document`` and, per repair, where it acted (``skip``: names of
    repairs not to make, to see what they are for)."""
    repaired = copy.deepcopy(document)
    report: dict[str, list[str]] = {}
    for entry in REPAIRS:
        if entry.name in skip:
            continue
        where = entry.apply(repaired)
        report[entry.name] = where
        for place in where:
            _log.debug("openapi repair %s: %s", entry.name, place)
    return repaired, report
