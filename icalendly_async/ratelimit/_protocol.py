"""The limiter protocol: what the session asks of any rate limiter."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from .headers import RateLimit, RateLimitState
from .priority import Priority

__all__ = ["Limiter"]


@runtime_checkable
class Limiter(Protocol):
    """Paces the requests of each credential (``key`` is the credential's ``limit_key``).

    The session keeps one rule: every ``acquire`` that returns is followed by exactly one
    ``observe`` when that attempt ends, with the response's rate-limit headers, or with
    :meth:`RateLimitState.no_response` when no response came (error, timeout, cancellation).
    That pairing is how a limiter counts requests in flight.
    """

    async def acquire(
        self, key: str, rate_limit: RateLimit, cost: int = 1, *, priority: int = Priority.NORMAL
    ) -> None:
        """Wait until ``cost`` more requests of ``key`` may start, then count them as started.

        Waiting calls of a higher ``priority`` (a :class:`Priority`) go first.
        """
        ...

    async def observe(self, key: str, state: RateLimitState) -> None:
        """Feed back what the server said about ``key`` after an attempt."""
        ...

    async def penalize(self, key: str, seconds: float) -> None:
        """Send nothing for ``key`` for ``seconds`` (after a 429: the service's block)."""
        ...
