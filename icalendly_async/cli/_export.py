"""A resumable, ordered, concurrent export of one list operation to a file.

Pages are fetched ``concurrency`` at a time (their offsets are known in advance) and written in
order. After each page the file is flushed and fsynced, then a checkpoint next to it records the
next offset, the record count and the file's size, replaced atomically. A resumed export cuts
the file back to the checkpoint's size, dropping whatever a crash left after it, and goes on
from the checkpoint's offset: no record is lost or written twice.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import IO, Any

import attrs

from ..client import ICalendly
from ..endpoints import Operation, PaginationStyle
from ..errors import ConfigurationError, DecodeError
from ._writers import RecordWriter, format_for

__all__ = ["ExportError", "ExportResult", "Exporter", "checkpoint_path"]

_OFFSETS = {
    PaginationStyle.TAKE_SKIP: ("take", "skip"),
    PaginationStyle.LIMIT_OFFSET: ("limit", "offset"),
}


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


def _records(data: Any, where: str) -> list[Any]:
    if isinstance(data, list):
        return data
    if isinstance(data, dict):
        lists = [v for v in data.values() if isinstance(v, list)]
        if len(lists) == 1:
            return lists[0]
    raise DecodeError(f"{where}: expected a list of records in the response data")


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
        progress: Callable[[int, int | None], None] | None = None,
    ) -> None:
        if page_size < 1 or concurrency < 1:
            raise ExportError("--page-size and --concurrency must be at least 1")
        self._client = client
        self._operation = operation
        self._path_params = path_params
        self._query = dict(query)
        self._out = out
        self._format = format_for(str(out))
        self._page_size = page_size
        self._concurrency = concurrency if operation.pagination in _OFFSETS else 1
        self._resume = resume
        self._overwrite = overwrite
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

    def _load_checkpoint(self) -> dict[str, Any] | None:
        if not self._resume:
            if self._checkpoint.exists() or (self._out.exists() and not self._overwrite):
                raise ExportError(
                    f"{self._out} already exists"
                    + (" with an unfinished export" if self._checkpoint.exists() else "")
                    + ": pass --resume to continue it or --overwrite to start again"
                )
            return None
        if not self._checkpoint.exists():
            if self._out.exists():
                raise ExportError(
                    f"nothing to resume: {self._out} has no checkpoint (the export finished, "
                    "or was never started with this file); use --overwrite to start again"
                )
            return None
        state: dict[str, Any] = json.loads(self._checkpoint.read_text())
        if state.get("fingerprint") != self._fingerprint:
            raise ExportError(
                f"the checkpoint of {self._out} belongs to another export (resource, filters or "
                "format differ); run the same command again with --resume, or --overwrite"
            )
        return state

    # -- fetching -------------------------------------------------------------------------------

    async def _fetch(self, offset: int, size: int) -> _Page:
        query = dict(self._query)
        names = _OFFSETS.get(self._operation.pagination or PaginationStyle.TAKE_SKIP)
        if self._operation.paginated and names is not None:
            query[names[0]] = size
            query[names[1]] = offset
        response = await self._client._call(self._operation, self._path_params, query=query)
        info = response.pagination or {}
        has_next = info.get("hasNextPage")
        total = info.get("totalItems")
        return _Page(
            _records(response.data, self._operation.python_name),
            has_next if isinstance(has_next, bool) else None,
            total if isinstance(total, int) and not isinstance(total, bool) else None,
        )

    # -- the run --------------------------------------------------------------------------------

    async def run(self) -> ExportResult:
        state = self._load_checkpoint()
        offset = int(state["next_offset"]) if state else 0
        written_before = int(state["records"]) if state else 0
        sink = _Sink(self._out, self._checkpoint, self._format, self._fingerprint, self._operation)
        # File work (writes, fsyncs, the checkpoint) runs in a thread, one page at a time and in
        # order, so a slow disk never stalls the requests in flight.
        await asyncio.to_thread(sink.open, state)
        finished = False
        try:
            records, pages = await self._pages(sink, offset, written_before)
            finished = True
        finally:
            await asyncio.to_thread(sink.close, finished)
        return ExportResult(
            records=records - written_before,
            total_records=records,
            pages=pages,
            resumed_from=offset if state else None,
            out=self._out,
        )

    async def _pages(self, sink: _Sink, offset: int, records: int) -> tuple[int, int]:
        if not self._operation.paginated:
            page = await self._fetch(0, self._page_size)
            count = len(page.records)
            await asyncio.to_thread(sink.append, page.records, count, count)
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
                await asyncio.to_thread(sink.append, page.records, offset, records)
                self._report(records, page.total)
                if got == 0 or got < size or page.has_next is False:
                    return records, pages
        finally:
            await _cancel(pending)

    def _report(self, records: int, total: int | None) -> None:
        if self._progress is not None:
            self._progress(records, total)


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

    def open(self, state: Mapping[str, Any] | None) -> None:
        self._out.parent.mkdir(parents=True, exist_ok=True)
        handle = self._handle = open(self._out, "r+b" if state else "wb")  # noqa: SIM115
        if state:
            handle.truncate(int(state["bytes"]))  # drop what a crash wrote after the checkpoint
            handle.seek(0, os.SEEK_END)
        self._writer = RecordWriter(handle, self._format, state.get("columns") if state else None)
        if state is None:
            self._save(0, 0, 0)

    def append(self, records: list[Any], next_offset: int, total: int) -> None:
        assert self._writer is not None
        self._writer.write(records)
        self._save(next_offset, total, self._writer.commit())

    def close(self, finished: bool) -> None:
        if self._handle is not None:
            self._handle.close()
        if finished:
            self._checkpoint.unlink(missing_ok=True)

    def _save(self, offset: int, records: int, size: int) -> None:
        state = {
            "version": 1,
            "fingerprint": self._fingerprint,
            "operation": self._operation.python_name,
            "next_offset": offset,
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
