"""Webhook deliveries: signed HTTP POSTs to subscribers on this machine, retried, logged.

Each delivery is a JSON body ``{"triggerEvent", "createdAt", "payload"}`` (or the subscription's
payload template, filled in), signed with ``X-Cal-Signature-256``: the hex HMAC-SHA256 of the
exact body under the subscription's secret, ``no-secret-provided`` without one.

Deliveries to one subscription go out one at a time in the order of the events (a failed one
is retried before the next is sent); subscriptions do not wait for each other. A delivery is
retried ``retries`` times after a failure (no answer, or a status other than 2xx; ``0``: never),
waiting ``backoff`` seconds, doubled each time; every send is in its ``attempt_log``. Every
delivery is a :class:`WebhookDelivery` in the log, updated as it goes. Redirects are not
followed, and only loopback URLs are accepted (checked when a subscription is made, and again
before each send): nothing leaves the machine.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import hashlib
import hmac
import ipaddress
import json
import re
from datetime import datetime, timezone
from typing import Any

import aiohttp
import attrs
from yarl import URL

from ._envelope import encode
from ._faults import nap
from ._store.webhooks import Subscription

__all__ = [
    "NO_SECRET",
    "SIGNATURE_HEADER",
    "DeliveryAttempt",
    "WebhookDelivery",
    "WebhookDispatcher",
    "is_loopback",
]

SIGNATURE_HEADER = "X-Cal-Signature-256"
NO_SECRET = "no-secret-provided"
_TEMPLATE_VARIABLE = re.compile(r"\{\{\s*([\w.]+)\s*\}\}")


def is_loopback(url: str) -> bool:
    """Whether ``url`` is an ``http(s)`` URL of this machine."""
    try:
        parsed = URL(url)
    except (TypeError, ValueError):
        return False
    if parsed.scheme not in ("http", "https") or not parsed.host:
        return False
    host = parsed.host.strip("[]").lower()
    if host in ("localhost", "localhost."):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@attrs.frozen
class DeliveryAttempt:
    """One send of a delivery: when, what the subscriber answered (``status``; ``None``: no
    answer), why it failed (``error``), and how long it took."""

    at: datetime
    status: int | None
    error: str | None
    duration: float


@attrs.define(eq=False)
class WebhookDelivery:
    """One delivery of one event to one subscription, updated as it is attempted.

    ``status``: the last HTTP status received (``None``: none yet, or no answer);
    ``attempts``: sends so far; ``delivered_at``: when a 2xx came back (``None``: not delivered,
    yet or at all); ``error``: why the last attempt failed; ``done``: no more attempts will be
    made; ``attempt_log``: every send, in order (what the receiver answered each time). ``body``
    is the exact bytes sent (and signed).
    """

    url: str
    trigger: str
    webhook_id: int
    body: bytes = attrs.field(repr=False)
    signature: str = attrs.field(repr=False)
    status: int | None = None
    attempts: int = 0
    delivered_at: datetime | None = None
    error: str | None = None
    done: bool = False
    attempt_log: list[DeliveryAttempt] = attrs.field(factory=list)

    @property
    def statuses(self) -> list[int | None]:
        """What the subscriber answered to each send (``None``: no answer)."""
        return [attempt.status for attempt in self.attempt_log]

    @property
    def ok(self) -> bool:
        """Whether the subscriber accepted it (a 2xx)."""
        return self.delivered_at is not None

    def payload(self) -> Any:
        """The body, parsed."""
        return json.loads(self.body)


def _lookup(document: dict[str, Any], dotted: str) -> Any:
    value: Any = document
    for part in dotted.split("."):
        if not isinstance(value, dict) or part not in value:
            return ""
        value = value[part]
    return value


def _fill(template: str, document: dict[str, Any]) -> bytes:
    flat = {**document.get("payload", {}), **document}

    def replace(match: re.Match[str]) -> str:
        value = _lookup(flat, match.group(1))
        text = value if isinstance(value, str) else json.dumps(value)
        return json.dumps(text)[1:-1]

    return _TEMPLATE_VARIABLE.sub(replace, template).encode()


def sign(body: bytes, secret: str | None) -> str:
    """The ``X-Cal-Signature-256`` of ``body``."""
    if not secret:
        return NO_SECRET
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class WebhookDispatcher:
    """Sends the deliveries, one worker task per busy subscription."""

    def __init__(
        self, *, retries: int, backoff: float, timeout: float, closing: asyncio.Event
    ) -> None:
        self.retries = retries
        self.backoff = backoff
        self.timeout = timeout
        self.deliveries: list[WebhookDelivery] = []
        self._closing = closing
        self._queues: dict[int, collections.deque[WebhookDelivery]] = {}
        self._workers: dict[int, asyncio.Task[None]] = {}
        self._session: aiohttp.ClientSession | None = None
        self._idle = asyncio.Event()
        self._idle.set()

    def __repr__(self) -> str:
        return f"<WebhookDispatcher deliveries={len(self.deliveries)} busy={len(self._workers)}>"

    def emit(self, subscriptions: list[Subscription], trigger: str, payload: Any) -> None:
        """Queue one delivery of ``{"triggerEvent", "createdAt", "payload"}`` per subscription."""
        if not subscriptions:
            return
        created = datetime.now(timezone.utc).isoformat(timespec="milliseconds")
        document = {"triggerEvent": trigger, "createdAt": created[:-6] + "Z", "payload": payload}
        plain = encode(document)
        for subscription in subscriptions:
            template = subscription.payload_template
            body = _fill(template, document) if template else plain
            delivery = WebhookDelivery(
                subscription.subscriber_url,
                trigger,
                subscription.id,
                body,
                sign(body, subscription.secret),
            )
            self.deliveries.append(delivery)
            self._queues.setdefault(subscription.id, collections.deque()).append(delivery)
            if subscription.id not in self._workers:
                self._idle.clear()
                self._workers[subscription.id] = asyncio.get_running_loop().create_task(
                    self._work(subscription.id)
                )

    async def wait_idle(self, timeout: float | None = None) -> None:
        """Return once every queued delivery is done (``asyncio.TimeoutError`` after
        ``timeout`` seconds)."""
        await asyncio.wait_for(self._idle.wait(), timeout)

    async def close(self) -> None:
        """Stop the workers (undelivered deliveries stay undelivered) and the HTTP session."""
        workers = list(self._workers.values())
        for worker in workers:
            worker.cancel()
        for worker in workers:
            with contextlib.suppress(asyncio.CancelledError):
                await worker
        self._workers.clear()
        self._queues.clear()
        self._idle.set()
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def _work(self, subscription_id: int) -> None:
        queue = self._queues[subscription_id]
        try:
            while queue:
                delivery = queue[0]
                await self._deliver(delivery)
                queue.popleft()
        finally:
            del self._workers[subscription_id]
            if not self._workers:
                self._idle.set()

    async def _deliver(self, delivery: WebhookDelivery) -> None:
        delay = self.backoff
        for attempt in range(self.retries + 1):
            if attempt and await nap(self._closing, delay):
                break
            delay *= 2
            delivery.attempts += 1
            sent_at = datetime.now(timezone.utc)
            started = asyncio.get_running_loop().time()
            delivered = await self._send(delivery)
            delivery.attempt_log.append(
                DeliveryAttempt(
                    sent_at,
                    delivery.status,
                    None if delivered else delivery.error,
                    asyncio.get_running_loop().time() - started,
                )
            )
            if delivered:
                delivery.delivered_at = datetime.now(timezone.utc)
                delivery.error = None
                break
        delivery.done = True

    async def _send(self, delivery: WebhookDelivery) -> bool:
        if not is_loopback(delivery.url):
            delivery.error = "refused: not a loopback URL"
            return False
        if self._session is None:
            self._session = aiohttp.ClientSession(trust_env=False)
        headers = {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: delivery.signature,
            "User-Agent": "icalendly-emulator-webhooks",
        }
        try:
            async with self._session.post(
                delivery.url,
                data=delivery.body,
                headers=headers,
                allow_redirects=False,
                timeout=aiohttp.ClientTimeout(total=self.timeout),
            ) as response:
                await response.read()
                delivery.status = response.status
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as error:
            delivery.status = None
            delivery.error = f"{type(error).__name__}: {error}"[:200]
            return False
        if 200 <= delivery.status < 300:
            return True
        delivery.error = f"HTTP {delivery.status}"
        return False
