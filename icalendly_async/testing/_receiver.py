"""A webhook subscriber for tests: a loopback server that records and verifies deliveries.

::

    async with WebhookReceiver(secret="s3cret") as receiver, Emulator() as emu:
        ...  # subscribe receiver.url with the secret, then book something
        [delivery] = await receiver.wait_for(1)
        assert delivery.verified and delivery.event.trigger is WebhookTrigger.BOOKING_CREATED

``fail_next(n)`` answers the next ``n`` deliveries with ``status`` 500 (to see retries).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from types import TracebackType

import attrs
from aiohttp import web

from ..webhooks import SIGNATURE_HEADER, WebhookError, WebhookEvent, parse_event, verify

__all__ = ["ReceivedWebhook", "WebhookReceiver"]


@attrs.frozen
class ReceivedWebhook:
    """One delivery as received. ``verified``: the signature matched the receiver's secret
    (``None`` when the receiver has no secret); ``event``: the parsed body (``None`` when it is
    not an event); ``answered``: the status the receiver sent back."""

    body: bytes = attrs.field(repr=False)
    headers: Mapping[str, str] = attrs.field(repr=False)
    verified: bool | None
    event: WebhookEvent | None
    answered: int


class WebhookReceiver:
    """A loopback HTTP server recording webhook deliveries (``POST`` to :attr:`url`)."""

    def __init__(self, secret: str | None = None, *, path: str = "/webhooks") -> None:
        self.secret = secret
        self.path = path
        self.received: list[ReceivedWebhook] = []
        self._fail = 0
        self._runner: web.AppRunner | None = None
        self._url: str | None = None
        self._arrived = asyncio.Condition()

    def __repr__(self) -> str:
        return f"<WebhookReceiver {self._url or 'not started'} received={len(self.received)}>"

    @property
    def url(self) -> str:
        """The subscriber URL to give the emulator."""
        if self._url is None:
            raise RuntimeError("the receiver is not running: use 'async with WebhookReceiver()'")
        return self._url

    def fail_next(self, count: int) -> None:
        """Answer the next ``count`` deliveries with a 500."""
        self._fail += count

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        verified: bool | None = None
        if self.secret is not None:
            try:
                verify(body, request.headers.get(SIGNATURE_HEADER), self.secret)
                verified = True
            except WebhookError:
                verified = False
        try:
            event: WebhookEvent | None = parse_event(body)
        except WebhookError:
            event = None
        status = 200
        if self._fail > 0:
            self._fail -= 1
            status = 500
        self.received.append(ReceivedWebhook(body, dict(request.headers), verified, event, status))
        async with self._arrived:
            self._arrived.notify_all()
        return web.Response(status=status, text="ok" if status == 200 else "failing on purpose")

    async def wait_for(self, count: int, timeout: float = 10.0) -> list[ReceivedWebhook]:
        """Wait until ``count`` deliveries were accepted (answered 200); return them all."""

        def enough() -> bool:
            return sum(item.answered == 200 for item in self.received) >= count

        async with self._arrived:
            await asyncio.wait_for(self._arrived.wait_for(enough), timeout)
        return [item for item in self.received if item.answered == 200]

    async def start(self) -> WebhookReceiver:
        """Listen on a free loopback port."""
        app = web.Application()
        app.router.add_post(self.path, self._handle)
        runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await runner.setup()
        try:
            await web.TCPSite(runner, "127.0.0.1", 0).start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        self._url = f"http://127.0.0.1:{runner.addresses[0][1]}{self.path}"
        return self

    async def stop(self) -> None:
        """Stop listening."""
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    async def __aenter__(self) -> WebhookReceiver:
        return await self.start()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()
