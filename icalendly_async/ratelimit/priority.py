"""Call priorities within one credential's queue."""

from __future__ import annotations

import enum

__all__ = ["Priority"]


class Priority(enum.IntEnum):
    """Which waiting call of a credential goes first: lower values first, FIFO within one.

    ``INTERACTIVE`` for a user waiting on the answer, ``NORMAL`` (the default) for ordinary
    work, ``BULK`` for exports and syncs that can wait. A call that has waited longer than the
    limiter's aging bound (two windows by default) is served as if it were one class higher,
    so no call starves.
    """

    INTERACTIVE = 0
    NORMAL = 1
    BULK = 2
