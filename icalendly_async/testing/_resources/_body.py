"""Request bodies and path parameters, read with the service's 400s (naming the field)."""

from __future__ import annotations

import json
import re
from typing import Any

from .._context import Context
from .._envelope import ApiError
from .._spec import id_path_params

__all__ = ["Body", "path_id", "read_body"]

_MISSING = object()
_HH_MM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")  # the document's "TIME_FORMAT_HH_MM"


def path_id(ctx: Context, name: str) -> int:
    """The whole-number path parameter ``name`` (the repaired document types ids as numbers:
    the ``id-types`` repair); 400 otherwise."""
    raw = ctx.request.match_info[name]
    if name not in id_path_params() or not raw.isdigit():
        raise ApiError(400, f"{name} must be a whole number, got {raw!r}")
    return int(raw)


async def read_body(ctx: Context, *, required: bool = True) -> Body:
    """The JSON object of the request (an empty one when there is no body and none is
    required); 400 when it is not a JSON object."""
    raw = await ctx.request.read()
    if not raw.strip():
        if required:
            raise ApiError(400, "The request needs a JSON body")
        return Body({})
    try:
        value = json.loads(raw)
    except ValueError:
        raise ApiError(400, "The body is not valid JSON") from None
    if not isinstance(value, dict):
        raise ApiError(400, "The body must be a JSON object")
    return Body(value)


class Body:
    """A JSON object with typed reads: each wrong or missing field is a 400 naming it."""

    __slots__ = ("_prefix", "raw")

    def __init__(self, raw: dict[str, Any], prefix: str = "") -> None:
        self.raw = raw
        self._prefix = prefix

    def __contains__(self, name: str) -> bool:
        return name in self.raw

    def _get(self, name: str, required: bool) -> Any:
        value = self.raw.get(name, _MISSING)
        if value is _MISSING:
            if required:
                raise ApiError(400, f"{self._prefix}{name} is required")
            return _MISSING
        return value

    def _wrong(self, name: str, what: str) -> ApiError:
        return ApiError(400, f"{self._prefix}{name} must be {what}")

    def string(self, name: str, *, required: bool = False, empty: bool = False) -> str | None:
        """A string field (``None`` when absent; ``empty``: ``""`` allowed)."""
        value = self._get(name, required)
        if value is _MISSING:
            return None
        if not isinstance(value, str) or (not empty and not value.strip()):
            raise self._wrong(name, "a non-empty string")
        return value

    def nullable_string(self, name: str) -> tuple[bool, str | None]:
        """``(present, value)`` of a field that may be ``null``."""
        if name not in self.raw:
            return False, None
        value = self.raw[name]
        if value is not None and not isinstance(value, str):
            raise self._wrong(name, "a string or null")
        return True, value

    def integer(
        self, name: str, *, required: bool = False, minimum: int | None = None
    ) -> int | None:
        """A whole-number field."""
        value = self._get(name, required)
        if value is _MISSING:
            return None
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise self._wrong(name, "a whole number")
        if minimum is not None and value < minimum:
            raise self._wrong(name, f"at least {minimum}")
        return value

    def boolean(self, name: str, *, required: bool = False) -> bool | None:
        """A boolean field."""
        value = self._get(name, required)
        if value is _MISSING:
            return None
        if not isinstance(value, bool):
            raise self._wrong(name, "true or false")
        return value

    def choice(self, name: str, options: tuple[Any, ...], *, required: bool = False) -> Any:
        """A field whose value is one of ``options``."""
        value = self._get(name, required)
        if value is _MISSING:
            return None
        if value not in options:
            raise self._wrong(name, "one of " + ", ".join(map(str, options)))
        return value

    def obj(self, name: str, *, required: bool = False) -> Body | None:
        """A nested object field."""
        value = self._get(name, required)
        if value is _MISSING:
            return None
        if not isinstance(value, dict):
            raise self._wrong(name, "an object")
        return Body(value, f"{self._prefix}{name}.")

    def items(self, name: str, *, required: bool = False) -> list[Any] | None:
        """An array field."""
        value = self._get(name, required)
        if value is _MISSING:
            return None
        if not isinstance(value, list):
            raise self._wrong(name, "an array")
        return value

    def strings(self, name: str, *, required: bool = False) -> list[str] | None:
        """An array of strings."""
        value = self.items(name, required=required)
        if value is None:
            return None
        if not all(isinstance(item, str) for item in value):
            raise self._wrong(name, "an array of strings")
        return list(value)

    def objects(self, name: str, *, required: bool = False) -> list[Body] | None:
        """An array of objects."""
        value = self.items(name, required=required)
        if value is None:
            return None
        if not all(isinstance(item, dict) for item in value):
            raise self._wrong(name, "an array of objects")
        return [Body(item, f"{self._prefix}{name}[{i}].") for i, item in enumerate(value)]

    def time(self, name: str, *, required: bool = False) -> str | None:
        """An ``HH:MM`` field."""
        value = self.string(name, required=required)
        if value is not None and not _HH_MM.match(value):
            raise self._wrong(name, "a time written HH:MM (24-hour clock)")
        return value
