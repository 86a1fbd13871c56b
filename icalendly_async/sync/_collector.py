"""The cyclic garbage collector during a sync: it looks at the sync's own objects only.

dlt builds several objects per row it normalizes (30,001 rows for 10,000 bookings), and enough of
them live through a collection to set off full collections, each walking every object in the
process: about 110,000 after dlt's imports, 80 ms a collection, 250-300 ms of a 2.1-2.6 s sync
(`benchmarks/sync.py`, limit lifted; measured with `gc.callbacks`). Freezing the objects that
existed before the sync (imports, the application's own state) takes them out of those walks:
the collections of a sync then cost 70 ms. They are unfrozen when the sync ends, so a cycle
among them that became garbage meanwhile is collected then, not lost.

An application that freezes objects itself (`gc.freeze()` before forking workers) is left to
do so: nothing is frozen or unfrozen while it has frozen objects. Syncs running at the same time
in several threads share one freeze, undone when the last of them ends.
"""

from __future__ import annotations

import contextlib
import gc
import threading
from collections.abc import Iterator

__all__ = ["collector_on_new_objects"]

_lock = threading.Lock()
_syncs = 0  # syncs running under the freeze this module made


@contextlib.contextmanager
def collector_on_new_objects() -> Iterator[None]:
    """While the block runs, the collector looks only at objects created after it started."""
    global _syncs
    with _lock:
        ours = _syncs > 0 or gc.get_freeze_count() == 0
        if ours:
            if _syncs == 0:
                gc.freeze()
            _syncs += 1
    try:
        yield
    finally:
        if ours:
            with _lock:
                _syncs -= 1
                if _syncs == 0:
                    gc.unfreeze()
