"""Load ``spec/openapi.json`` and repair it, logging every change (see ``overrides.REPAIRS``).

The repaired document is what the models and endpoints are generated from, and what the
contract test's mock server (Prism) and the emulator validate against. It ships inside the
package (``icalendly_async/spec/openapi.repaired.json``); the log is ``spec/REPAIRS.md``.
"""

from __future__ import annotations

import copy
import json
import re
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import overrides as ov

ROOT = Path(__file__).resolve().parents[2]
SPEC_PATH = ROOT / "spec" / "openapi.json"

HTTP_METHODS = ("get", "put", "post", "delete", "patch", "head", "options")
PAGING_PARAMS = frozenset({"take", "skip", "limit", "offset"})
TIME_HH_MM = r"^([01]\d|2[0-3]):[0-5]\d$"
_ISO_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$")
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_SCALARS: dict[str, type | tuple[type, ...]] = {
    "string": str,
    "integer": int,
    "number": (int, float),
    "boolean": bool,
}
_DATETIME_IN_TEXT = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}")
_PROSE_LITERAL = re.compile(r"only allowed value for \w+ is `([^`]+)`", re.IGNORECASE)

Json = dict[str, Any]


@dataclass(frozen=True)
class LogEntry:
    """One change the repairs made."""

    repair: str
    where: str
    detail: str


@dataclass
class RepairedSpec:
    """The repaired document and what was changed in it."""

    doc: Json
    log: list[LogEntry] = field(default_factory=list)

    def counts(self) -> Counter[str]:
        return Counter(entry.repair for entry in self.log)


def load_original(path: Path = SPEC_PATH) -> Json:
    with path.open(encoding="utf-8") as fh:
        doc: Json = json.load(fh)
    return doc


def iter_operations(doc: Json) -> Iterator[tuple[str, str, Json]]:
    """``(path, method, operation)`` in document order."""
    for path, item in doc["paths"].items():
        for method, op in item.items():
            if method in HTTP_METHODS:
                yield path, method, op


def _walk(node: Any, where: str) -> Iterator[tuple[Json, str]]:
    """Every schema-like dict below ``node`` (examples and defaults are not descended into)."""
    if isinstance(node, dict):
        yield node, where
        for key, value in node.items():
            if key in ("example", "examples", "default", "enum"):
                continue
            yield from _walk(value, f"{where}/{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _walk(value, f"{where}/{index}")


def success_response(op: Json) -> Json:
    codes = sorted(code for code in op["responses"] if code.startswith("2"))
    response: Json = op["responses"][codes[0]]
    return response


def _ref_name(ref: str) -> str:
    return ref.rsplit("/", 1)[-1]


class _Repairer:
    def __init__(self, doc: Json) -> None:
        self.doc = doc
        self.schemas: Json = doc["components"]["schemas"]
        self.log: list[LogEntry] = []

    def note(self, repair: str, where: str, detail: str) -> None:
        self.log.append(LogEntry(repair, where, detail))

    # -- schema defects ------------------------------------------------------------------

    def oneof_as_anyof(self) -> None:
        for node, where in list(_walk(self.doc, "#")):
            if "oneOf" in node and "discriminator" not in node:
                node["anyOf"] = node.pop("oneOf")
                names = [_ref_name(b["$ref"]) if "$ref" in b else "<inline>" for b in node["anyOf"]]
                self.note("oneof-as-anyof", where, f"anyOf [{', '.join(names)}]")

    def literal_discriminator(self) -> None:
        branches: set[str] = set()
        for node, _ in _walk(self.doc, "#"):
            for key in ("anyOf", "oneOf"):
                for branch in node.get(key, ()):
                    if isinstance(branch, dict) and "$ref" in branch:
                        branches.add(_ref_name(branch["$ref"]))
        for name, schema in self.schemas.items():
            for prop, sub in schema.get("properties", {}).items():
                if not isinstance(sub, dict) or sub.get("type") != "string":
                    continue
                where = f"#/components/schemas/{name}/properties/{prop}"
                value: str | None = ov.LITERAL_VALUES.get((name, prop))
                source = "LITERAL_VALUES"
                if value is None:
                    match = _PROSE_LITERAL.search(sub.get("description") or "")
                    if match and len(sub.get("enum", ())) != 1:
                        value, source = match.group(1), "description"
                if (
                    value is None
                    and name in branches
                    and prop == "type"
                    and "enum" not in sub
                    and isinstance(sub.get("default"), str)
                ):
                    value, source = sub["default"], "default"
                if value is not None and sub.get("enum") != [value]:
                    sub["enum"] = [value]
                    self.note("literal-discriminator", where, f"enum [{value!r}] (from {source})")

    def object_with_scalar_example(self) -> None:
        for node, where in list(_walk(self.doc, "#")):
            if node.get("type") != "object" or "properties" in node:
                continue
            sample = node.get("example", node.get("default"))
            if isinstance(sample, (dict, list)) or sample is None:
                if "enum" in node and all(isinstance(v, str) for v in node["enum"]):
                    sample = node["enum"][0]
                else:
                    continue
            if "enum" in node and all(isinstance(v, str) for v in node["enum"]):
                new = "string"
            elif isinstance(sample, bool):
                new = "boolean"
            elif isinstance(sample, (int, float)):
                new = "number"
            else:
                new = "string"
            node["type"] = new
            self.note("object-with-scalar-example", where, f"type {new} (example {sample!r})")

    def nested_enum(self) -> None:
        for node, where in list(_walk(self.doc, "#")):
            enum = node.get("enum")
            if isinstance(enum, list) and len(enum) == 1 and isinstance(enum[0], list):
                node["enum"] = list(enum[0])
                node["type"] = "string"
                self.note("nested-enum", where, f"string enum of {len(node['enum'])} values")

    def patterns(self) -> None:
        for node, where in list(_walk(self.doc, "#")):
            pattern = node.get("pattern")
            if not isinstance(pattern, str):
                continue
            if pattern == "TIME_FORMAT_HH_MM":
                node["pattern"] = TIME_HH_MM
                self.note("placeholder-pattern", where, f"{pattern!r} -> {TIME_HH_MM!r}")
            elif len(pattern) > 2 and pattern.startswith("/") and pattern.endswith("/"):
                node["pattern"] = pattern[1:-1]
                self.note("js-literal-pattern", where, f"{pattern!r} -> {node['pattern']!r}")

    def enum_on_array(self) -> None:
        for node, where in list(_walk(self.doc, "#")):
            if node.get("type") == "array" and "enum" in node:
                enum = node.pop("enum")
                items = node.setdefault("items", {})
                items.setdefault("enum", enum)
                self.note("enum-on-array", where, "enum moved to items")

    def empty_object_schema(self) -> None:
        for name, schema in self.schemas.items():
            if (
                schema.get("type") == "object"
                and not schema.get("properties")
                and "additionalProperties" not in schema
            ):
                schema.pop("properties", None)
                schema["additionalProperties"] = True
                self.note("empty-object-schema", f"#/components/schemas/{name}", "dict[str, Any]")

    def array_items_from_example(self) -> None:
        for node, where in list(_walk(self.doc, "#")):
            example = node.get("example")
            items = node.get("items")
            if (
                node.get("type") != "array"
                or not isinstance(example, list)
                or not example
                or not isinstance(items, dict)
                or items.get("type") != "string"
                or "enum" in items
            ):
                continue
            if all(isinstance(v, int) and not isinstance(v, bool) for v in example):
                items["type"] = "number"
                self.note("array-items-from-example", where, f"items number (example {example!r})")

    def date_time_from_example(self) -> None:
        # Query parameters are the `query-date-formats` repair's.
        for name, schema in self.schemas.items():
            for node, where in list(_walk(schema, f"#/components/schemas/{name}")):
                for prop, sub in node.get("properties", {}).items():
                    if (
                        isinstance(sub, dict)
                        and sub.get("type") == "string"
                        and not ({"format", "enum", "pattern"} & sub.keys())
                        and isinstance(sub.get("example"), str)
                        and _ISO_DATETIME.match(sub["example"])
                    ):
                        sub["format"] = "date-time"
                        self.note(
                            "date-time-from-example",
                            f"{where}/properties/{prop}",
                            f"format date-time (example {sub['example']!r})",
                        )

    # -- operation defects -----------------------------------------------------------------

    def path_params(self) -> None:
        for path, method, op in iter_operations(self.doc):
            in_path = re.findall(r"{(\w+)}", path)
            params = op.setdefault("parameters", [])
            declared = [p["name"] for p in params if p["in"] == "path"]
            where = f"{method.upper()} {path}"
            for name in declared:
                if name not in in_path:
                    params[:] = [p for p in params if not (p["in"] == "path" and p["name"] == name)]
                    self.note("path-params", where, f"dropped undeclared-in-path {name!r}")
            for name in in_path:
                if name not in declared:
                    type_ = ov.ID_PARAM_TYPES.get(name, "string")
                    params.append(
                        {"name": name, "in": "path", "required": True, "schema": {"type": type_}}
                    )
                    self.note("path-params", where, f"declared {name!r} ({type_})")

    def id_types(self) -> None:
        for path, method, op in iter_operations(self.doc):
            for param in op.get("parameters", []):
                want = ov.ID_PARAM_TYPES.get(param["name"])
                if param["in"] != "path" or want is None:
                    continue
                schema = param.setdefault("schema", {})
                if schema.get("type") != want:
                    old = schema.get("type")
                    schema["type"] = want
                    self.note(
                        "id-types", f"{method.upper()} {path}", f"{param['name']}: {old} -> {want}"
                    )

    def untyped_query_params(self) -> None:
        for path, method, op in iter_operations(self.doc):
            for param in op.get("parameters", []):
                if param["in"] != "query" or param.get("schema"):
                    continue
                example = param.get("example")
                is_number = (
                    isinstance(example, (int, float)) and not isinstance(example, bool)
                ) or (isinstance(example, str) and example.isdigit())
                param["schema"] = {"type": "number" if is_number else "string"}
                self.note(
                    "untyped-query-params",
                    f"{method.upper()} {path}",
                    f"{param['name']}: {param['schema']['type']} (example {example!r})",
                )

    def query_date_formats(self) -> None:
        for path, method, op in iter_operations(self.doc):
            for param in op.get("parameters", []):
                schema = param.get("schema") or {}
                example = param.get("example")
                if (
                    param["in"] != "query"
                    or schema.get("type") != "string"
                    or {"format", "enum"} & schema.keys()
                    or not isinstance(example, str)
                ):
                    continue
                text = example.removeprefix(f"?{param['name']}=")
                if _ISO_DATETIME.match(text):
                    schema["format"] = "date-time"
                    told = "format date-time"
                elif _ISO_DATE.match(text) and _DATETIME_IN_TEXT.search(
                    param.get("description", "")
                ):
                    # "You can pass date without hours ... or specify hours manually like
                    # 2024-08-13T09:00:00Z": a date or a date-time (methods take `date`, of which
                    # `datetime` is a subclass).
                    schema.pop("type")
                    schema["anyOf"] = [
                        {"type": "string", "format": "date"},
                        {"type": "string", "format": "date-time"},
                    ]
                    told = "format date or date-time (the description allows both)"
                elif _ISO_DATE.match(text):
                    schema["format"] = "date"
                    told = "format date"
                else:
                    continue
                self.note(
                    "query-date-formats",
                    f"{method.upper()} {path}",
                    f"{param['name']}: {told} (example {example!r})",
                )

    def example_type_mismatch(self) -> None:
        for node, where in list(_walk(self.doc, "#")):
            type_ = node.get("type")
            example = node.get("example")
            if not isinstance(type_, str) or type_ not in _SCALARS or example is None:
                continue
            if isinstance(example, _SCALARS[type_]) and (
                type_ == "boolean" or not isinstance(example, bool)
            ):
                continue
            if type_ in ("number", "integer") and isinstance(example, str) and example.isdigit():
                node["example"] = int(example)
                self.note("example-type-mismatch", where, f"example {int(example)} ({example!r})")
            else:
                del node["example"]
                self.note("example-type-mismatch", where, f"example {example!r} dropped")

    def webhook_triggers(self) -> None:
        names: list[str] = []
        for name in ov.WEBHOOK_TRIGGER_SCHEMAS:
            prop = self.schemas[name]["properties"]["triggers"]
            for value in [*prop.get("enum", ()), *(prop.get("example") or ())]:
                if isinstance(value, str) and value not in names:
                    names.append(value)
        for name in ov.WEBHOOK_TRIGGER_SCHEMAS:
            props = self.schemas[name]["properties"]
            old = props["triggers"]
            example = old.get("example")
            props["triggers"] = {
                "type": "array",
                "items": {"type": "string", "enum": list(names)},
                **({"description": old["description"]} if "description" in old else {}),
                **({"example": example} if isinstance(example, list) else {}),
            }
            self.note(
                "webhook-triggers",
                f"#/components/schemas/{name}/properties/triggers",
                f"array of {len(names)} trigger names (was {old.get('type')})",
            )

    def self_referencing_data(self) -> None:
        for name, data in ov.SELF_REFERENCING_DATA.items():
            props = self.schemas[name]["properties"]
            props["data"] = copy.deepcopy(data)
            self.note("self-referencing-data", f"#/components/schemas/{name}", f"data: {data}")

    def wrong_data_schema(self) -> None:
        for name, is_list in ov.WRONG_DATA_SCHEMAS.items():
            props = self.schemas[name]["properties"]
            old = props["data"].get("$ref", "?")
            props["data"] = (
                {"type": "array", "items": {"type": "object"}} if is_list else {"type": "object"}
            )
            kind = "array of untyped objects" if is_list else "untyped object"
            self.note("wrong-data-schema", f"#/components/schemas/{name}", f"data: {old} -> {kind}")

    def list_data_not_array(self) -> None:
        done: set[str] = set()
        for path, method, op in iter_operations(self.doc):
            query = {p["name"] for p in op.get("parameters", []) if p["in"] == "query"}
            if not query & PAGING_PARAMS:
                continue
            schema = success_response(op).get("content", {}).get("application/json", {})
            ref = schema.get("schema", {}).get("$ref")
            if ref is None or _ref_name(ref) in done:
                continue
            name = _ref_name(ref)
            data = self.schemas[name].get("properties", {}).get("data")
            if isinstance(data, dict) and "$ref" in data:
                self.schemas[name]["properties"]["data"] = {"type": "array", "items": data}
                done.add(name)
                self.note(
                    "list-data-not-array",
                    f"{method.upper()} {path}",
                    f"{name}.data: {_ref_name(data['$ref'])} -> array of it",
                )

    def slot_maps(self) -> None:
        ref = "#/components/schemas/"
        when = {"type": "string", "format": "date-time", "example": "2050-09-05T09:00:00.000+02:00"}
        self.schemas["Slot_2024_09_04"] = {
            "type": "object",
            "description": "One available slot (the default and `time` formats).",
            "properties": {"start": dict(when)},
            "required": ["start"],
        }
        self.schemas["RangeSlot_2024_09_04"] = {
            "type": "object",
            "description": "One available slot with its end (the `range` format).",
            "properties": {"start": dict(when), "end": dict(when)},
            "required": ["start", "end"],
        }
        for name, item in (
            ("SlotsOutput_2024_09_04", "Slot_2024_09_04"),
            ("RangeSlotsOutput_2024_09_04", "RangeSlot_2024_09_04"),
        ):
            schema = self.schemas[name]
            schema.pop("properties", None)
            schema["description"] = "Available slots by date (YYYY-MM-DD)."
            schema["additionalProperties"] = {"type": "array", "items": {"$ref": ref + item}}
            self.note("slot-maps", ref + name, f"map of date to list of {item}")
        maps = [
            {"$ref": ref + "RangeSlotsOutput_2024_09_04"},
            {"$ref": ref + "SlotsOutput_2024_09_04"},
        ]
        for node, where in list(_walk(self.doc, "#")):
            union = node.get("anyOf")
            if isinstance(union, list) and {b.get("$ref") for b in union} == {
                m["$ref"] for m in maps
            }:
                node["anyOf"] = [dict(m) for m in maps]
                self.note("slot-maps", where, "range map first")
        for path, method, op in iter_operations(self.doc):
            if op["operationId"] == "SlotsController_2024_09_04_getAvailableSlots":
                content = success_response(op)["content"]["application/json"]
                content["schema"] = {"anyOf": [dict(m) for m in maps]}
                self.note("slot-maps", f"{method.upper()} {path}", "data: either map of slots")

    def non_envelope_response(self) -> None:
        for path, method, op in iter_operations(self.doc):
            content = success_response(op).get("content") or {}
            media = content.get("application/json")
            if not media or "schema" not in media:
                continue
            schema = media["schema"]
            target = schema
            if "$ref" in schema:
                target = self.schemas[_ref_name(schema["$ref"])]
            if "status" in (target.get("properties") or {}):
                continue
            status = {"type": "string", "enum": ["success", "error"]}
            example = schema.get("example")
            where = f"{method.upper()} {path}"
            if isinstance(example, dict) and set(example) == {"status"}:
                media["schema"] = {
                    "type": "object",
                    "properties": {"status": status},
                    "required": ["status"],
                }
                self.note("non-envelope-response", where, "envelope without data")
                continue
            media["schema"] = {
                "type": "object",
                "properties": {"status": status, "data": schema},
                "required": ["status", "data"],
            }
            self.note("non-envelope-response", where, "wrapped in {status, data}")

    def untyped_response(self) -> None:
        for path, method, op in iter_operations(self.doc):
            response = success_response(op)
            if response.get("content"):
                continue
            response["content"] = {
                "application/json": {
                    "schema": {
                        "type": "object",
                        "properties": {
                            "status": {"type": "string", "enum": ["success", "error"]},
                            "data": {},
                        },
                        "required": ["status"],
                    }
                }
            }
            self.note("untyped-response", f"{method.upper()} {path}", "generic envelope, data Any")

    def documented_additions(self) -> None:
        for addition in ov.ADDITIONS:
            operation = copy.deepcopy(addition.operation)
            operation[ov.ADDITION_MARK] = addition.source
            operation[ov.HAND_WRITTEN] = "icalendly_async.oauth.OAuthApp"
            self.doc["paths"].setdefault(addition.path, {})[addition.method] = operation
            self.note(
                "documented-additions",
                f"{addition.method.upper()} {addition.path}",
                f"{operation['operationId']} ({addition.source})",
            )

    def auth_headers(self) -> None:
        dropped: Counter[str] = Counter()
        for _path, _method, op in iter_operations(self.doc):
            for param in op.get("parameters", []):
                name = param["name"].lower()
                if param["in"] == "header" and (
                    name in ov.AUTH_HEADERS or name == ov.VERSION_HEADER
                ):
                    dropped[param["name"]] += 1
        for name, count in sorted(dropped.items()):
            self.note("auth-headers", "all operations", f"{name}: {count} declarations")


#: Order matters: structural repairs first, so that later ones see the repaired shapes.
_STEPS: dict[str, Callable[[_Repairer], None]] = {
    "oneof-as-anyof": _Repairer.oneof_as_anyof,
    "object-with-scalar-example": _Repairer.object_with_scalar_example,
    "nested-enum": _Repairer.nested_enum,
    "placeholder-pattern": _Repairer.patterns,  # also does "js-literal-pattern"
    "js-literal-pattern": lambda r: None,
    "enum-on-array": _Repairer.enum_on_array,
    "literal-discriminator": _Repairer.literal_discriminator,
    "path-params": _Repairer.path_params,
    "id-types": _Repairer.id_types,
    "untyped-query-params": _Repairer.untyped_query_params,
    "query-date-formats": _Repairer.query_date_formats,
    "date-time-from-example": _Repairer.date_time_from_example,
    "array-items-from-example": _Repairer.array_items_from_example,
    "slot-maps": _Repairer.slot_maps,
    "webhook-triggers": _Repairer.webhook_triggers,
    "example-type-mismatch": _Repairer.example_type_mismatch,
    "empty-object-schema": _Repairer.empty_object_schema,
    "self-referencing-data": _Repairer.self_referencing_data,
    "wrong-data-schema": _Repairer.wrong_data_schema,
    "list-data-not-array": _Repairer.list_data_not_array,
    "non-envelope-response": _Repairer.non_envelope_response,
    "untyped-response": _Repairer.untyped_response,
    "auth-headers": _Repairer.auth_headers,
    # Last: the additions are written as the service documents them, and no repair reads them.
    "documented-additions": _Repairer.documented_additions,
}

if set(_STEPS) != {r.key for r in ov.REPAIRS}:  # pragma: no cover - a table/implementation drift
    raise RuntimeError("overrides.REPAIRS and spec._STEPS disagree")


def repair(original: Json, *, skip: frozenset[str] = frozenset()) -> RepairedSpec:
    """A repaired deep copy of ``original`` and the log of every change.

    ``skip``: keys of repairs not to make (a test shows what each one is for that way).
    """
    unknown = skip - _STEPS.keys()
    if unknown:
        raise ValueError(f"no such repairs: {sorted(unknown)}")
    fixer = _Repairer(copy.deepcopy(original))
    for key, step in _STEPS.items():
        if key not in skip:
            step(fixer)
    fixer.doc.setdefault("info", {})["x-icalendly-repairs"] = dict(
        sorted(Counter(e.repair for e in fixer.log).items())
    )
    return RepairedSpec(fixer.doc, fixer.log)
