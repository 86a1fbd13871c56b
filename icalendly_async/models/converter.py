"""The one cattrs converter of the library, configured once.

Rules: unknown fields are ignored, never fatal; unknown enum values do not break
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

    def __bool__(self) -> Literal[False]:  # typed so: `if value:` narrows UNSET away
        return False


UNSET: Final = _Unset.UNSET
"""A field the server did not send (as opposed to one it sent as ``null``)."""

Unset = Literal[_Unset.UNSET]


def parse_datetime(value: Any) -> _dt.datetime:
    """ISO 8601 (``Z`` allowed) or epoch milliseconds to an aware datetime."""
    if isinstance(value, str):  # first: what JSON sends
        return _datetime_from_json(value)
    if isinstance(value, _dt.datetime):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return _dt.datetime.fromtimestamp(value / 1000, tz=_dt.timezone.utc)
    raise ValueError(f"not a date-time: {value!r}")


def _datetime_from_text(value: str) -> _dt.datetime:
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    parsed = _dt.datetime.fromisoformat(text)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=_dt.timezone.utc)


def _accepts_z() -> bool:
    try:
        return _dt.datetime.fromisoformat("2024-08-13T15:30:00.000Z").tzinfo is _dt.timezone.utc
    except ValueError:  # Python < 3.11
        return False


_ACCEPTS_Z: Final = _accepts_z()


def _datetime_from_json(value: str) -> _dt.datetime:
    """:func:`_datetime_from_text`, faster for what servers send (``"...Z"``).

    Where ``fromisoformat`` reads a trailing ``Z`` (3.11+), it reads it as ``+00:00``: whatever
    it accepts ending in ``Z`` (and starting with a digit: nothing to strip) gives the same
    datetime as the general path (tests/test_models.py checks); anything else takes that path.
    """
    if _ACCEPTS_Z and value[-1:] == "Z" and value[:1].isdigit():
        try:
            parsed = _dt.datetime.fromisoformat(value)
        except ValueError:
            pass
        else:
            if parsed.tzinfo is _dt.timezone.utc:
                return parsed
    return _datetime_from_text(value)


def _format_datetime(value: _dt.datetime) -> str:
    if value.tzinfo is not None and value.utcoffset() == _dt.timedelta(0):
        return value.replace(tzinfo=None).isoformat(timespec="milliseconds") + "Z"
    return value.isoformat()


def _structure_datetime(value: Any, _type: Any) -> _dt.datetime:
    return parse_datetime(value)


def _make_converter(*, compiled: bool = True) -> cattrs.Converter:
    """The converter. Compiled, it falls back on a second one, ``compiled=False``, which decodes
    models generically only and writes the error messages (models/_structure.py)."""
    conv = cattrs.Converter(forbid_extra_keys=False, omit_if_default=True)
    conv.register_structure_hook(_dt.datetime, _structure_datetime)
    conv.register_unstructure_hook(_dt.datetime, _format_datetime)
    conv.register_structure_hook(_dt.date, lambda value, _type: _dt.date.fromisoformat(value))
    conv.register_unstructure_hook(_dt.date, lambda value: value.isoformat())
    conv.register_structure_hook(_Unset, lambda value, _type: UNSET)
    # The generated models: camelCase JSON, null kept, UNSET omitted, tolerant unions and
    # literals, numbers kept as sent (models/_base.py).
    register_hooks(
        conv,
        reference=_make_converter(compiled=False) if compiled else None,
        fast_paths={_structure_datetime: (str, _datetime_from_json)},
    )
    return conv


converter: Final[cattrs.Converter] = _make_converter()
"""Structures JSON into the generated attrs models and back."""
