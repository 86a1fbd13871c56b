"""Finding the operation a raw ``client.request(method, path)`` calls.

A raw call then gets what a typed one has: the operation's tier, its ``cal-api-version``, and a
path template (``/v2/bookings/{bookingUid}``) for logs and metrics instead of a path with ids.
Literal segments win over parameters (``/v2/bookings/by-seat/{seatUid}`` before
``/v2/bookings/{bookingUid}/…``).
"""

from __future__ import annotations

import functools
import re

from ._generated import OPERATIONS
from ._operation import Operation

__all__ = ["match_operation"]


@functools.cache
def _index() -> dict[tuple[str, int], list[tuple[re.Pattern[str], Operation]]]:
    table: dict[tuple[str, int], list[tuple[int, re.Pattern[str], Operation]]] = {}
    for op in OPERATIONS:
        segments = op.path.strip("/").split("/")
        pattern = "/".join(
            "[^/]+" if s.startswith("{") and s.endswith("}") else re.escape(s) for s in segments
        )
        literal = sum(1 for s in segments if not s.startswith("{"))
        table.setdefault((op.method.upper(), len(segments)), []).append(
            (literal, re.compile(f"/{pattern}"), op)
        )
    return {
        key: [(rx, op) for _, rx, op in sorted(entries, key=lambda e: -e[0])]
        for key, entries in table.items()
    }


@functools.cache
def _literal() -> dict[tuple[str, str], Operation]:
    """The operations whose path has no parameter, by method and path."""
    return {(op.method.upper(), op.path): op for op in OPERATIONS if "{" not in op.path}


def match_operation(method: str, path: str) -> Operation | None:
    """The operation whose method and path template match, or ``None``."""
    verb = method.upper()
    op = _literal().get((verb, path))
    if op is not None:
        return op
    segments = path.strip("/").count("/") + 1
    for pattern, op in _index().get((verb, segments), ()):
        if pattern.fullmatch(path):
            return op
    return None
