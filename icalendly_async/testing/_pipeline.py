"""The path of every request: faults, credential, rate limit, authentication, tier, handler.

::

    fault?          early kinds answer here (not counted, no rate-limit headers); "latency" sleeps
    present         which credential (its digest keys the rate limit; anonymous: the IP)
    rate limit      429 + error envelope when refused (no Retry-After)
    authenticate    401 unknown / missing, 498 expired access token
    tier            403 when the path's tier does not allow the credential's plan
    handler         the resource (404 for unknown routes, 501 for operations not emulated)
    validate        when on: the answer against the document (a mismatch is recorded)

Every answer from "present" on carries ``X-Request-Id`` and, when rate limits are enforced,
the ``X-RateLimit-*`` header sets. The per-request work is a few dictionary lookups.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Awaitable, Callable

from aiohttp import web

from ..plans import Tier, tier_for_path
from ._auth import authenticate, limit_for, present
from ._context import Context, RouteSpec
from ._data import OWNER_ID
from ._envelope import ApiError, reason_for
from ._faults import EARLY_KINDS, nap, respond_with_fault, trickle
from ._state import EmulatorState
from ._stats import RequestRecord
from ._validation import SchemaViolation

__all__ = ["make_handler"]

_log = logging.getLogger(__name__)
_monotonic = time.monotonic
_tier_of_path = functools.lru_cache(maxsize=2048)(tier_for_path)

_TOO_MANY = "ThrottlerException: Too Many Requests"


def _plan_error(tier: Tier, plan: object) -> ApiError:
    name = getattr(plan, "name", str(plan))
    return ApiError(
        403,
        f"This endpoint is not available on the {name.title()} plan "
        f"(it belongs to the {tier.name.title()} tier)",
        details={"tier": tier.value, "plan": getattr(plan, "value", None)},
    )


def make_handler(
    state: EmulatorState, spec: RouteSpec
) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """The aiohttp handler of one route."""
    route_tier = spec.tier
    auth = spec.auth
    handler = spec.handler
    stats = state.stats
    log = state.log
    credentials = state.credentials
    owner_id = OWNER_ID
    operation_id = spec.operation_id

    async def handle(request: web.Request) -> web.StreamResponse:
        state.counter += 1
        request_id = f"req_{state.counter}"
        stats.requests += 1
        headers = {"X-Request-Id": request_id}
        method = request.method
        path = request.path
        fault = state.faults.take(method, path) if state.faults else None
        if fault is not None:
            stats.faults += 1
            if fault.kind == "latency":
                await nap(state.closing, fault.delay)
            elif fault.kind in EARLY_KINDS:
                status = fault.effective_status
                presented = present(request.headers, None, request.remote, auth)
                stats.by_status[status] += 1
                log.append(
                    RequestRecord(
                        method,
                        path,
                        status,
                        presented.credential,
                        _monotonic(),
                        request_id,
                        fault.kind,
                    )
                )
                return await respond_with_fault(request, fault, headers, state.closing)
        now = _monotonic()
        presented = present(
            request.headers, request.match_info.get("clientId"), request.remote, auth
        )
        try:
            limits = state.limits
            if limits is not None and not limits.admit(
                presented.key,
                limit_for(presented, credentials, state.rate_limit),
                path,
                now,
                headers,
            ):
                stats.rate_limited += 1
                raise ApiError(429, _TOO_MANY)
            principal = authenticate(presented, credentials, auth, owner_id)
            tier = route_tier if route_tier is not None else _tier_of_path(path)
            if not tier.allows(principal.plan):
                raise _plan_error(tier, principal.plan)
            reply = await handler(Context(request, state, principal))
        except ApiError as error:
            reply = error.reply(request.path_qs)
        except Exception:
            _log.exception("emulator: the handler of %s %s failed", method, spec.path)
            reply = ApiError(500, "Internal server error").reply(request.path_qs)
        status = reply.status
        if reply.headers:
            headers.update(reply.headers)
        validator = state.validator
        if validator is not None:
            problem = (
                validator.check(operation_id, status, reply.body)
                if operation_id is not None
                else validator.check_error(reply.body)
            )
            if problem is not None:
                state.violations.append(
                    SchemaViolation(
                        operation_id or "(no operation)", method, request.path_qs, status, problem
                    )
                )
        stats.by_status[status] += 1
        log.append(
            RequestRecord(
                method,
                path,
                status,
                presented.credential,
                now,
                request_id,
                None if fault is None else fault.kind,
            )
        )
        reason = reason_for(status) if status == 498 else None
        if fault is not None and fault.kind == "slow_body":
            response = web.StreamResponse(status=status, reason=reason, headers=headers)
            response.content_type = reply.content_type
            return await trickle(request, response, reply.body, fault.delay, state.closing)
        return web.Response(
            body=reply.body,
            status=status,
            reason=reason,
            headers=headers,
            content_type=reply.content_type,
        )

    return handle
