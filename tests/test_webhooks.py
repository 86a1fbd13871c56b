"""Webhook verification, typed events, hostile bodies, and processing each delivery once."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import warnings

import pytest
from hypothesis import given
from hypothesis import strategies as st

from icalendly_async._clock import VirtualClock
from icalendly_async.errors import ConfigurationError, ICalendlyError
from icalendly_async.models import UNSET
from icalendly_async.webhooks import (
    NO_SECRET,
    BookingPayload,
    ClaimState,
    FormPayload,
    GenericPayload,
    InMemoryLedger,
    MeetingPayload,
    ReplayGuard,
    WebhookError,
    WebhookEvent,
    WebhookPayloadError,
    WebhookProcessor,
    WebhookReplayError,
    WebhookSignatureError,
    WebhookTooLargeError,
    WebhookTrigger,
    parse_event,
    sign,
    verify,
    verify_and_parse,
)

SECRET = "whsec_0123456789"
BODY = json.dumps(
    {
        "triggerEvent": "BOOKING_CREATED",
        "createdAt": "2026-11-25T10:00:00.000Z",
        "payload": {
            "uid": "abc",
            "title": "Intro",
            "bookingId": 42,
            "startTime": "2026-12-01T09:00:00.000Z",
            "attendees": [{"name": "Ada", "email": "ada@example.com", "timeZone": "UTC"}],
            "organizer": {"name": "Host", "language": {"locale": "en"}},
            "somethingNew": [1, 2],
        },
    }
).encode()


def test_a_good_signature_verifies_and_parses_into_the_booking_model() -> None:
    signature = hmac.new(SECRET.encode(), BODY, hashlib.sha256).hexdigest()
    assert sign(BODY, SECRET) == signature
    event = verify_and_parse(BODY, signature, SECRET)
    assert event.trigger is WebhookTrigger.BOOKING_CREATED
    assert isinstance(event.payload, BookingPayload)
    booking = event.payload
    assert (booking.uid, booking.booking_id, booking.title) == ("abc", 42, "Intro")
    assert booking.start_time is not UNSET and booking.start_time is not None
    assert booking.start_time.isoformat() == "2026-12-01T09:00:00+00:00"
    assert booking.attendees and booking.attendees[0].email == "ada@example.com"
    assert booking.organizer and booking.organizer.locale == "en"
    assert booking.end_time is UNSET  # not sent: unset, not None
    assert event.raw_payload["somethingNew"] == [1, 2] and booking["uid"] == "abc"
    assert event.created_at is not None
    verify(BODY, signature.upper(), SECRET)  # hex case does not matter
    verify(BODY, "sha256=" + signature, SECRET)
    verify(BODY, signature.encode(), SECRET)  # a framework handing over bytes


def test_each_trigger_family_gets_its_payload_model_and_unknown_ones_a_generic_one() -> None:
    def event(trigger: str, payload: dict[str, object]) -> WebhookEvent:
        return parse_event(json.dumps({"triggerEvent": trigger, "payload": payload}).encode())

    meeting = event(
        "MEETING_ENDED", {"id": 7, "title": "Call", "startTime": "2026-01-01T00:00:00Z"}
    )
    assert isinstance(meeting.payload, MeetingPayload) and meeting.payload.booking_id == 7
    form = event(
        "FORM_SUBMITTED",
        {
            "formId": "f1",
            "formName": "Intake",
            "responses": {"email": {"label": "E", "value": "x"}},
        },
    )
    assert isinstance(form.payload, FormPayload) and form.payload.form_id == "f1"
    assert form.payload.responses and form.payload.responses["email"].value == "x"
    new = event("SOMETHING_NEW", {"a": 1})
    assert isinstance(new.payload, GenericPayload) and new.payload["a"] == 1
    assert not new.trigger.is_known and new.trigger_name == "SOMETHING_NEW"
    ping = event("PING", {})
    assert ping.trigger == "PING" and isinstance(ping.payload, GenericPayload)
    # a field of an unexpected type is left out of the model, and kept in raw
    odd = event("BOOKING_CANCELLED", {"uid": 5, "attendees": "nobody", "status": None})
    assert isinstance(odd.payload, BookingPayload)
    assert odd.payload.uid is UNSET and odd.payload.attendees is UNSET
    assert odd.payload.status is None and odd.payload.raw["uid"] == 5


def test_wrong_missing_malformed_and_unsigned_signatures() -> None:
    with pytest.raises(WebhookSignatureError, match="does not match"):
        verify(BODY, sign(BODY, "another-secret"), SECRET)
    with pytest.raises(WebhookSignatureError, match="does not match"):
        verify(BODY + b" ", sign(BODY, SECRET), SECRET)
    with pytest.raises(WebhookSignatureError, match="no X-Cal-Signature-256"):
        verify(BODY, None, SECRET)
    with pytest.raises(WebhookSignatureError, match="unsigned"):
        verify(BODY, NO_SECRET, SECRET)
    with pytest.raises(WebhookSignatureError, match="64 hex digits"):
        verify(BODY, "zz" * 32, SECRET)
    with pytest.raises(WebhookSignatureError, match="not ASCII"):
        verify(BODY, "é".encode("latin-1") * 64, SECRET)
    with pytest.raises(ConfigurationError, match="secret"):
        verify(BODY, sign(BODY, SECRET), None)


def test_a_parsed_body_is_refused_with_a_hint() -> None:
    with pytest.raises(ConfigurationError, match="raw request body"):
        verify(json.loads(BODY), sign(BODY, SECRET), SECRET)


@pytest.mark.parametrize(
    "body",
    [
        b"[" * 200_000,  # nested beyond the parser
        b'{"a":' * 100_000,
        b"\xff\xfe not utf-8",
        b"[1, 2]",
        b'{"payload": {}}',
        b"{not json",
    ],
    ids=["deep-array", "deep-object", "not-utf8", "not-object", "no-trigger", "not-json"],
)
def test_hostile_bodies_raise_webhook_errors_only(body: bytes) -> None:
    with pytest.raises(WebhookPayloadError):
        parse_event(body)


def test_a_created_at_beyond_any_calendar_is_no_date() -> None:
    for value in (1e308, -1e308, "9999999-01-01", True, [1]):
        body = json.dumps({"triggerEvent": "PING", "createdAt": value, "payload": {}}).encode()
        assert parse_event(body).created_at is None


@given(body=st.binary(max_size=512), header=st.one_of(st.none(), st.text(max_size=80)))
def test_verify_and_parse_raise_only_library_errors(body: bytes, header: str | None) -> None:
    with contextlib.suppress(ICalendlyError):
        verify(body, header, SECRET)
    with contextlib.suppress(ICalendlyError):
        parse_event(body)


def test_the_replay_guard_still_works_but_is_deprecated() -> None:
    with pytest.warns(DeprecationWarning, match="WebhookProcessor"):
        guard = ReplayGuard(ttl=60)
    signature = sign(BODY, SECRET)
    verify_and_parse(BODY, signature, SECRET, replay_guard=guard)
    with pytest.raises(WebhookReplayError):
        verify_and_parse(BODY, signature, SECRET, replay_guard=guard)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        small = ReplayGuard(ttl=60, max_entries=2)
    for i in range(5):
        small.check_and_remember(str(i).encode())
    assert len(small) <= 2


# -- the ledger, on virtual time ------------------------------------------------------------


async def test_a_lease_blocks_copies_until_commit_or_release_and_expires() -> None:
    clock = VirtualClock()
    ledger = InMemoryLedger(lease=30, done_ttl=600, clock=clock)
    first = await ledger.claim("d1")
    assert first.state is ClaimState.CLAIMED
    assert (await ledger.claim("d1")).state is ClaimState.IN_PROGRESS
    await ledger.release("d1", "not-the-token")  # only the holder releases
    assert (await ledger.claim("d1")).state is ClaimState.IN_PROGRESS
    await ledger.release("d1", first.token)
    again = await ledger.claim("d1")  # the retry after a failed handler is processed
    assert again.state is ClaimState.CLAIMED
    assert await ledger.commit("d1", again.token)
    assert (await ledger.claim("d1")).state is ClaimState.DONE
    await clock.advance(601)
    assert (await ledger.claim("d1")).state is ClaimState.CLAIMED  # done marks expire
    crashed = await ledger.claim("d2")
    await clock.advance(20)
    assert await ledger.extend("d2", crashed.token)  # a slow handler keeps its lease
    await clock.advance(20)
    assert (await ledger.claim("d2")).state is ClaimState.IN_PROGRESS
    await clock.advance(31)  # a crashed worker's lease ends by itself
    assert (await ledger.claim("d2")).state is ClaimState.CLAIMED


# -- the processor ------------------------------------------------------------------------------


async def test_a_handler_that_fails_once_gets_the_retry() -> None:
    seen: list[str] = []
    failures = [RuntimeError("database down")]

    async def handle(event: WebhookEvent) -> None:
        if failures:
            raise failures.pop()
        seen.append(event.trigger_name)

    processor = WebhookProcessor(SECRET, handle)
    signature = [sign(BODY, SECRET)]
    failed = await processor.process(BODY, signature)
    assert (failed.status, failed.outcome) == (500, "failed") and seen == []
    retried = await processor.process(BODY, signature)
    assert (retried.status, retried.outcome) == (200, "processed")
    duplicate = await processor.process(BODY, signature)
    assert (duplicate.status, duplicate.outcome) == (200, "duplicate")
    assert seen == ["BOOKING_CREATED"]


async def test_a_handler_cancelled_mid_way_frees_the_delivery_for_the_retry() -> None:
    # The server shutting down, or a framework cancelling the request when the sender hangs
    # up: the sender retries, and the retry is processed now, not after the lease (a minute).
    started = asyncio.Event()
    seen: list[str] = []

    async def handle(event: WebhookEvent) -> None:
        if not seen:
            seen.append("started")
            started.set()
            await asyncio.Event().wait()  # until cancelled
        seen.append(event.trigger_name)

    processor = WebhookProcessor(SECRET, handle)
    signature = [sign(BODY, SECRET)]
    first = asyncio.create_task(processor.process(BODY, signature))
    await started.wait()
    first.cancel()
    with pytest.raises(asyncio.CancelledError):
        await first
    retried = await processor.process(BODY, signature)
    assert (retried.status, retried.outcome) == (200, "processed")
    assert seen == ["started", "BOOKING_CREATED"]


async def test_a_copy_arriving_while_the_first_is_processed_is_told_to_retry() -> None:
    gate = asyncio.Event()
    calls = 0

    async def slow(event: WebhookEvent) -> None:
        nonlocal calls
        calls += 1
        await gate.wait()

    processor = WebhookProcessor(SECRET, slow)
    signature = [sign(BODY, SECRET)]
    first = asyncio.create_task(processor.process(BODY, signature))
    await asyncio.sleep(0)
    second = await processor.process(BODY, signature)
    assert (second.status, second.outcome, second.retry_after) == (503, "in_progress", 5)
    gate.set()
    assert (await first).status == 200 and calls == 1


@pytest.mark.parametrize(
    ("signatures", "status"),
    [([], 401), (["a" * 64, "b" * 64], 401), (["nope"], 401), ([sign(b"x", SECRET)], 401)],
    ids=["missing", "repeated", "malformed", "forged"],
)
async def test_bad_signatures_are_4xx_with_a_reason_and_never_reach_the_handler(
    signatures: list[str], status: int
) -> None:
    called: list[WebhookEvent] = []
    processor = WebhookProcessor(SECRET, called.append)
    result = await processor.process(BODY, signatures)
    assert result.status == status and result.outcome == "rejected" and result.reason
    assert called == []


async def test_oversized_malformed_and_stale_deliveries_are_refused() -> None:
    clock = VirtualClock(epoch=1_764_000_000.0)  # 2025-11-24
    processor = WebhookProcessor(
        SECRET, lambda event: None, max_body_bytes=1000, tolerance=300, clock=clock
    )
    big = b"{" + b" " * 2000 + b"}"
    assert (await processor.process(big, [sign(big, SECRET)])).status == 413
    bad = b"[1]"
    assert (await processor.process(bad, [sign(bad, SECRET)])).status == 400
    old = json.dumps({"triggerEvent": "PING", "createdAt": "2025-11-20T00:00:00Z"}).encode()
    stale = await processor.process(old, [sign(old, SECRET)])
    assert stale.status == 400 and "tolerance" in stale.reason
    with pytest.raises(WebhookTooLargeError):
        processor.check(big, [sign(big, SECRET)])


def test_every_refusal_is_a_webhook_error() -> None:
    for cls in (WebhookPayloadError, WebhookSignatureError, WebhookTooLargeError):
        assert issubclass(cls, WebhookError) and issubclass(cls, ICalendlyError)
