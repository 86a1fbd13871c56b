"""Date-times between JSON and Python, and the :data:`UNSET` marker (hand-written).

JSON carries date-times as ISO 8601 text (``2024-08-13T15:30:00.000Z``); the models hold them as
timezone-aware :class:`datetime.datetime`. A date-time the server sends without an offset is
read as UTC. Going out, an aware date-time is sent in UTC with milliseconds; a naive one is
refused (:func:`format_datetime`): whether it meant local time or UTC cannot be known.
"""

from __future__ import annotations

import datetime as _dt
from typing import Any, Final

from ..errors import ParameterError
from ._base import UNSET, Unset

__all__ = ["UNSET", "Unset", "format_date", "format_datetime", "parse_datetime"]

_UTC: Final = _dt.timezone.utc


def parse_datetime(value: Any) -> _dt.datetime:
    """ISO 8601 text (``Z`` allowed) or epoch milliseconds to an aware datetime (UTC if none)."""
    if isinstance(value, str):
        text = value.strip()
        if text.endswith(("Z", "z")):  # Python 3.10's fromisoformat does not read "Z"
            text = text[:-1] + "+00:00"
        parsed = _dt.datetime.fromisoformat(text)
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=_UTC)
    if isinstance(value, _dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=_UTC)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return _dt.datetime.fromtimestamp(value / 1000, tz=_UTC)
    raise ValueError(f"not a date-time: {value!r:.80}")


def format_datetime(value: _dt.datetime, what: str = "date-time") -> str:
    """``2024-08-13T15:30:00.000Z``: an aware datetime in UTC; a naive one is refused.

    ``what`` names the value in the error (a parameter or a body field).
    """
    offset = value.utcoffset()
    if offset is None:
        raise ParameterError(
            f"{what}: a naive datetime ({value.isoformat()}) is ambiguous; pass an aware one, "
            "e.g. datetime(2024, 8, 13, 9, 0, tzinfo=timezone.utc) or .astimezone() of a local "
            "time",
            parameter=what,
            expected="an aware datetime",
        )
    utc = value - offset
    return utc.replace(tzinfo=None).isoformat(timespec="milliseconds") + "Z"


def format_date(value: _dt.date) -> str:
    """``2024-08-13``."""
    return value.isoformat()
