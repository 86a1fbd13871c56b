"""The generated models and the converter's rules (``icalendly_async.models.converter``)."""

from __future__ import annotations

import copy
import datetime as dt
import json
import pickle
import random
import typing
from typing import Any

import attrs
import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from referencing import Registry
from referencing.jsonschema import DRAFT202012

import icalendly_async.models as models
from icalendly_async.endpoints._base import decode
from icalendly_async.endpoints._generated import _operations as ops
from icalendly_async.errors import DecodeError
from icalendly_async.models import UNSET, Model, OpenStrEnum, Unset, converter
from icalendly_async.models import _generated as gen
from icalendly_async.models._base import _info, _order_keys, _order_members, error_text
from icalendly_async.models._structure import _setters
from icalendly_async.models.converter import (
    _datetime_from_json,
    _datetime_from_text,
    parse_datetime,
)
from icalendly_async.models.converter import _make_converter as make_converter
from icalendly_async.response import Response
from tests.reliability import test_model_roundtrip as roundtrip
from tools.codegen import spec
from tools.codegen.samples import Sampler

DOC = spec.repair(spec.load_original()).doc
SCHEMAS = DOC["components"]["schemas"]
REGISTRY = Registry().with_resource("urn:doc", DRAFT202012.create_resource(DOC))


def validate(value: Any, schema_name: str) -> None:
    schema = {"$ref": f"urn:doc#/components/schemas/{schema_name}"}
    jsonschema.Draft202012Validator(schema, registry=REGISTRY).validate(value)


def booking(**extra: Any) -> dict[str, Any]:
    data: dict[str, Any] = Sampler(DOC).sample(SCHEMAS["BookingOutput_2024_08_13"])
    data.update(extra)
    return data


def response(data: Any) -> Response:
    return Response(status=200, method="GET", url="https://x/v2", headers={}, data=data)


# -- rules --------------------------------------------------------------------------------


def test_camel_case_json_snake_case_attributes() -> None:
    data = booking()
    obj = converter.structure(data, gen.BookingOutput_2024_08_13)
    assert obj.event_type_id == data["eventTypeId"]
    assert obj.absent_host is data["absentHost"]
    out = converter.unstructure(obj)
    assert out["eventTypeId"] == data["eventTypeId"]
    assert "event_type_id" not in out


def test_missing_is_unset_and_null_is_none() -> None:
    data = booking(meetingUrl=None)
    del data["rating"]
    obj = converter.structure(data, gen.BookingOutput_2024_08_13)
    assert obj.rating is UNSET
    assert not obj.rating
    meeting_url: object = obj.meeting_url  # typed str | Unset, yet a null stays None
    assert meeting_url is None
    out = converter.unstructure(obj)
    assert "rating" not in out
    assert out["meetingUrl"] is None


def test_unknown_fields_are_ignored() -> None:
    obj = converter.structure(booking(brandNewField={"x": 1}), gen.BookingOutput_2024_08_13)
    assert not hasattr(obj, "brand_new_field")


def test_unknown_enum_values_are_kept() -> None:
    obj = converter.structure(booking(status="postponed"), gen.BookingOutput_2024_08_13)
    assert isinstance(obj.status, gen.BookingStatus)
    assert obj.status == "postponed"
    assert not obj.status.is_known
    assert gen.BookingStatus("accepted") is gen.BookingStatus.ACCEPTED
    assert gen.BookingStatus.ACCEPTED.is_known
    assert converter.unstructure(obj)["status"] == "postponed"
    assert str(gen.BookingStatus.ACCEPTED) == "accepted"
    assert json.dumps(gen.BookingStatus.ACCEPTED) == '"accepted"'


def test_date_times_are_aware_datetimes() -> None:
    obj = converter.structure(
        booking(start="2024-08-13T15:30:00Z", end="2024-08-13T17:30:00.000+02:00"),
        gen.BookingOutput_2024_08_13,
    )
    assert obj.start == dt.datetime(2024, 8, 13, 15, 30, tzinfo=dt.timezone.utc)
    assert obj.end == obj.start
    assert converter.unstructure(obj)["start"] == "2024-08-13T15:30:00.000Z"


def test_numbers_are_kept_as_sent() -> None:
    obj = converter.structure(booking(duration=60, rating=4.5), gen.BookingOutput_2024_08_13)
    assert obj.duration == 60 and isinstance(obj.duration, int)
    assert obj.rating == 4.5  # an int field never truncates


def test_models_are_frozen_slotted_and_keyword_only() -> None:
    obj = converter.structure(booking(), gen.BookingOutput_2024_08_13)
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        obj.title = "x"  # type: ignore[misc]
    assert not hasattr(obj, "__dict__")
    assert attrs.evolve(obj, title="y").title == "y"
    with pytest.raises(TypeError):
        gen.CancelBookingInput_2024_08_13("reason")  # type: ignore[call-arg]


def test_input_models_send_only_what_was_set() -> None:
    body = gen.CancelBookingInput_2024_08_13(cancellation_reason="sick")
    assert converter.unstructure(body) == {"cancellationReason": "sick"}


def test_literal_discriminators_are_defaults_and_always_sent() -> None:
    location = gen.InputAddressLocation_2024_06_14(address="1 Main St", public=True)
    assert location.type == "address"
    assert converter.unstructure(location) == {
        "type": "address",
        "address": "1 Main St",
        "public": True,
    }


def test_json_names_that_are_not_camel_case() -> None:
    key = gen.GoogleServiceAccountKeyInput(private_key="k", client_email="e@x.io", client_id="1")
    assert converter.unstructure(key) == {
        "private_key": "k",
        "client_email": "e@x.io",
        "client_id": "1",
    }
    attendee = converter.structure({"self": True, "email": "a@b.c"}, gen.CalendarEventAttendee)
    assert attendee.self_ is True


# -- unions -------------------------------------------------------------------------------

LOCATIONS = attrs.fields(gen.EventTypeOutput_2024_06_14).locations.type


def test_union_branch_picked_by_literal_type() -> None:
    items = list[
        gen.OutputAddressLocation_2024_06_14
        | gen.OutputLinkLocation_2024_06_14
        | gen.OutputPhoneLocation_2024_06_14
        | gen.OutputUnknownLocation_2024_06_14
    ]
    decoded = converter.structure(
        [
            {"type": "link", "link": "https://x", "public": True},
            {"type": "address", "address": "1 Main St", "public": False},
            {"type": "phone", "phone": "+1", "public": True},
            {"type": "unknown", "location": "??"},
        ],
        items,
    )
    assert [type(d).__name__ for d in decoded] == [
        "OutputLinkLocation_2024_06_14",
        "OutputAddressLocation_2024_06_14",
        "OutputPhoneLocation_2024_06_14",
        "OutputUnknownLocation_2024_06_14",
    ]


def test_booking_fields_picked_by_type_and_slug() -> None:
    event_type = converter.structure(
        Sampler(DOC).sample(SCHEMAS["EventTypeOutput_2024_06_14"]), gen.EventTypeOutput_2024_06_14
    )
    assert event_type.booking_fields
    fields = converter.structure(
        [
            {
                "type": "name",
                "isDefault": True,
                "slug": "name",
                "label": "Name",
                "required": True,
                "placeholder": "",
            },
            {"type": "textarea", "isDefault": True, "slug": "rescheduleReason"},
            {"type": "textarea", "isDefault": True, "slug": "notes"},
            {
                "type": "boolean",
                "isDefault": False,
                "slug": "agree",
                "label": "Agree",
                "required": True,
                "hidden": False,
            },
        ],
        attrs.fields(type(event_type)).booking_fields.type,
    )
    assert [type(f).__name__ for f in fields] == [
        "NameDefaultFieldOutput_2024_06_14",
        "RescheduleReasonDefaultFieldOutput_2024_06_14",
        "NotesDefaultFieldOutput_2024_06_14",
        "BooleanFieldOutput_2024_06_14",
    ]


def test_union_branch_picked_by_best_fit() -> None:
    union: Any = (  # a union is not a type[T] to mypy
        gen.BookingOutput_2024_08_13
        | gen.RecurringBookingOutput_2024_08_13
        | list[gen.RecurringBookingOutput_2024_08_13]
    )
    plain = converter.structure(booking(), union)
    assert type(plain) is gen.BookingOutput_2024_08_13
    recurring = converter.structure(booking(recurringBookingUid="r-1"), union)
    assert type(recurring) is gen.RecurringBookingOutput_2024_08_13
    many = converter.structure([booking(recurringBookingUid="r-1")], union)
    assert isinstance(many, list) and type(many[0]) is gen.RecurringBookingOutput_2024_08_13
    union = gen.BaseBookingLimitsCount_2024_06_14 | gen.Disabled_2024_06_14
    disabled = converter.structure({"disabled": True}, union)
    assert type(disabled) is gen.Disabled_2024_06_14


def test_no_branch_fits_is_an_error() -> None:
    with pytest.raises(ValueError, match="matches none of"):
        union: Any = gen.Disabled_2024_06_14 | list[gen.Disabled_2024_06_14]
        converter.structure("text", union)


# -- responses ----------------------------------------------------------------------------


def test_decoded_models_carry_their_response() -> None:
    resp = response(booking())
    obj = decode(resp, gen.BookingOutput_2024_08_13, ops.BOOKINGS_GET)
    assert obj.raw_response is resp
    assert gen.CancelBookingInput_2024_08_13().raw_response is None
    assert obj == converter.structure(booking(), gen.BookingOutput_2024_08_13)


def test_data_that_does_not_fit_is_a_decode_error() -> None:
    data = booking()
    del data["uid"]
    with pytest.raises(DecodeError, match=r"bookings\.get .*BookingOutput_2024_08_13"):
        decode(response(data), gen.BookingOutput_2024_08_13, ops.BOOKINGS_GET)


def test_models_package_exports_lazily() -> None:
    assert models.BookingOutput_2024_08_13 is gen.BookingOutput_2024_08_13
    assert "BookingOutput_2024_08_13" in models.__all__
    assert "BookingOutput_2024_08_13" in dir(models)
    with pytest.raises(AttributeError):
        _ = models.NoSuchModel
    assert issubclass(gen.BookingStatus, OpenStrEnum)


# -- every model --------------------------------------------------------------------------


def _component_models() -> list[tuple[str, type[Model]]]:
    out = []
    for name in SCHEMAS:
        cls = getattr(gen, name[:1].upper() + name[1:], None)
        if isinstance(cls, type) and issubclass(cls, Model):
            out.append((name, cls))
    return out


def test_every_component_schema_has_a_model_or_a_plain_type() -> None:
    names = {name for name, _ in _component_models()}
    free_form = {n for n, s in SCHEMAS.items() if not s.get("properties") and "enum" not in s}
    enums = {n for n, s in SCHEMAS.items() if "enum" in s}
    assert names | free_form | enums == set(SCHEMAS)
    assert len(names) == len(SCHEMAS) - len(free_form) - len(enums)


@pytest.mark.parametrize(("name", "cls"), _component_models(), ids=lambda v: str(v)[:60])
def test_every_model_round_trips_to_valid_json(name: str, cls: type[Model]) -> None:
    sample = Sampler(DOC).sample(SCHEMAS[name])
    validate(sample, name)
    obj = converter.structure(sample, cls)
    out = converter.unstructure(obj)
    validate(out, name)
    assert set(out) == set(sample)


# -- the compiled decoding path and the generic one -----------------------------------------
#
# The converter decodes models, unions and lists with functions compiled per type, which fall
# back on a reference converter (the generic path alone) for anything they do not take on a
# fast path, and for the error messages. Both must give the same objects and the same errors.

REFERENCE = make_converter(compiled=False)

BOOKING_UNION = (
    gen.BookingOutput_2024_08_13
    | gen.RecurringBookingOutput_2024_08_13
    | gen.GetSeatedBookingOutput_2024_08_13
    | gen.GetRecurringSeatedBookingOutput_2024_08_13
)
ODD_VALUES = [
    None,
    "",
    "x",
    "2024-08-13T15:30:00Z",
    0,
    -7,
    2.5,
    3.0,
    True,
    False,
    [],
    [1],
    {},
    {"a": 1},
]


def outcome(conv: Any, data: Any, type_: Any) -> tuple[Any, ...]:
    """What ``conv`` makes of ``data``: the object (and its repr, which shows 1 vs 1.0 vs True)
    or the error (its type and the one-line text a DecodeError carries)."""
    try:
        result = conv.structure(data, type_)
    except Exception as exc:
        return ("error", type(exc).__name__, error_text(exc))
    return ("ok", type(result), repr(result), result)


def assert_same_outcome(data: Any, type_: Any) -> tuple[Any, ...]:
    compiled = outcome(converter, data, type_)
    assert compiled == outcome(REFERENCE, data, type_)
    return compiled


def _mutated(data: Any, draw: Any, depth: int = 0) -> Any:
    """``data`` with one value somewhere in it replaced by an odd one, or one key dropped."""
    if isinstance(data, dict) and data and (depth == 0 or draw(st.booleans())):
        key = draw(st.sampled_from(sorted(data)))
        copy = dict(data)
        action = draw(st.sampled_from(["descend", "replace", "drop"]))
        if action == "drop":
            del copy[key]
        elif action == "replace" or not isinstance(data[key], (dict, list)):
            copy[key] = draw(st.sampled_from(ODD_VALUES))
        else:
            copy[key] = _mutated(data[key], draw, depth + 1)
        return copy
    if isinstance(data, list) and data:
        index = draw(st.integers(0, len(data) - 1))
        copy_list = list(data)
        copy_list[index] = _mutated(data[index], draw, depth + 1)
        return copy_list
    return draw(st.sampled_from(ODD_VALUES))


_COMPARED = sorted(
    {
        *random.Random(20240813).sample(roundtrip.MODELS, 60),
        gen.BookingOutput_2024_08_13,
        gen.RecurringBookingOutput_2024_08_13,
        gen.GetSeatedBookingOutput_2024_08_13,
        gen.MeOutput,
        gen.EventTypeOutput_2024_06_14,
    },
    key=lambda c: c.__name__,
)


@pytest.mark.parametrize("cls", _COMPARED, ids=lambda c: c.__name__)
def test_compiled_decoding_matches_the_generic_path(cls: type[Model]) -> None:
    try:
        strategy = roundtrip.for_model(cls)
    except roundtrip.Unsupported as exc:  # pragma: no cover - none of the sample today
        pytest.skip(str(exc))

    @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
    @given(strategy, st.data())
    def check(data: dict[str, Any], draw: st.DataObject) -> None:
        assert assert_same_outcome(data, cls)[0] == "ok"
        bad = _mutated(data, draw.draw)
        assert_same_outcome(bad, cls)
        assert_same_outcome([data, bad], list[cls])  # type: ignore[valid-type]

    check()


def test_compiled_decoding_matches_on_samples_of_every_model() -> None:
    for name, cls in _component_models():
        sample = Sampler(DOC).sample(SCHEMAS[name])
        assert assert_same_outcome(sample, cls)[0] == "ok", name
        assert_same_outcome({}, cls)
        assert_same_outcome([sample], cls)
        for key in sorted(sample):
            odd: object
            for odd in ([], {}, 1.5, "x"):
                assert_same_outcome({**sample, key: odd}, cls)


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_compiled_booking_pages_match_the_generic_path(draw: st.DataObject) -> None:
    page = [booking(), booking(recurringBookingUid="r-1"), booking(seatUid="s-1")]
    page = draw.draw(st.permutations(page))
    bad = _mutated(page, draw.draw)
    assert_same_outcome(page, list[BOOKING_UNION])
    assert_same_outcome(bad, list[BOOKING_UNION])
    assert_same_outcome(bad[0], BOOKING_UNION)


def test_decoding_errors_read_as_before() -> None:
    data = booking()
    del data["uid"], data["title"]
    assert outcome(converter, data, gen.BookingOutput_2024_08_13)[2] == (
        "BookingOutput_2024_08_13: missing required title, uid"
    )
    wrong = outcome(converter, booking(hosts=[{"id": 1}]), gen.BookingOutput_2024_08_13)
    assert wrong[2].startswith("BookingOutput_2024_08_13.hosts: BookingHost: missing required")
    assert wrong[2].endswith("@ $[0]")  # cattrs' list errors, with the index
    assert outcome(converter, {**booking(), "title": {}}, gen.BookingOutput_2024_08_13)[2] == (
        "BookingOutput_2024_08_13.title: expected a string, got dict"
    )
    assert outcome(converter, 42, gen.MeOutput)[1:] == (
        "TypeError",
        "expected a JSON object for MeOutput, got int",
    )


def test_compiled_objects_are_indistinguishable_from_constructed_ones() -> None:
    data = booking(rating=None)
    del data["meetingUrl"]
    fast = converter.structure(data, gen.BookingOutput_2024_08_13)
    slow = REFERENCE.structure(data, gen.BookingOutput_2024_08_13)
    assert type(fast) is type(slow)
    assert fast == slow and repr(fast) == repr(slow)
    me = {"id": 1, "username": "u", "email": "e", "timeFormat": 24, "defaultScheduleId": None}
    me |= {"weekStart": "Monday", "timeZone": "UTC", "organizationId": None}
    me_fast, me_slow = converter.structure(me, gen.MeOutput), REFERENCE.structure(me, gen.MeOutput)
    assert hash(me_fast) == hash(me_slow) and {me_fast: 1}[me_slow] == 1
    assert me_fast.organization is UNSET and me_fast.default_schedule_id is None
    rating: object = fast.rating  # typed int | Unset, yet a null stays None
    assert fast.meeting_url is UNSET and rating is None
    assert attrs.asdict(fast) == attrs.asdict(slow)
    assert attrs.evolve(fast, title="y") == attrs.evolve(slow, title="y")
    assert pickle.loads(pickle.dumps(fast)) == fast
    assert copy.copy(fast) == fast
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        fast.title = "x"  # type: ignore[misc]
    before = fast.raw_response  # (not narrowing the attribute itself: it changes below)
    assert before is None
    resp = response(data)
    fast._attach_response(resp)
    assert fast.raw_response is resp
    assert converter.unstructure(fast) == converter.unstructure(slow)
    literal = converter.structure(
        {"address": "1 Main St"}, gen.BookingInputAttendeeAddressLocation_2024_08_13
    )
    assert literal == gen.BookingInputAttendeeAddressLocation_2024_08_13(address="1 Main St")
    assert literal.type == "attendeeAddress"


@attrs.frozen(kw_only=True)
class _Checked(Model):
    count: int = attrs.field(validator=attrs.validators.ge(0))
    label: str | Unset = UNSET
    seen: list[str] = attrs.field(factory=list)

    def __attrs_post_init__(self) -> None:
        self.seen.append(self.label if isinstance(self.label, str) else "-")


@attrs.frozen(kw_only=True)
class _Node(Model):
    name: str
    children: list[_Node] | Unset = UNSET


def test_models_with_validators_or_post_init_are_built_through_init() -> None:
    assert _setters(_Checked) is None
    assert _setters(gen.BookingOutput_2024_08_13) is not None
    obj = converter.structure({"count": 2, "label": "a"}, _Checked)
    assert obj == _Checked(count=2, label="a") and obj.seen == ["a"]
    assert converter.structure({"count": 0}, _Checked).seen == ["-"]
    assert assert_same_outcome({"count": -1}, _Checked)[2].startswith("'count' must be >= 0")


@pytest.mark.timeout(60)
def test_a_failure_deep_down_costs_no_more_than_linear_work() -> None:
    data: dict[str, Any] = {"name": 42.5, "children": [{"name": []}]}
    for depth in range(40):  # twice the work per level would be 2**40 decodings
        data = {"name": f"n{depth}", "children": [data]}
    error = assert_same_outcome(data, _Node)
    assert error[0] == "error" and "_Node.name: expected a string, got list" in error[2]
    tree = converter.structure({"name": "a", "children": [{"name": "b"}]}, _Node)
    assert isinstance(tree.children, list) and tree.children[0] == _Node(name="b")


def _model_unions() -> list[tuple[Any, ...]]:
    """The member tuples of the unions of two models or more among the generated fields."""
    found: dict[tuple[Any, ...], None] = {}
    for _, cls in _component_models():
        for field in _info(cls).fields:
            for type_ in (field.type, *typing.get_args(field.type)):
                members = tuple(m for m in typing.get_args(type_) if isinstance(m, type))
                if sum(issubclass(m, Model) for m in members) >= 2:
                    found[members] = None
    found[typing.get_args(BOOKING_UNION)] = None
    return sorted(found, key=str)


UNIONS = _model_unions()
KIND_VALUES: list[object] = [None, "s", 1, 1.5, True, [], {}]


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_union_order_depends_only_on_the_keys_it_is_cached_by(draw: st.DataObject) -> None:
    """What _order_keys leaves out of a value changes nothing in the order of its members."""
    members = draw.draw(st.sampled_from(UNIONS))
    infos = [_info(m) for m in members if issubclass(m, Model)]
    literals = {key: allowed for info in infos for key, allowed in info.literals}
    keys = sorted({f.json for info in infos for f in info.fields} | {"somethingNew"})
    presence, kinds, literal_keys = _order_keys(members)

    def value_for(key: str) -> Any:
        choices = [*KIND_VALUES, *literals.get(key, ())]
        return draw.draw(st.sampled_from(choices))

    data = {key: value_for(key) for key in keys if draw.draw(st.booleans())}
    other = {}
    for key in keys:
        if key in literal_keys or key in kinds:
            if key in data:
                other[key] = data[key]
        elif key in presence:
            if key in data:
                other[key] = value_for(key)
        elif draw.draw(st.booleans()):
            other[key] = value_for(key)
    assert _order_members(members, data) == _order_members(members, other)


_ISO_ISH = st.from_regex(r"\A[0-9][0-9T:.,+\-W Zz]{0,28}Z\Z")


@settings(max_examples=500, deadline=None)
@given(st.one_of(roundtrip._datetimes(), _ISO_ISH, st.text(max_size=30)))
def test_the_date_time_fast_path_agrees_with_the_general_one(text: str) -> None:
    def parsed(parse: Any) -> Any:
        try:
            value = parse(text)
        except ValueError:
            return "error"
        return value, value.tzinfo

    assert parsed(_datetime_from_json) == parsed(_datetime_from_text)
    assert parsed(_datetime_from_json) == parsed(parse_datetime)


@pytest.mark.parametrize(
    ("sent", "decoded"),
    [(True, True), (False, False), ("false", False), (" TRUE ", True), (0, False), (1, True)],
)
def test_booleans_are_read_as_booleans_never_by_truthiness(sent: object, decoded: bool) -> None:
    from icalendly_async.models._generated.me import MeOrgOutput

    org = converter.structure({"isPlatform": sent, "id": 1}, MeOrgOutput)
    assert org.is_platform is decoded


@pytest.mark.parametrize("sent", ["yes", 2, [], {}])
def test_a_value_that_is_no_boolean_is_an_error_naming_the_field(sent: object) -> None:
    from icalendly_async.models._generated.me import MeOrgOutput

    with pytest.raises(ValueError, match=r"MeOrgOutput\.isPlatform: expected a boolean"):
        converter.structure({"isPlatform": sent, "id": 1}, MeOrgOutput)


def test_nulls_inside_lists_stay_null() -> None:
    assert converter.structure(["a", None], list[str]) == ["a", None]
    assert converter.structure([1, None], list[int]) == [1, None]
    assert converter.structure([1.5, None], list[float]) == [1.5, None]
