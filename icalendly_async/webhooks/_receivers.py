"""Webhook receivers for the frameworks users run: aiohttp, and Starlette / FastAPI.

Both read the raw body with a cap (a ``Content-Length`` over ``max_body_bytes`` is answered 413
before anything is read, a longer stream as soon as it passes the cap), collect the
``X-Cal-Signature-256`` header values (a repeated header is refused), hand both to a
:class:`WebhookProcessor` and answer what it decided::

    processor = WebhookProcessor(SECRET, handle_event)

    app = aiohttp.web.Application()                       # aiohttp
    app.router.add_post("/webhooks", aiohttp_handler(processor))

    app = fastapi.FastAPI()                               # FastAPI (or Starlette)
    app.add_route("/webhooks", starlette_endpoint(processor), methods=["POST"])

The frameworks are imported only when a receiver is made.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING

from ._errors import WebhookTooLargeError
from ._processor import DeliveryResult, WebhookProcessor, status_of
from ._signature import SIGNATURE_HEADER

if TYPE_CHECKING:
    from aiohttp import web
    from starlette.requests import Request
    from starlette.responses import Response

__all__ = ["aiohttp_handler", "read_capped", "starlette_endpoint"]


async def read_capped(
    declared: str | int | None, chunks: AsyncIterator[bytes], limit: int
) -> bytes:
    """The body of a request, never more than ``limit`` bytes of it (else
    :class:`WebhookTooLargeError`, raised before reading when the declared length is over)."""
    if declared is not None:
        try:
            length = int(declared)
        except ValueError:
            length = None
        if length is not None and length > limit:
            raise WebhookTooLargeError(
                f"the body is {length} bytes (Content-Length), over the limit of {limit}"
            )
    body = bytearray()
    async for chunk in chunks:
        body += chunk
        if len(body) > limit:
            raise WebhookTooLargeError(f"the body is over the limit of {limit} bytes")
    return bytes(body)


def _headers(result: DeliveryResult) -> dict[str, str]:
    return {"Retry-After": str(result.retry_after)} if result.retry_after is not None else {}


def aiohttp_handler(
    processor: WebhookProcessor,
) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """An aiohttp request handler (``app.router.add_post(path, handler)``)."""
    from aiohttp import web

    async def handle(request: web.Request) -> web.StreamResponse:
        try:
            body = await read_capped(
                request.headers.get("Content-Length"),
                request.content.iter_chunked(64 * 1024),
                processor.max_body_bytes,
            )
        except WebhookTooLargeError as exc:
            return web.Response(status=status_of(exc), text=str(exc))
        signatures = request.headers.getall(SIGNATURE_HEADER, [])
        result = await processor.process(body, signatures)
        return web.Response(status=result.status, text=result.reason, headers=_headers(result))

    return handle


def starlette_endpoint(processor: WebhookProcessor) -> Callable[[Request], Awaitable[Response]]:
    """A Starlette endpoint (``app.add_route(path, endpoint, methods=["POST"])``; FastAPI apps
    take it the same way)."""
    from starlette.responses import PlainTextResponse

    async def endpoint(request: Request) -> Response:
        try:
            body = await read_capped(
                request.headers.get("content-length"), request.stream(), processor.max_body_bytes
            )
        except WebhookTooLargeError as exc:
            return PlainTextResponse(str(exc), status_code=status_of(exc))
        signatures = request.headers.getlist(SIGNATURE_HEADER)
        result = await processor.process(body, signatures)
        return PlainTextResponse(result.reason, status_code=result.status, headers=_headers(result))

    return endpoint
