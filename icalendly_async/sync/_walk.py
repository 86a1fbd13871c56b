"""Reading a collection page by page: by a time cursor, or whole (no dlt here).

:func:`walk_cursor` pages by the cursor itself, never by offset: each request asks for the rows
whose ``field`` is at or after the last value seen, in that order, and drops the rows it has
already given at exactly that value (ties broken by ``key``). An offset walk over a list sorted
by update time loses a row for good when another row changes during the walk (the changed row
moves to the end and every row behind it moves up one place, past the offset); the cursor walk
cannot, because a position is a value of the cursor, not a count of rows. It asks for one
millisecond before the cursor so that a server reading ``after`` as strictly after still
returns the rest of a tie.

A row changed behind the walk (stamped earlier than the cursor, but visible only after the walk
passed: a commit that lands late, a replica) is not seen by this walk; the next run re-reads a
lookback window before its saved cursor for exactly that (``icalendly_async.sync``).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Mapping
from datetime import datetime, timedelta, timezone
from typing import Any, TypeVar

import attrs

from ..endpoints import Operation
from ..errors import DecodeError
from ..pagination import AsyncPaginator
from ..response import Response

__all__ = ["Fetch", "Position", "Row", "fetch_all", "first_page", "instant", "walk_cursor"]

Row = dict[str, Any]
Fetch = Callable[[datetime | None, int], Awaitable[list[Row]]]
"""``fetch(after, skip)``: the page of rows whose cursor is at or after ``after`` (``None``: from
the first), in cursor order, skipping ``skip`` of them."""

_TICK = timedelta(milliseconds=1)  # the service's resolution
T = TypeVar("T")


def instant(value: object, *, field: str = "value") -> datetime:
    """An ISO 8601 date-time from the API as an aware ``datetime`` (UTC when it has no zone)."""
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str):
        text = value.strip()
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            raise DecodeError(f"{field}: expected an ISO 8601 date-time, got {value!r}") from None
    else:
        raise DecodeError(f"{field}: expected an ISO 8601 date-time, got {value!r}")
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=timezone.utc)


@attrs.define
class Position:
    """Where a cursor walk is: the last ``cursor`` value given (``None``: before the first row),
    and the keys of the rows given with exactly that value. Kept, it resumes a walk exactly."""

    cursor: datetime | None = None
    seen: set[object] = attrs.field(factory=set)


async def walk_cursor(
    fetch: Fetch,
    *,
    field: str,
    key: str,
    position: Position,
    page_size: int,
) -> AsyncGenerator[list[Row], None]:
    """Every row whose ``field`` is at or after ``position`` and not given there already,
    page by page in ``field`` order, each given once per walk (a row that changes during the
    walk may be given again, newer: keep the last). ``position`` moves with each page given."""
    skip = 0
    while True:
        base = position.cursor
        rows = await fetch(None if base is None else base - _TICK, skip)
        fresh: list[Row] = []
        for row in rows:
            if not isinstance(row, dict):
                raise DecodeError(f"expected a JSON object per row, got {type(row).__name__}")
            moment = instant(row.get(field), field=field)
            cursor = position.cursor
            if cursor is not None and moment <= cursor:
                if moment < cursor or row.get(key) in position.seen:
                    continue  # before the cursor (the margin), or given already
                position.seen.add(row.get(key))
            else:
                position.cursor, position.seen = moment, {row.get(key)}
            fresh.append(row)
        if fresh:
            yield fresh
        if len(rows) < page_size:
            return
        # A new cursor: ask from it. The same one (a page inside a run of rows stamped alike):
        # step over what this request already returned.
        skip = 0 if position.cursor != base else skip + len(rows)


async def first_page(
    client: Any,
    operation: Operation,
    path_params: tuple[object, ...],
    query: Mapping[str, object],
    *,
    page_size: int,
    skip: int = 0,
) -> tuple[list[Row], Response]:
    """One page of a list operation, as the JSON the server sent (no models are built)."""
    paginator: AsyncPaginator[Any] = AsyncPaginator(
        client,
        operation,
        path_params,
        query=query,
        page_size=page_size,
        start=skip or None,
        prefetch=False,
    )
    async with _closing(paginator.pages(decode=False, prefetch=False)) as pages:
        async for page in pages:
            return list(page.items), page.response
    raise DecodeError(f"{operation.python_name}: the server sent no page")  # pragma: no cover


@contextlib.asynccontextmanager
async def _closing(pages: AsyncIterator[T]) -> AsyncIterator[AsyncIterator[T]]:
    """``pages``, closed on the way out (a walk left early cancels its prefetch)."""
    try:
        yield pages
    finally:
        close = getattr(pages, "aclose", None)
        if close is not None:
            await close()


async def fetch_all(
    client: Any,
    operation: Operation,
    path_params: tuple[object, ...] = (),
    query: Mapping[str, object] | None = None,
    *,
    page_size: int = 100,
) -> AsyncIterator[list[Row]]:
    """Every row of a list operation, page by page (one request when it does not page)."""
    if not operation.paginated:
        response = await client._call(operation, path_params, query=query or None)
        data = response.data
        rows = data if isinstance(data, list) else [data] if isinstance(data, dict) else []
        if rows:
            yield rows
        return
    paginator: AsyncPaginator[Any] = AsyncPaginator(
        client, operation, path_params, query=query, page_size=page_size
    )
    async with _closing(paginator.pages(decode=False)) as pages:
        async for page in pages:
            if page.items:
                yield list(page.items)
