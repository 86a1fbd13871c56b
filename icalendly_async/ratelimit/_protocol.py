"""The limiter protocol: what the pipeline asks of any rate limiter."""

from __future__ import annotations

import math
from typing import Protocol, runtime_checkable

from .headers import RateLimit, RateLimitState
from .priority import Priority

__all__ = ["Limiter"]


@runtime_checkable
class Limiter(Protocol):
    """Paces the requests of each credential (``key`` is the credential's ``limit_key``).

    The pipeline calls these methods, and only these. It keeps one rule: every grant (a
    ``try_acquire`` that returns ``True``, or an ``acquire`` that returns) is followed by
    exactly one ``observe`` when that attempt ends, with the response's rate-limit headers, or
    with :data:`~icalendly_async.ratelimit.headers.NO_RESPONSE` when no response came (error,
    timeout, cancellation). That pairing is how a limiter counts requests in flight.
    """

    def try_acquire(self, key: str, rate_limit: RateLimit, priority: int = Priority.NORMAL) -> bool:
        """Grant one request of ``key`` now if that needs no waiting (``False``: nothing was
        taken; call :meth:`acquire`). A limiter that must ask elsewhere (Redis) always answers
        ``False``."""
        ...

    async def acquire(
        self,
        key: str,
        rate_limit: RateLimit,
        cost: int = 1,
        *,
        priority: int = Priority.NORMAL,
        max_hold: float = math.inf,
    ) -> None:
        """Wait until ``cost`` more requests of ``key`` may start, then count them as started.

        Waiting calls of a higher ``priority`` (a :class:`Priority`) go first. Cancelling the
        wait takes nothing: a slot granted to a call cancelled before it resumes is given back.
        When the server holds the credential (a 429's block, ``Remaining: 0`` until a distant
        reset) for longer than ``max_hold`` seconds, at the call or while it waits, raise
        :class:`~icalendly_async.ratelimit.CredentialHeld` instead of waiting.
        """
        ...

    async def observe(self, key: str, state: RateLimitState) -> None:
        """Feed back what the server said about ``key`` after an attempt."""
        ...

    async def penalize(self, key: str, seconds: float) -> None:
        """Send nothing for ``key`` for ``seconds`` (after a 429: the service's block)."""
        ...

    def hold_remaining(self, key: str) -> float:
        """Seconds ``key`` is still held by the server, as far as this limiter knows (``0.0``:
        it is not): what ``max_hold`` is compared with. For diagnostics too."""
        ...
