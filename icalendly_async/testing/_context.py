"""What a resource handler gets (:class:`Context`); how a route is declared (:class:`RouteSpec`)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import attrs
from aiohttp import web

from ..plans import Tier
from ._auth import AuthKind, Principal
from ._envelope import ApiError, Reply
from ._state import EmulatorState
from ._store.users import User

__all__ = ["Context", "Handler", "RouteSpec"]


class Context:
    """One request, its checked caller and the emulator's state."""

    __slots__ = ("principal", "request", "state")

    def __init__(self, request: web.Request, state: EmulatorState, principal: Principal) -> None:
        self.request = request
        self.state = state
        self.principal = principal

    @property
    def user(self) -> User | None:
        """The calling user (``None``: an anonymous caller)."""
        user_id = self.principal.user_id
        return None if user_id is None else self.state.data.users.get(user_id)

    def require_user(self) -> User:
        """The calling user; 401 for an anonymous caller."""
        user = self.user
        if user is None:
            raise ApiError(401, "This endpoint needs credentials: an API key or an access token")
        return user


Handler = Callable[[Context], Awaitable[Reply]]


@attrs.frozen
class RouteSpec:
    """One route. ``tier`` ``None``: from the request path (the catch-all); ``operation_id``:
    the document's operation it serves (``None``: the catch-all)."""

    method: str
    path: str
    handler: Handler
    auth: AuthKind = AuthKind.ANY
    tier: Tier | None = None
    operation_id: str | None = None
