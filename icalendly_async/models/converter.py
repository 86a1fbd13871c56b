"""The one cattrs converter of the library, configured once.

Rules (DESIGN.md): unknown fields are ignored, never fatal; unknown enum values do not break
decoding; "missing" (:data:`UNSET`) stays distinct from ``null`` (``None``); date-times become
timezone-aware :class:`datetime.datetime`.
"""

from __future__ import annotations

import datetime as _dt
import enum
from typing import Any, Final, Literal

import cattrs

from ._base import register_hooks

__all__ = ["UNSET", "Unset", "converter", "parse_datetime"]


class _Unset(enum.Enum):
    UNSET = "UNSET"

    def __repr__(self) -> str:
        return "UNSET"

    def __bool__(self) -> bool:
        return False


UNSET: Final = _Unset.UNSET
"""A field the server did not send (as opposed to one it sent as ``null``)."""

Unset = Literal[_Unset.UNSET]


def parse_datetime(value: Any) -> _dt.datetime:
    """ISO 8601 (``Z`` allowed) or epoch milliseconds to an aware datetime."""
    if isinstance(value, _dt.datetime):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return _dt.datetime.fromtimestamp(value / 1000, tz=_dt.timezone.utc)
    if isinstance(value, str):
        text = value.strip()
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        parsed = _dt.datetime.fromisoformat(text)
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=_dt.timezone.utc)
    raise ValueError(f"not a date-time: {value!r}")


def _format_datetime(value: _dt.datetime) -> str:
    if value.tzinfo is not None and value.utcoffset() == _dt.timedelta(0):
        return value.replace(tzinfo=None).isoformat(timespec="milliseconds") + "Z"
    return value.isoformat()


def _make_converter() -> cattrs.Converter:
    conv = cattrs.Converter(forbid_extra_keys=False, omit_if_default=True)
    conv.register_structure_hook(_dt.datetime, lambda value, _type: parse_datetime(value))
    conv.register_unstructure_hook(_dt.datetime, _format_datetime)
    conv.register_structure_hook(_dt.date, lambda value, _type: _dt.date.fromisoformat(value))
    conv.register_unstructure_hook(_dt.date, lambda value: value.isoformat())
    conv.register_structure_hook(_Unset, lambda value, _type: UNSET)
    # The generated models: camelCase JSON, null kept, UNSET omitted, tolerant unions and
    # literals, numbers kept as sent (models/_base.py).
    register_hooks(conv)
    return conv


converter: Final[cattrs.Converter] = _make_converter()
"""Structures JSON into the generated attrs models and back."""
