"""Webhook verification, parsing and the replay guard."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from icalendly_async.errors import ConfigurationError, ICalendlyError
from icalendly_async.webhooks import (
    NO_SECRET,
    ReplayGuard,
    WebhookError,
    WebhookReplayError,
    WebhookSignatureError,
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
        "payload": {"uid": "abc", "title": "Intro"},
    }
).encode()


def test_a_good_signature_verifies_and_parses() -> None:
    signature = hmac.new(SECRET.encode(), BODY, hashlib.sha256).hexdigest()
    assert sign(BODY, SECRET) == signature
    event = verify_and_parse(BODY, signature, SECRET)
    assert event.trigger is WebhookTrigger.BOOKING_CREATED
    assert event.payload["uid"] == "abc" and event.created_at is not None
    verify(BODY, signature.upper(), SECRET)  # hex case does not matter
    verify(BODY, "sha256=" + signature, SECRET)


def test_wrong_missing_and_unsigned() -> None:
    with pytest.raises(WebhookSignatureError, match="does not match"):
        verify(BODY, sign(BODY, "another-secret"), SECRET)
    with pytest.raises(WebhookSignatureError, match="does not match"):
        verify(BODY + b" ", sign(BODY, SECRET), SECRET)
    with pytest.raises(WebhookSignatureError, match="no X-Cal-Signature-256"):
        verify(BODY, None, SECRET)
    with pytest.raises(WebhookSignatureError, match="unsigned"):
        verify(BODY, NO_SECRET, SECRET)
    with pytest.raises(ConfigurationError, match="secret"):
        verify(BODY, sign(BODY, SECRET), None)


def test_a_parsed_body_is_refused_with_a_hint() -> None:
    with pytest.raises(ConfigurationError, match="raw request body"):
        verify(json.loads(BODY), sign(BODY, SECRET), SECRET)  # type: ignore[arg-type]


def test_unknown_triggers_are_kept() -> None:
    body = b'{"triggerEvent": "SOMETHING_NEW", "payload": {}}'
    event = parse_event(body)
    assert event.trigger is WebhookTrigger.UNKNOWN and event.trigger_name == "SOMETHING_NEW"
    with pytest.raises(WebhookError):
        parse_event(b"[1, 2]")
    with pytest.raises(WebhookError):
        parse_event(b"{not json")


def test_replay_guard() -> None:
    guard = ReplayGuard(ttl=60)
    signature = sign(BODY, SECRET)
    verify_and_parse(BODY, signature, SECRET, replay_guard=guard)
    with pytest.raises(WebhookReplayError):
        verify_and_parse(BODY, signature, SECRET, replay_guard=guard)
    small = ReplayGuard(ttl=60, max_entries=2)
    for i in range(5):
        small.check_and_remember(str(i).encode())
    assert len(small) <= 2


@given(body=st.binary(max_size=512), header=st.one_of(st.none(), st.text(max_size=80)))
def test_verify_raises_only_library_errors(body: bytes, header: str | None) -> None:
    with contextlib.suppress(ICalendlyError):
        verify(body, header, SECRET)
    with contextlib.suppress(ICalendlyError):
        parse_event(body)
