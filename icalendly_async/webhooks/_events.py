"""A delivery's JSON, parsed into a :class:`WebhookEvent` whose payload is typed per trigger."""

from __future__ import annotations

import datetime as _dt
import json
from collections.abc import Callable, Mapping
from typing import Any

import attrs

from ..models import WebhookTrigger
from ..models.converter import parse_datetime
from ._errors import WebhookPayloadError
from ._payloads import (
    BookingPayload,
    FormPayload,
    GenericPayload,
    MeetingPayload,
    WebhookPayload,
)
from ._signature import raw_bytes

__all__ = ["WebhookEvent", "parse_event"]

_BOOKING = (
    "BOOKING_CREATED",
    "BOOKING_PAYMENT_INITIATED",
    "BOOKING_PAID",
    "BOOKING_RESCHEDULED",
    "BOOKING_REQUESTED",
    "BOOKING_CANCELLED",
    "BOOKING_REJECTED",
    "BOOKING_NO_SHOW_UPDATED",
    "BOOKING_CONFIRMED",
    "BOOKING_COMPLETED",
    "BOOKING_NO_SHOW",
    "BOOKING_REOPENED",
    "INSTANT_MEETING",
)
_MEETING = (
    "MEETING_STARTED",
    "MEETING_ENDED",
    "AFTER_HOSTS_CAL_VIDEO_NO_SHOW",
    "AFTER_GUESTS_CAL_VIDEO_NO_SHOW",
    "RECORDING_READY",
    "RECORDING_TRANSCRIPTION_GENERATED",
)
_FORM = ("FORM_SUBMITTED", "FORM_SUBMITTED_NO_EVENT")

_PARSERS: dict[str, Callable[[Mapping[str, Any]], WebhookPayload]] = {
    **dict.fromkeys(_BOOKING, BookingPayload.from_dict),
    **dict.fromkeys(_MEETING, MeetingPayload.from_dict),
    **dict.fromkeys(_FORM, FormPayload.from_dict),
}


def _generic(data: Mapping[str, Any]) -> WebhookPayload:
    return GenericPayload(raw=data)


@attrs.frozen
class WebhookEvent:
    """One delivery: its trigger, when it was created, and its payload.

    ``trigger`` is a :class:`~icalendly_async.models.WebhookTrigger`; a trigger newer than this
    library is kept as an open member (``trigger.is_known`` is ``False``) and its payload is a
    :class:`GenericPayload`. ``payload`` is typed by the trigger (:class:`BookingPayload`,
    :class:`MeetingPayload`, :class:`FormPayload`, else :class:`GenericPayload`);
    ``raw_payload`` is the payload as sent, ``raw`` the whole delivery.
    """

    trigger: WebhookTrigger
    created_at: _dt.datetime | None
    payload: WebhookPayload
    raw: Mapping[str, Any] = attrs.field(repr=False)

    @property
    def trigger_name(self) -> str:
        """The ``triggerEvent`` as sent."""
        return str(self.trigger)

    @property
    def raw_payload(self) -> Mapping[str, Any]:
        return self.payload.raw


def _created_at(value: object) -> _dt.datetime | None:
    if value is None:
        return None
    try:
        return parse_datetime(value)
    except (ValueError, OverflowError, OSError):  # not a date-time, or beyond any calendar
        return None


def parse_event(raw_body: bytes) -> WebhookEvent:
    """Parse a delivery's JSON into a :class:`WebhookEvent` (verify it first).

    Anything that is not a delivery raises :class:`WebhookPayloadError` (a ``WebhookError``):
    bytes that are not UTF-8 JSON, JSON nested beyond what the parser takes, a body that is not
    an object or has no ``triggerEvent``.
    """
    body = raw_bytes(raw_body)
    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise WebhookPayloadError("the delivery body is not UTF-8 JSON") from None
    except RecursionError:
        raise WebhookPayloadError("the delivery body is nested too deeply to read") from None
    if not isinstance(document, dict):
        raise WebhookPayloadError("the delivery body is not a JSON object")
    name = document.get("triggerEvent")
    if not isinstance(name, str) or not name:
        raise WebhookPayloadError("the delivery has no triggerEvent")
    payload = document.get("payload")
    data: Mapping[str, Any] = payload if isinstance(payload, dict) else {}
    return WebhookEvent(
        trigger=WebhookTrigger(name),
        created_at=_created_at(document.get("createdAt")),
        payload=_PARSERS.get(name, _generic)(data),
        raw=document,
    )
