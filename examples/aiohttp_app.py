"""An aiohttp web app: the client lives in a cleanup context, handlers use it.

Run it against the emulator (``icalendly mock-server`` prints the settings)::

    ICALENDLY_BASE_URL=http://127.0.0.1:8080 ICALENDLY_API_KEY=ical_… python examples/aiohttp_app.py
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator

from aiohttp import web

from icalendly_async import ApiKey, ICalendly, Priority, errors

CLIENT = web.AppKey("icalendly", ICalendly)


def create_app(base_url: str, api_key: str) -> web.Application:
    async def icalendly_client(app: web.Application) -> AsyncIterator[None]:
        insecure = base_url.startswith(("http://127.0.0.1", "http://localhost"))
        async with ICalendly(ApiKey(api_key), base_url=base_url, allow_insecure_http=insecure) as c:
            app[CLIENT] = c.with_options(priority=Priority.INTERACTIVE, timeout=10)
            yield

    async def upcoming(request: web.Request) -> web.Response:
        client = request.app[CLIENT]
        try:
            page = await client.bookings.list(status=["upcoming"], take=10)
        except errors.ICalendlyError as exc:
            return web.json_response({"error": type(exc).__name__}, status=502)
        return web.json_response({"bookings": [b.uid for b in page.items]})

    app = web.Application()
    app.cleanup_ctx.append(icalendly_client)
    app.router.add_get("/upcoming", upcoming)
    return app


if __name__ == "__main__":
    web.run_app(
        create_app(
            os.environ.get("ICALENDLY_BASE_URL", "https://api.icalendly.com"),
            os.environ["ICALENDLY_API_KEY"],
        )
    )
