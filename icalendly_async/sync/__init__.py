"""Sync the iCalendly API into a database with dlt (extra ``sync``: ``pip install
'icalendly-async[sync]'``).

::

    import dlt
    from icalendly_async import ApiKey
    from icalendly_async.sync import icalendly_source

    pipeline = dlt.pipeline("icalendly", destination="duckdb", dataset_name="icalendly")
    pipeline.run(icalendly_source(ApiKey("ical_…")), loader_file_format="jsonl")

:func:`icalendly_source` is a dlt source (one resource per collection, merged on its primary
key, bookings loaded incrementally by their ``updatedAt`` cursor); :func:`sync` runs it into a
destination given as a URL (``duckdb:///path/file.duckdb``, ``postgresql://…``) and reports
rows loaded, new and updated per table. ``pipeline.run()`` blocks: from async code, call it (or
:func:`sync`) through ``await asyncio.to_thread(...)``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._catalog import DEFAULT_LOOKBACK, RESOURCES
from ._stats import ResourceStats, SyncStats

if TYPE_CHECKING:
    from ._run import SyncError, SyncResult, TableResult, destination_for, sync
    from ._source import icalendly_source

__all__ = [
    "DEFAULT_LOOKBACK",
    "RESOURCES",
    "ResourceStats",
    "SyncError",
    "SyncResult",
    "SyncStats",
    "TableResult",
    "destination_for",
    "icalendly_source",
    "sync",
]

_LAZY = {
    "icalendly_source": "._source",
    "SyncError": "._run",
    "SyncResult": "._run",
    "TableResult": "._run",
    "destination_for": "._run",
    "sync": "._run",
}


def __getattr__(name: str) -> Any:
    """The names that need dlt, imported on first use with a clear error when it is missing."""
    module_name = _LAZY.get(name)
    if module_name is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    try:
        module = importlib.import_module(module_name, __name__)
    except ImportError as exc:
        if exc.name is None or not exc.name.startswith("dlt"):
            raise
        raise ImportError(
            f"icalendly_async.sync.{name} needs dlt: pip install 'icalendly-async[sync]' "
            f"(and 'dlt[postgres]' to load into PostgreSQL)"
        ) from exc
    return getattr(module, name)
