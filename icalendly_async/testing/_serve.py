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

from ..ratelimit.headers import RateLimit
from ._info import ServerInfo
from .emulator import Emulator

__all__ = ["ServerInfo", "run", "serve"]


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
        info = emu.info
        if on_ready is not None:
            on_ready(info)
        if ready is not None and not ready.done():
            ready.set_result(info)
        await asyncio.Event().wait()


def run(**kwargs: Any) -> None:
    """:func:`serve` from synchronous code; returns when interrupted (Ctrl-C)."""
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(**kwargs))
