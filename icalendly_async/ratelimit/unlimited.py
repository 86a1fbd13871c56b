"""A limiter that never waits: for benchmarks, or when something else already paces the calls."""

from __future__ import annotations

import math

from .headers import RateLimit, RateLimitState
from .priority import Priority

__all__ = ["Unlimited"]


class Unlimited:
    """Grants every request at once and ignores feedback. The service still blocks overruns."""

    def try_acquire(self, key: str, rate_limit: RateLimit, priority: int = Priority.NORMAL) -> bool:
        return True

    async def acquire(
        self,
        key: str,
        rate_limit: RateLimit,
        cost: int = 1,
        *,
        priority: int = Priority.NORMAL,
        max_hold: float = math.inf,
    ) -> None:
        return None

    async def observe(self, key: str, state: RateLimitState) -> None:
        return None

    async def penalize(self, key: str, seconds: float) -> None:
        return None

    def hold_remaining(self, key: str) -> float:
        return 0.0

    def __repr__(self) -> str:
        return "Unlimited()"
