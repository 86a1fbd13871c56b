"""Paging through list endpoints.

A list method returns an :class:`AsyncPaginator` without sending anything::

    page = await client.bookings.list(take=50)          # the first page: items + pagination info
    async for booking in client.bookings.list():        # every item of every page
        ...
    async for page in client.bookings.list().pages():   # page by page
        ...
    first_ten = await client.bookings.list(max_items=10).collect()

Every list method returns one, whether or not the operation pages. Three styles
(:class:`~icalendly_async.endpoints.PaginationStyle`): ``take``/``skip`` and ``limit``/``offset``
(the offset moves by the number of items received) and cursors (the next cursor comes from the
envelope's ``pagination``); a list operation without paging parameters answers everything in
one page.

The walk stops at the first of: ``max_items`` items; an empty page; ``hasNextPage: false`` when
the server sends pagination info; otherwise a short page (fewer items than asked for, or than
the first page had when no page size was given); no next cursor (cursor style). When the server
says ``hasNextPage: true`` the walk goes on even after a short page: servers cap page sizes.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Generator, Iterator, Mapping
from contextlib import aclosing
from typing import TYPE_CHECKING, Any, Generic, Literal, TypeVar, overload

import attrs

from .endpoints._base import SupportsCall, Timeout, decode_error, record
from .endpoints._operation import Operation, PaginationStyle
from .errors import ConfigurationError
from .models._decode import Mismatch, in_list

if TYPE_CHECKING:
    from .response import Response

__all__ = ["AsyncPaginator", "Page", "PageInfo"]

T = TypeVar("T")

_PARAMS: dict[PaginationStyle, tuple[str, str]] = {
    PaginationStyle.TAKE_SKIP: ("take", "skip"),
    PaginationStyle.LIMIT_OFFSET: ("limit", "offset"),
    PaginationStyle.CURSOR: ("limit", "cursor"),
}


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _bool(value: object) -> bool | None:
    return value if isinstance(value, bool) else None


@attrs.frozen
class PageInfo:
    """The envelope's ``pagination`` object (``PaginationMetaDto``), as far as it was sent."""

    total_items: int | None = None
    remaining_items: int | None = None
    returned_items: int | None = None
    items_per_page: int | None = None
    current_page: int | None = None
    total_pages: int | None = None
    has_next_page: bool | None = None
    has_previous_page: bool | None = None
    next_cursor: str | None = None
    raw: Mapping[str, Any] = attrs.field(factory=dict, repr=False)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> PageInfo:
        cursor = data.get("nextCursor", data.get("next_cursor"))
        return cls(
            total_items=_int(data.get("totalItems")),
            remaining_items=_int(data.get("remainingItems")),
            returned_items=_int(data.get("returnedItems")),
            items_per_page=_int(data.get("itemsPerPage")),
            current_page=_int(data.get("currentPage")),
            total_pages=_int(data.get("totalPages")),
            has_next_page=_bool(data.get("hasNextPage")),
            has_previous_page=_bool(data.get("hasPreviousPage")),
            next_cursor=cursor if isinstance(cursor, str) and cursor else None,
            raw=dict(data),
        )


@attrs.frozen
class Page(Generic[T]):
    """One page: its items, the server's pagination info (if sent) and the response."""

    items: list[T]
    info: PageInfo | None
    response: Response = attrs.field(repr=False)
    requested: int | None = None
    """The page size asked for (``None``: the server's default)."""

    def __iter__(self) -> Iterator[T]:
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> T:
        return self.items[index]

    @property
    def has_next_page(self) -> bool | None:
        """What the server said (``None`` when it sent no pagination info)."""
        return self.info.has_next_page if self.info else None


class AsyncPaginator(Generic[T]):
    """Await it for the first page, iterate it for every item, ``.pages()`` for every page."""

    def __init__(
        self,
        client: SupportsCall,
        operation: Operation,
        path_params: tuple[object, ...] = (),
        decoder: Callable[[Any], T] | None = None,
        *,
        query: Mapping[str, object] | None = None,
        page_size: int | None = None,
        start: int | str | None = None,
        max_items: int | None = None,
        extra_headers: Mapping[str, str] | None = None,
        extra_query: Mapping[str, object] | None = None,
        timeout: Timeout = None,
        api_version: str | None = None,
        prefetch: bool = True,
    ) -> None:
        if page_size is not None and page_size < 1:
            raise ConfigurationError(f"page size must be at least 1, got {page_size}")
        if max_items is not None and max_items < 0:
            raise ConfigurationError(f"max_items must not be negative, got {max_items}")
        self._client = client
        self.operation = operation
        self._path_params = path_params
        self._decoder = decoder
        self._query = dict(query or {})
        self.style = operation.pagination
        """How it pages (``None``: the operation answers everything in one page)."""
        self.page_size = page_size
        self._start = start
        self.max_items = max_items
        self._options: dict[str, Any] = {
            "extra_headers": extra_headers,
            "extra_query": extra_query,
            "timeout": timeout,
            "api_version": api_version,
        }
        self._first: Page[T] | None = None
        self._first_raw: _RawPage | None = None
        self.prefetch = prefetch
        """Whether walks request the next page while the current one is processed."""

    def __repr__(self) -> str:
        style = self.style.value if self.style else "one page"
        return f"<AsyncPaginator {self.operation.python_name} ({style})>"

    # -- the three ways in ---------------------------------------------------------------

    def __await__(self) -> Generator[Any, None, Page[T]]:
        return self.first_page().__await__()

    async def first_page(self) -> Page[T]:
        """The first page (fetched once; the walks below start from it)."""
        if self._first is None:
            self._first = self._decode(await self._first_received())
        return self._first

    async def _first_received(self) -> _RawPage:
        if self._first_raw is None:
            self._first_raw = await self._request(0, self._start)
        return self._first_raw

    @overload
    def pages(
        self, *, prefetch: bool | None = None, decode: Literal[True] = True
    ) -> AsyncGenerator[Page[T], None]: ...

    @overload
    def pages(
        self, *, prefetch: bool | None = None, decode: Literal[False]
    ) -> AsyncGenerator[Page[dict[str, Any]], None]: ...

    def pages(
        self, *, prefetch: bool | None = None, decode: bool = True
    ) -> AsyncGenerator[Page[T], None] | AsyncGenerator[Page[dict[str, Any]], None]:
        """Every page, fetched as the iteration gets to it.

        With ``prefetch`` (default: the paginator's, ``True`` unless created otherwise) the
        next page is requested as soon as the current one has arrived, so it travels while the
        current one is decoded and processed. Leaving the walk early then costs at most that
        one request (it is cancelled if still in flight).

        ``decode=False`` gives each page's items as the JSON objects the server sent, without
        building models: for exports and syncs that store JSON anyway.
        """
        return self._walk(self.prefetch if prefetch is None else prefetch, decode)

    def items(
        self, *, decode: bool = True, prefetch: bool | None = None
    ) -> AsyncGenerator[Any, None]:
        """Every item of every page; ``decode=False`` gives the JSON objects (see :meth:`pages`)."""
        return self._items(self.prefetch if prefetch is None else prefetch, decode)

    async def _items(self, prefetch: bool, decode: bool) -> AsyncGenerator[Any, None]:
        decoder = self._decoder if decode else None
        async with aclosing(self._received(prefetch)) as received:
            async for raw in received:
                if decoder is not None and raw is self._first_raw and self._first is not None:
                    for item in self._first.items:  # decoded once, however many walks
                        yield item
                    continue
                record(raw.response)
                if decoder is None:
                    for item in raw.data:
                        yield item
                    continue
                # Each item is decoded as the walk reaches it, not the page at once: a model the
                # caller has finished with is freed before the next is built, so the cyclic GC
                # never sees it. Decoding the page first kept 100 models (about 800 tracked
                # objects) alive through each collection, which promoted them and set off full
                # collections: benchmarks/export.py, typed export / decode=False 0.72x -> 0.80-1.13x
                # (seven runs on the shared 2-core machine).
                # The first page is the exception: its models are kept for `await paginator`.
                kept: list[T] | None = [] if raw is self._first_raw else None
                for item in raw.data:
                    try:
                        decoded = decoder(item)
                    except Mismatch as error:
                        error = in_list(error, raw.data)
                        raise decode_error(raw.response, self.operation, error, "data") from None
                    if kept is not None:
                        kept.append(decoded)
                    yield decoded
                if kept is not None and self._first is None:
                    self._first = Page(kept, raw.info, raw.response, raw.limit)

    async def _walk(self, prefetch: bool, decode: bool) -> AsyncGenerator[Any, None]:
        async with aclosing(self._received(prefetch)) as received:
            async for raw in received:
                if not decode:
                    record(raw.response)
                    yield Page(raw.data, raw.info, raw.response, raw.limit)
                elif raw is self._first_raw:
                    yield await self.first_page()  # decoded once, however many walks
                else:
                    yield self._decode(raw)

    async def _received(self, prefetch: bool) -> AsyncGenerator[_RawPage, None]:
        """Every page as received, each requested as the walk gets to it (or, with
        ``prefetch``, as soon as the one before it has arrived)."""
        expected = self.page_size or self.operation.default_page_size
        offset = self._start if isinstance(self._start, int) else 0
        seen = 0
        raw = await self._first_received()
        pending: asyncio.Future[_RawPage] | None = None
        try:
            while True:
                count, info = raw.count, raw.info
                after = seen + count
                done = self._done(count, info, raw.limit, after, expected)
                position: int | str | None = None
                if not done:
                    if expected is None:
                        expected = count  # no size given: the first page shows the server's
                    if self.style is PaginationStyle.CURSOR:
                        assert info is not None and info.next_cursor is not None
                        position = info.next_cursor
                    else:
                        offset += count
                        position = offset
                    if prefetch:  # the next page travels while this one is decoded and used
                        pending = asyncio.ensure_future(self._request(after, position))
                        # Let it go out now: without this the request would only start once this
                        # page is decoded and used, and would not travel meanwhile (one step of
                        # the loop is enough for it to be written; benchmarks/export.py, typed
                        # export 0.64x -> 0.68x of decode=False on a loaded 2-core machine).
                        await asyncio.sleep(0)
                yield raw
                if done:
                    return
                seen = after
                if pending is not None:
                    raw, pending = await pending, None
                else:
                    raw = await self._request(seen, position)
        finally:
            if pending is not None:
                _discard(pending)

    def __aiter__(self) -> AsyncIterator[T]:
        return self._items(self.prefetch, True)

    async def collect(self) -> list[T]:
        """Every item of every page (mind ``max_items`` on large collections)."""
        return [item async for item in self]

    # -- internals ------------------------------------------------------------------------

    def _limit(self, seen: int) -> int | None:
        """The page size to ask for: the one given, but no more than ``max_items`` needs."""
        size = self.page_size
        if self.max_items is None:
            return size
        remaining = max(1, self.max_items - seen)
        if size is None:
            default = self.operation.default_page_size
            return min(remaining, default) if default else None
        return min(size, remaining)

    def _done(
        self,
        count: int,
        info: PageInfo | None,
        requested: int | None,
        seen: int,
        expected: int | None,
    ) -> bool:
        """Whether the page of ``count`` items (``seen`` in all so far) is the last one."""
        if self.max_items is not None and seen >= self.max_items:
            return True
        if not count or self.style is None:
            return True
        if self.style is PaginationStyle.CURSOR:
            return info is None or info.next_cursor is None or info.has_next_page is False
        if info is not None and info.has_next_page is not None:
            return not info.has_next_page
        limit = requested or expected
        return limit is not None and count < limit

    async def _request(self, seen: int, position: int | str | None) -> _RawPage:
        """The page after ``seen`` items, at ``position``, as received (not yet decoded)."""
        query = dict(self._query)
        limit = None
        if self.style is not None:
            limit = self._limit(seen)
            size_param, offset_param = _PARAMS[self.style]
            if limit is not None:
                query[size_param] = limit
            if position is not None:
                query[offset_param] = position
        response = await self._client._call(
            self.operation, self._path_params, query=query, **self._options
        )
        data = response.data
        if data is None:
            data = []
        elif not isinstance(data, list):
            data = [data]  # a list endpoint that answered with one object
        if self.max_items is not None:
            data = data[: max(0, self.max_items - seen)]
        info = PageInfo.from_json(response.pagination) if response.pagination else None
        return _RawPage(response, limit, data, info)

    def _decode(self, raw: _RawPage) -> Page[T]:
        record(raw.response)
        decoder = self._decoder
        if decoder is None:
            return Page(raw.data, raw.info, raw.response, raw.limit)
        try:
            items = [decoder(item) for item in raw.data]
        except Mismatch as error:
            error = in_list(error, raw.data)
            raise decode_error(raw.response, self.operation, error, "data") from None
        return Page(items, raw.info, raw.response, raw.limit)


class _RawPage:
    """A page as received: the response, the size asked for, its items as JSON, its info."""

    __slots__ = ("count", "data", "info", "limit", "response")

    def __init__(
        self, response: Response, limit: int | None, data: list[Any], info: PageInfo | None
    ) -> None:
        self.response = response
        self.limit = limit
        self.data = data
        self.count = len(data)
        self.info = info


def _discard(pending: asyncio.Future[_RawPage]) -> None:
    """Drop a prefetched page nobody will read: cancel it, and never log its outcome."""
    pending.cancel()
    pending.add_done_callback(_consume)


def _consume(future: asyncio.Future[_RawPage]) -> None:
    if not future.cancelled():
        future.exception()
