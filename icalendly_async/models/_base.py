"""What every generated model and enum is built on (hand-written).

- :class:`Model`: the base of the generated classes. Attributes are read-only properties with
  snake_case names over slots (``_<name>``, set once by ``__init__`` or the decoder; a model is
  never changed afterwards: :meth:`Model.replace` makes a changed copy); the JSON names are
  camelCase (``cls._m_wire``). A
  model keeps the JSON object it was decoded from, so that what the document does not know is
  still there (:attr:`Model.extra`, and :meth:`Model.to_dict` sends it back), and the response it
  came in (:attr:`Model.raw_response`).
- :class:`OpenStrEnum` / :class:`OpenIntEnum`: enums that accept values they do not know (a new
  server-side value must not break an old client); :attr:`is_known` tells them apart.
- :data:`UNSET`: a field the server did not send (as opposed to one it sent as ``null``). It is
  falsy, and typed so that ``if booking.rating:`` narrows ``int | Unset`` to ``int``.

The generated modules hold, per model, the class and a plain decoding function written out at
generation time (``decode_<Class>``); :mod:`._decode` has the helpers they call.
"""

from __future__ import annotations

import datetime as _dt
import enum
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, Final, Literal, TypeAlias, TypeVar

from .._tokens import mask

if TYPE_CHECKING:
    from ..response import Response

__all__ = [
    "UNSET",
    "Model",
    "ModelClasses",
    "OpenIntEnum",
    "OpenStrEnum",
    "Series",
    "Unset",
    "to_wire",
]

M = TypeVar("M", bound="Model")
ModelClasses: TypeAlias = "tuple[type[Model], ...]"


class _Unset(enum.Enum):
    UNSET = "UNSET"

    def __repr__(self) -> str:
        return "UNSET"

    def __bool__(self) -> Literal[False]:
        return False


UNSET: Final = _Unset.UNSET
"""A field the server did not send (as opposed to one it sent as ``null``). Falsy."""

Unset: TypeAlias = Literal[_Unset.UNSET]


class OpenStrEnum(str, enum.Enum):
    """A string enum that also holds values it does not know (``is_known`` is then ``False``).

    Members are strings (``==`` and ``json.dumps`` see the value); ``str()`` is the value.
    """

    def __str__(self) -> str:
        return str(self._value_)

    def __format__(self, format_spec: str) -> str:
        return format(str(self._value_), format_spec)

    @classmethod
    def _missing_(cls, value: object) -> Any:
        if not isinstance(value, str):
            return None
        member = str.__new__(cls, value)
        member._name_ = value
        member._value_ = value
        return member

    @property
    def is_known(self) -> bool:
        """Whether this value is one of the members the client was generated with."""
        return self._value_ in type(self)._value2member_map_


class OpenIntEnum(int, enum.Enum):
    """An integer enum that also holds values it does not know (``is_known`` is then ``False``)."""

    def __str__(self) -> str:
        return str(self._value_)

    @classmethod
    def _missing_(cls, value: object) -> Any:
        if not isinstance(value, int) or isinstance(value, bool):
            return None
        member = int.__new__(cls, value)
        member._name_ = str(value)
        member._value_ = value
        return member

    @property
    def is_known(self) -> bool:
        """Whether this value is one of the members the client was generated with."""
        return self._value_ in type(self)._value2member_map_


class Model:
    """Base of the generated models: read-only, compared by value, JSON in and out.

    A generated class lists its fields in ``_m_names`` (attribute name → JSON name, in
    order). Each field is a property over the slot ``_<name>``.
    """

    __slots__ = ("_m_json", "_m_response")

    #: attribute name → JSON name, in the order of the fields (the generated classes')
    _m_names: ClassVar[dict[str, str]] = {}
    # Derived once per class (__init_subclass__).
    _m_fields: ClassVar[tuple[str, ...]] = ()
    _m_wire: ClassVar[tuple[str, ...]] = ()
    _m_slots: ClassVar[tuple[str, ...]] = ()
    _m_known: ClassVar[frozenset[str]] = frozenset()
    _m_accepts: ClassVar[dict[str, str]] = {}

    _m_json: Mapping[str, Any] | None
    _m_response: Response | None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._m_fields = tuple(cls._m_names)
        cls._m_wire = tuple(cls._m_names.values())
        cls._m_slots = tuple(f"_{name}" for name in cls._m_fields)
        cls._m_known = frozenset(cls._m_wire)
        # Every name a caller may use for a field: the JSON name and the attribute name.
        cls._m_accepts = {
            **dict(zip(cls._m_fields, cls._m_wire, strict=True)),
            **{j: j for j in cls._m_wire},
        }

    def _set_fields(self, values: tuple[Any, ...]) -> None:
        """Store the fields (in ``_m_fields`` order); for the generated ``__init__``."""
        for slot, value in zip(self._m_slots, values, strict=True):
            setattr(self, slot, value)
        self._m_json = None
        self._m_response = None

    # -- what the server sent ---------------------------------------------------------------

    @property
    def raw_response(self) -> Response | None:
        """The response this object was decoded from (``None`` when built by hand or nested)."""
        return getattr(self, "_m_response", None)

    @property
    def extra(self) -> dict[str, Any]:
        """Fields the server sent that the document does not declare, as JSON."""
        data = getattr(self, "_m_json", None)
        if not data:
            return {}
        known = self._m_known
        return {key: value for key, value in data.items() if key not in known}

    # -- JSON -----------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (camelCase names, ISO 8601 date-times; unset fields left out).

        Fields the document does not declare (:attr:`extra`) are included as received.
        """
        out = self.extra
        for slot, key in zip(self._m_slots, self._m_wire, strict=True):
            value = getattr(self, slot)
            if value is not UNSET:
                out[key] = to_wire(value, key)
        return out

    @classmethod
    def from_dict(cls: type[M], data: Mapping[str, Any]) -> M:
        """Decode a JSON object (camelCase names) as the server sends it.

        Raises :class:`~icalendly_async.errors.DecodeError` naming the JSON path and the
        expected type when ``data`` does not fit. Generated classes override this with their
        decoder.
        """
        raise NotImplementedError(f"{cls.__name__} has no decoder")  # pragma: no cover

    # -- values ---------------------------------------------------------------------------

    def _values(self) -> tuple[Any, ...]:
        return tuple(getattr(self, slot) for slot in self._m_slots)

    def _items(self) -> Iterator[tuple[str, Any]]:
        return zip(self._m_fields, self._values(), strict=True)

    def replace(self: M, **changes: Any) -> M:
        """A copy with some fields changed (by attribute name); what :attr:`extra` holds is kept."""
        unknown = sorted(set(changes) - set(self._m_fields))
        if unknown:
            raise TypeError(f"{type(self).__name__} has no field(s) {', '.join(unknown)}")
        fields = dict(self._items())
        fields.update(changes)
        copy = type(self)(**fields)
        copy._m_json = getattr(self, "_m_json", None)
        return copy

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        assert isinstance(other, Model)
        return self._values() == other._values()

    def __hash__(self) -> int:
        return hash((type(self), self._values()))

    def __repr__(self) -> str:
        fields = ", ".join(
            f"{name}={_shown(name, value)}" for name, value in self._items() if value is not UNSET
        )
        return f"{type(self).__name__}({fields})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (_restore, (type(self), self._values(), getattr(self, "_m_json", None)))


# The fields of the document's models that hold secrets: webhook signing secrets, OAuth client
# secrets, access and refresh tokens, API keys, passwords, private keys, invite and share tokens.
# A repr (and so a log line or a traceback's locals) shows them masked like a credential's, and
# so does a preview of a body in an exception (envelope.preview); the attribute and to_dict()
# give them whole.
SECRET_FIELDS: Final = frozenset(
    {
        "access_token",
        "api_key",
        "cal_api_key",
        "client_secret",
        "password",
        "private_key",
        "refresh_token",
        "secret",
        "service_account_key",
        "share_token",
        "token",
    }
)


def _shown(name: str, value: object) -> str:
    """``value`` as a repr shows it: a secret field's masked (a nested model masks its own)."""
    if name not in SECRET_FIELDS or value is None or isinstance(value, Model):
        return repr(value)
    return repr(mask(value) if isinstance(value, str) else "<hidden>")


class Series(Model):
    """What some operations answer instead of one object: a list of them (a recurring booking's
    occurrences). It reads as its first element, so code written for one works unchanged, and
    the attribute named by ``_m_series`` holds them all. ``to_dict()`` gives the first
    element's fields and that attribute."""

    __slots__ = ()
    _m_series: ClassVar[str] = "items"

    def _set_series(self, elements: Sequence[Model]) -> None:
        if not elements:
            raise ValueError(f"{type(self).__name__} needs at least one element")
        first = elements[0]
        for slot in first._m_slots:
            if slot in self._m_slots:
                setattr(self, slot, getattr(first, slot))
        setattr(self, "_" + self._m_series, list(elements))
        self._m_json = None
        self._m_response = None


def _restore(cls: type[M], values: tuple[Any, ...], data: Mapping[str, Any] | None) -> M:
    obj = cls.__new__(cls)
    obj._set_fields(values)
    obj._m_json = data
    return obj


def to_wire(value: Any, what: str = "") -> Any:
    """The JSON form of a Python value: models, enums, date-times, lists and mappings of them.

    ``what`` is where the value is (a JSON path), for the error a naive datetime raises.
    """
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value.value if isinstance(value, enum.Enum) else value
    if isinstance(value, Model):
        return value.to_dict()
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, _dt.datetime):
        from .converter import format_datetime

        return format_datetime(value, what or "date-time")
    if isinstance(value, _dt.date):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {key: to_wire(item, f"{what}.{key}" if what else key) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_wire(item, f"{what}[{index}]") for index, item in enumerate(value)]
    return value  # whatever else: the decoder that checks the body says what is wrong


def input_json(
    classes: tuple[type[Model], ...], value: Mapping[str, Any], where: str
) -> dict[str, Any]:
    """``value`` with its keys as JSON names, for one of ``classes`` (nested mappings too).

    Keys may be the JSON names (camelCase) or the attribute names (snake_case). A key no class
    knows raises :class:`ParameterError` naming it and the closest valid names. Values are left
    as given (the decoder that checks the body judges them).
    """
    from ..errors import ParameterError

    names: dict[str, str] = {}
    for cls in classes:
        names.update(cls._m_accepts)
    out: dict[str, Any] = {}
    for key, item in value.items():
        place = f"{where}.{key}" if where else str(key)
        wire = names.get(key) if isinstance(key, str) else None
        if wire is None:
            raise ParameterError.unknown_key(place, key, sorted(set(names.values())), sorted(names))
        if wire in out:
            raise ParameterError(
                f"{place}: given twice (as {wire!r} and as its attribute name)",
                parameter=place,
            )
        nested = _nested_classes(classes, wire)
        out[wire] = _input_value(nested, item, place) if nested else item
    return out


def _input_value(classes: tuple[type[Model], ...], value: Any, where: str) -> Any:
    if isinstance(value, Model):
        return value.to_dict()
    if isinstance(value, Mapping):
        return input_json(classes, value, where)
    if isinstance(value, (list, tuple)):
        return [_input_value(classes, item, f"{where}[{i}]") for i, item in enumerate(value)]
    return value


def _nested_classes(classes: tuple[type[Model], ...], wire: str) -> tuple[type[Model], ...]:
    found: list[type[Model]] = []
    for cls in classes:
        nested = getattr(cls, "_nested", None)
        if nested is not None:
            found.extend(c for c in nested().get(wire, ()) if c not in found)
    return tuple(found)
