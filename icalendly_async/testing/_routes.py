"""The aiohttp application: the emulated operations, a 501 for every other operation of the
document (or, with ``Emulator(document_answers=True)``, its answer built from the document),
then a 404 for anything else; all behind the same pipeline.

Routes are registered most specific first (a literal segment before a parameter at the same
place), so ``/v2/schedules/default`` is not read as ``/v2/schedules/{scheduleId}``.
"""

from __future__ import annotations

from aiohttp import web

from ._context import Context, RouteSpec
from ._envelope import ApiError, Reply
from ._pipeline import make_handler
from ._resources import NOT_FOUND, ROUTES
from ._spec import SpecOperation, operations
from ._state import EmulatorState

__all__ = ["build_app", "implemented_operations", "route_table"]


def _not_implemented(operation: SpecOperation) -> RouteSpec:
    message = (
        f"{operation.operation_id} ({operation.method} {operation.path}) "
        "is not implemented by the emulator"
    )

    async def handler(ctx: Context) -> Reply:
        answers = ctx.state.answers
        if answers is not None and answers.answers(operation.operation_id):
            return answers.reply(operation.operation_id, dict(ctx.request.query))
        raise ApiError(501, message, code="NotImplemented")

    return RouteSpec(
        operation.method,
        operation.path,
        handler,
        operation.auth,
        operation.tier,
        operation.operation_id,
    )


def _specificity(spec: RouteSpec) -> tuple[tuple[bool, ...], str, str]:
    segments = spec.path.strip("/").split("/")
    return tuple(segment.startswith("{") for segment in segments), spec.path, spec.method


def route_table() -> list[RouteSpec]:
    """Every route but the catch-all: the emulated ones and the 501s, most specific first."""
    implemented = {spec.operation_id for spec in ROUTES}
    routes = list(ROUTES)
    routes.extend(
        _not_implemented(operation)
        for operation in operations()
        if operation.operation_id not in implemented
    )
    return sorted(routes, key=_specificity)


def implemented_operations() -> list[str]:
    """The operation ids the emulator implements, in the order of its table."""
    return [spec.operation_id for spec in ROUTES if spec.operation_id is not None]


def build_app(state: EmulatorState) -> web.Application:
    """The application serving ``state``."""
    app = web.Application(handler_args={"access_log": None})
    for spec in route_table():
        app.router.add_route(spec.method, spec.path, make_handler(state, spec))
    app.router.add_route(NOT_FOUND.method, NOT_FOUND.path, make_handler(state, NOT_FOUND))
    return app
