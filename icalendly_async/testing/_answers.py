"""Document-driven answers: what an operation the emulator does not implement answers when
``Emulator(document_answers=True)``.

The answer is the operation's first documented success status with a body built from its
response schema in the repaired document: the document's own ``example`` where it fits the
schema, otherwise a value of the right type, format, pattern and range drawn from a
``random.Random`` seeded with the emulator's seed and the operation id (the same seed gives the
same answer). Every property of an object is filled in, one or two items per array, the first
branch of a union. A list answer keeps the paginators honest: its ``pagination`` describes the
one page it holds, and a request for a later page (``skip``/``offset`` > 0) gets an empty one.

These answers are valid, not true: nothing is stored, so a ``GET`` after a ``POST`` does not
return what was posted. They exist so that a client can be exercised on every operation of the
document (the response validation checks them like every other answer); the default remains
501 ``NotImplemented``, never a made-up success.
"""

from __future__ import annotations

import random
import re
from datetime import datetime, timedelta, timezone
from typing import Any

from ._envelope import Reply, encode
from ._resources._params import pagination
from ._spec import load_document
from ._validation import is_date_time

__all__ = ["DocumentAnswers"]

_MAX_DEPTH = 8
_EPOCH = datetime(2030, 1, 7, 9, 0, tzinfo=timezone.utc)
#: Values for the few patterns of the document (a pattern is a regex: no general generator).
_BY_PATTERN: dict[str, str] = {
    r"^([01]\d|2[0-3]):[0-5]\d$": "09:30",
    r"^\+[1-9]\d{1,14}$": "+14155552671",
}
_PAGE_QUERY = ("skip", "offset")


class DocumentAnswers:
    """The answers of one emulator (``seed``), built once per operation."""

    def __init__(self, seed: int, document: dict[str, Any] | None = None) -> None:
        repaired = document if document is not None else load_document()
        self._seed = seed
        self._schemas: dict[str, Any] = repaired["components"]["schemas"]
        self._responses: dict[str, tuple[int, dict[str, Any] | None]] = {}
        for item in repaired["paths"].values():
            for operation in item.values():
                if isinstance(operation, dict) and "operationId" in operation:
                    found = _first_success(operation.get("responses", {}))
                    if found is not None:
                        self._responses[operation["operationId"]] = found
        self._cache: dict[str, tuple[int, Any]] = {}

    def __repr__(self) -> str:
        return f"<DocumentAnswers seed={self._seed} operations={len(self._responses)}>"

    def answers(self, operation_id: str) -> bool:
        """Whether the document gives ``operation_id`` a success answer to build."""
        return operation_id in self._responses

    def value(self, operation_id: str) -> tuple[int, Any]:
        """``(status, body)`` of the operation's answer (the body as JSON data)."""
        cached = self._cache.get(operation_id)
        if cached is None:
            status, schema = self._responses[operation_id]
            rng = random.Random(f"{self._seed}/{operation_id}")
            body = None if schema is None else _Builder(self._schemas, rng).build(schema)
            if (
                isinstance(body, dict)
                and isinstance(body.get("data"), list)
                and isinstance(body.get("pagination"), dict)
            ):
                count = len(body["data"])
                body["pagination"] = pagination(count, 0, max(count, 1), count)
            cached = self._cache[operation_id] = (status, body)
        return cached

    def reply(self, operation_id: str, query: dict[str, str]) -> Reply:
        """The answer to a request with ``query`` (a later page of a list is empty)."""
        status, body = self.value(operation_id)
        if body is None:
            return Reply(b"", status)
        if isinstance(body, dict) and isinstance(body.get("data"), list):
            later = any(query.get(name, "0") not in ("", "0") for name in _PAGE_QUERY)
            if later:
                body = {**body, "data": []}
                if isinstance(body.get("pagination"), dict):
                    body["pagination"] = {
                        **body["pagination"],
                        "returnedItems": 0,
                        "remainingItems": 0,
                        "hasNextPage": False,
                        "hasPreviousPage": True,
                    }
        return Reply(encode(body), status)


def _first_success(responses: dict[str, Any]) -> tuple[int, dict[str, Any] | None] | None:
    codes = sorted(code for code in responses if code.isdigit() and code.startswith("2"))
    if not codes:
        return None
    content = responses[codes[0]].get("content") or {}
    media = content.get("application/json")
    if content and media is None:
        return None  # a page, not JSON: nothing to build
    return int(codes[0]), None if media is None else media.get("schema")


class _Builder:
    """One value valid against a schema of the repaired document."""

    def __init__(self, schemas: dict[str, Any], rng: random.Random) -> None:
        self._schemas = schemas
        self._rng = rng

    def _resolve(self, schema: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in schema:
            schema = self._schemas[schema["$ref"].rsplit("/", 1)[-1]]
        return schema

    def build(self, schema: dict[str, Any] | None, depth: int = 0) -> Any:
        schema = self._resolve(schema or {})
        if schema.get("allOf"):
            parts = [self.build(part, depth) for part in schema["allOf"]]
            rest = {k: v for k, v in schema.items() if k != "allOf"}
            if rest.get("properties") or rest.get("type") == "object":
                parts.append(self.build(rest, depth))
            if all(isinstance(part, dict) for part in parts):
                merged: dict[str, Any] = {}
                for part in parts:
                    merged.update(part)
                return merged
            return parts[0]
        for key in ("anyOf", "oneOf"):
            if schema.get(key):
                return self.build(schema[key][0], depth)
        if schema.get("enum"):
            values = [value for value in schema["enum"] if value is not None]
            return "success" if "success" in values else values[0]
        kind = schema.get("type")
        example = schema.get("example")
        if kind == "string":
            return self._string(schema, example)
        if kind in ("number", "integer"):
            return self._number(schema, example, integer=kind == "integer")
        if kind == "boolean":
            return example if isinstance(example, bool) else self._rng.random() < 0.5
        if kind == "array":
            return self._array(schema, example, depth)
        if kind == "object" or "properties" in schema or "additionalProperties" in schema:
            return self._object(schema, example, depth)
        # untyped: the example as given, else something JSON
        return example if example is not None else {}

    def _string(self, schema: dict[str, Any], example: Any) -> str:
        if isinstance(example, str) and _fits_string(schema, example):
            return example
        pattern = schema.get("pattern")
        if pattern in _BY_PATTERN:
            return _BY_PATTERN[pattern]
        fmt = schema.get("format")
        if fmt == "date-time":
            moment = _EPOCH + timedelta(minutes=15 * self._rng.randrange(0, 4 * 24 * 60))
            return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
        if fmt == "date":
            return (_EPOCH + timedelta(days=self._rng.randrange(0, 365))).date().isoformat()
        if fmt in ("uri", "url"):
            return f"https://example.com/{self._rng.randrange(16**6):06x}"
        if fmt == "email":
            return f"user-{self._rng.randrange(16**6):06x}@example.com"
        text = f"value-{self._rng.randrange(16**6):06x}"
        minimum = int(schema.get("minLength", 0))
        maximum = schema.get("maxLength")
        text = text.ljust(minimum, "x")
        return text if maximum is None else text[: int(maximum)]

    def _number(self, schema: dict[str, Any], example: Any, *, integer: bool) -> int | float:
        low = schema.get("minimum")
        high = schema.get("maximum")
        if (
            isinstance(example, (int, float))
            and not isinstance(example, bool)
            and (low is None or example >= low)
            and (high is None or example <= high)
            and (not integer or float(example).is_integer())
        ):
            return example
        start = 1 if low is None else int(low)
        stop = start + 10_000 if high is None else int(high)
        return self._rng.randint(start, max(start, stop))

    def _array(self, schema: dict[str, Any], example: Any, depth: int) -> list[Any]:
        items = self._resolve(schema.get("items") or {})
        if (
            isinstance(example, list)
            and example
            and all(not isinstance(value, (dict, list)) for value in example)
            and all(_fits_scalar(items, value) for value in example)
        ):
            return list(example)
        minimum = int(schema.get("minItems", 0))
        count = minimum if depth >= _MAX_DEPTH else max(minimum, self._rng.randint(1, 2))
        maximum = schema.get("maxItems")
        if maximum is not None:
            count = min(count, int(maximum))
        return [self.build(items, depth + 1) for _ in range(count)]

    def _object(self, schema: dict[str, Any], example: Any, depth: int) -> dict[str, Any]:
        properties: dict[str, Any] = schema.get("properties") or {}
        required = set(schema.get("required", ()))
        out: dict[str, Any] = {}
        for name, sub in properties.items():
            if depth >= _MAX_DEPTH and name not in required:
                continue
            out[name] = self.build(sub, depth + 1)
        extra = schema.get("additionalProperties")
        if not properties:
            if isinstance(example, dict) and extra in (None, True):
                return dict(example)
            if isinstance(extra, dict) and extra and depth < _MAX_DEPTH:
                key = (_EPOCH + timedelta(days=self._rng.randrange(0, 30))).date().isoformat()
                out[key] = self.build(extra, depth + 1)
        return out


def _fits_string(schema: dict[str, Any], value: str) -> bool:
    pattern = schema.get("pattern")
    if pattern and not re.search(pattern, value):
        return False
    fmt = schema.get("format")
    if fmt == "date-time" and not is_date_time(value):
        return False
    if fmt in ("uri", "url") and not re.match(r"^[a-z][a-z0-9+.-]*:", value):
        return False
    if len(value) < int(schema.get("minLength", 0)):
        return False
    maximum = schema.get("maxLength")
    return maximum is None or len(value) <= int(maximum)


def _fits_scalar(schema: dict[str, Any], value: Any) -> bool:
    if "enum" in schema and value not in schema["enum"]:
        return False
    kind = schema.get("type")
    if kind == "string":
        return isinstance(value, str) and _fits_string(schema, value)
    if kind in ("number", "integer"):
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind == "boolean":
        return isinstance(value, bool)
    return kind is None
