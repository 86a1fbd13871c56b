"""The aiohttp application: every route of :data:`ROUTES` behind the pipeline, then a 404."""

from __future__ import annotations

import attrs
from aiohttp import web

from ..plans import tier_for_path
from ._pipeline import make_handler
from ._resources import NOT_FOUND, ROUTES
from ._state import EmulatorState

__all__ = ["build_app"]


def build_app(state: EmulatorState) -> web.Application:
    """The application serving ``state``."""
    app = web.Application(handler_args={"access_log": None})
    for spec in ROUTES:
        spec = attrs.evolve(spec, tier=tier_for_path(spec.path))
        app.router.add_route(spec.method, spec.path, make_handler(state, spec))
    app.router.add_route(NOT_FOUND.method, NOT_FOUND.path, make_handler(state, NOT_FOUND))
    return app
