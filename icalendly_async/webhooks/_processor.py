"""Processing one delivery the way a retrying sender needs it answered.

:class:`WebhookProcessor` takes the raw body and the signature header a receiver got, and:

1. refuses a body over ``max_body_bytes`` (413), a missing, repeated or malformed signature
   header (400), a wrong signature or an unsigned delivery (401), a body that is not a delivery
   (400), a delivery older than ``tolerance`` (400): 4xx, so that the sender does not retry;
2. claims the delivery in its :class:`DeliveryLedger` (its id: the SHA-256 of the raw body, which
   a retry or redelivery repeats byte for byte): a delivery already processed is answered 200
   again, one being processed right now 503 (the sender retries later);
3. runs the handler, keeping the lease while it runs; on success marks the delivery done (200);
   when the handler raises, releases the claim and answers 500, so that the sender's retry is
   processed: the event is never lost to a handler that failed once.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import inspect
import logging
from collections.abc import Awaitable, Callable, Sequence

import attrs

from .._clock import SYSTEM_CLOCK, Clock
from ..errors import ConfigurationError, TransportError
from ._errors import (
    WebhookError,
    WebhookPayloadError,
    WebhookSignatureError,
    WebhookTooLargeError,
)
from ._events import WebhookEvent, parse_event
from ._ledger import ClaimState, DeliveryLedger, InMemoryLedger
from ._signature import SIGNATURE_HEADER, verify

__all__ = [
    "DEFAULT_MAX_BODY_BYTES",
    "DeliveryResult",
    "Handler",
    "WebhookProcessor",
    "delivery_id",
    "status_of",
]

log = logging.getLogger("icalendly_async.webhooks")

DEFAULT_MAX_BODY_BYTES = 1024 * 1024
Handler = Callable[[WebhookEvent], "Awaitable[None] | None"]


@attrs.frozen
class DeliveryResult:
    """What a receiver answers: the HTTP ``status``, a ``reason`` the sender can log, the
    ``outcome`` (``"processed"``, ``"duplicate"``, ``"in_progress"``, ``"rejected"``,
    ``"failed"``, ``"unavailable"``) and the event when it was parsed."""

    status: int
    outcome: str
    reason: str
    event: WebhookEvent | None = attrs.field(default=None, repr=False)
    retry_after: int | None = None


def status_of(error: WebhookError) -> int:
    """The 4xx a receiver answers for a delivery it refuses (a sender does not retry those)."""
    if isinstance(error, WebhookTooLargeError):
        return 413
    if isinstance(error, WebhookSignatureError):
        return 401
    return 400


def delivery_id(raw_body: bytes) -> str:
    """What identifies a delivery: the SHA-256 of its exact bytes (the service signs no id or
    timestamp; a retry or redelivery sends the same bytes, with their ``createdAt``)."""
    return hashlib.sha256(raw_body).hexdigest()


class WebhookProcessor:
    """Verify, parse, deduplicate and hand deliveries to ``handler`` (see the module docs).

    ``secret``: the subscription's secret. ``handler``: a function or coroutine function taking
    the :class:`WebhookEvent`. ``ledger``: where claims and done marks live (default: an
    :class:`InMemoryLedger` of this process; a ``RedisLedger`` for a fleet). ``max_body_bytes``:
    the largest body accepted (1 MiB). ``tolerance``: refuse deliveries whose ``createdAt`` is
    more than this many seconds old (``None``: no limit; a sender retrying for hours needs a
    generous value). ``keepalive``: seconds between lease extensions while the handler runs.
    """

    def __init__(
        self,
        secret: str | bytes,
        handler: Handler,
        *,
        ledger: DeliveryLedger | None = None,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
        tolerance: float | None = None,
        keepalive: float = 20.0,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        if not secret:
            raise ConfigurationError("WebhookProcessor needs the subscription's secret")
        if not callable(handler):
            raise ConfigurationError("handler must be a function or coroutine function")
        if (
            isinstance(max_body_bytes, bool)
            or not isinstance(max_body_bytes, int)
            or max_body_bytes < 1
        ):
            raise ConfigurationError(
                f"max_body_bytes must be a positive whole number, got {max_body_bytes!r}"
            )
        if tolerance is not None and not tolerance > 0:
            raise ConfigurationError(f"tolerance must be > 0 seconds or None, got {tolerance!r}")
        if not keepalive > 0:
            raise ConfigurationError(f"keepalive must be > 0 seconds, got {keepalive!r}")
        self.secret = secret
        self.handler = handler
        self.ledger: DeliveryLedger = ledger if ledger is not None else InMemoryLedger(clock=clock)
        self.max_body_bytes = max_body_bytes
        self.tolerance = tolerance
        self.keepalive = keepalive
        self.clock = clock

    def __repr__(self) -> str:
        return f"<WebhookProcessor ledger={self.ledger!r}>"

    def check(self, raw_body: bytes, signatures: Sequence[str | bytes]) -> WebhookEvent:
        """Steps 1 of the module docs: the event, or a ``WebhookError`` saying what is wrong."""
        if len(raw_body) > self.max_body_bytes:
            raise WebhookTooLargeError(f"the body is over {self.max_body_bytes} bytes")
        if len(signatures) > 1:
            raise WebhookSignatureError(
                f"the delivery has {len(signatures)} {SIGNATURE_HEADER} headers"
            )
        verify(raw_body, signatures[0] if signatures else None, self.secret)
        event = parse_event(raw_body)
        if self.tolerance is not None and event.created_at is not None:
            age = self.clock.time() - event.created_at.timestamp()
            if age > self.tolerance:
                raise WebhookPayloadError(
                    f"the delivery was created {age:.0f} s ago, more than the tolerance of "
                    f"{self.tolerance:g} s (a replay, or a sender retrying for too long)"
                )
        return event

    async def process(self, raw_body: bytes, signatures: Sequence[str | bytes]) -> DeliveryResult:
        """Process one delivery; never raises for anything the delivery or the handler does."""
        try:
            event = self.check(raw_body, signatures)
        except WebhookError as exc:
            return DeliveryResult(status_of(exc), "rejected", str(exc))
        key = delivery_id(raw_body)
        try:
            claim = await self.ledger.claim(key)
        except TransportError as exc:
            log.warning(
                "webhook ledger unavailable (%s); asking the sender to retry", type(exc).__name__
            )
            return DeliveryResult(503, "unavailable", "try again later", event, retry_after=30)
        if claim.state is ClaimState.DONE:
            return DeliveryResult(200, "duplicate", "already processed", event)
        if claim.state is ClaimState.IN_PROGRESS:
            return DeliveryResult(
                503, "in_progress", "being processed; retry later", event, retry_after=5
            )
        return await self._run(event, key, claim.token)

    async def _run(self, event: WebhookEvent, key: str, token: str) -> DeliveryResult:
        keeper = asyncio.ensure_future(self._keep_lease(key, token))
        try:
            result = self.handler(event)
            if inspect.isawaitable(result):
                await result
        except asyncio.CancelledError:
            # Stopped from outside (the server shutting down, the request cancelled): not done,
            # so the sender's retry runs it now rather than once the lease has run out.
            with contextlib.suppress(TransportError):
                await asyncio.shield(self.ledger.release(key, token))
            raise
        except Exception as exc:
            log.warning(
                "webhook handler failed on %s (%s); released for the sender's retry",
                event.trigger_name,
                type(exc).__name__,
            )
            with contextlib.suppress(TransportError):
                await self.ledger.release(key, token)  # a lost lease expires by itself
            return DeliveryResult(500, "failed", "the handler failed; retry later", event)
        finally:
            keeper.cancel()
        try:
            await self.ledger.commit(key, token)
        except TransportError as exc:
            # Processed, but not marked: a retry would run it again. Say so loudly.
            log.error(
                "webhook processed but the ledger could not mark it done (%s)", type(exc).__name__
            )
        return DeliveryResult(200, "processed", "processed", event)

    async def _keep_lease(self, key: str, token: str) -> None:
        while True:
            await self.clock.sleep(self.keepalive)
            try:
                if not await self.ledger.extend(key, token):
                    log.warning("webhook lease lost while the handler ran (it ran past the lease)")
                    return
            except TransportError:
                return
