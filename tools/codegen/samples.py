"""Valid sample values for the schemas of the repaired document (tests and the contract test).

A sample uses the document's ``example`` where the example fits the schema, and otherwise
something of the right type, format and pattern. Objects get every property (the more fields a
sample has, the more of the models it exercises).
"""

from __future__ import annotations

import re
from typing import Any

from .spec import TIME_HH_MM, Json

_DATE_TIME = "2030-01-07T09:00:00.000Z"
_BY_PATTERN: dict[str, str] = {
    TIME_HH_MM: "09:30",
    r"^\+[1-9]\d{1,14}$": "+14155552671",
}
_BY_FORMAT: dict[str, Any] = {
    "date-time": _DATE_TIME,
    "date": "2030-01-07",
    "uri": "https://example.com/resource",
    "url": "https://example.com/resource",
    "email": "someone@example.com",
}


class Sampler:
    """``Sampler(doc).sample(schema)``: a JSON value valid against ``schema``."""

    def __init__(self, doc: Json, *, max_depth: int = 6) -> None:
        self.schemas: Json = doc["components"]["schemas"]
        self.max_depth = max_depth

    def resolve(self, schema: Json) -> Json:
        while "$ref" in schema:
            schema = self.schemas[schema["$ref"].rsplit("/", 1)[-1]]
        return schema

    def sample(self, schema: Json | None, depth: int = 0) -> Any:
        if not schema:
            return "value"
        schema = self.resolve(schema)
        for key in ("allOf", "anyOf", "oneOf"):
            if schema.get(key):
                return self.sample(schema[key][0], depth)
        if schema.get("enum"):
            return schema["enum"][0]
        type_ = schema.get("type")
        example = schema.get("example")
        if type_ == "string":
            return self._string(schema, example)
        if type_ in ("number", "integer"):
            return self._number(schema, example)
        if type_ == "boolean":
            return example if isinstance(example, bool) else True
        if type_ == "array":
            if depth >= self.max_depth:
                return []
            items = self.resolve(schema.get("items") or {})
            if (
                isinstance(example, list)
                and example
                and all(self._fits_scalar(items, v) for v in example)
            ):
                return list(example)
            count = max(1, int(schema.get("minItems", 1)))
            return [self.sample(items, depth + 1) for _ in range(count)]
        if type_ == "object" or "properties" in schema:
            return self._object(schema, example, depth)
        return example if example is not None else "value"

    def _string(self, schema: Json, example: Any) -> str:
        pattern = schema.get("pattern")
        fmt = schema.get("format")
        if isinstance(example, str) and self._fits_scalar(schema, example):
            return example
        if pattern in _BY_PATTERN:
            return _BY_PATTERN[pattern]
        if fmt in _BY_FORMAT:
            return str(_BY_FORMAT[fmt])
        value = "value"
        min_length = int(schema.get("minLength", 0))
        return value.ljust(min_length, "x")

    @staticmethod
    def _number(schema: Json, example: Any) -> int | float:
        minimum = schema.get("minimum")
        maximum = schema.get("maximum")
        is_number = isinstance(example, (int, float)) and not isinstance(example, bool)
        if (
            is_number
            and (minimum is None or example >= minimum)
            and (maximum is None or example <= maximum)
        ):
            return example  # type: ignore[no-any-return]
        value = 1 if minimum is None else minimum
        return value if maximum is None else min(value, maximum)

    def _object(self, schema: Json, example: Any, depth: int) -> dict[str, Any]:
        props: Json = schema.get("properties") or {}
        if not props:
            extra = schema.get("additionalProperties")
            if isinstance(example, dict):
                return dict(example)
            if isinstance(extra, dict) and extra and depth < self.max_depth:
                return {"key": self.sample(extra, depth + 1)}
            return {}
        required = set(schema.get("required", ()))
        out: dict[str, Any] = {}
        for name, sub in props.items():
            if depth >= self.max_depth and name not in required:
                continue
            out[name] = self.sample(sub, depth + 1)
        return out

    def _fits_scalar(self, schema: Json, value: Any) -> bool:
        """Whether ``value`` is valid for a scalar ``schema`` (type, enum, format, pattern)."""
        schema = self.resolve(schema)
        type_ = schema.get("type")
        if "enum" in schema and value not in schema["enum"]:
            return False
        if type_ == "string":
            if not isinstance(value, str):
                return False
            pattern = schema.get("pattern")
            if pattern and not re.search(pattern, value):
                return False
            fmt = schema.get("format")
            if fmt == "date-time" and not re.match(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}", value):
                return False
            if fmt in ("uri", "url") and not re.match(r"^[a-z][a-z0-9+.-]*:", value):
                return False
            if fmt == "email" and "@" not in value:
                return False
            return len(value) >= int(schema.get("minLength", 0))
        if type_ in ("number", "integer"):
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                return False
            return type_ == "number" or isinstance(value, int)
        if type_ == "boolean":
            return isinstance(value, bool)
        return not isinstance(value, (dict, list))


__all__ = ["Sampler"]
