"""What every generated model and enum is built on (hand-written).

- :class:`Model`: the base of the generated attrs classes (frozen, slotted, keyword-only). Python
  attribute names are snake_case; the JSON names are camelCase (or ``metadata["json"]`` where
  the two do not convert into each other). A model decoded from a response carries it in
  :attr:`Model.raw_response` (headers, status, request id).
- :class:`OpenStrEnum` / :class:`OpenIntEnum`: enums that accept values they do not know (a new
  server-side value must not break an old client); :attr:`is_known` tells them apart.
- :func:`register_hooks`: the converter hooks that make the converter's rules hold (unknown
  fields ignored, ``null`` kept as ``None``, missing kept as :data:`UNSET`, unions decoded by
  their literal ``type`` field first, then by best fit).
"""

from __future__ import annotations

import datetime
import enum
import types
import typing
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Literal, Union, get_args, get_origin

import attrs

if TYPE_CHECKING:
    import cattrs

    from ..response import Response

__all__ = ["Model", "OpenIntEnum", "OpenStrEnum", "error_text", "json_name", "register_hooks"]


class Model:
    """Base class of the generated models."""

    __slots__ = ("_raw_response",)

    @property
    def raw_response(self) -> Response | None:
        """The response this object was decoded from (``None`` when built by hand)."""
        return typing.cast("Response | None", getattr(self, "_raw_response", None))

    def _attach_response(self, response: Response) -> None:
        object.__setattr__(self, "_raw_response", response)


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


def _camel(name: str) -> str:
    head, *rest = name.rstrip("_").split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def json_name(field: attrs.Attribute[Any]) -> str:
    """The JSON property name of a model field."""
    explicit = field.metadata.get("json")
    return explicit if isinstance(explicit, str) else _camel(field.name)


@attrs.frozen
class _FieldInfo:
    name: str
    json: str
    type: Any
    required: bool
    literal: tuple[object, ...] | None


@attrs.frozen
class _ModelInfo:
    fields: tuple[_FieldInfo, ...]
    json_names: frozenset[str]
    required: frozenset[str]
    literals: tuple[tuple[str, tuple[object, ...]], ...]


_INFO: dict[type[Any], _ModelInfo] = {}


def _info(cls: type[Any]) -> _ModelInfo:
    info = _INFO.get(cls)
    if info is None:
        info = _INFO[cls] = _make_info(cls)
    return info


def _make_info(cls: type[Any]) -> _ModelInfo:
    attrs.resolve_types(cls)
    fields = []
    for field in attrs.fields(cls):
        type_ = field.type
        literal = get_args(type_) if _is_literal(type_) else None
        fields.append(
            _FieldInfo(
                field.name,
                json_name(field),
                type_,
                field.default is attrs.NOTHING,
                literal,
            )
        )
    return _ModelInfo(
        tuple(fields),
        frozenset(f.json for f in fields),
        frozenset(f.json for f in fields if f.required),
        tuple((f.json, f.literal) for f in fields if f.literal),
    )


def _is_literal(type_: Any) -> bool:
    return get_origin(type_) is Literal


def _is_model(type_: Any) -> bool:
    return isinstance(type_, type) and issubclass(type_, Model)


def _is_union(type_: Any) -> bool:
    return get_origin(type_) in (Union, types.UnionType)


def _is_unset(type_: Any) -> bool:
    from .converter import Unset

    return bool(type_ == Unset)


def _kind(type_: Any) -> str:
    """The JSON kind a type decodes from: object, array, string, number, boolean or any."""
    origin = get_origin(type_) or type_
    if _is_model(origin) or origin in (dict, Mapping):
        return "object"
    if origin in (list, tuple, set, frozenset):
        return "array"
    if _is_literal(type_):
        values = get_args(type_)
        return "number" if all(isinstance(v, (int, float)) for v in values) else "string"
    if isinstance(origin, type):
        if issubclass(origin, bool):
            return "boolean"
        if issubclass(origin, (str, enum.Enum, datetime.date)):
            return "number" if issubclass(origin, int) else "string"
        if issubclass(origin, (int, float)):
            return "number"
    return "any"


def _value_kind(value: object) -> str:
    if isinstance(value, Mapping):
        return "object"
    if isinstance(value, list):
        return "array"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    return "any"


def _model_score(cls: type[Model], data: Mapping[str, Any]) -> tuple[int, ...] | None:
    """How well ``data`` fits ``cls``; ``None`` when a literal field says it cannot be ``cls``.

    Literal fields that match first, then no missing required field, then the most keys the
    model knows, the fewest it does not; on a tie the most specific model (more of its required
    fields present, fewer fields in all).
    """
    info = _info(cls)
    literal_hits = 0
    for key, allowed in info.literals:
        if key in data:
            if data[key] not in allowed:
                return None
            literal_hits += 1
    keys = data.keys()
    missing = len(info.required - keys)
    known = len(keys & info.json_names)
    unknown = len(keys - info.json_names)
    present_required = len(info.required & keys)
    # A value whose JSON kind the field cannot hold (a number for a string field) is a misfit:
    # without this, overlapping branches tie and the first one wins, coercing 42 into "42".
    misfits = sum(
        1
        for field in info.fields
        if field.json in data
        and data[field.json] is not None
        and not _fits(field.type, _value_kind(data[field.json]))
    )
    return (
        literal_hits,
        -missing,
        -misfits,
        known,
        -unknown,
        present_required,
        -len(info.json_names),
    )


def _fits(type_: Any, kind: str) -> bool:
    """Whether a JSON value of ``kind`` decodes into ``type_`` without coercion."""
    if _is_union(type_):
        return any(
            _fits(member, kind)
            for member in get_args(type_)
            if member is not type(None) and not _is_unset(member)
        )
    return _kind(type_) in ("any", kind)


def _order_members(members: tuple[Any, ...], value: object) -> list[Any]:
    """The union members to try for ``value``, best first."""
    kind = _value_kind(value)
    matching = [m for m in members if _kind(m) in (kind, "any")]
    if kind == "number":  # prefer int for whole numbers, float otherwise
        matching.sort(key=lambda m: (m is float) if isinstance(value, int) else (m is int))
    if kind == "object" and isinstance(value, Mapping):
        scored = []
        for index, member in enumerate(matching):
            if _is_model(member):
                score = _model_score(member, value)
                if score is None:
                    continue
                scored.append(((1, *score, -index), member))
            else:
                scored.append(((0, 0, 0, 0, 0, 0, 0, 0, -index), member))
        matching = [member for _, member in sorted(scored, key=lambda s: s[0], reverse=True)]
        if not matching:  # every branch excluded by its literal: best fit regardless
            matching = [m for m in members if _kind(m) == "object"]
    rest = [m for m in members if m not in matching]
    return matching + rest


_KINDS = ("object", "array", "string", "number", "boolean", "any")


def _order_keys(
    members: tuple[Any, ...],
) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
    """What of an object :func:`_order_members` depends on, for a cache of its answers.

    ``(presence, kinds, literals)``: the keys whose presence matters, those whose value's JSON
    kind (``None`` included) matters, those whose value matters. The order depends on the models'
    :func:`_model_score` and on nothing else of the object; a key changes the scores of all the
    member models alike (so not their order) unless the models disagree about it: a field in
    some of them only, required in some only, of types that fit different kinds, or a literal.
    """
    infos = [_info(m) for m in members if _is_model(m)]
    by_json = [{f.json: f for f in info.fields} for info in infos]
    literals = sorted({key for info in infos for key, _ in info.literals})
    presence, kinds = [], []
    for key in sorted({key for fields in by_json for key in fields}):
        roles = {None if key not in fields else fields[key].required for fields in by_json}
        fits = {
            tuple(key not in fields or _fits(fields[key].type, kind) for kind in _KINDS)
            for fields in by_json
        }
        if len(roles) > 1 or key in literals:
            presence.append(key)
        if len(fits) > 1 or key in literals:
            kinds.append(key)
    return tuple(presence), tuple(kinds), tuple(literals)


def error_text(exc: BaseException) -> str:
    """A one-line account of a structuring error (cattrs' exception groups flattened)."""
    from cattrs.errors import BaseValidationError

    if isinstance(exc, BaseValidationError):
        from cattrs import transform_error

        messages = transform_error(exc, format_exception=lambda e, _t: error_text(e))
        return "; ".join(messages[:3]) + ("; …" if len(messages) > 3 else "")
    return str(exc) or type(exc).__name__


def register_hooks(
    conv: cattrs.Converter,
    *,
    reference: cattrs.Converter | None = None,
    fast_paths: Mapping[Any, tuple[type[Any], Callable[[Any], Any]]] | None = None,
) -> None:
    """Install the model, union, list, literal and number hooks on ``conv``.

    With a ``reference`` (a converter configured alike, without one), models, unions and lists
    are decoded by compiled functions that fall back to it; without, by the generic path only.
    ``fast_paths``: see ``models/_structure.py``'s ``install``.
    """
    from ._structure import install

    install(conv, reference=reference, fast_paths=fast_paths)

    def unstructure_model(obj: Model) -> dict[str, Any]:
        from .converter import UNSET

        out: dict[str, Any] = {}
        for field in _info(type(obj)).fields:
            value = getattr(obj, field.name)
            if value is UNSET:
                continue
            out[field.json] = None if value is None else conv.unstructure(value)
        return out

    conv.register_unstructure_hook_func(lambda cls: _is_model(cls), unstructure_model)
