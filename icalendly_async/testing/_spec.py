"""Where the OpenAPI document is, and its operations as the emulator needs them.

The emulator does not need the document to serve what it implements (its own table has the
method and path of each). It needs it for two things:

* the 501 routes of the operations it does not implement, which come from the generated
  ``icalendly_async.endpoints.OPERATIONS`` when the package has them, else from the document;
* the response validator (``Emulator(validate_responses=True)``), which reads the schemas.

The document is looked up, in order: the ``ICALENDLY_OPENAPI`` environment variable (a path);
``openapi.json`` shipped inside the package (``icalendly_async/spec/openapi.json``); the
``spec/openapi.json`` of a source checkout next to the package.
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
    "load_document",
    "operations",
    "spec_path",
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
    """The OpenAPI document to read, or ``None`` when none is found."""
    configured = os.environ.get(SPEC_ENV)
    if configured:
        return Path(configured)
    for candidate in (
        _PACKAGE / "spec" / "openapi.json",
        _PACKAGE.parent / "spec" / "openapi.json",
    ):
        if candidate.is_file():
            return candidate
    return None


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
            "the OpenAPI document was not found: set ICALENDLY_OPENAPI to the path of "
            "openapi.json (the spec/ directory of the icalendly_async source tree)"
        )
    return _load(path)


@functools.lru_cache(maxsize=1)
def documented_additions() -> dict[str, dict[str, Any]]:
    """The operations the repaired document adds (``x-icalendly-addition``: the OAuth 2.0
    authorize page and token endpoint), by path and method; empty when the repaired document
    (``spec/openapi.repaired.json``, written by ``python -m tools.codegen``) is not found."""
    found = spec_path()
    candidates = [_PACKAGE / "spec" / "openapi.repaired.json"]
    if found is not None:
        candidates.insert(0, found.with_name("openapi.repaired.json"))
    for candidate in candidates:
        if candidate.is_file():
            document = _load(candidate)
            return {
                path: {m: op for m, op in item.items() if "x-icalendly-addition" in op}
                for path, item in document.get("paths", {}).items()
                if any(
                    isinstance(op, dict) and "x-icalendly-addition" in op for op in item.values()
                )
            }
    return {}


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
            if operation is None:
                continue
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
