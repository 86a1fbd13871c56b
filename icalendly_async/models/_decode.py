"""Helpers of the generated decoders (hand-written).

A generated decoder checks each field's JSON type inline (``if type(v) is not str: ...``) and
calls a helper here only for what is not the common case: a value to convert (a date-time, an
enum), or one of the wrong type, which the ``as_*`` helpers either accept as servers send it
(an integral ``60.0`` for an integer, ``"true"`` for a boolean) or refuse with a
:class:`Mismatch`.

A ``null`` is kept as ``None`` wherever it comes, whether the document allows it there or not
(the helpers' slow paths and the decoders' guards do that): a server that leaves a value out
that way must not make the whole answer unreadable. Every other value of the wrong type is a
:class:`Mismatch`.

A :class:`Mismatch` does not know where it happened when it is raised; each model decoder it
passes through puts its field name in front of its path (:func:`located`), so that the caller
gets ``attendees[2].email`` without any decoder spending time on paths when nothing is wrong.
"""

from __future__ import annotations

import datetime as _dt
import enum
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Final, TypeVar, cast

if TYPE_CHECKING:
    from ._base import Series

__all__ = [
    "MISSING",
    "Mismatch",
    "as_bool",
    "as_date",
    "as_datetime",
    "as_dict",
    "as_float",
    "as_int",
    "as_list",
    "as_str",
    "describe",
    "first_fit",
    "from_json",
    "fromisoformat",
    "identity",
    "in_list",
    "items",
    "list_of",
    "located",
    "map_of",
    "member_of",
    "object_or_empty",
    "open_member",
    "series",
]

E = TypeVar("E", bound=enum.Enum)
T = TypeVar("T")
S = TypeVar("S", bound="Series")


class _Missing:
    def __repr__(self) -> str:
        return "nothing (the field is missing)"


MISSING: Final = _Missing()
"""The value of a required field the JSON object does not have (in a :class:`Mismatch`)."""


class Mismatch(Exception):
    """A JSON value that does not fit the type the document gives it (internal).

    ``path`` grows as the error leaves each decoder (field names and list indexes, outermost
    first); ``node`` is the JSON value the outermost decoder so far was decoding.
    """

    def __init__(self, expected: str, value: object) -> None:
        super().__init__(expected)
        self.expected = expected
        self.value = value
        self.path: list[str | int] = []
        self.node: object = value

    def where(self, root: str = "") -> str:
        """The path as text: ``data.attendees[2].email`` (``root`` first)."""
        text = root
        for part in self.path:
            text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
        return text or "(the value itself)"

    def __str__(self) -> str:
        return f"{self.where()}: expected {self.expected}, got {describe(self.value)}"


def describe(value: object) -> str:
    """A short account of a JSON value for a message: its JSON type and a preview."""
    if value is MISSING:
        return "nothing (the field is missing)"
    if value is None:
        return "null"
    kind = {dict: "object", list: "array", str: "string", bool: "boolean"}.get(type(value))
    if kind is None:
        kind = "number" if isinstance(value, (int, float)) else type(value).__name__
    text = repr(value)
    if len(text) > 60:
        text = text[:57] + "..."
    return f"{kind} {text}"


def located(error: Exception, data: dict[str, Any], key: str) -> Mismatch:
    """``error``, raised while decoding ``data[key]``, with ``key`` at the front of its path.

    A ``KeyError`` is the field itself missing. When the error came from inside a list or a
    mapping held by the field, the index (or key) of the element is found by identity.
    """
    if not isinstance(error, Mismatch):  # KeyError: data[key] is not there
        missing = Mismatch("a value (the field is required)", MISSING)
        missing.path.append(key)
        missing.node = data
        return missing
    value = data.get(key, MISSING)
    if error.node is not value:
        if type(value) is list:
            for index, item in enumerate(value):
                if item is error.node:
                    error.path.insert(0, index)
                    break
        elif type(value) is dict:
            for name, item in value.items():
                if item is error.node:
                    error.path.insert(0, name)
                    break
    error.path.insert(0, key)
    error.node = data
    return error


def in_list(error: Mismatch, items: list[Any]) -> Mismatch:
    """``error``, raised while decoding an element of ``items``, with the element's index."""
    for index, item in enumerate(items):
        if item is error.node:
            error.path.insert(0, index)
            break
    error.node = items
    return error


# -- the slow paths of the inline checks ------------------------------------------------------


def as_str(value: object) -> Any:
    """A string (``null`` kept)."""
    if isinstance(value, str):
        return str(value)
    if value is None:
        return None
    raise Mismatch("str", value)


def as_int(value: object) -> Any:
    """An integer; an integral float (``60.0``) is read as one, nothing else is (``null`` kept)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return int(value)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if value is None:
        return None
    raise Mismatch("int", value)


def as_float(value: object) -> Any:
    """A number; an integer stays one (JSON has one number type) (``null`` kept)."""
    if (isinstance(value, (int, float)) and not isinstance(value, bool)) or value is None:
        return value
    raise Mismatch("float", value)


def as_bool(value: object) -> Any:
    """A boolean; ``"true"``/``"false"`` as some servers send them, never ``bool("false")``
    (``null`` kept)."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise Mismatch("bool", value)


def as_dict(value: object) -> Any:
    """A JSON object (``null`` kept)."""
    if isinstance(value, dict) or value is None:
        return value
    raise Mismatch("dict (a JSON object)", value)


def object_or_empty(value: object) -> dict[str, Any]:
    """A free-form JSON object; no data at all (an empty body) is an empty one."""
    if value is None:
        return {}
    if isinstance(value, dict):
        return value
    raise Mismatch("dict (a JSON object)", value)


def as_list(value: object) -> list[Any]:
    if isinstance(value, list):
        return value
    raise Mismatch("list (a JSON array)", value)


_UTC: Final = _dt.timezone.utc
fromisoformat: Final = _dt.datetime.fromisoformat
"""The C parser of ISO 8601 text. The generated decoders try it first on a required date-time
and call :func:`as_datetime` when it fails or finds no offset (a null, epoch ms, "Z" on 3.10)."""


def as_datetime(value: object) -> Any:
    """ISO 8601 text to an aware datetime (UTC when it has no offset); epoch ms are accepted
    (``null`` kept)."""
    if type(value) is str:
        try:
            parsed = fromisoformat(value)
        except ValueError:
            parsed = _datetime_slow(value)
        return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=_UTC)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return _dt.datetime.fromtimestamp(value / 1000, tz=_UTC)
    if value is None:
        return None
    raise Mismatch("datetime (ISO 8601 text)", value)


def _datetime_slow(value: str) -> _dt.datetime:
    text = value.strip()
    if text.endswith(("Z", "z")):  # Python 3.10 does not read "Z"
        text = text[:-1] + "+00:00"
    try:
        return fromisoformat(text)
    except ValueError:
        raise Mismatch("datetime (ISO 8601 text)", value) from None


def as_date(value: object) -> Any:
    """``YYYY-MM-DD`` (or the date of a date-time) to a date (``null`` kept)."""
    if type(value) is str:
        try:
            return _dt.date.fromisoformat(value[:10] if len(value) > 10 else value)
        except ValueError:
            pass
    if value is None:
        return None
    raise Mismatch("date (YYYY-MM-DD)", value)


def identity(value: T) -> T:
    """The JSON as sent (a value the document does not type)."""
    return value


def open_member(cls: type[E], value: object) -> Any:
    """The member of an open enum for ``value``, known or not; a value of the wrong JSON type
    (a number for a string enum) is a :class:`Mismatch` (``null`` kept)."""
    if value is None:
        return None
    try:
        return cls(value)
    except ValueError:
        raise Mismatch(cls.__name__, value) from None


def member_of(cls: type[E]) -> Callable[[object], E]:
    """A decoder of the members of the open enum ``cls`` (for lists of them)."""
    members = cls._value2member_map_

    def decode_member(value: object) -> E:
        member = members.get(value) if type(value) is str or type(value) is int else None
        return cast(E, member) if member is not None else cast(E, open_member(cls, value))

    return decode_member


def first_fit(value: object, decoders: Sequence[Callable[[Any], object]]) -> Any:
    """The first of ``decoders`` (most likely first) that takes ``value``.

    When none does, the first one's error is raised: the branch the value looked most like is
    the one whose complaint helps.
    """
    first: Mismatch | None = None
    for decoder in decoders:
        try:
            return decoder(value)
        except Mismatch as error:
            if first is None:
                first = error
    assert first is not None
    raise first


def items(value: object, decoder: Callable[[Any], T]) -> list[T]:
    """A JSON array decoded element by element (an error names the element's index)."""
    if type(value) is not list:
        raise Mismatch("list (a JSON array)", value)
    try:
        return [decoder(item) for item in value]
    except Mismatch as error:
        raise in_list(error, value) from None


def list_of(decoder: Callable[[Any], T]) -> Callable[[object], list[T]]:
    """A decoder of JSON arrays of what ``decoder`` decodes."""

    def decode_list(value: object) -> list[T]:
        return items(value, decoder)

    return decode_list


def map_of(decoder: Callable[[Any], T]) -> Callable[[object], dict[str, T]]:
    """A decoder of JSON objects whose values are what ``decoder`` decodes."""

    def decode_map(value: object) -> dict[str, T]:
        if type(value) is not dict:
            raise Mismatch("dict (a JSON object)", value)
        key = ""
        try:
            out = {}
            for key, item in value.items():
                out[key] = decoder(item)
            return out
        except Mismatch as error:
            error.path.insert(0, key)
            error.node = value
            raise

    return decode_map


def series(cls: type[S], elements: list[Any], value: object) -> S:
    """A :class:`~icalendly_async.models.Series` of the decoded ``elements`` of ``value``."""
    if not elements:
        raise Mismatch(f"{cls.__name__} (a non-empty JSON array)", value)
    obj = object.__new__(cls)
    obj._set_series(elements)
    return obj


def from_json(decoder: Callable[[Any], T], data: object, what: str) -> T:
    """``decoder(data)``; a :class:`Mismatch` becomes a public ``DecodeError`` (``from_dict``)."""
    try:
        return decoder(data)
    except Mismatch as error:
        from ..errors import DecodeError

        raise DecodeError(
            f"{what}.from_dict(): {error}",
            path=error.where(),
            expected=error.expected,
        ) from None
