"""Helpers shared by the limiter tests (local and Redis)."""

from __future__ import annotations

import time

from icalendly_async.observability import CallInfo, Observer
from icalendly_async.ratelimit import RateLimitState
from icalendly_async.ratelimit.headers import NamedLimit


def state(limit: int, remaining: int, reset: float, name: str = "Default") -> RateLimitState:
    """What a response with one ``X-RateLimit-*-<name>`` set reports."""
    return RateLimitState((NamedLimit(name, limit, remaining, reset),))


def max_in_window(times: list[float], window: float) -> int:
    """The most of ``times`` that fall within any span shorter than ``window``."""
    times = sorted(times)
    best, start = 0, 0
    for end, t in enumerate(times):
        while t - times[start] >= window:
            start += 1
        best = max(best, end - start + 1)
    return best


class Starts(Observer):
    """When each attempt starts (the limiter granted it and the client begins to send it), on
    ``time.monotonic()``: what the window guarantee is about."""

    def __init__(self) -> None:
        self.times: list[float] = []

    def on_attempt_start(self, call: CallInfo, attempt: int, limiter_wait: float) -> None:
        self.times.append(time.monotonic())
