"""Response validation: every body the emulator sends, against the document's schema for it.

On when asked (``Emulator(validate_responses=True)``, or the ``ICALENDLY_EMULATOR_VALIDATE``
environment variable): the pipeline hands each answer of an operation to
:meth:`ResponseValidator.check`, which validates it and keeps a :class:`SchemaViolation` for
each mismatch. Success bodies are checked against the operation's response schema for that
status (a status the operation does not document is a violation); error bodies against the
service's error envelope (NOTES.md).

The document is the one repaired document the package ships (:mod:`._spec`), converted from
OpenAPI 3.0 to JSON Schema (``nullable``, ``example`` and the other OpenAPI-only keywords).
Validators are compiled on first use per (operation, status).
"""

from __future__ import annotations

import functools
import json
from typing import Any

import attrs

from ._spec import load_document

__all__ = ["ERROR_ENVELOPE", "ResponseValidator", "SchemaViolation", "to_json_schema"]


@functools.cache
def _jsonschema() -> Any:
    """``jsonschema``, imported when validation is first turned on (extra ``testing``)."""
    try:
        import jsonschema  # type: ignore[import-untyped, unused-ignore]
    except ImportError:
        raise ImportError(
            "the emulator's response validation needs jsonschema: "
            "pip install 'icalendly-async[testing]'"
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
