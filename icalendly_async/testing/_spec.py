"""The repaired OpenAPI document the emulator reads, and its operations as the emulator needs them.

There is one repaired document: ``icalendly_async/spec/openapi.repaired.json``, written by the
code generator from the published document and the one table of repairs (``spec/REPAIRS.md``).
The emulator never repairs anything itself. It reads the document for:

* the routes of the operations it does not implement (from the generated
  ``icalendly_async.endpoints.OPERATIONS`` when the package has them, else from the document);
* the validation of the requests it receives and the answers it sends;
* the types of path parameters (ids are whole numbers where the document says ``number``).

``ICALENDLY_OPENAPI`` (a path) points it at another repaired document instead.
"""

from __future__ import annotations

import functools
import json
import os
from pathlib import Path
from typing import Any

import attrs

from ..plans import Tier, tier_for_tag
from ._auth import AuthKind

__all__ = [
    "SPEC_ENV",
    "SpecOperation",
    "documented_additions",
    "id_path_params",
    "load_document",
    "operations",
    "spec_path",
    "webhook_triggers",
]

SPEC_ENV = "ICALENDLY_OPENAPI"
_METHODS = ("get", "post", "put", "patch", "delete")
_PACKAGE = Path(__file__).resolve().parents[1]


@attrs.frozen
class SpecOperation:
    """One operation of the document: what the router needs."""

    operation_id: str
    method: str  # upper case
    path: str  # the template, ``/v2/bookings/{bookingUid}``
    tag: str
    tier: Tier
    auth: AuthKind


def spec_path() -> Path | None:
    """The repaired document to read, or ``None`` when none is found."""
    configured = os.environ.get(SPEC_ENV)
    if configured:
        return Path(configured)
    candidate = _PACKAGE / "spec" / "openapi.repaired.json"
    return candidate if candidate.is_file() else None


@functools.lru_cache(maxsize=4)
def _load(path: Path) -> dict[str, Any]:
    with path.open("rb") as handle:
        document: dict[str, Any] = json.load(handle)
    return document


def load_document() -> dict[str, Any]:
    """The document (parsed once per path); ``FileNotFoundError`` when there is none."""
    path = spec_path()
    if path is None:
        raise FileNotFoundError(
            "the repaired OpenAPI document was not found (icalendly_async/spec/"
            "openapi.repaired.json ships with the package; run python -m tools.codegen in a "
            "source checkout), or set ICALENDLY_OPENAPI to its path"
        )
    return _load(path)


@functools.lru_cache(maxsize=1)
def documented_additions() -> dict[str, dict[str, Any]]:
    """The operations the repaired document adds (``x-icalendly-addition``: the OAuth 2.0
    authorize page and token endpoint), by path and method."""
    return {
        path: {m: op for m, op in item.items() if "x-icalendly-addition" in op}
        for path, item in load_document().get("paths", {}).items()
        if any(isinstance(op, dict) and "x-icalendly-addition" in op for op in item.values())
    }


def _auth_of_document(operation: dict[str, Any], path: str) -> AuthKind:
    if path.startswith("/v2/oauth/") and path.endswith("/refresh"):
        return AuthKind.CLIENT_SECRET
    for parameter in operation.get("parameters", ()):
        if parameter.get("name") == "x-cal-secret-key" and parameter.get("required"):
            return AuthKind.PLATFORM_CLIENT
    return AuthKind.ANY


def _from_document() -> tuple[SpecOperation, ...]:
    document = load_document()
    found = []
    for path, item in document.get("paths", {}).items():
        for method in _METHODS:
            operation = item.get(method)
            if operation is None or "x-icalendly-addition" in operation:
                continue  # the documented additions (OAuth 2.0) have routes of their own
            tag = (operation.get("tags") or [""])[0]
            found.append(
                SpecOperation(
                    operation["operationId"],
                    method.upper(),
                    path,
                    tag,
                    tier_for_tag(tag),
                    _auth_of_document(operation, path),
                )
            )
    return tuple(found)


def _from_generated() -> tuple[SpecOperation, ...] | None:
    try:
        from ..endpoints import OPERATIONS  # type: ignore[attr-defined, unused-ignore]
    except ImportError:
        return None
    kinds = {"any": AuthKind.ANY, "platform_client": AuthKind.PLATFORM_CLIENT}
    found = []
    for operation in OPERATIONS:
        auth = getattr(operation.auth, "value", "any")
        found.append(
            SpecOperation(
                operation.operation_id,
                operation.method.upper(),
                operation.path,
                operation.tag,
                operation.tier,
                kinds.get(auth, AuthKind.CLIENT_SECRET),
            )
        )
    return tuple(found)


@functools.lru_cache(maxsize=1)
def operations() -> tuple[SpecOperation, ...]:
    """Every operation: from the generated endpoints, else from the document, else none."""
    generated = _from_generated()
    if generated is not None:
        return generated
    try:
        return _from_document()
    except FileNotFoundError:
        return ()


@functools.lru_cache(maxsize=1)
def id_path_params() -> frozenset[str]:
    """Path parameters the document types as numbers (ids): read as whole numbers."""
    found = set()
    for item in load_document().get("paths", {}).values():
        for method in _METHODS:
            for parameter in item.get(method, {}).get("parameters", ()):
                kind = parameter.get("schema", {}).get("type")
                if parameter.get("in") == "path" and kind in ("number", "integer"):
                    found.add(parameter["name"])
    return frozenset(found)


@functools.lru_cache(maxsize=1)
def webhook_triggers() -> tuple[str, ...]:
    """The trigger names a webhook may subscribe to, as the repaired document lists them."""
    schema = load_document()["components"]["schemas"]["CreateWebhookInputDto"]
    return tuple(schema["properties"]["triggers"]["items"]["enum"])
