"""What a resource handler gets (:class:`Context`); how a route is declared (:class:`RouteSpec`)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import attrs
from aiohttp import web

from ..plans import Tier
from ._auth import AuthKind, Principal
from ._envelope import Reply
from ._state import EmulatorState

__all__ = ["Context", "Handler", "RouteSpec"]


class Context:
    """One request, its checked caller and the emulator's state."""

    __slots__ = ("principal", "request", "state")

    def __init__(self, request: web.Request, state: EmulatorState, principal: Principal) -> None:
        self.request = request
        self.state = state
        self.principal = principal


Handler = Callable[[Context], Awaitable[Reply]]


@attrs.frozen
class RouteSpec:
    """One route: ``tier`` ``None`` means "from the request path" (the catch-all)."""

    method: str
    path: str
    handler: Handler
    auth: AuthKind = AuthKind.ANY
    tier: Tier | None = None
