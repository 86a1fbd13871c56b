"""``ReplayGuard`` and ``verify_and_parse``: the first API of this package, kept working.

``ReplayGuard`` remembers a delivery when it is first *seen*, so a delivery whose handler then
failed is refused on every retry: its event is lost. Use :class:`WebhookProcessor`, which marks a
delivery done only once its handler succeeded.
"""

from __future__ import annotations

import collections
import hashlib
import time
import warnings

from ..errors import ConfigurationError
from ._errors import WebhookReplayError
from ._events import WebhookEvent, parse_event
from ._signature import raw_bytes, verify

__all__ = ["ReplayGuard", "verify_and_parse"]


class ReplayGuard:
    """Refuses a delivery whose exact bytes were accepted within the last ``ttl`` seconds.

    Deprecated: it records a delivery when first seen, before any handler ran, so a retry of a
    delivery whose handler failed is refused and the event lost. Use :class:`WebhookProcessor`.
    """

    def __init__(self, ttl: float = 600.0, max_entries: int = 100_000) -> None:
        warnings.warn(
            "ReplayGuard records a delivery before it is processed, so a retry after a failed "
            "handler is refused and its event lost; use icalendly_async.webhooks."
            "WebhookProcessor (or the aiohttp/Starlette receivers) instead",
            DeprecationWarning,
            stacklevel=2,
        )
        if not ttl > 0 or max_entries < 1:
            raise ConfigurationError("ReplayGuard needs ttl > 0 and max_entries >= 1")
        self._ttl = ttl
        self._max = max_entries
        self._seen: collections.OrderedDict[bytes, float] = collections.OrderedDict()

    def check_and_remember(self, raw_body: bytes) -> None:
        """Raise :class:`WebhookReplayError` if seen within the TTL; otherwise remember it."""
        now = time.monotonic()
        seen = self._seen
        while seen:
            oldest, at = next(iter(seen.items()))
            if now - at < self._ttl and len(seen) < self._max:
                break
            del seen[oldest]
        digest = hashlib.sha256(raw_bytes(raw_body)).digest()
        if digest in seen:
            raise WebhookReplayError("this delivery was already received (a replay)")
        seen[digest] = now

    def __len__(self) -> int:
        return len(self._seen)


def verify_and_parse(
    raw_body: bytes,
    signature_header: str | bytes | None,
    secret: str | bytes | None,
    *,
    replay_guard: ReplayGuard | None = None,
) -> WebhookEvent:
    """:func:`verify`, then the replay check (when a guard is given), then :func:`parse_event`."""
    verify(raw_body, signature_header, secret)
    if replay_guard is not None:
        replay_guard.check_and_remember(raw_body)
    return parse_event(raw_body)
