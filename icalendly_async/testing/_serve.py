"""Running the emulator as a server until stopped (``icalendly mock-server``).

::

    from icalendly_async.testing import serve

    await serve(port=8080, seed=7, bookings=20_000, rate_limit="120/60",
                on_ready=lambda info: print(info.base_url, info.api_key))

:func:`serve` starts the emulator, hands a :class:`ServerInfo` (base URL, a ready API key, the
platform client's id and secret) to ``on_ready``, and serves until it is cancelled (Ctrl-C under
``asyncio.run``). :func:`run` does the same from synchronous code and returns on Ctrl-C. Nothing
here prints: the caller decides what to show.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any

import attrs

from ..ratelimit.headers import RateLimit
from .emulator import Emulator

__all__ = ["ServerInfo", "run", "serve"]


@attrs.frozen
class ServerInfo:
    """Where the emulator listens and what to call it with. Secrets stay out of the repr.

    ``oauth_*``: the partner apps of "Continue with iCalendly": a confidential one (id and
    secret) and a public one (PKCE), both registered with ``oauth_redirect_uri``; the browser
    goes to ``authorize_url``.
    """

    base_url: str
    api_key: str = attrs.field(repr=False)
    client_id: str
    client_secret: str = attrs.field(repr=False)
    authorize_url: str = ""
    oauth_client_id: str = ""
    oauth_client_secret: str = attrs.field(default="", repr=False)
    oauth_public_client_id: str = ""
    oauth_redirect_uri: str = ""

    def environment(self) -> dict[str, str]:
        """The settings as environment variables (``ICALENDLY_BASE_URL``, ``ICALENDLY_API_KEY``,
        ``ICALENDLY_CLIENT_ID``, ``ICALENDLY_CLIENT_SECRET``, and for OAuth partner apps
        ``ICALENDLY_AUTHORIZE_URL``, ``ICALENDLY_OAUTH_CLIENT_ID``,
        ``ICALENDLY_OAUTH_CLIENT_SECRET``, ``ICALENDLY_OAUTH_PUBLIC_CLIENT_ID``,
        ``ICALENDLY_OAUTH_REDIRECT_URI``)."""
        settings = {
            "ICALENDLY_BASE_URL": self.base_url,
            "ICALENDLY_API_KEY": self.api_key,
            "ICALENDLY_CLIENT_ID": self.client_id,
            "ICALENDLY_CLIENT_SECRET": self.client_secret,
            "ICALENDLY_AUTHORIZE_URL": self.authorize_url,
            "ICALENDLY_OAUTH_CLIENT_ID": self.oauth_client_id,
            "ICALENDLY_OAUTH_CLIENT_SECRET": self.oauth_client_secret,
            "ICALENDLY_OAUTH_PUBLIC_CLIENT_ID": self.oauth_public_client_id,
            "ICALENDLY_OAUTH_REDIRECT_URI": self.oauth_redirect_uri,
        }
        return {name: value for name, value in settings.items() if value}


def _rate_limit(value: RateLimit | str | None) -> RateLimit | None:
    if value is None or isinstance(value, RateLimit):
        return value
    return RateLimit.parse(value)


async def serve(
    *,
    port: int = 8080,
    seed: int = 0,
    bookings: int = 50,
    rate_limit: RateLimit | str | None = None,
    host: str = "127.0.0.1",
    on_ready: Callable[[ServerInfo], None] | None = None,
    ready: asyncio.Future[ServerInfo] | None = None,
    **options: Any,
) -> None:
    """Serve the emulator until cancelled.

    ``rate_limit``: a :class:`RateLimit` or ``"REQUESTS/SECONDS"`` for every credential
    (``None``: the service's defaults). ``port`` ``0``: any free port (see the
    :class:`ServerInfo`). ``on_ready`` is called, and ``ready`` resolved, once it listens.
    ``options``: other keyword arguments of :class:`Emulator`.
    """
    emulator = Emulator(
        host=host,
        port=port,
        seed=seed,
        bookings=bookings,
        rate_limit=_rate_limit(rate_limit),
        **options,
    )
    async with emulator as emu:
        app, public = emu.oauth_app, emu.oauth_public_app
        info = ServerInfo(
            emu.base_url,
            emu.api_key,
            emu.client_id,
            emu.client_secret,
            authorize_url=emu.authorize_url,
            oauth_client_id=app.client_id,
            oauth_client_secret=app.client_secret or "",
            oauth_public_client_id=public.client_id,
            oauth_redirect_uri=app.redirect_uris[0],
        )
        if on_ready is not None:
            on_ready(info)
        if ready is not None and not ready.done():
            ready.set_result(info)
        await asyncio.Event().wait()


def run(**kwargs: Any) -> None:
    """:func:`serve` from synchronous code; returns when interrupted (Ctrl-C)."""
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(**kwargs))
