"""A resumable, ordered export of one list operation to a file.

A collection with a time cursor (bookings: ``updatedAt``) is walked by that cursor, page after
page, never by offset (:func:`icalendly_async.sync._walk.walk_cursor`, the walk ``icalendly
sync`` makes): a record that changes while the export runs, or between a kill and the resume,
moves behind the cursor and is written again with its new state (the last line of a key is the
newest), and no record that exists throughout is skipped. An offset walk would lose one record
for good each time another one changed. Collections without one are paged by offset,
``concurrency`` pages at a time (their offsets are known in advance), written in order.

After each page the file is flushed and fsynced, then a checkpoint next to it records where the
walk is (the cursor and the keys given at it, or the next offset), the record count and the
file's size, replaced atomically. A resumed export cuts the file back to the checkpoint's size,
dropping whatever a crash left after it, and goes on from there. One export at a time writes a
file: it holds an exclusive lock on it (``flock``) from before it reads the checkpoint until the
checkpoint is gone, and a second one to the same file stops, touching neither.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
from collections.abc import Callable, Mapping
from datetime import datetime
from pathlib import Path
from typing import IO, Any

import attrs

from .._filelock import locked
from ..client import ICalendly
from ..endpoints import Operation, PaginationStyle
from ..errors import ConfigurationError
from ..sync._walk import Position, Row, first_page, instant, walk_cursor
from ._resources import Cursor
from ._writers import RecordWriter, format_for

__all__ = ["ExportError", "ExportResult", "Exporter", "checkpoint_path"]

_BY_OFFSET = (PaginationStyle.TAKE_SKIP, PaginationStyle.LIMIT_OFFSET)  # offsets known ahead


_CHECKPOINT_VERSION = 2  # 2: the cursor position of a cursor walk


class ExportError(ConfigurationError):
    """The export cannot start or resume as asked."""


def checkpoint_path(out: Path) -> Path:
    return out.with_name(out.name + ".checkpoint.json")


@attrs.frozen
class ExportResult:
    records: int  # written by this run
    total_records: int  # in the file
    pages: int
    resumed_from: int | None
    out: Path


@attrs.frozen
class _Page:
    records: list[Any]
    has_next: bool | None
    total: int | None


class Exporter:
    """Exports ``operation`` (a list operation) to ``out``, resumably.

    ``progress(records_written_so_far, total_or_None)`` is called after every page.
    """

    def __init__(
        self,
        client: ICalendly,
        operation: Operation,
        path_params: tuple[object, ...],
        query: Mapping[str, object],
        out: Path,
        *,
        page_size: int = 100,
        concurrency: int = 4,
        resume: bool = False,
        overwrite: bool = False,
        cursor: Cursor | None = None,
        progress: Callable[[int, int | None], None] | None = None,
    ) -> None:
        if page_size < 1 or concurrency < 1:
            raise ExportError("--page-size and --concurrency must be at least 1")
        folder = out.absolute().parent
        if not folder.parent.is_dir():
            raise ExportError(
                f"{out}: the directory {folder.parent} does not exist (a typo?); "
                "create it first, or write the export somewhere else"
            )
        self._client = client
        self._operation = operation
        self._path_params = path_params
        self._query = dict(query)
        self._out = out
        self._format = format_for(str(out))
        self._page_size = page_size
        self._concurrency = concurrency if operation.pagination in _BY_OFFSET else 1
        self._resume = resume
        self._overwrite = overwrite
        self._cursor = cursor
        if cursor is not None:
            self._query[cursor.sort] = "asc"
        self._progress = progress
        self._checkpoint = checkpoint_path(out)
        self._fingerprint = hashlib.sha256(
            json.dumps(
                [operation.operation_id, [str(p) for p in path_params], self._query, self._format],
                sort_keys=True,
                default=str,
            ).encode()
        ).hexdigest()[:16]

    # -- checkpoint -----------------------------------------------------------------------------

    def _load_checkpoint(self, existed: bool) -> dict[str, Any] | None:
        """The checkpoint to resume from, or ``None`` to start afresh; ``existed``: whether the
        file was there before this export opened it."""
        if not self._resume:
            if (existed or self._checkpoint.exists()) and not self._overwrite:
                raise ExportError(
                    f"{self._out} already exists"
                    + (" with an unfinished export" if self._checkpoint.exists() else "")
                    + ": pass --resume to continue it or --overwrite to start again"
                )
            return None
        if not self._checkpoint.exists():
            if existed:
                raise ExportError(
                    f"nothing to resume: {self._out} has no checkpoint (the export finished, "
                    "or was never started with this file); use --overwrite to start again"
                )
            return None
        state: dict[str, Any] = json.loads(self._checkpoint.read_text())
        if state.get("version") != _CHECKPOINT_VERSION:
            raise ExportError(
                f"the checkpoint of {self._out} was written by another version of icalendly; "
                "use --overwrite to start again"
            )
        if state.get("fingerprint") != self._fingerprint:
            raise ExportError(
                f"the checkpoint of {self._out} belongs to another export (resource, filters or "
                "format differ); run the same command again with --resume, or --overwrite"
            )
        return state

    # -- fetching -------------------------------------------------------------------------------

    async def _fetch(
        self, offset: int, size: int, extra: Mapping[str, object] | None = None
    ) -> _Page:
        records, response = await first_page(
            self._client,
            self._operation,
            self._path_params,
            {**self._query, **(extra or {})},
            page_size=size,
            skip=offset,
        )
        info = response.pagination or {}
        has_next = info.get("hasNextPage")
        total = info.get("totalItems")
        return _Page(
            records,
            has_next if isinstance(has_next, bool) else None,
            total if isinstance(total, int) and not isinstance(total, bool) else None,
        )

    # -- the run --------------------------------------------------------------------------------

    async def run(self) -> ExportResult:
        sink = _Sink(self._out, self._checkpoint, self._format, self._fingerprint, self._operation)
        existed = await asyncio.to_thread(sink.lock)
        try:
            state = self._load_checkpoint(existed)
        except BaseException:
            await asyncio.to_thread(sink.abandon, existed)
            raise
        written_before = int(state["records"]) if state else 0
        # File work (writes, fsyncs, the checkpoint) runs in a thread, one page at a time and in
        # order, so a slow disk never stalls the requests in flight.
        start = {"cursor": _mark(Position())} if self._cursor else {"next_offset": 0}
        await asyncio.to_thread(sink.open, state, start)
        finished = False
        try:
            if self._cursor is not None:
                position = _position(state["cursor"]) if state else Position()
                records, pages = await self._walk(sink, self._cursor, position, written_before)
            else:
                offset = int(state["next_offset"]) if state else 0
                records, pages = await self._pages(sink, offset, written_before)
            finished = True
        finally:
            await asyncio.to_thread(sink.close, finished)
        return ExportResult(
            records=records - written_before,
            total_records=records,
            pages=pages,
            resumed_from=written_before if state else None,
            out=self._out,
        )

    async def _walk(
        self, sink: _Sink, cursor: Cursor, position: Position, records: int
    ) -> tuple[int, int]:
        total: int | None = None

        async def fetch(after: datetime | None, skip: int) -> list[Row]:
            nonlocal total
            extra = {} if after is None else {cursor.after: after}
            page = await self._fetch(skip, self._page_size, extra)
            total = page.total if total is None else total
            return page.records

        pages = 0
        walk = walk_cursor(
            fetch, field=cursor.field, key=cursor.key, position=position, page_size=self._page_size
        )
        async for rows in walk:
            records += len(rows)
            pages += 1
            mark = {"cursor": _mark(position)}
            await asyncio.to_thread(sink.append, rows, records, mark)
            self._report(records, total)
        return records, pages

    async def _pages(self, sink: _Sink, offset: int, records: int) -> tuple[int, int]:
        if not self._operation.paginated:
            page = await self._fetch(0, self._page_size)
            count = len(page.records)
            await asyncio.to_thread(sink.append, page.records, count, {"next_offset": count})
            self._report(count, count)
            return count, 1
        size = self._page_size
        pending: dict[int, asyncio.Task[_Page]] = {}
        next_fetch = offset
        pages = 0
        try:
            while True:
                while len(pending) < self._concurrency:
                    pending[next_fetch] = asyncio.ensure_future(self._fetch(next_fetch, size))
                    next_fetch += size
                page = await pending.pop(offset)
                got = len(page.records)
                if got < size and page.has_next:
                    # The server caps the page size below ours: refetch at its size.
                    await _cancel(pending)
                    size = max(got, 1)
                    next_fetch = offset
                    continue
                offset += got
                records += got
                pages += 1
                await asyncio.to_thread(sink.append, page.records, records, {"next_offset": offset})
                self._report(records, page.total)
                if got == 0 or got < size or page.has_next is False:
                    return records, pages
        finally:
            await _cancel(pending)

    def _report(self, records: int, total: int | None) -> None:
        if self._progress is not None:
            self._progress(records, total)


def _mark(position: Position) -> dict[str, Any]:
    at = position.cursor
    return {"at": None if at is None else at.isoformat(), "seen": sorted(position.seen, key=str)}


def _position(mark: Mapping[str, Any]) -> Position:
    at = mark.get("at")
    return Position(None if at is None else instant(at, field="cursor"), set(mark["seen"]))


async def _cancel(pending: dict[int, asyncio.Task[_Page]]) -> None:
    tasks = list(pending.values())
    pending.clear()
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


class _Sink:
    """The output file, its writer and its checkpoint (synchronous: run in a thread)."""

    def __init__(
        self, out: Path, checkpoint: Path, fmt: str, fingerprint: str, operation: Operation
    ) -> None:
        self._out = out
        self._checkpoint = checkpoint
        self._format = fmt
        self._fingerprint = fingerprint
        self._operation = operation
        self._handle: IO[bytes] | None = None
        self._writer: RecordWriter | None = None

    def lock(self) -> bool:
        """Opens the file (created empty when missing) and takes its lock, before anything is
        read or written: one export per file at a time. Whether the file was there before."""
        self._out.parent.mkdir(exist_ok=True)  # its own parent exists (checked before)
        existed = self._out.exists()
        handle = os.fdopen(os.open(self._out, os.O_RDWR | os.O_CREAT, 0o666), "r+b")
        if not locked(handle):
            handle.close()
            raise ExportError(
                f"another export is writing {self._out} right now: let it finish, or stop "
                "it and run this one again (with --resume to continue where it stopped)"
            )
        self._handle = handle
        return existed

    def abandon(self, existed: bool) -> None:
        """The export does not start: the lock is released, and the file is gone if this
        export made it."""
        if not existed:
            self._out.unlink(missing_ok=True)
        self.close(False)

    def open(self, state: Mapping[str, Any] | None, start: Mapping[str, Any]) -> None:
        handle = self._handle
        assert handle is not None  # lock() first
        # a fresh export starts empty; a resumed one drops what a crash wrote after the checkpoint
        handle.truncate(int(state["bytes"]) if state else 0)
        handle.seek(0, os.SEEK_END)
        self._writer = RecordWriter(handle, self._format, state.get("columns") if state else None)
        if state is None:
            self._save(0, 0, start)

    def append(self, records: list[Any], total: int, where: Mapping[str, Any]) -> None:
        """Write ``records`` (``total`` in the file with them) and save ``where`` the walk is
        after them."""
        assert self._writer is not None
        self._writer.write(records)
        self._save(total, self._writer.commit(), where)

    def close(self, finished: bool) -> None:
        if finished:  # while the lock is held: the next export never sees a spent checkpoint
            self._checkpoint.unlink(missing_ok=True)
        if self._handle is not None:
            self._handle.close()  # releases the lock

    def _save(self, records: int, size: int, where: Mapping[str, Any]) -> None:
        state = {
            "version": _CHECKPOINT_VERSION,
            "fingerprint": self._fingerprint,
            "operation": self._operation.python_name,
            **where,
            "records": records,
            "bytes": size,
            "columns": self._writer.columns if self._writer else None,
        }
        tmp = self._checkpoint.with_name(self._checkpoint.name + ".tmp")
        with open(tmp, "w") as handle:
            json.dump(state, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, self._checkpoint)
