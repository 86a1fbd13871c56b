"""Generated models round-trip: ``cls.from_dict(x).to_dict() == x`` for JSON of their fields.

For a deterministic sample of the generated classes, hypothesis builds JSON objects from each
class's own fields, as its constructor declares them (camelCase names, required fields always
present, ``UNSET``-able ones sometimes left out, ``null`` where the type allows it, enum values
known and unknown, nested models, lists, free-form objects, date-times in the canonical form),
decodes them with the generated decoder and encodes them back: the result must be the same JSON.
"""

from __future__ import annotations

import collections.abc
import datetime as dt
import enum
import importlib
import importlib.util
import inspect
import random
import types
from collections.abc import Mapping
from typing import Any, Literal, Union, get_args, get_origin, get_type_hints

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

if importlib.util.find_spec("icalendly_async.models._generated") is None:
    pytest.skip(
        "icalendly_async.models._generated does not exist yet (the code generator has not "
        "produced the models); nothing to round-trip",
        allow_module_level=True,
    )

from icalendly_async.models import UNSET, Model, Series
from icalendly_async.models import _generated as generated

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
    """Date-times as the models send them: UTC, milliseconds, ``Z`` (other offsets are read,
    and sent back converted to UTC: the same instant, another text)."""
    utc = st.datetimes(min_value=dt.datetime(1971, 1, 1), max_value=dt.datetime(2200, 1, 1)).map(
        lambda d: d.replace(microsecond=d.microsecond // 1000 * 1000)
    )
    return utc.map(lambda d: d.isoformat(timespec="milliseconds") + "Z")


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
    if origin in (list, tuple, set, frozenset, collections.abc.Sequence) or type_ is list:
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
            shapes = [c for c in _shapes(type_) if depth < MAX_DEPTH or c is type_]
            return st.one_of([for_model(c, depth + 1) for c in shapes or [type_]])
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


def fields(cls: type[Model]) -> list[tuple[str, Any, bool]]:
    """(JSON name, type, always sent) of each field, from the class's constructor."""
    namespace: dict[str, Any] = {}
    for name in generated.__all__:
        namespace[name] = getattr(generated, name)
    module = importlib.import_module(cls.__module__)
    hints = get_type_hints(cls.__init__, globalns={**vars(module), **namespace})
    params = inspect.signature(cls).parameters
    out = []
    for attribute, json_name in cls._m_names.items():
        default = params[attribute].default
        out.append((json_name, hints[attribute], default is not UNSET))
    return out


def for_model(cls: type[Model], depth: int = 0) -> st.SearchStrategy[dict[str, Any]]:
    key = (cls, depth)
    if key not in _MODEL_CACHE:
        required: dict[str, st.SearchStrategy[Any]] = {}
        optional: dict[str, st.SearchStrategy[Any]] = {}
        for name, type_, always in fields(cls):
            if not always:
                if depth < MAX_DEPTH:
                    optional[name] = for_type(type_, depth)
            else:
                # required, or a literal discriminator with a default: always sent back
                required[name] = for_type(type_, depth)
        _MODEL_CACHE[key] = st.fixed_dictionaries(required, optional=optional)
    return _MODEL_CACHE[key]


def _shapes(cls: type[Model]) -> list[type[Model]]:
    """The classes a field of type ``cls`` holds: a family base holds its members."""
    members = [c for c in cls.__subclasses__() if not issubclass(c, Series)]
    if "Source: ``#/components/schemas/" in (cls.__doc__ or ""):
        members.insert(0, cls)
    return members


def _generated_models() -> list[type[Model]]:
    """The classes of the document's schemas (not the generated family bases and series)."""
    found = []
    for name in sorted(generated.__all__):
        obj = getattr(generated, name)
        if (
            isinstance(obj, type)
            and issubclass(obj, Model)
            and not issubclass(obj, Series)
            and "Source: ``#/components/schemas/" in (obj.__doc__ or "")
        ):
            found.append(obj)
    return found


def _param(cls: type[Model]) -> Any:
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
        obj = cls.from_dict(data)
        assert isinstance(obj, cls)  # a family base gives the member the JSON is
        assert obj.to_dict() == data

    round_trip()


def test_the_sample_covers_nesting_unions_enums_and_date_times() -> None:
    """The sample is not all flat classes: it exercises the decoders' interesting paths."""

    def kinds(cls: type[Any]) -> set[str]:
        found = set()
        for _name, type_, _always in fields(cls):
            text = str(type_)
            found |= {k for k in ("datetime", "Union", "|", "list", "dict") if k in text}
            for arg in (type_, *get_args(type_)):
                if isinstance(arg, type) and issubclass(arg, Model):
                    found.add("model")
                if isinstance(arg, type) and issubclass(arg, enum.Enum):
                    found.add("enum")
        return found

    covered = set().union(*(kinds(cls) for cls in SAMPLED))
    assert {"model", "enum", "datetime", "list"} <= covered, covered
