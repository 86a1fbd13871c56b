"""A webhook receiver (aiohttp) that verifies every delivery before trusting it.

ICALENDLY_WEBHOOK_SECRET=… python examples/webhook_receiver.py   # listens on :8081/webhooks
"""

from __future__ import annotations

import os

from aiohttp import web

from icalendly_async.webhooks import (
    SIGNATURE_HEADER,
    ReplayGuard,
    WebhookError,
    WebhookEvent,
    verify_and_parse,
)

EVENTS = web.AppKey("events", list[WebhookEvent])


def create_app(secret: str) -> web.Application:
    guard = ReplayGuard(ttl=600)

    async def receive(request: web.Request) -> web.Response:
        body = await request.read()  # the raw bytes: the signature covers exactly these
        try:
            event = verify_and_parse(
                body, request.headers.get(SIGNATURE_HEADER), secret, replay_guard=guard
            )
        except WebhookError as exc:
            return web.json_response({"error": str(exc)}, status=400)
        request.app[EVENTS].append(event)  # hand it to your queue or database here
        return web.json_response({"received": event.trigger_name})

    app = web.Application()
    app[EVENTS] = []
    app.router.add_post("/webhooks", receive)
    return app


if __name__ == "__main__":
    web.run_app(create_app(os.environ["ICALENDLY_WEBHOOK_SECRET"]), port=8081)
