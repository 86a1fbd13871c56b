"""Receiving webhooks: verify, parse, process each delivery exactly once, answer the sender.

::

    from icalendly_async.webhooks import WebhookProcessor, starlette_endpoint

    async def handle(event: WebhookEvent) -> None:          # raise to have it retried
        if isinstance(event.payload, BookingPayload):
            await save(event.payload.uid, event.payload.status)

    app.add_route("/webhooks", starlette_endpoint(WebhookProcessor(SECRET, handle)),
                  methods=["POST"])

- :func:`verify` / :func:`sign`: ``X-Cal-Signature-256``, compared in constant time;
- :func:`parse_event`: a :class:`WebhookEvent` whose payload is typed per trigger;
- :class:`WebhookProcessor`: verify, parse, claim in a :class:`DeliveryLedger`
  (:class:`InMemoryLedger`, or ``webhooks.redis.RedisLedger`` for a fleet), run the handler,
  mark done only when it succeeded;
- :func:`aiohttp_handler`, :func:`starlette_endpoint`: the receivers, body size capped.
"""

from ..models import WebhookTrigger
from ._errors import (
    WebhookError,
    WebhookPayloadError,
    WebhookReplayError,
    WebhookSignatureError,
    WebhookTooLargeError,
)
from ._events import WebhookEvent, parse_event
from ._ledger import Claim, ClaimState, DeliveryLedger, InMemoryLedger
from ._payloads import (
    BookingPayload,
    FormPayload,
    FormResponse,
    GenericPayload,
    MeetingPayload,
    WebhookPayload,
    WebhookPerson,
)
from ._processor import DEFAULT_MAX_BODY_BYTES, DeliveryResult, WebhookProcessor, delivery_id
from ._receivers import aiohttp_handler, starlette_endpoint
from ._replay import ReplayGuard, verify_and_parse
from ._signature import NO_SECRET, SIGNATURE_HEADER, sign, verify

__all__ = [
    "DEFAULT_MAX_BODY_BYTES",
    "NO_SECRET",
    "SIGNATURE_HEADER",
    "BookingPayload",
    "Claim",
    "ClaimState",
    "DeliveryLedger",
    "DeliveryResult",
    "FormPayload",
    "FormResponse",
    "GenericPayload",
    "InMemoryLedger",
    "MeetingPayload",
    "ReplayGuard",
    "WebhookError",
    "WebhookEvent",
    "WebhookPayload",
    "WebhookPayloadError",
    "WebhookPerson",
    "WebhookProcessor",
    "WebhookReplayError",
    "WebhookSignatureError",
    "WebhookTooLargeError",
    "WebhookTrigger",
    "aiohttp_handler",
    "delivery_id",
    "parse_event",
    "sign",
    "starlette_endpoint",
    "verify",
    "verify_and_parse",
]
