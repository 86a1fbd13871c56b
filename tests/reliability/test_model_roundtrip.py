"""Generated models round-trip: ``unstructure(structure(x)) == x`` for JSON built from their fields.

For a deterministic sample of the generated attrs classes, hypothesis builds JSON objects from
each class's own fields (camelCase names, required fields always present, ``UNSET``-able ones
sometimes left out, ``null`` where the type allows it, enum values known and unknown, nested
models, lists, free-form objects, date-times in the converter's canonical form), decodes them
with the library's converter and encodes them back: the result must be the same JSON.
"""

from __future__ import annotations

import datetime as dt
import enum
import importlib.util
import random
import types
import typing
from collections.abc import Mapping
from typing import Any, Literal, Union, get_args, get_origin

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

if importlib.util.find_spec("icalendly_async.models._generated") is None:
    pytest.skip(
        "icalendly_async.models._generated does not exist yet (the code generator has not "
        "produced the models); nothing to round-trip",
        allow_module_level=True,
    )

from icalendly_async.models import Model, converter
from icalendly_async.models import _generated as generated
from icalendly_async.models._base import _kind, json_name
from icalendly_async.models.converter import UNSET

# The reliability sweep runs in the full suite (.ci/run: pytest -m slow), not the default run.
pytestmark = pytest.mark.slow

SAMPLE = 40  # classes per run ("a few dozen")
MAX_DEPTH = 3  # below this, optional nesting is left out and lists are empty

json_leaf = st.none() | st.booleans() | st.integers(-(10**12), 10**12) | st.text(max_size=12)
json_any = st.recursive(
    json_leaf,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=6,
)


class Unsupported(Exception):
    """A field type this test does not know how to generate."""


def _datetimes() -> st.SearchStrategy[str]:
    utc = st.datetimes(min_value=dt.datetime(1971, 1, 1), max_value=dt.datetime(2200, 1, 1)).map(
        lambda d: d.replace(microsecond=d.microsecond // 1000 * 1000)
    )
    canonical = utc.map(lambda d: d.isoformat(timespec="milliseconds") + "Z")
    offsets = (
        st.integers(-12 * 60, 14 * 60)
        .filter(bool)
        .map(lambda m: dt.timezone(dt.timedelta(minutes=m)))
    )
    offset_form = st.builds(lambda d, tz: d.replace(tzinfo=tz).isoformat(), utc, offsets)
    return canonical | offset_form


def _is_unset(type_: Any) -> bool:
    return get_origin(type_) is Literal and get_args(type_) == (UNSET,)


def for_type(type_: Any, depth: int) -> st.SearchStrategy[Any]:
    """A strategy of JSON values that ``type_`` decodes from and encodes back to."""
    origin = get_origin(type_)
    if type_ is Any or type_ is object:
        return json_any
    if type_ is type(None):
        return st.none()
    if origin in (Union, types.UnionType):
        members = [m for m in get_args(type_) if not _is_unset(m)]
        if depth >= MAX_DEPTH:
            shallow = [m for m in members if not (isinstance(m, type) and issubclass(m, Model))]
            members = shallow or members
        return st.one_of([for_type(m, depth) for m in members])
    if origin is Literal:
        values = [v for v in get_args(type_) if v is not UNSET]
        if not values:
            raise Unsupported(repr(type_))
        return st.sampled_from(values)
    if origin in (list, tuple, set, frozenset) or type_ is list:
        (item,) = get_args(type_) or (Any,)
        if depth >= MAX_DEPTH:
            return st.just([])
        return st.lists(for_type(item, depth + 1), max_size=2)
    if origin in (dict, Mapping) or type_ is dict:
        args = get_args(type_)
        value = args[1] if len(args) == 2 else Any
        if depth >= MAX_DEPTH:
            return st.just({})
        return st.dictionaries(st.text(max_size=6), for_type(value, depth + 1), max_size=2)
    if isinstance(type_, type):
        if issubclass(type_, Model):
            return for_model(type_, depth + 1)
        if issubclass(type_, enum.Enum):
            known = [m.value for m in type_]
            if issubclass(type_, int):
                return st.sampled_from(known) | st.integers(-1000, 1000) if known else st.integers()
            unknown = st.text(min_size=1, max_size=10)  # a value the client does not know yet
            return st.sampled_from(known) | unknown if known else unknown
        if type_ is bool:
            return st.booleans()
        if type_ is int:
            return st.integers(-(10**15), 10**15)
        if type_ is float:
            return st.floats(allow_nan=False, allow_infinity=False) | st.integers(-(10**6), 10**6)
        if type_ is str:
            return st.text(max_size=16)
        if type_ is dt.datetime:
            return _datetimes()
        if type_ is dt.date:
            return st.dates().map(dt.date.isoformat)
    raise Unsupported(repr(type_))


_MODEL_CACHE: dict[tuple[type[Any], int], st.SearchStrategy[dict[str, Any]]] = {}


def for_model(cls: type[Any], depth: int = 0) -> st.SearchStrategy[dict[str, Any]]:
    key = (cls, depth)
    if key not in _MODEL_CACHE:
        attrs.resolve_types(cls)
        required: dict[str, st.SearchStrategy[Any]] = {}
        optional: dict[str, st.SearchStrategy[Any]] = {}
        for field in attrs.fields(cls):
            name = field.metadata.get("json") or _camel(field.name)
            if field.default is UNSET:
                if depth < MAX_DEPTH:
                    optional[name] = for_type(field.type, depth)
            else:
                # required, or a literal discriminator with a default: always sent back
                required[name] = for_type(field.type, depth)
        _MODEL_CACHE[key] = st.fixed_dictionaries(required, optional=optional)
    return _MODEL_CACHE[key]


def _camel(name: str) -> str:
    head, *rest = name.rstrip("_").split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def _generated_models() -> list[type[Any]]:
    found = []
    for name in sorted(generated.__all__):
        obj = getattr(generated, name)
        if isinstance(obj, type) and issubclass(obj, Model) and attrs.has(obj):
            found.append(obj)
    return found


def _tied(a: type[Any], b: type[Any]) -> bool:
    """Two union branches only a value's JSON kind tells apart: the same JSON names, no literal
    discriminator, and a shared field of another kind (``option``: string vs number)."""
    fa = {json_name(f): f for f in attrs.fields(a)}
    fb = {json_name(f): f for f in attrs.fields(b)}
    if fa.keys() != fb.keys():
        return False
    if any(get_origin(f.type) is Literal for f in (*fa.values(), *fb.values())):
        return False
    return any(_kind(fa[k].type) != _kind(fb[k].type) for k in fa)


def _tied_unions(type_: Any, seen: set[type[Any]] | None = None) -> set[tuple[str, str]]:
    """Every pair of tied branches in the unions ``type_`` contains, transitively."""
    seen = set() if seen is None else seen
    found: set[tuple[str, str]] = set()
    if get_origin(type_) in (Union, types.UnionType):
        branches: list[type[Any]] = [
            m for m in get_args(type_) if isinstance(m, type) and issubclass(m, Model)
        ]
        for i, a in enumerate(branches):
            for b in branches[i + 1 :]:
                attrs.resolve_types(a)
                attrs.resolve_types(b)
                if _tied(a, b):
                    found.add((a.__name__, b.__name__))
    for arg in get_args(type_):
        found |= _tied_unions(arg, seen)
    if isinstance(type_, type) and issubclass(type_, Model) and type_ not in seen:
        model: type[Any] = type_  # an attrs class (Model itself is not one, to mypy)
        seen.add(model)
        attrs.resolve_types(model)
        for field in attrs.fields(model):
            found |= _tied_unions(field.type, seen)
    return found


def _param(cls: type[Any]) -> Any:
    return cls


MODELS = _generated_models()
SAMPLED = sorted(
    random.Random(2024_08_13).sample(MODELS, min(SAMPLE, len(MODELS))), key=lambda c: c.__name__
)


def test_there_are_models_to_sample() -> None:
    assert len(MODELS) >= SAMPLE, f"only {len(MODELS)} generated models"


@pytest.mark.parametrize("cls", [_param(c) for c in SAMPLED], ids=lambda c: c.__name__)
def test_generated_model_round_trips(cls: type[Any]) -> None:
    try:
        strategy = for_model(cls)
    except Unsupported as exc:
        pytest.skip(f"{cls.__name__} has a field type this test cannot generate: {exc}")

    @settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
    @given(strategy)
    def round_trip(data: dict[str, Any]) -> None:
        obj = converter.structure(data, cls)
        assert type(obj) is cls
        assert converter.unstructure(obj) == data

    round_trip()


def test_the_sample_covers_nesting_unions_enums_and_date_times() -> None:
    """The sample is not all flat classes: it exercises the converter's interesting paths."""

    def kinds(cls: type[Any]) -> set[str]:
        found = set()
        for field in attrs.fields(cls):
            text = str(typing.get_type_hints(cls).get(field.name, field.type))
            found |= {k for k in ("datetime", "Union", "|", "list", "dict") if k in text}
            hints = typing.get_type_hints(cls)
            for arg in (hints[field.name], *get_args(hints[field.name])):
                if isinstance(arg, type) and issubclass(arg, Model):
                    found.add("model")
                if isinstance(arg, type) and issubclass(arg, enum.Enum):
                    found.add("enum")
        return found

    covered = set().union(*(kinds(cls) for cls in SAMPLED))
    assert {"model", "enum", "datetime", "list"} <= covered, covered


def test_a_union_branch_is_chosen_by_the_value_kinds_too() -> None:
    text = getattr(generated, "TextAttribute", None)
    number = getattr(generated, "NumberAttribute", None)
    if text is None or number is None:
        pytest.skip("the generated models have no TextAttribute/NumberAttribute")
    data = {"id": "a1", "name": "Seats", "type": "NUMBER", "option": 42, "optionId": "o1"}
    obj = converter.structure(data, text | number)
    assert type(obj) is number and obj.option == 42
    assert converter.unstructure(obj) == data
