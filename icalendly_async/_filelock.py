"""One writer per file across processes: an exclusive ``flock`` taken without waiting (POSIX;
on Windows nothing is locked). Used by ``icalendly export`` (its output file) and ``sync()``
(a lock file per pipeline)."""

from __future__ import annotations

import sys
from typing import IO, Any

if sys.platform != "win32":
    import fcntl

__all__ = ["locked"]


def locked(handle: IO[Any]) -> bool:
    """Lock ``handle``'s file for this process until the handle is closed; ``False`` when
    another holds the lock (on Windows: ``True``, nothing locked)."""
    if sys.platform == "win32":  # pragma: no cover - no flock
        return True
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True
