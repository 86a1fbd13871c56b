"""The generated models and their decoding rules, through public names."""

from __future__ import annotations

import copy
import datetime as dt
import inspect
import json
import pickle
import re
import traceback
from pathlib import Path
from typing import Any

import jsonschema  # type: ignore[import-untyped, unused-ignore]
import pytest
from referencing import Registry
from referencing.jsonschema import DRAFT202012

import icalendly_async.models as models
from icalendly_async.errors import DecodeError, ParameterError
from icalendly_async.models import UNSET, Booking, Model, OpenStrEnum, Series
from icalendly_async.models import _generated as gen
from icalendly_async.models._generated.bookings import decode_BookingSeries
from tools.codegen import ir, spec
from tools.codegen.samples import Sampler

DOC = spec.repair(spec.load_original()).doc
SCHEMAS = DOC["components"]["schemas"]
REGISTRY = Registry().with_resource("urn:doc", DRAFT202012.create_resource(DOC))
BUILT = ir.build(DOC)
GENERATED = Path(gen.__file__).parent


def validate(value: Any, schema_name: str) -> None:
    schema = {"$ref": f"urn:doc#/components/schemas/{schema_name}"}
    jsonschema.Draft202012Validator(schema, registry=REGISTRY).validate(value)


def booking(**extra: Any) -> dict[str, Any]:
    data: dict[str, Any] = Sampler(DOC).sample(SCHEMAS["BookingOutput_2024_08_13"])
    data.update(extra)
    return data


# -- rules --------------------------------------------------------------------------------


def test_camel_case_json_snake_case_attributes() -> None:
    data = booking()
    obj = gen.BookingOutput_2024_08_13.from_dict(data)
    assert obj.event_type_id == data["eventTypeId"]
    assert obj.absent_host is data["absentHost"]
    out = obj.to_dict()
    assert out["eventTypeId"] == data["eventTypeId"]
    assert "event_type_id" not in out


def test_missing_is_unset_and_null_is_none() -> None:
    data = booking(meetingUrl=None)
    del data["rating"]
    obj = gen.BookingOutput_2024_08_13.from_dict(data)
    assert obj.rating is UNSET
    assert not obj.rating
    assert obj.to_dict()["meetingUrl"] is None
    out = obj.to_dict()
    assert "rating" not in out
    assert out["meetingUrl"] is None


def test_a_null_the_document_does_not_allow_is_kept_not_an_error() -> None:
    obj = gen.BookingOutput_2024_08_13.from_dict(booking(title=None, eventType=None, start=None))
    kept: list[object] = [obj.title, obj.event_type, obj.start]  # typed as the document says
    assert kept == [None, None, None]


def test_unknown_fields_are_kept_and_sent_back() -> None:
    obj = gen.BookingOutput_2024_08_13.from_dict(booking(brandNewField={"x": 1}))
    assert not hasattr(obj, "brand_new_field")
    assert obj.extra == {"brandNewField": {"x": 1}}
    assert obj.to_dict()["brandNewField"] == {"x": 1}
    assert obj.replace(title="t").extra == {"brandNewField": {"x": 1}}


def test_unknown_enum_values_are_kept() -> None:
    obj = gen.BookingOutput_2024_08_13.from_dict(booking(status="postponed"))
    assert isinstance(obj.status, gen.BookingStatus)
    assert obj.status == "postponed"
    assert not obj.status.is_known
    assert gen.BookingStatus("accepted") is gen.BookingStatus.ACCEPTED
    assert gen.BookingStatus.ACCEPTED.is_known
    assert obj.to_dict()["status"] == "postponed"
    assert str(gen.BookingStatus.ACCEPTED) == "accepted"
    assert json.dumps(gen.BookingStatus.ACCEPTED) == '"accepted"'


def test_date_times_are_aware_datetimes() -> None:
    obj = gen.BookingOutput_2024_08_13.from_dict(
        booking(start="2024-08-13T15:30:00Z", end="2024-08-13T17:30:00.000+02:00")
    )
    assert obj.start == dt.datetime(2024, 8, 13, 15, 30, tzinfo=dt.timezone.utc)
    assert obj.end == obj.start
    assert obj.to_dict()["start"] == "2024-08-13T15:30:00.000Z"
    assert obj.to_dict()["end"] == "2024-08-13T15:30:00.000Z"  # sent in UTC
    naive = gen.BookingOutput_2024_08_13.from_dict(booking(start="2024-08-13T15:30:00"))
    assert naive.start.tzinfo is dt.timezone.utc  # no offset: the server's UTC


@pytest.mark.parametrize(
    "sent",
    [
        "2026-09-21T09:00:00.000Z",  # the service's usual form (the decoders' fast path)
        "2026-09-21T11:00:00.000+02:00",
        "2026-09-21T09:00:00",  # no offset: UTC
        " 2026-09-21T09:00:00Z ",  # padded: the general parser
        1_789_981_200_000,  # epoch milliseconds
    ],
)
def test_every_form_of_date_time_decodes_to_the_same_aware_datetime(sent: object) -> None:
    obj = gen.BookingOutput_2024_08_13.from_dict(booking(start=sent))
    assert obj.start == dt.datetime(2026, 9, 21, 9, tzinfo=dt.timezone.utc)
    assert obj.start.tzinfo is not None
    assert obj.start.utcoffset() == (
        dt.timedelta(hours=2) if "+02:00" in str(sent) else dt.timedelta(0)
    )


@pytest.mark.parametrize("sent", ["2026-13-21T09:00:00.000Z", "soon", True, [], {}])
def test_a_value_that_is_no_date_time_is_an_error_naming_the_field(sent: object) -> None:
    with pytest.raises(DecodeError) as info:
        gen.BookingOutput_2024_08_13.from_dict(booking(start=sent))
    assert info.value.path == "start" and info.value.expected == "datetime (ISO 8601 text)"


def test_a_null_date_time_is_kept() -> None:
    assert gen.BookingOutput_2024_08_13.from_dict(booking(start=None)).start is None


def test_a_naive_datetime_is_never_sent() -> None:
    body = gen.RescheduleBookingInput_2024_08_13(start=dt.datetime(2030, 1, 1, 9))
    with pytest.raises(ParameterError, match="naive datetime"):
        body.to_dict()


def test_numbers_are_kept_as_sent() -> None:
    obj = gen.BookingOutput_2024_08_13.from_dict(booking(duration=60.0, rating=4))
    assert obj.duration == 60 and isinstance(obj.duration, int)  # an integral float: read as int
    assert obj.rating == 4
    with pytest.raises(DecodeError, match="duration"):
        gen.BookingOutput_2024_08_13.from_dict(booking(duration=60.5))  # never truncated


@pytest.mark.parametrize(
    ("sent", "decoded"),
    [(True, True), (False, False), ("false", False), (" TRUE ", True)],
)
def test_booleans_are_read_as_booleans_never_by_truthiness(sent: object, decoded: bool) -> None:
    org = gen.MeOrgOutput.from_dict({"isPlatform": sent, "id": 1})
    assert org.is_platform is decoded


@pytest.mark.parametrize("sent", ["yes", 2, [], {}])
def test_a_value_that_is_no_boolean_is_an_error_naming_the_field(sent: object) -> None:
    with pytest.raises(DecodeError) as info:
        gen.MeOrgOutput.from_dict({"isPlatform": sent, "id": 1})
    assert info.value.path == "isPlatform" and info.value.expected == "bool"


def test_models_are_read_only_compared_by_value_hashable_and_picklable() -> None:
    obj = gen.BookingOutput_2024_08_13.from_dict(booking())
    with pytest.raises(AttributeError):
        obj.title = "x"  # type: ignore[misc]
    with pytest.raises(AttributeError):
        obj.not_a_field = 1  # type: ignore[attr-defined]
    assert not hasattr(obj, "__dict__")
    changed = obj.replace(title="y")
    assert changed.title == "y" and obj.title != "y" and changed != obj
    assert obj.replace() == obj
    with pytest.raises(TypeError, match="no field"):
        obj.replace(titel="y")
    with pytest.raises(TypeError):
        gen.CancelBookingInput_2024_08_13("reason")  # type: ignore[call-arg]
    assert pickle.loads(pickle.dumps(obj)) == obj
    assert copy.copy(obj) == obj and copy.deepcopy(obj) == obj
    me = gen.MeOrgOutput.from_dict({"isPlatform": True, "id": 1})
    assert {me: 1}[gen.MeOrgOutput(is_platform=True, id=1)] == 1
    assert repr(me) == "MeOrgOutput(is_platform=True, id=1)"


def test_input_models_send_only_what_was_set() -> None:
    body = gen.CancelBookingInput_2024_08_13(cancellation_reason="sick")
    assert body.to_dict() == {"cancellationReason": "sick"}


def test_literal_discriminators_are_defaults_and_always_sent() -> None:
    location = gen.InputAddressLocation_2024_06_14(address="1 Main St", public=True)
    assert location.type == "address"
    assert location.to_dict() == {"type": "address", "address": "1 Main St", "public": True}


def test_json_names_that_are_not_camel_case() -> None:
    key = gen.GoogleServiceAccountKeyInput(private_key="k", client_email="e@x.io", client_id="1")
    assert key.to_dict() == {"private_key": "k", "client_email": "e@x.io", "client_id": "1"}
    attendee = gen.CalendarEventAttendee.from_dict({"self": True, "email": "a@b.c"})
    assert attendee.self_ is True


def test_raw_response_is_none_when_built_by_hand() -> None:
    assert gen.MeOrgOutput(is_platform=True, id=1).raw_response is None


# -- shapes the document gives as alternatives --------------------------------------------


def test_booking_shapes_share_a_base_with_their_common_fields() -> None:
    plain = Booking.from_dict(booking())
    recurring = Booking.from_dict(booking(recurringBookingUid="r-1"))
    assert type(plain) is gen.BookingOutput_2024_08_13
    assert type(recurring) is gen.RecurringBookingOutput_2024_08_13
    for obj in (plain, recurring):
        assert isinstance(obj, Booking)
        assert obj.uid and obj.title is not None and obj.start and obj.end
        assert obj.status and obj.event_type and obj.location is not None
        assert obj.attendees[0].email
    shared = {"uid", "title", "start", "end", "status", "attendees", "event_type", "location"}
    assert shared <= set(Booking._m_fields)


def test_a_list_where_one_booking_was_expected_is_a_series() -> None:
    occurrences = [
        booking(uid="a", recurringBookingUid="r"),
        booking(uid="b", recurringBookingUid="r"),
    ]
    series = decode_BookingSeries(occurrences)  # what bookings.get uses for its answer
    assert isinstance(series, gen.BookingSeries) and isinstance(series, Booking)
    assert isinstance(series, Series)
    assert series.uid == "a"  # reads as the first occurrence
    assert [o.uid for o in series.occurrences] == ["a", "b"]
    single = decode_BookingSeries(booking(uid="c"))
    assert type(single) is gen.BookingOutput_2024_08_13


def test_union_branch_picked_by_literal_type() -> None:
    sent: list[dict[str, Any]] = [
        {"type": "link", "link": "https://x", "public": True},
        {"type": "address", "address": "1 Main St", "public": False},
        {"type": "phone", "phone": "+1", "public": True},
        {"type": "unknown", "location": "??"},
    ]
    decoded = [gen.Location.from_dict(item) for item in sent]
    assert [d.type for d in decoded] == ["link", "address", "phone", "unknown"]
    assert type(decoded[0]).__name__ == "InputLinkLocation_2024_06_14"
    assert type(decoded[3]).__name__ == "OutputUnknownLocation_2024_06_14"


def test_a_union_branch_is_chosen_by_the_value_kinds_too() -> None:
    data = {"id": "a1", "name": "Seats", "type": "NUMBER", "option": 42, "optionId": "o1"}
    obj = gen.AttributeWithOptions.from_dict(data)
    assert type(obj) is gen.NumberAttribute and obj.option == 42
    assert obj.to_dict() == data


def test_event_type_booking_fields_decode_by_their_type() -> None:
    event_type = gen.EventTypeOutput_2024_06_14.from_dict(
        Sampler(DOC).sample(SCHEMAS["EventTypeOutput_2024_06_14"])
    )
    assert event_type.booking_fields
    assert all(isinstance(f, gen.BookingFieldOutput) for f in event_type.booking_fields)


# -- errors --------------------------------------------------------------------------------


def test_data_that_does_not_fit_names_the_path_and_the_type() -> None:
    data = booking()
    del data["uid"]
    with pytest.raises(DecodeError) as missing:
        gen.BookingOutput_2024_08_13.from_dict(data)
    assert missing.value.path == "uid" and "missing" in str(missing.value)
    data = booking(hosts=[booking()["hosts"][0], {"id": 1, "name": [], "email": "e"}])
    with pytest.raises(DecodeError) as nested:
        gen.BookingOutput_2024_08_13.from_dict(data)
    assert nested.value.path == "hosts[1].name"
    assert nested.value.expected == "str"
    assert "got array []" in str(nested.value)
    with pytest.raises(DecodeError, match="expected MeOutput"):
        gen.MeOutput.from_dict(42)  # type: ignore[arg-type]


def test_a_traceback_points_at_a_real_line_of_a_generated_file() -> None:
    data = booking(hosts=[{"id": "one"}])
    try:
        gen.BookingOutput_2024_08_13.from_dict(data)
    except DecodeError as exc:
        frames = traceback.extract_tb(exc.__traceback__)
    else:  # pragma: no cover
        pytest.fail("no error")
    files = {Path(f.filename) for f in frames}
    assert any(GENERATED in path.parents for path in files)
    for frame in frames:
        assert Path(frame.filename).exists()
        assert frame.line  # the text is the file's own line


def test_no_code_is_compiled_at_run_time() -> None:
    package = Path(models.__file__).parent.parent
    calls = re.compile(r"(?<![.\w])(exec|eval|compile)\(|\blinecache\b")
    for path in package.rglob("*.py"):
        assert not calls.search(path.read_text(encoding="utf-8")), path


# -- every model -----------------------------------------------------------------------------


def _documented_models() -> list[tuple[str, type[Model]]]:
    """(schema, class) of every generated model that is a schema of the document."""
    out = []
    for model in BUILT.models.values():
        if model.source.startswith("#/components/schemas/"):
            out.append((model.source.rsplit("/", 1)[-1], getattr(gen, model.name)))
    return out


@pytest.mark.parametrize(("name", "cls"), _documented_models(), ids=lambda v: str(v)[:60])
def test_every_model_round_trips_to_valid_json(name: str, cls: type[Model]) -> None:
    sample = Sampler(DOC).sample(SCHEMAS[name])
    validate(sample, name)
    obj = cls.from_dict(sample)
    assert isinstance(obj, cls)
    out = obj.to_dict()
    validate(out, name)
    assert set(out) == set(sample)


def test_identical_schemas_are_one_class() -> None:
    assert gen.InputAddressLocation_2024_06_14.__name__ == "InputAddressLocation_2024_06_14"
    documented = [m for m in BUILT.models.values() if m.source.startswith("#/")]
    signatures = [m.signature() for m in documented if m.fields]
    assert len(signatures) == len(set(signatures))
    assert len(BUILT.models) < len(SCHEMAS)


def test_envelopes_stay_internal() -> None:
    assert not any(name.startswith("GetBookingOutput") for name in gen.__all__)
    for name in gen.__all__:
        cls = getattr(gen, name)
        if isinstance(cls, type) and issubclass(cls, Model):
            assert set(cls._m_wire) != {"status", "data"}, name


def test_models_live_in_the_module_of_their_api_group() -> None:
    modules = {path.stem for path in GENERATED.glob("*.py")}
    assert not {"_common", "_other", "_enums"} & modules
    assert {"bookings", "event_types", "webhooks", "schedules", "orgs"} <= modules
    assert gen.BookingOutput_2024_08_13.__module__.endswith("._generated.bookings")
    assert gen.WebhookTrigger.__module__.endswith("._generated.webhooks")


def test_models_package_exports_lazily() -> None:
    assert models.BookingOutput_2024_08_13 is gen.BookingOutput_2024_08_13
    assert "BookingOutput_2024_08_13" in models.__all__
    assert "BookingOutput_2024_08_13" in dir(models)
    with pytest.raises(AttributeError):
        _ = models.NoSuchModel
    assert issubclass(gen.BookingStatus, OpenStrEnum)


def test_constructors_are_keyword_only_and_typed() -> None:
    params = inspect.signature(gen.CreateBookingAttendee).parameters
    assert all(p.kind is inspect.Parameter.KEYWORD_ONLY for p in params.values())
    assert params["phone_number"].default is UNSET
