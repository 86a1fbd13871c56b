"""Running the source into a destination named by a URL, and what the run did.

:func:`sync` is what ``icalendly sync`` runs: it makes (or reopens) the dlt pipeline of that
destination and account, finishes whatever a killed run left to load, runs the source, and counts
the rows of each table before and after so that it can say how many rows were new and how many
updated. It blocks; from async code call it through ``asyncio.to_thread``.
"""

from __future__ import annotations

import contextlib
import getpass
import hashlib
import logging
import os
import re
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, cast
from urllib.parse import urlsplit, urlunsplit

import attrs
import dlt
from dlt.common import logger as dlt_logger
from dlt.common.destination import Destination
from dlt.common.destination.exceptions import DestinationUndefinedEntity
from dlt.common.exceptions import DltException
from dlt.common.pipeline import get_dlt_pipelines_dir
from dlt.common.typing import TLoaderFileFormat, TRefreshMode
from dlt.destinations.impl.postgres.configuration import PostgresCredentials
from dlt.extract import DltSource
from dlt.pipeline.exceptions import PipelineStepFailed

from .._filelock import locked
from .._request import DEFAULT_BASE_URL
from ..auth import Credential
from ..errors import ConfigurationError, ICalendlyError
from ..plans import Plan
from ..ratelimit import Limiter
from ._catalog import DEFAULT_CHUNK_SECONDS, DEFAULT_LOOKBACK, RESOURCES
from ._collector import collector_on_new_objects
from ._duckdb import duckdb
from ._source import chunked_sources, configure
from ._stats import ResourceStats, SyncStats

__all__ = [
    "DEFAULT_DATASET",
    "DEFAULT_DESTINATION",
    "SyncError",
    "SyncResult",
    "TableResult",
    "destination_for",
    "sync",
]

log = logging.getLogger("icalendly_async.sync")

DEFAULT_DESTINATION = "duckdb:///icalendly.duckdb"
DEFAULT_DATASET = "icalendly_dataset"  # dlt's own default: the pipeline's name + "_dataset"

# The loader file format per destination: DuckDB's default (INSERT statements) cost ten times
# the time and 1.2 GB for 10,000 bookings; JSON Lines loads them in one COPY.
_FORMATS: dict[str, TLoaderFileFormat] = {"duckdb": "jsonl"}


class SyncError(ICalendlyError):
    """A sync failed: ``step`` is dlt's (``extract``, ``normalize``, ``load``), ``connect``
    when the database could not be reached before anything ran, or ``start`` when another sync
    of the same pipeline was running; ``cause`` the error underneath. What was loaded stays
    loaded, the cursors stay where the last successful run left them, and data extracted but
    not loaded is loaded first by the next run."""

    def __init__(self, step: str, cause: BaseException) -> None:
        self.step = step
        self.cause = cause
        what = {
            "start": "starting",
            "connect": "connecting to the database",
            "extract": "reading the API",
            "normalize": "preparing the rows",
        }.get(step, "loading into the database")
        said = " ".join(str(cause).split())  # one line: drivers' messages run over several
        super().__init__(f"sync failed while {what}: {type(cause).__name__}: {said}")


def _root_cause(error: BaseException) -> BaseException:
    """The error that started it: ours (or Ctrl-C) if one is in the chain, else the innermost."""
    seen: list[BaseException] = []
    current: BaseException | None = error
    while current is not None and current not in seen:
        seen.append(current)
        if isinstance(current, ICalendlyError | KeyboardInterrupt):
            return current
        inner = getattr(current, "exception", None)
        current = inner if isinstance(inner, BaseException) else current.__cause__
    return seen[-1]


def _sync_error(step: str, error: BaseException) -> BaseException:
    """What a failed dlt step raises from :func:`sync`: a :class:`SyncError`, or the
    ``KeyboardInterrupt`` dlt wrapped when Ctrl-C stopped the run (a program stopped by its user
    stops as Python programs do, not as a failed sync)."""
    cause = _root_cause(error)
    if isinstance(cause, KeyboardInterrupt):
        return KeyboardInterrupt()  # a new one: raised from dlt's error, whose chain holds this
    return SyncError(step, cause)


@attrs.frozen
class TableResult:
    """What a run did to one resource's table. ``new``/``updated`` are ``None`` when the table
    could not be counted."""

    name: str
    rows: int  # distinct rows (by primary key) loaded into the table by this run
    new: int | None  # rows the table did not have before
    updated: int | None  # rows it had, replaced by newer ones
    requests: int
    rate_limited: int  # 429 answers
    seconds: float
    left_out: str | None = None  # why the resource was not synced


@attrs.frozen
class SyncResult:
    """What :func:`sync` did."""

    tables: tuple[TableResult, ...]
    seconds: float
    destination: str  # the URL, password removed
    dataset_name: str
    pipeline_name: str
    finished_pending: bool  # a previous run's data was loaded first
    load_info: Any = attrs.field(repr=False, eq=False)  # dlt's, of the last run
    # dlt's trace of each run (the sync loads in chunks: see ``chunk_seconds``)
    traces: tuple[Any, ...] = attrs.field(default=(), repr=False, eq=False)

    @property
    def rate_limited(self) -> int:
        """429 answers in all."""
        return sum(table.rate_limited for table in self.tables)


def redact(url: str) -> str:
    """``url`` without its password."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    user = f"{parts.username}:***@" if parts.username else ":***@"
    port = f":{parts.port}" if parts.port else ""
    return urlunsplit((parts.scheme, f"{user}{host}{port}", parts.path, parts.query, ""))


def destination_for(to: str) -> tuple[Destination[Any, Any], TLoaderFileFormat | None]:
    """The dlt destination a URL names, and the loader file format to use with it.

    ``duckdb:///relative/file.duckdb`` or ``duckdb:////absolute/file.duckdb`` (SQLAlchemy's and
    dlt's reading), or a plain path ending ``.duckdb``; ``postgres://`` or ``postgresql://``
    ``user@host:port/database`` (the password from ``PGPASSWORD`` rather than the URL, which
    other users of the machine can read in the process list).
    """
    if not isinstance(to, str) or not to.strip():
        raise ConfigurationError("the destination must be a URL such as duckdb:///icalendly.duckdb")
    text = to.strip()
    scheme = text.split(":", 1)[0].lower() if "://" in text else ""
    if scheme == "duckdb" or (not scheme and text.endswith((".duckdb", ".db"))):
        if scheme and not text.startswith("duckdb:///"):
            raise ConfigurationError(
                f"{text!r}: write duckdb:///relative/file.duckdb or duckdb:////absolute/file.duckdb"
            )
        path = text[len("duckdb:///") :] if scheme else text
        if not path or path == ":memory:":
            raise ConfigurationError(
                f"{text!r}: give a DuckDB file, e.g. duckdb:///icalendly.duckdb (an in-memory "
                "database ends with the process, and the cursors with it)"
            )
        parent = Path(path).expanduser().absolute().parent
        if not parent.is_dir():
            raise ConfigurationError(f"{redact(text)}: the directory {parent} does not exist")
        return duckdb(str(Path(path).expanduser())), _FORMATS["duckdb"]
    if scheme in ("postgres", "postgresql"):
        parts = urlsplit(text)
        if not parts.hostname or not parts.path.strip("/"):
            raise ConfigurationError(
                f"{redact(text)}: give host and database, e.g. postgresql://user@host:5432/db"
            )
        try:
            import psycopg2  # noqa: F401  (dlt's PostgreSQL driver)
        except ImportError:  # pragma: no cover - depends on the installation
            raise ConfigurationError(
                "loading into PostgreSQL needs psycopg2: pip install 'dlt[postgres]'"
            ) from None
        credentials = PostgresCredentials()
        credentials.parse_native_representation(urlunsplit(("postgresql", *parts[1:])))
        # dlt insists on a user and a password; libpq does not: the user is PGUSER's, else the
        # login name, and no password is needed with trust or peer authentication, ~/.pgpass.
        credentials.username = parts.username or os.environ.get("PGUSER") or getpass.getuser()
        credentials.password = parts.password or os.environ.get("PGPASSWORD") or ""
        return dlt.destinations.postgres(credentials=credentials), _FORMATS.get("postgres")
    raise ConfigurationError(
        f"{redact(text)}: unknown destination; use duckdb:///file.duckdb or postgresql://…"
    )


def _format(file_format: TLoaderFileFormat | None) -> TLoaderFileFormat:
    return cast(TLoaderFileFormat, file_format)  # dlt reads None as "the destination's own"


def pipeline_name_for(
    to: str, dataset_name: str, base_url: str, credentials: Sequence[Credential]
) -> str:
    """A pipeline name of its own per destination, dataset, server and account: the cursors
    of one account never move another's."""
    seed = "\n".join(
        [redact(to.strip()), dataset_name, base_url, *sorted(c.limit_key for c in credentials)]
    )
    return "icalendly_" + hashlib.sha256(seed.encode()).hexdigest()[:12]


def _table_counts(pipeline: dlt.Pipeline, names: Iterable[str]) -> dict[str, int | None]:
    counts: dict[str, int | None] = {}
    try:
        with pipeline.sql_client() as client:
            for name in names:
                table = client.make_qualified_table_name(name)
                try:
                    rows = client.execute_sql(f"SELECT COUNT(*) FROM {table}")
                except DestinationUndefinedEntity:
                    counts[name] = 0
                else:
                    counts[name] = int(rows[0][0]) if rows else 0
    except DestinationUndefinedEntity:
        counts = dict.fromkeys(names, 0)
    except DltException:
        raise
    except Exception as exc:  # the driver's own (psycopg2, duckdb): the database is not there
        raise SyncError("connect", exc) from exc
    return counts


def _settings(pipeline_name: str) -> dict[str, object]:
    """dlt settings for this pipeline alone (dlt reads a pipeline's own section first): its
    working files are written uncompressed (gzip took a fifth of the normalize step, and DuckDB
    reads plain files faster: benchmarks/sync.py, limit lifted), and deleted once loaded rather
    than kept, so that runs on a schedule do not pile them up."""
    return {
        f"{pipeline_name}.data_writer.disable_compression": True,
        f"{pipeline_name}.load.delete_completed_jobs": True,
    }


@contextlib.contextmanager
def _one_at_a_time(pipelines_dir: str | None, name: str) -> Iterator[None]:
    """One sync of a pipeline at a time on this machine: two at once (an overlapping cron job)
    shared dlt's working files, and one loaded or deleted what the other had extracted. An
    exclusive lock on a file next to the pipeline's working directory, held for the sync."""
    if sys.platform == "win32":  # pragma: no cover - no flock
        yield
        return
    folder = Path(pipelines_dir or get_dlt_pipelines_dir())
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / f"{name}.lock", "a") as handle:
        if not locked(handle):
            raise SyncError(
                "start",
                RuntimeError(
                    f"another sync of pipeline {name} (this destination, dataset and account) "
                    "is running on this machine: let it finish, then run this one"
                ),
            )
        yield


@contextlib.contextmanager
def _one_connection(destination: Destination[Any, Any]) -> Iterator[Destination[Any, Any]]:
    """A DuckDB file's destination on one connection, opened here and closed on the way out.

    dlt otherwise opens and closes the file for each step and each count (5 times in a run,
    20-30 ms each with the checkpoint of the close), and a fresh connection reads the tables
    again: the load step of 10,000 bookings took 0.91-1.52 s, and 0.67-0.95 s on one connection
    (benchmarks/sync.py, limit lifted, 4 alternating pairs). Anything else as it is."""
    path = destination.config_params.get("credentials")
    if not isinstance(destination, duckdb) or not isinstance(path, str):
        yield destination
        return
    import duckdb as duckdb_module

    try:
        connection = duckdb_module.connect(path)
    except duckdb_module.Error as exc:  # in use by another process, not a DuckDB file...
        raise SyncError("connect", exc) from exc
    try:
        yield duckdb(connection)
    finally:
        connection.close()


class _UntypedColumnsNote(logging.Filter):
    """Drops dlt's note on the columns that are null in every row so far, a dozen lines per
    table on a first sync telling the author of a dlt resource to declare their types: here the
    column is created when its first value arrives. Said in one line at debug level instead."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.funcName != "verify_normalized_table":
            return True
        text = record.getMessage()
        if "could not have their types inferred" not in text:
            return True
        table = re.search(r"in table '([^']+)'", text)
        columns = [line[4:] for line in text.splitlines() if line.startswith("  - ")]
        log.debug(
            "%s: no values yet in %s (columns created when they arrive)",
            table.group(1) if table else "?",
            ", ".join(columns),
        )
        return False


@contextlib.contextmanager
def _untyped_columns_quiet() -> Iterator[None]:
    target: logging.Logger | None = dlt_logger.LOGGER  # set up by dlt.pipeline()
    if target is None:
        yield
        return
    note = _UntypedColumnsNote()
    target.addFilter(note)
    try:
        yield
    finally:
        target.removeFilter(note)


def sync(
    credential: Credential | Sequence[Credential],
    to: str = DEFAULT_DESTINATION,
    *,
    resources: Iterable[str] | None = None,
    plan: Plan | None = None,
    base_url: str = DEFAULT_BASE_URL,
    allow_insecure_http: bool = False,
    lookback: float = DEFAULT_LOOKBACK,
    since: datetime | None = None,
    page_size: int = 100,
    limiter: Callable[[], Limiter] | None = None,
    client_options: Mapping[str, Any] | None = None,
    dataset_name: str = DEFAULT_DATASET,
    pipeline_name: str | None = None,
    pipelines_dir: str | None = None,
    full_refresh: bool = False,
    progress: Callable[[ResourceStats], None] | None = None,
    chunk_seconds: float = DEFAULT_CHUNK_SECONDS,
) -> SyncResult:
    """Sync the API into the destination ``to`` (see :func:`destination_for`); blocks.

    The source's options are :func:`icalendly_source`'s. ``full_refresh``: drop the selected
    resources' tables and cursors first, and read everything again. ``progress`` is called (from
    dlt's thread) whenever a resource's figures change. dlt keeps the pipeline's working files and
    state under ``pipelines_dir`` (default: dlt's, ``~/.dlt/pipelines``) and in the destination
    itself, so a run on another machine resumes from the same cursors.

    The bookings are loaded in chunks: dlt runs again every ``chunk_seconds`` of reading (and,
    under a binding rate limit, after each window's worth of pages), going on from where the
    walk stopped, so the cursor is saved as the sync goes and a chunk is normalized and loaded
    while the next one's requests wait for the limiter instead of all of it after the last
    page.
    """
    destination, file_format = destination_for(to)
    if file_format == "jsonl" and Path(urlsplit(to).path or to).stem == dataset_name:
        raise ConfigurationError(
            f"the dataset may not be called {dataset_name!r} like the DuckDB file: DuckDB could "
            f"not tell the schema from the database in {dataset_name}.bookings"
        )
    credentials = (credential,) if isinstance(credential, Credential) else tuple(credential)
    stats = SyncStats(on_change=progress)
    config, wanted = configure(
        credentials,
        resources=resources,
        plan=plan,
        base_url=base_url,
        allow_insecure_http=allow_insecure_http,
        lookback=lookback,
        since=since,
        page_size=page_size,
        limiter=limiter,
        stats=stats,
        client_options=client_options,
    )
    sources = chunked_sources(config, wanted, since, chunk_seconds)
    source = next(sources)  # checks the options, before anything is created
    name = pipeline_name or pipeline_name_for(to, dataset_name, base_url, credentials)
    started = time.monotonic()
    names = list(source.selected_resources)
    traces: list[Any] = []
    try:
        with (
            _one_at_a_time(pipelines_dir, name),
            collector_on_new_objects(),
            _one_connection(destination) as destination,
            dlt.config.values(_settings(name)),
        ):
            pipeline = dlt.pipeline(
                pipeline_name=name,
                destination=destination,
                dataset_name=dataset_name,
                pipelines_dir=cast(str, pipelines_dir),  # dlt reads None as "its default"
            )
            with _untyped_columns_quiet():  # after dlt.pipeline(), which sets dlt's logger up
                finished_pending = pipeline.has_pending_data
                if finished_pending:  # a killed run extracted (or normalized) data it did not load
                    pipeline.normalize()
                    pipeline.load()
                before = {} if full_refresh else _table_counts(pipeline, names)
                refresh = "drop_resources" if full_refresh else None
                chunk: DltSource | None = source
                while chunk is not None:  # one dlt run per chunk
                    info = pipeline.run(
                        chunk,
                        loader_file_format=_format(file_format),
                        refresh=cast(TRefreshMode, refresh),
                    )
                    traces.append(pipeline.last_trace)
                    refresh = None  # the first run dropped them
                    chunk = next(sources, None)
                after = _table_counts(pipeline, names)
    except PipelineStepFailed as exc:
        raise _sync_error(str(exc.step), exc.exception) from exc
    except DltException as exc:  # the database before or after the run: counting, connecting
        raise _sync_error("load", exc) from exc
    tables = []
    for resource in [*names, *(n for n in stats.resources if n not in names)]:
        figures = stats[resource]
        before_count, after_count = before.get(resource, 0), after.get(resource)
        new = None if after_count is None or before_count is None else after_count - before_count
        updated = None if new is None else max(0, len(figures.keys) - new)
        tables.append(
            TableResult(
                name=resource,
                rows=len(figures.keys),
                new=new,
                updated=updated,
                requests=figures.requests,
                rate_limited=figures.rate_limited,
                seconds=figures.seconds,
                left_out=figures.left_out,
            )
        )
    order = {name: index for index, name in enumerate(RESOURCES)}
    tables.sort(key=lambda table: order.get(table.name, len(order)))
    return SyncResult(
        tables=tuple(tables),
        seconds=time.monotonic() - started,
        destination=redact(to),
        dataset_name=dataset_name,
        pipeline_name=name,
        finished_pending=finished_pending,
        load_info=info,
        traces=tuple(traces),
    )
