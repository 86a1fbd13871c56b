"""Validation against the repaired document: the requests the emulator receives, the answers it
sends.

Requests (:class:`RequestValidator`, on when ``jsonschema`` is installed unless
``Emulator(validate_requests=False)``): each
request to an operation of the document is read as the service reads it (path parameters,
query parameters, the JSON body) and checked against that operation's parameters and request
body: a missing required or unknown query parameter, a value of the wrong type, a body that
does not match its schema is answered with the service's 400 error envelope before the handler
runs. What was received is kept as a :class:`ReceivedRequest` (``Emulator.received_requests``),
so a test can check what a client sent. The documented additions (the OAuth 2.0 endpoints)
check their requests themselves, as RFC 6749 says (their errors are not the error envelope).

Answers: on when asked (``Emulator(validate_responses=True)``, or the
``ICALENDLY_EMULATOR_VALIDATE`` environment variable): the pipeline hands each answer of an
operation to :meth:`ResponseValidator.check`, which validates it and keeps a
:class:`SchemaViolation` for each mismatch. Success bodies are checked against the
operation's response schema for that status (a status the operation does not document is a
violation); error bodies against the service's error envelope (NOTES.md).

The document is the one repaired document the package ships (:mod:`._spec`), converted from
OpenAPI 3.0 to JSON Schema (``nullable``, ``example`` and the other OpenAPI-only keywords).
Validators are compiled on first use per (operation, status).
"""

from __future__ import annotations

import functools
import json
import re
from datetime import date, datetime
from typing import Any

import attrs

from ._spec import load_document

__all__ = [
    "ERROR_ENVELOPE",
    "NO_BODY",
    "ReceivedRequest",
    "RequestValidator",
    "ResponseValidator",
    "SchemaViolation",
    "is_date_time",
    "jsonschema_available",
    "to_json_schema",
]


def jsonschema_available() -> bool:
    """Whether ``jsonschema`` (extra ``testing``) can be imported."""
    try:
        _jsonschema()
    except ImportError:
        return False
    return True


@functools.cache
def _jsonschema() -> Any:
    """``jsonschema``, imported when validation is first turned on (extra ``testing``)."""
    try:
        import jsonschema  # type: ignore[import-untyped, unused-ignore]
    except ImportError:
        raise ImportError(
            "the emulator's validation needs jsonschema: pip install 'icalendly-async[testing]' "
            "(or Emulator(validate_requests=False, validate_responses=False))"
        ) from None
    return jsonschema


_DROPPED = frozenset(
    {"example", "examples", "nullable", "discriminator", "xml", "externalDocs", "deprecated"}
)
_SCHEMA_MAPS = frozenset({"properties", "patternProperties", "schemas"})

ERROR_ENVELOPE: dict[str, Any] = {
    "type": "object",
    "required": ["status", "timestamp", "path", "error"],
    "properties": {
        "status": {"const": "error"},
        "timestamp": {"type": "string"},
        "path": {"type": "string"},
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
        },
    },
}


def to_json_schema(node: Any) -> Any:
    """An OpenAPI 3.0 schema as JSON Schema (draft 7)."""
    if isinstance(node, list):
        return [to_json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in _DROPPED:
            continue
        if key in _SCHEMA_MAPS and isinstance(value, dict):
            out[key] = {name: to_json_schema(schema) for name, schema in value.items()}
        else:
            out[key] = to_json_schema(value)
    if node.get("nullable"):
        kind = out.get("type")
        if isinstance(kind, str):
            out["type"] = [kind, "null"]
            if "enum" in out:
                out["enum"] = [*out["enum"], None]
        else:
            out = {"anyOf": [out, {"type": "null"}]}
    return out


@attrs.frozen
class SchemaViolation:
    """A body that does not match the document: which answer, and what is wrong."""

    operation_id: str
    method: str
    path: str
    status: int
    message: str

    def __str__(self) -> str:
        return f"{self.method} {self.path} -> {self.status} ({self.operation_id}): {self.message}"


def _describe(error: Any) -> str:
    where = "$" + "".join(
        f"[{part}]" if isinstance(part, int) else f".{part}" for part in error.absolute_path
    )
    return f"at {where}: {error.message[:300]}"


class ResponseValidator:
    """Validates the emulator's answers against the repaired document."""

    def __init__(self, document: dict[str, Any] | None = None) -> None:
        repaired = document if document is not None else load_document()
        self._components = {"schemas": to_json_schema(repaired["components"]["schemas"])}
        self._responses: dict[str, dict[str, Any]] = {}
        for item in repaired["paths"].values():
            for operation in item.values():
                if isinstance(operation, dict) and "operationId" in operation:
                    self._responses[operation["operationId"]] = operation.get("responses", {})
        self._error = _jsonschema().Draft7Validator(ERROR_ENVELOPE)

    def __repr__(self) -> str:
        return f"<ResponseValidator operations={len(self._responses)}>"

    def documented(self, operation_id: str) -> bool:
        """Whether the document has ``operation_id``."""
        return operation_id in self._responses

    @functools.lru_cache(maxsize=1024)  # noqa: B019 - one validator per emulator at most
    def _validator(self, operation_id: str, status: int) -> Any:
        responses = self._responses[operation_id]
        response = responses.get(str(status))
        if response is None:
            return None
        schema = response.get("content", {}).get("application/json", {}).get("schema")
        if schema is None:
            return None
        root = {**to_json_schema(schema), "components": self._components}
        return _jsonschema().Draft7Validator(root)

    def statuses(self, operation_id: str) -> list[str]:
        """The statuses the document gives ``operation_id``."""
        return list(self._responses.get(operation_id, {}))

    def check_error(self, body: bytes) -> str | None:
        """What is wrong with an error answer outside any operation (``None``: nothing)."""
        try:
            value = json.loads(body)
        except ValueError:
            return "the body is not JSON"
        error = _jsonschema().exceptions.best_match(self._error.iter_errors(value))
        return None if error is None else "error envelope " + _describe(error)

    def check(self, operation_id: str, status: int, body: bytes) -> str | None:
        """What is wrong with this answer (``None``: nothing)."""
        if operation_id not in self._responses:
            return f"{operation_id} is not an operation of the document"
        response = self._responses[operation_id].get(str(status))
        if response is not None:
            content = response.get("content")
            if (content is None and 300 <= status < 400) or (
                content and "application/json" not in content
            ):
                return None  # a redirect, or a page: nothing JSON to check
        try:
            value = json.loads(body)
        except ValueError:
            return "the body is not JSON"
        if status >= 400:
            # The operation's own error schema where it documents one (RFC 6749 bodies of the
            # OAuth token endpoint), else the service's error envelope.
            own = self._validator(operation_id, status) if response is not None else None
            error = _jsonschema().exceptions.best_match((own or self._error).iter_errors(value))
            return None if error is None else "error " + _describe(error)
        if str(status) not in self._responses[operation_id]:
            documented = ", ".join(self.statuses(operation_id)) or "none"
            return f"status {status} is not documented for it (documented: {documented})"
        validator = self._validator(operation_id, status)
        if validator is None:
            return None
        error = _jsonschema().exceptions.best_match(validator.iter_errors(value))
        return None if error is None else _describe(error)


# --- requests --------------------------------------------------------------------------------


class _NoBody:
    """The body of a request that had none (distinct from a JSON ``null``)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "NO_BODY"


NO_BODY: Any = _NoBody()

_MULTI_VALUE = ("array",)


@attrs.frozen(slots=True)
class ReceivedRequest:
    """One request to an operation of the document, as the emulator read it.

    ``path_params``: the values taken from the path (text, as sent); ``query``: every query
    pair in order, repeated names repeated; ``body``: the parsed JSON body (:data:`NO_BODY`
    when there was none; the raw text when it was not JSON). ``problem``: what request
    validation found wrong (the 400's message), ``None`` when the request is valid.
    """

    operation_id: str
    method: str
    path: str
    path_params: dict[str, str]
    query: tuple[tuple[str, str], ...]
    body: Any
    problem: str | None = None


def is_date_time(value: str) -> bool:
    """Whether ``value`` is an RFC 3339 date-time (with a ``T`` and an offset or ``Z``)."""
    if "T" not in value.upper():
        return False
    text = value[:-1] + "+00:00" if value[-1:] in ("Z", "z") else value
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return False
    return parsed.tzinfo is not None


def _date_time(value: object) -> bool:
    return not isinstance(value, str) or is_date_time(value)  # other types: not its business


def _date(value: object) -> bool:
    if not isinstance(value, str):
        return True
    try:
        date.fromisoformat(value)
    except ValueError:
        return False
    return True


@functools.cache
def _format_checker() -> Any:
    """``date-time`` (RFC 3339: with an offset) and ``date``, without extra packages."""
    checker = _jsonschema().FormatChecker(formats=())
    checker.checks("date-time")(_date_time)
    checker.checks("date")(_date)
    return checker


def _scalar_from_text(text: str, schema: dict[str, Any]) -> Any:
    """A query or path value read as its schema types it (left as text when it is not)."""
    kind = schema.get("type")
    if kind in ("number", "integer"):
        try:
            number = float(text)
        except ValueError:
            return text
        if number.is_integer() and "." not in text and "e" not in text.lower():
            return int(number)
        return number
    if kind == "boolean":
        return {"true": True, "false": False}.get(text, text)
    return text


class RequestValidator:
    """Reads the requests the emulator receives and checks them against the repaired document."""

    def __init__(self, document: dict[str, Any] | None = None) -> None:
        _jsonschema()  # now, not at the first request
        repaired = document if document is not None else load_document()
        self._components = {"schemas": to_json_schema(repaired["components"]["schemas"])}
        self._operations: dict[str, dict[str, Any]] = {}
        for item in repaired["paths"].values():
            for operation in item.values():
                if (
                    isinstance(operation, dict)
                    and "operationId" in operation
                    and "x-icalendly-addition" not in operation
                ):
                    self._operations[operation["operationId"]] = operation
        self._refs = repaired["components"]["schemas"]

    def __repr__(self) -> str:
        return f"<RequestValidator operations={len(self._operations)}>"

    def covers(self, operation_id: str) -> bool:
        """Whether requests to ``operation_id`` are checked here (the documented additions
        check their own)."""
        return operation_id in self._operations

    def _resolve(self, schema: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in schema:
            schema = self._refs[schema["$ref"].rsplit("/", 1)[-1]]
        return schema

    @functools.lru_cache(maxsize=1024)  # noqa: B019 - one validator per process
    def _plan(self, operation_id: str) -> tuple[dict[str, dict[str, Any]], dict[str, Any], Any]:
        """The parameters by place, the query parameters' schemas, and the compiled validator of
        ``{"path": …, "query": …, "body": …}``."""
        operation = self._operations[operation_id]
        places: dict[str, dict[str, Any]] = {"path": {}, "query": {}}
        required: dict[str, list[str]] = {"path": [], "query": []}
        for parameter in operation.get("parameters", ()):
            place = parameter.get("in")
            if place not in places:
                continue  # headers: the credential and the API version, checked elsewhere
            schema = parameter.get("schema") or {}
            places[place][parameter["name"]] = schema
            if parameter.get("required") or place == "path":
                required[place].append(parameter["name"])
        properties: dict[str, Any] = {
            place: {
                "type": "object",
                "properties": {name: to_json_schema(schema) for name, schema in found.items()},
                "required": required[place],
            }
            for place, found in places.items()
        }
        top_required = ["path", "query"]
        request_body = operation.get("requestBody")
        if request_body is not None:
            media = request_body.get("content", {}).get("application/json", {})
            properties["body"] = to_json_schema(media.get("schema") or {})
            if request_body.get("required"):
                top_required.append("body")
        root = {
            "type": "object",
            "properties": properties,
            "required": top_required,
            "components": self._components,
        }
        validator = _jsonschema().Draft7Validator(root, format_checker=_format_checker())
        query_schemas = {name: self._resolve(schema) for name, schema in places["query"].items()}
        return places, query_schemas, validator

    def _query_values(
        self, pairs: tuple[tuple[str, str], ...], schemas: dict[str, dict[str, Any]]
    ) -> tuple[dict[str, Any], list[str]]:
        values: dict[str, Any] = {}
        unknown: list[str] = []
        for name, text in pairs:
            schema = schemas.get(name)
            if schema is None:
                if name not in unknown:
                    unknown.append(name)
                continue
            if schema.get("type") == "array":
                items = self._resolve(schema.get("items") or {})
                parts = [part for part in text.split(",") if part] if text else []
                values.setdefault(name, []).extend(_scalar_from_text(p, items) for p in parts)
            elif name in values:
                values[name] = [values[name], _scalar_from_text(text, schema)]  # not an array
            else:
                values[name] = _scalar_from_text(text, schema)
        return values, unknown

    def receive(
        self,
        operation_id: str,
        method: str,
        path: str,
        path_params: dict[str, str],
        query: tuple[tuple[str, str], ...],
        raw_body: bytes,
    ) -> ReceivedRequest:
        """Read one request and check it; the returned record's ``problem`` says what is wrong."""
        places, query_schemas, validator = self._plan(operation_id)
        body: Any = NO_BODY
        problem: str | None = None
        if raw_body.strip():
            try:
                body = json.loads(raw_body)
            except ValueError:
                body = raw_body.decode("utf-8", "replace")
                problem = "The body is not valid JSON"
        values, unknown = self._query_values(query, query_schemas)
        if problem is None and unknown:
            known = ", ".join(sorted(query_schemas)) or "none"
            problem = (
                f"property {', '.join(unknown)} should not exist (query parameters of "
                f"{operation_id}: {known})"
            )
        if problem is None:
            instance: dict[str, Any] = {
                "path": {
                    name: _scalar_from_text(text, self._resolve(places["path"].get(name, {})))
                    for name, text in path_params.items()
                },
                "query": values,
            }
            if body is not NO_BODY:
                instance["body"] = body
            error = _jsonschema().exceptions.best_match(validator.iter_errors(instance))
            if error is not None:
                problem = _request_problem(error)
        return ReceivedRequest(
            operation_id, method, path, dict(path_params), tuple(query), body, problem
        )


_REQUIRED = re.compile(r"^'(.+)' is a required property$")
_LIMITS = {
    "minimum": "must not be less than {}",
    "maximum": "must not be greater than {}",
    "minLength": "must be at least {} characters long",
    "maxLength": "must be at most {} characters long",
    "minItems": "must have at least {} items",
    "maxItems": "must have at most {} items",
    "pattern": "must match {}",
    "format": "must be a {}",
}


def _rule(error: Any) -> str:
    """What the value must be, without the value (a body may hold secrets)."""
    keyword, expected = error.validator, error.validator_value
    if keyword == "type":
        kinds = [expected] if isinstance(expected, str) else list(expected)
        return "must be of type " + " or ".join(kinds)
    if keyword in ("enum", "const"):
        values = expected if keyword == "enum" else [expected]
        return "must be one of " + ", ".join(str(value) for value in values)
    if keyword in _LIMITS:
        return _LIMITS[keyword].format(expected)
    if keyword in ("anyOf", "oneOf"):
        return "matches none of the shapes the document allows"
    return f"does not satisfy {keyword}"


def _request_problem(error: Any) -> str:
    """The 400's message: which parameter or body field, and what it must be (NestJS style)."""
    while error.validator in ("anyOf", "oneOf") and error.context:
        # the alternative the value came closest to: the one with the fewest errors
        branches: dict[Any, list[Any]] = {}
        for inner in error.context:
            branches.setdefault(inner.relative_schema_path[0], []).append(inner)
        error = _jsonschema().exceptions.best_match(min(branches.values(), key=len))
    parts = list(error.absolute_path)
    if not parts:
        return "The request needs a JSON body"  # the only rule at the top: the body is required
    place, rest = parts[0], parts[1:]
    missing = _REQUIRED.match(str(error.message)) if error.validator == "required" else None
    if missing is not None:
        rest = [*rest, missing.group(1)]
    where = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in rest)
    subject = f"body{where}" if place == "body" else f"{place} parameter {where.lstrip('.')}"
    if missing is not None:
        return f"{subject} is required"
    return f"{subject} {_rule(error)}"[:400]
