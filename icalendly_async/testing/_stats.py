"""What the emulator observed: counters, the request log, and the window-guarantee helper."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

import attrs

__all__ = ["EmulatorStats", "RequestRecord", "max_in_window"]


@attrs.frozen(slots=True)
class RequestRecord:
    """One request the emulator received.

    ``status`` is the HTTP status sent, or ``0`` when no status line was sent (the ``"reset"``
    and ``"hang"`` faults). ``credential`` is :meth:`Emulator.credential_digest` of the
    credential the request carried (for a platform client: of its client id), ``None`` for an
    unauthenticated request; never the secret. ``received_at`` is the ``time.monotonic()`` at
    which the emulator began processing the request (after an injected ``"latency"``): the
    instant its rate limiter counted it. ``fault`` names the injected fault that hit it.
    """

    method: str
    path: str
    status: int
    credential: str | None
    received_at: float
    request_id: str
    fault: str | None = None


@attrs.define
class EmulatorStats:
    """Counters since the start (or the last :meth:`Emulator.reset_stats`).

    ``requests``: every request received, faulted or not. ``rate_limited``: 429 answers of the
    rate limiter (injected 429 faults are not counted here). ``refreshes``: token refreshes
    that issued a new pair (managed users' and OAuth partner apps'); ``refresh_failures``:
    refresh requests refused (bad, rotated or expired refresh token, wrong client secret);
    ``force_refreshes``: pairs issued by force-refresh; ``code_exchanges``: OAuth authorization
    codes exchanged for a pair. ``faults``: requests hit by an injected fault. ``by_status``:
    answers per HTTP status (``0``: connection dropped without a status line).
    """

    requests: int = 0
    rate_limited: int = 0
    refreshes: int = 0
    refresh_failures: int = 0
    force_refreshes: int = 0
    code_exchanges: int = 0
    faults: int = 0
    by_status: Counter[int] = attrs.field(factory=Counter)

    def clear(self) -> None:
        """Zero every counter (in place: the server holds this object)."""
        self.requests = self.rate_limited = self.faults = 0
        self.refreshes = self.refresh_failures = self.force_refreshes = 0
        self.code_exchanges = 0
        self.by_status.clear()


def max_in_window(records: Iterable[RequestRecord], credential: str | None, window: float) -> int:
    """The most ``records`` of ``credential`` (``None``: of every credential) received in any
    sliding window of ``window`` seconds (two requests ``window`` apart are in different ones).
    """
    times = sorted(
        record.received_at
        for record in records
        if credential is None or record.credential == credential
    )
    best = 0
    start = 0
    for end, received in enumerate(times):
        while received - times[start] >= window:
            start += 1
        best = max(best, end - start + 1)
    return best
