"""The service's rate limiter: a fixed window per credential, and a block after an overrun.

For each named limit and credential key:

* the window opens at the first request and lasts ``window_seconds``; the next request after
  it ends opens a new one;
* the request that makes the count exceed ``limit`` gets 429 and blocks the key for
  ``block_seconds`` (default: the limit's window) from that moment; every request during the
  block gets 429 and is not counted; the first request after the block opens a new window;
* every answer carries ``X-RateLimit-{Limit,Remaining,Reset}-<Name>``, ``Reset`` being the
  whole seconds (rounded up) until the window, or the block, ends.

``Default`` applies to every request; each extra named limit applies to the paths under its
prefix, is counted independently of ``Default`` and blocks only those paths.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping

import attrs

from ..ratelimit.headers import RateLimit

__all__ = ["FixedWindowLimiter", "RateLimits"]

_NAME = re.compile(r"^[A-Za-z0-9_]+$")


def _whole_seconds(seconds: float) -> int:
    """Seconds rounded up, as the service sends them; ``(now + 60) - now`` is 60, not 61."""
    return max(0, math.ceil(seconds - 1e-6))


@attrs.define(slots=True)
class _Window:
    ends_at: float
    count: int = 0
    blocked_until: float | None = None


class FixedWindowLimiter:
    """Fixed windows and blocks for one named limit, keyed by credential."""

    __slots__ = ("_block_seconds", "_windows")

    def __init__(self, block_seconds: float | None) -> None:
        self._block_seconds = block_seconds
        self._windows: dict[str, _Window] = {}

    def hit(self, key: str, limit: RateLimit, now: float) -> tuple[bool, int, int]:
        """Count one request of ``key`` at ``now``: ``(admitted, remaining, reset_seconds)``."""
        window = self._windows.get(key)
        if window is not None and window.blocked_until is not None:
            if now < window.blocked_until:
                return False, 0, _whole_seconds(window.blocked_until - now)
            window = None
        if window is None or now >= window.ends_at:
            window = _Window(now + limit.window_seconds)
            self._windows[key] = window
        window.count += 1
        if window.count > limit.limit:
            block = limit.window_seconds if self._block_seconds is None else self._block_seconds
            window.blocked_until = now + block
            return False, 0, _whole_seconds(block)
        return True, limit.limit - window.count, _whole_seconds(window.ends_at - now)

    def clear(self) -> None:
        """Forget every window and block."""
        self._windows.clear()


@attrs.frozen
class _Rule:
    name: str
    prefix: str
    limit: RateLimit
    limiter: FixedWindowLimiter
    headers: tuple[str, str, str]


def _header_names(name: str) -> tuple[str, str, str]:
    return (
        f"X-RateLimit-Limit-{name}",
        f"X-RateLimit-Remaining-{name}",
        f"X-RateLimit-Reset-{name}",
    )


class RateLimits:
    """The ``Default`` limit plus the extra named limits, with their response headers."""

    __slots__ = ("_default", "_default_headers", "_rules")

    def __init__(
        self,
        *,
        block_seconds: float | None,
        extra_limits: Mapping[str, tuple[str, RateLimit]],
    ) -> None:
        self._default = FixedWindowLimiter(block_seconds)
        self._default_headers = _header_names("Default")
        rules = []
        for name, (prefix, limit) in extra_limits.items():
            if not _NAME.match(name) or name.lower() == "default":
                raise ValueError(
                    f"extra limit name {name!r} must be letters, digits or '_' and not 'Default'"
                )
            if not prefix.startswith("/"):
                raise ValueError(f"extra limit {name!r}: the prefix must start with '/'")
            if not isinstance(limit, RateLimit):
                raise TypeError(f"extra limit {name!r}: expected a RateLimit, got {limit!r}")
            rules.append(
                _Rule(name, prefix, limit, FixedWindowLimiter(block_seconds), _header_names(name))
            )
        self._rules = tuple(rules)

    def admit(
        self, key: str, limit: RateLimit, path: str, now: float, headers: dict[str, str]
    ) -> bool:
        """Count a request of ``key`` to ``path`` against every limit that applies to it.

        Writes the header sets into ``headers``; ``False`` when any limit refuses it.
        """
        admitted, remaining, reset = self._default.hit(key, limit, now)
        limit_header, remaining_header, reset_header = self._default_headers
        headers[limit_header] = str(limit.limit)
        headers[remaining_header] = str(remaining)
        headers[reset_header] = str(reset)
        for rule in self._rules:
            if path.startswith(rule.prefix):
                ok, remaining, reset = rule.limiter.hit(key, rule.limit, now)
                admitted = admitted and ok
                limit_header, remaining_header, reset_header = rule.headers
                headers[limit_header] = str(rule.limit.limit)
                headers[remaining_header] = str(remaining)
                headers[reset_header] = str(reset)
        return admitted

    def clear(self) -> None:
        """Forget every window and block of every limit."""
        self._default.clear()
        for rule in self._rules:
            rule.limiter.clear()
