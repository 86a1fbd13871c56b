"""A webhook receiver (aiohttp): every delivery verified, processed once, retried on failure.

ICALENDLY_WEBHOOK_SECRET=… python examples/webhook_receiver.py   # listens on :8081/webhooks

The processor answers what the sender needs: 200 when the handler succeeded (or the delivery
was already processed), 4xx for a forged or malformed delivery (not retried), 500 when the
handler raised (the sender retries, and the retry is processed). With several replicas, pass
``ledger=RedisLedger(url)`` (``icalendly_async.webhooks.redis``) so that they share the marks.
"""

from __future__ import annotations

import os

from aiohttp import web

from icalendly_async.webhooks import (
    BookingPayload,
    WebhookEvent,
    WebhookProcessor,
    aiohttp_handler,
)

EVENTS = web.AppKey("events", list[WebhookEvent])


def create_app(secret: str) -> web.Application:
    app = web.Application()
    app[EVENTS] = []

    async def handle(event: WebhookEvent) -> None:
        # Your work goes here (a database write, a queue): raise and the delivery is retried.
        if isinstance(event.payload, BookingPayload):
            print(event.trigger, event.payload.uid, event.payload.start_time)
        app[EVENTS].append(event)

    app.router.add_post("/webhooks", aiohttp_handler(WebhookProcessor(secret, handle)))
    return app


if __name__ == "__main__":
    web.run_app(create_app(os.environ["ICALENDLY_WEBHOOK_SECRET"]), port=8081)
