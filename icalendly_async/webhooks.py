"""Receiving webhooks: verify the signature, parse the event, refuse replays.

iCalendly signs each delivery with ``X-Cal-Signature-256``: the hex HMAC-SHA256 of the raw request
body under the subscription's secret (NOTES.md, "Webhooks"). A subscription without a secret sends
the literal ``no-secret-provided``. The signature covers the exact bytes received, so verify the
raw body before parsing it, and compare in constant time.

::

    from icalendly_async.webhooks import ReplayGuard, verify_and_parse

    guard = ReplayGuard(ttl=600)

    async def receive(request):                       # an aiohttp or Starlette handler
        body = await request.read()                   # Starlette: await request.body()
        event = verify_and_parse(
            body, request.headers.get("X-Cal-Signature-256"), SECRET, replay_guard=guard
        )
        if event.trigger is WebhookTrigger.BOOKING_CREATED: ...

The signature carries no timestamp, so a captured delivery could be sent again; the optional
:class:`ReplayGuard` remembers a digest of each verified body for ``ttl`` seconds and refuses a
second delivery of the same bytes.
"""

from __future__ import annotations

import collections
import datetime as _dt
import enum
import hashlib
import hmac
import json
import time
from collections.abc import Mapping
from typing import Any

import attrs

from .errors import ConfigurationError, ICalendlyError
from .models.converter import parse_datetime

__all__ = [
    "NO_SECRET",
    "SIGNATURE_HEADER",
    "ReplayGuard",
    "WebhookError",
    "WebhookEvent",
    "WebhookReplayError",
    "WebhookSignatureError",
    "WebhookTrigger",
    "parse_event",
    "sign",
    "verify",
    "verify_and_parse",
]

SIGNATURE_HEADER = "X-Cal-Signature-256"
NO_SECRET = "no-secret-provided"


class WebhookError(ICalendlyError):
    """A delivery that must not be trusted or cannot be read."""


class WebhookSignatureError(WebhookError):
    """The signature is missing, wrong, or the delivery was sent without a secret."""


class WebhookReplayError(WebhookError):
    """This exact delivery was already accepted within the replay guard's TTL."""


class WebhookTrigger(str, enum.Enum):
    """The ``triggerEvent`` of a delivery. Unknown values parse to :attr:`UNKNOWN`."""

    BOOKING_CREATED = "BOOKING_CREATED"
    BOOKING_PAYMENT_INITIATED = "BOOKING_PAYMENT_INITIATED"
    BOOKING_PAID = "BOOKING_PAID"
    BOOKING_RESCHEDULED = "BOOKING_RESCHEDULED"
    BOOKING_REQUESTED = "BOOKING_REQUESTED"
    BOOKING_CANCELLED = "BOOKING_CANCELLED"
    BOOKING_REJECTED = "BOOKING_REJECTED"
    BOOKING_CONFIRMED = "BOOKING_CONFIRMED"
    BOOKING_COMPLETED = "BOOKING_COMPLETED"
    BOOKING_NO_SHOW = "BOOKING_NO_SHOW"
    BOOKING_NO_SHOW_UPDATED = "BOOKING_NO_SHOW_UPDATED"
    BOOKING_REOPENED = "BOOKING_REOPENED"
    FORM_SUBMITTED = "FORM_SUBMITTED"
    FORM_SUBMITTED_NO_EVENT = "FORM_SUBMITTED_NO_EVENT"
    MEETING_ENDED = "MEETING_ENDED"
    MEETING_STARTED = "MEETING_STARTED"
    RECORDING_READY = "RECORDING_READY"
    RECORDING_TRANSCRIPTION_GENERATED = "RECORDING_TRANSCRIPTION_GENERATED"
    INSTANT_MEETING = "INSTANT_MEETING"
    OOO_CREATED = "OOO_CREATED"
    AFTER_HOSTS_CAL_VIDEO_NO_SHOW = "AFTER_HOSTS_CAL_VIDEO_NO_SHOW"
    AFTER_GUESTS_CAL_VIDEO_NO_SHOW = "AFTER_GUESTS_CAL_VIDEO_NO_SHOW"
    PING = "PING"
    UNKNOWN = "UNKNOWN"


@attrs.frozen
class WebhookEvent:
    """One delivery: its trigger, when it was created, and the payload as sent.

    ``trigger_name`` keeps the raw ``triggerEvent`` even when :attr:`trigger` is ``UNKNOWN``
    (a trigger newer than this library).
    """

    trigger: WebhookTrigger
    trigger_name: str
    created_at: _dt.datetime | None
    payload: Mapping[str, Any]
    raw: Mapping[str, Any] = attrs.field(repr=False)


def _raw_bytes(raw_body: object) -> bytes:
    if isinstance(raw_body, (bytes, bytearray, memoryview)):
        return bytes(raw_body)
    kind = type(raw_body).__name__
    raise ConfigurationError(
        f"pass the raw request body as bytes, not a {kind}: the signature covers the exact bytes "
        "received, and re-serialised JSON does not match them (aiohttp: await request.read(); "
        "Starlette/FastAPI: await request.body())"
    )


def _secret_bytes(secret: str | bytes | None) -> bytes:
    if secret is None or secret in ("", b""):
        raise ConfigurationError(
            "no webhook secret given: set a secret on the subscription and pass it here; "
            "unsigned deliveries cannot be verified"
        )
    return secret.encode() if isinstance(secret, str) else bytes(secret)


def sign(raw_body: bytes, secret: str | bytes) -> str:
    """The ``X-Cal-Signature-256`` value for ``raw_body``: hex HMAC-SHA256 under ``secret``."""
    return hmac.new(_secret_bytes(secret), _raw_bytes(raw_body), hashlib.sha256).hexdigest()


def verify(raw_body: bytes, signature_header: str | None, secret: str | bytes | None) -> None:
    """Raise :class:`WebhookSignatureError` unless ``signature_header`` signs ``raw_body``.

    ``signature_header`` is the value of ``X-Cal-Signature-256`` (``None`` when absent).
    """
    body = _raw_bytes(raw_body)
    key = _secret_bytes(secret)
    if signature_header is None or not signature_header.strip():
        raise WebhookSignatureError(f"the delivery has no {SIGNATURE_HEADER} header")
    received = signature_header.strip()
    if received == NO_SECRET:
        raise WebhookSignatureError(
            f"the delivery was sent unsigned ({SIGNATURE_HEADER}: {NO_SECRET}): the subscription "
            "has no secret; set one on it so deliveries can be verified"
        )
    if received.lower().startswith("sha256="):
        received = received[len("sha256=") :]
    expected = hmac.new(key, body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected.encode(), received.lower().encode()):
        raise WebhookSignatureError(
            f"the {SIGNATURE_HEADER} signature does not match the body under the given secret "
            "(a different secret, or a body changed in transit)"
        )


def parse_event(raw_body: bytes) -> WebhookEvent:
    """Parse a delivery's JSON into a :class:`WebhookEvent` (verify it first)."""
    body = _raw_bytes(raw_body)
    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise WebhookError("the delivery body is not JSON") from None
    if not isinstance(document, dict):
        raise WebhookError("the delivery body is not a JSON object")
    name = document.get("triggerEvent")
    if not isinstance(name, str):
        raise WebhookError("the delivery has no triggerEvent")
    try:
        trigger = WebhookTrigger(name)
    except ValueError:
        trigger = WebhookTrigger.UNKNOWN
    created: _dt.datetime | None = None
    if document.get("createdAt") is not None:
        try:
            created = parse_datetime(document["createdAt"])
        except (TypeError, ValueError):
            created = None
    payload = document.get("payload")
    return WebhookEvent(
        trigger=trigger,
        trigger_name=name,
        created_at=created,
        payload=payload if isinstance(payload, dict) else {},
        raw=document,
    )


class ReplayGuard:
    """Refuses a delivery whose exact bytes were accepted within the last ``ttl`` seconds.

    In memory, bounded to ``max_entries`` (oldest forgotten first). For several receiver
    processes, subclass and keep :meth:`check_and_remember` in a shared store (e.g. Redis
    ``SET key 1 NX EX ttl``).
    """

    def __init__(self, ttl: float = 600.0, max_entries: int = 100_000) -> None:
        if not ttl > 0 or max_entries < 1:
            raise ConfigurationError("ReplayGuard needs ttl > 0 and max_entries >= 1")
        self._ttl = ttl
        self._max = max_entries
        self._seen: collections.OrderedDict[bytes, float] = collections.OrderedDict()

    def check_and_remember(self, raw_body: bytes) -> None:
        """Raise :class:`WebhookReplayError` if seen within the TTL; otherwise remember it."""
        now = time.monotonic()
        seen = self._seen
        while seen:
            oldest, at = next(iter(seen.items()))
            if now - at < self._ttl and len(seen) < self._max:
                break
            del seen[oldest]
        digest = hashlib.sha256(_raw_bytes(raw_body)).digest()
        if digest in seen:
            raise WebhookReplayError("this delivery was already received (a replay)")
        seen[digest] = now

    def __len__(self) -> int:
        return len(self._seen)


def verify_and_parse(
    raw_body: bytes,
    signature_header: str | None,
    secret: str | bytes | None,
    *,
    replay_guard: ReplayGuard | None = None,
) -> WebhookEvent:
    """:func:`verify`, then the replay check (when a guard is given), then :func:`parse_event`."""
    verify(raw_body, signature_header, secret)
    if replay_guard is not None:
        replay_guard.check_and_remember(raw_body)
    return parse_event(raw_body)
