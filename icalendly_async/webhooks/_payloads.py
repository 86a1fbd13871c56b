"""The payloads of webhook deliveries, typed per trigger.

Webhook payloads are not part of the OpenAPI document; these models follow the service's
webhook documentation (booking, meeting and routing-form triggers). Like the generated models
they are tolerant: a field the delivery did not send is :data:`~icalendly_async.models.UNSET`
(one it sent as ``null`` is ``None``), a value of an unexpected type is left out of the typed
field (``UNSET``) rather than failing the delivery, and every field, known or not, stays in
:attr:`raw` (``payload["anyField"]`` reads it).
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import ItemsView, Iterator, KeysView, Mapping, ValuesView
from typing import Any, TypeVar

import attrs

from ..models.converter import UNSET, Unset, parse_datetime

__all__ = [
    "BookingPayload",
    "FormPayload",
    "FormResponse",
    "GenericPayload",
    "MeetingPayload",
    "WebhookPayload",
    "WebhookPerson",
]

T = TypeVar("T")


def _get(
    data: Mapping[str, Any], key: str, kind: type[T] | tuple[type[T], ...]
) -> T | Unset | None:
    """``data[key]`` when it is of ``kind`` (``None`` when sent as null; ``UNSET`` otherwise)."""
    if key not in data:
        return UNSET
    value = data[key]
    if value is None:
        return None
    if isinstance(value, bool) and bool not in (kind if isinstance(kind, tuple) else (kind,)):
        return UNSET  # JSON true is not a number here
    return value if isinstance(value, kind) else UNSET


def _text(data: Mapping[str, Any], key: str) -> str | Unset | None:
    return _get(data, key, str)


def _int(data: Mapping[str, Any], key: str) -> int | Unset | None:
    return _get(data, key, int)


def _when(data: Mapping[str, Any], key: str) -> _dt.datetime | Unset | None:
    value = _get(data, key, (str, int, float))
    if value is None or value is UNSET:
        return value
    try:
        return parse_datetime(value)
    except (ValueError, OverflowError, OSError):  # not a date-time, or out of any calendar
        return UNSET


def _mapping(data: Mapping[str, Any], key: str) -> Mapping[str, Any] | Unset | None:
    return _get(data, key, dict)


class _Payload:
    """What every payload has: the mapping as sent, readable like one."""

    raw: Mapping[str, Any]

    def __getitem__(self, key: str) -> Any:
        return self.raw[key]

    def get(self, key: str, default: Any = None) -> Any:
        return self.raw.get(key, default)

    def __contains__(self, key: object) -> bool:
        return key in self.raw

    def __iter__(self) -> Iterator[str]:
        return iter(self.raw)

    def __len__(self) -> int:
        return len(self.raw)

    def keys(self) -> KeysView[str]:
        return self.raw.keys()

    def values(self) -> ValuesView[Any]:
        return self.raw.values()

    def items(self) -> ItemsView[str, Any]:
        return self.raw.items()


@attrs.frozen(kw_only=True)
class WebhookPerson(_Payload):
    """An organizer or attendee of a booking."""

    name: str | Unset | None = UNSET
    email: str | Unset | None = UNSET
    time_zone: str | Unset | None = UNSET
    locale: str | Unset | None = UNSET
    raw: Mapping[str, Any] = attrs.field(factory=dict, repr=False)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> WebhookPerson:
        language = data.get("language")
        locale = _text(language, "locale") if isinstance(language, dict) else UNSET
        return cls(
            name=_text(data, "name"),
            email=_text(data, "email"),
            time_zone=_text(data, "timeZone"),
            locale=locale,
            raw=data,
        )


def _people(data: Mapping[str, Any], key: str) -> list[WebhookPerson] | Unset | None:
    value = _get(data, key, list)
    if value is None or value is UNSET:
        return value
    return [WebhookPerson.from_dict(item) for item in value if isinstance(item, dict)]


def _person(data: Mapping[str, Any], key: str) -> WebhookPerson | Unset | None:
    value = _mapping(data, key)
    if value is None or value is UNSET:
        return value
    return WebhookPerson.from_dict(value)


@attrs.frozen(kw_only=True)
class BookingPayload(_Payload):
    """The payload of the booking triggers (``BOOKING_CREATED``, ``…_CANCELLED``, …)."""

    uid: str | Unset | None = UNSET
    booking_id: int | Unset | None = UNSET
    title: str | Unset | None = UNSET
    description: str | Unset | None = UNSET
    event_type_slug: str | Unset | None = UNSET
    event_type_id: int | Unset | None = UNSET
    start_time: _dt.datetime | Unset | None = UNSET
    end_time: _dt.datetime | Unset | None = UNSET
    length: int | Unset | None = UNSET
    status: str | Unset | None = UNSET
    organizer: WebhookPerson | Unset | None = UNSET
    attendees: list[WebhookPerson] | Unset | None = UNSET
    location: str | Unset | None = UNSET
    responses: Mapping[str, Any] | Unset | None = UNSET
    metadata: Mapping[str, Any] | Unset | None = UNSET
    ical_uid: str | Unset | None = UNSET
    cancellation_reason: str | Unset | None = UNSET
    rejection_reason: str | Unset | None = UNSET
    reschedule_uid: str | Unset | None = UNSET
    raw: Mapping[str, Any] = attrs.field(factory=dict, repr=False)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> BookingPayload:
        return cls(
            uid=_text(data, "uid"),
            booking_id=_int(data, "bookingId"),
            title=_text(data, "title"),
            description=_text(data, "description"),
            event_type_slug=_text(data, "type"),
            event_type_id=_int(data, "eventTypeId"),
            start_time=_when(data, "startTime"),
            end_time=_when(data, "endTime"),
            length=_int(data, "length"),
            status=_text(data, "status"),
            organizer=_person(data, "organizer"),
            attendees=_people(data, "attendees"),
            location=_text(data, "location"),
            responses=_mapping(data, "responses"),
            metadata=_mapping(data, "metadata"),
            ical_uid=_text(data, "iCalUID"),
            cancellation_reason=_text(data, "cancellationReason"),
            rejection_reason=_text(data, "rejectionReason"),
            reschedule_uid=_text(data, "rescheduleUid"),
            raw=data,
        )


@attrs.frozen(kw_only=True)
class MeetingPayload(_Payload):
    """The payload of the meeting triggers (``MEETING_STARTED``/``…_ENDED``, the no-show and
    recording ones): the booking the meeting belongs to."""

    booking_id: int | Unset | None = UNSET
    uid: str | Unset | None = UNSET
    title: str | Unset | None = UNSET
    start_time: _dt.datetime | Unset | None = UNSET
    end_time: _dt.datetime | Unset | None = UNSET
    status: str | Unset | None = UNSET
    attendees: list[WebhookPerson] | Unset | None = UNSET
    download_link: str | Unset | None = UNSET
    raw: Mapping[str, Any] = attrs.field(factory=dict, repr=False)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> MeetingPayload:
        booking_id = _int(data, "bookingId")
        if booking_id is UNSET:
            booking_id = _int(data, "id")
        return cls(
            booking_id=booking_id,
            uid=_text(data, "uid"),
            title=_text(data, "title"),
            start_time=_when(data, "startTime"),
            end_time=_when(data, "endTime"),
            status=_text(data, "status"),
            attendees=_people(data, "attendees"),
            download_link=_text(data, "downloadLink"),
            raw=data,
        )


@attrs.frozen(kw_only=True)
class FormResponse:
    """One answer of a routing form: the field's label and the value given."""

    label: str | Unset | None = UNSET
    value: Any = UNSET


@attrs.frozen(kw_only=True)
class FormPayload(_Payload):
    """The payload of the routing-form triggers (``FORM_SUBMITTED``, ``…_NO_EVENT``)."""

    form_id: str | Unset | None = UNSET
    form_name: str | Unset | None = UNSET
    team_id: int | Unset | None = UNSET
    responses: Mapping[str, FormResponse] | Unset | None = UNSET
    raw: Mapping[str, Any] = attrs.field(factory=dict, repr=False)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FormPayload:
        answers = _mapping(data, "responses")
        responses: Mapping[str, FormResponse] | Unset | None = answers
        if isinstance(answers, dict):
            responses = {
                str(field): FormResponse(label=_text(answer, "label"), value=answer.get("value"))
                if isinstance(answer, dict)
                else FormResponse(value=answer)
                for field, answer in answers.items()
            }
        return cls(
            form_id=_text(data, "formId"),
            form_name=_text(data, "formName"),
            team_id=_int(data, "teamId"),
            responses=responses,
            raw=data,
        )


@attrs.frozen(kw_only=True)
class GenericPayload(_Payload):
    """The payload of a trigger without a model here (``PING``, ``OOO_CREATED``, a trigger newer
    than this library): the mapping as sent."""

    raw: Mapping[str, Any] = attrs.field(factory=dict, repr=False)


WebhookPayload = BookingPayload | MeetingPayload | FormPayload | GenericPayload
