"""The generated models and the converter rules of DESIGN.md."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import attrs
import jsonschema
import pytest
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

import icalendly_async.models as models
from icalendly_async.endpoints._base import decode
from icalendly_async.endpoints._generated import _operations as ops
from icalendly_async.errors import DecodeError
from icalendly_async.models import UNSET, Model, OpenStrEnum, converter
from icalendly_async.models import _generated as gen
from icalendly_async.response import Response
from tools.codegen import spec
from tools.codegen.samples import Sampler

DOC = spec.repair(spec.load_original()).doc
SCHEMAS = DOC["components"]["schemas"]
REGISTRY = Registry().with_resource("urn:doc", Resource(contents=DOC, specification=DRAFT202012))


def validate(value: Any, schema_name: str) -> None:
    schema = {"$ref": f"urn:doc#/components/schemas/{schema_name}"}
    jsonschema.Draft202012Validator(schema, registry=REGISTRY).validate(value)


def booking(**extra: Any) -> dict[str, Any]:
    data = Sampler(DOC).sample(SCHEMAS["BookingOutput_2024_08_13"])
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
    assert obj.meeting_url is None
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
        gen.CancelBookingInput_2024_08_13("reason")  # type: ignore[misc]


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

LOCATIONS = gen.EventTypeOutput_2024_06_14.__attrs_attrs__.locations.type  # type: ignore[attr-defined]


def test_union_branch_picked_by_literal_type() -> None:
    items = list[  # type: ignore[misc]
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
        type(event_type).__attrs_attrs__.booking_fields.type,  # type: ignore[attr-defined]
    )
    assert [type(f).__name__ for f in fields] == [
        "NameDefaultFieldOutput_2024_06_14",
        "RescheduleReasonDefaultFieldOutput_2024_06_14",
        "NotesDefaultFieldOutput_2024_06_14",
        "BooleanFieldOutput_2024_06_14",
    ]


def test_union_branch_picked_by_best_fit() -> None:
    union = (
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
    disabled = converter.structure(
        {"disabled": True}, gen.BaseBookingLimitsCount_2024_06_14 | gen.Disabled_2024_06_14
    )
    assert type(disabled) is gen.Disabled_2024_06_14


def test_no_branch_fits_is_an_error() -> None:
    with pytest.raises(ValueError, match="matches none of"):
        converter.structure("text", gen.Disabled_2024_06_14 | list[gen.Disabled_2024_06_14])


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
