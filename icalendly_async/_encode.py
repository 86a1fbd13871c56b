"""Turning Python arguments into a query string and a JSON body."""

from __future__ import annotations

import datetime as _dt
import enum
import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote

from .errors import ConfigurationError
from .models._base import UNSET, Model, to_wire
from .models.converter import format_date, format_datetime

__all__ = ["encode_body", "encode_query", "format_path", "is_dot_segment"]


def _scalar(name: str, value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, enum.Enum):
        return str(value.value)
    if isinstance(value, _dt.datetime):
        return format_datetime(value, f"query parameter {name!r}")
    if isinstance(value, _dt.date):
        return format_date(value)
    if isinstance(value, (str, int, float)):
        return str(value)
    raise ConfigurationError(
        f"query parameter {name!r}: cannot send a {type(value).__name__} "
        "(use str, int, float, bool, an enum, a date/datetime, or a list of those)"
    )


def encode_query(*parts: Mapping[str, object] | None) -> list[tuple[str, str]]:
    """Merge query mappings (later wins); drop ``None``/UNSET; lists become repeated keys."""
    merged: dict[str, object] = {}
    for part in parts:
        if part:
            merged.update(part)
    pairs: list[tuple[str, str]] = []
    for name, value in merged.items():
        if value is None or value is UNSET:
            continue
        if isinstance(value, (list, tuple, set, frozenset)):
            pairs.extend((name, _scalar(name, item)) for item in value)
        else:
            pairs.append((name, _scalar(name, value)))
    return pairs


def _default(value: object) -> Any:
    if isinstance(value, (Model, _dt.date, enum.Enum)):
        return to_wire(value, "body")
    raise TypeError(f"cannot send a {type(value).__name__} as JSON")


def encode_body(body: object) -> bytes:
    """JSON bytes for a request body: models (UNSET fields omitted), dicts, lists."""
    if isinstance(body, Model):
        body = body.to_dict()
    try:
        return json.dumps(body, separators=(",", ":"), default=_default).encode()
    except (TypeError, ValueError) as exc:
        raise ConfigurationError(f"request body cannot be sent as JSON: {exc}") from None


def format_path(template: str, names: tuple[str, ...], values: tuple[object, ...]) -> str:
    """Fill ``/v2/x/{a}/{b}`` with URL-quoted values, in the order the names appear."""
    from urllib.parse import quote

    if len(names) != len(values):
        raise ConfigurationError(
            f"{template} takes {len(names)} path parameter(s) ({', '.join(names) or 'none'}), "
            f"got {len(values)}"
        )
    path = template
    for name, value in zip(names, values, strict=True):
        if value is None or value == "":
            raise ConfigurationError(f"path parameter {name!r} of {template} is empty")
        text = _scalar(name, value)
        if is_dot_segment(text):
            raise ConfigurationError(
                f"path parameter {name!r} of {template} is {text!r}, a dot segment: a server or "
                "proxy that normalises paths would make it address another resource (the "
                "parent one, for '..'). Pass the real id."
            )
        path = path.replace("{" + name + "}", quote(text, safe=""))
    return path


def is_dot_segment(text: str) -> bool:
    """Whether ``text`` is ``.`` or ``..`` once percent-decoded (``%2e%2E``, ``.%2e``, ...)."""
    if "." not in text and "%" not in text:
        return False  # most segments: no dot, nothing to decode
    for _ in range(3):  # decoded again by each layer that might decode it
        if text in (".", ".."):
            return True
        decoded = unquote(text)
        if decoded == text:
            return False
        text = decoded
    return text in (".", "..")
