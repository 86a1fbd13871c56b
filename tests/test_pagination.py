"""AsyncPaginator: first page on await, every item on iteration, the three styles, the stops."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping
from typing import Any

import attrs
import pytest
from aiohttp import web

from icalendly_async import ApiKey, ICalendly
from icalendly_async.endpoints import Operation, PaginationStyle
from icalendly_async.errors import ConfigurationError, DecodeError
from icalendly_async.models import _generated as gen
from icalendly_async.pagination import AsyncPaginator, Page, PageInfo
from icalendly_async.plans import Tier
from icalendly_async.response import Response

from .conftest import RecordingServer


def operation(style: PaginationStyle, default_page_size: int | None = None) -> Operation:
    return Operation(
        operation_id="List",
        method="GET",
        path="/v2/things/{id}",
        tag="Things",
        tier=Tier.EVERYONE,
        api_version=None,
        paginated=True,
        python_name="things.list",
        path_params=("id",),
        pagination=style,
        default_page_size=default_page_size,
    )


class Server:
    """A fake client: ``total`` items, served by take/skip, limit/offset or cursor."""

    def __init__(
        self,
        total: int,
        *,
        cap: int | None = None,
        meta: bool = False,
        default: int = 10,
    ) -> None:
        self.items: list[dict[str, Any]] = [{"id": i} for i in range(total)]
        self.cap = cap
        self.meta = meta
        self.default = default
        self.queries: list[dict[str, object]] = []
        self.kwargs: list[dict[str, Any]] = []

    async def _call(
        self,
        operation: Operation,
        path_params: tuple[object, ...] = (),
        *,
        query: Mapping[str, object] | None = None,
        **kwargs: Any,
    ) -> Response:
        query = dict(query or {})
        self.queries.append(query)
        self.kwargs.append({"path_params": path_params, **kwargs})
        size_name = "take" if operation.pagination is PaginationStyle.TAKE_SKIP else "limit"
        size = int(str(query.get(size_name, self.default)))
        if self.cap:
            size = min(size, self.cap)
        if operation.pagination is PaginationStyle.CURSOR:
            start = int(str(query.get("cursor", "c0"))[1:])
        else:
            offset_name = "skip" if operation.pagination is PaginationStyle.TAKE_SKIP else "offset"
            start = int(str(query.get(offset_name, 0)))
        page = self.items[start : start + size]
        more = start + len(page) < len(self.items)
        pagination: dict[str, Any] | None = None
        if self.meta:
            pagination = {
                "hasNextPage": more,
                "totalItems": len(self.items),
                "returnedItems": len(page),
            }
        if operation.pagination is PaginationStyle.CURSOR:
            pagination = {"nextCursor": f"c{start + len(page)}" if more else None}
        return Response(
            status=200,
            method="GET",
            url="https://x/v2/things",
            headers={},
            data=page,
            pagination=pagination,
        )


def paginator(
    server: Server, style: PaginationStyle = PaginationStyle.TAKE_SKIP, **kw: Any
) -> AsyncPaginator[Any]:
    default = kw.pop("default_page_size", None)
    return AsyncPaginator[Any](server, operation(style, default), (7,), query={"q": "x"}, **kw)


async def test_await_gives_the_first_page() -> None:
    server = Server(25)
    page = await paginator(server, page_size=10)
    assert isinstance(page, Page)
    assert [i["id"] for i in page] == list(range(10))
    assert len(page) == 10 and page[0] == {"id": 0}
    assert page.requested == 10
    assert page.response.status == 200
    assert server.queries == [{"q": "x", "take": 10}]
    assert server.kwargs[0]["path_params"] == (7,)


async def test_iteration_walks_every_page_and_stops_on_a_short_page() -> None:
    server = Server(25)
    items = [item["id"] async for item in paginator(server, page_size=10)]
    assert items == list(range(25))
    assert [q.get("skip") for q in server.queries] == [None, 10, 20]


async def test_exact_multiple_stops_on_the_empty_page() -> None:
    server = Server(20)
    assert len(await paginator(server, page_size=10).collect()) == 20
    assert len(server.queries) == 3  # 10, 10, then an empty page


async def test_has_next_page_false_stops_without_an_extra_request() -> None:
    server = Server(20, meta=True)
    pages = [page async for page in paginator(server, page_size=10).pages()]
    assert [len(p) for p in pages] == [10, 10]
    assert pages[-1].has_next_page is False
    assert pages[0].info == PageInfo.from_json(
        {"hasNextPage": True, "totalItems": 20, "returnedItems": 10}
    )
    assert len(server.queries) == 2


async def test_has_next_page_true_goes_on_after_a_short_page() -> None:
    server = Server(25, meta=True, cap=5)  # the server caps the page size at 5
    items = await paginator(server, page_size=10).collect()
    assert len(items) == 25
    assert [q.get("skip") for q in server.queries] == [None, 5, 10, 15, 20]


async def test_without_page_size_the_first_page_shows_the_size() -> None:
    server = Server(25, default=10)
    assert len(await paginator(server).collect()) == 25
    assert "take" not in server.queries[0]
    assert [q.get("skip") for q in server.queries] == [None, 10, 20]


async def test_default_page_size_of_the_document_makes_a_short_first_page_the_last() -> None:
    server = Server(8, default=10)
    assert len(await paginator(server, default_page_size=10).collect()) == 8
    assert len(server.queries) == 1


async def test_max_items_trims_and_asks_for_no_more_than_needed() -> None:
    server = Server(100)
    items = await paginator(server, page_size=10, max_items=25).collect()
    assert [i["id"] for i in items] == list(range(25))
    assert [q["take"] for q in server.queries] == [10, 10, 5]
    server = Server(100)
    items = await paginator(server, max_items=3, default_page_size=250).collect()
    assert len(items) == 3 and server.queries[0]["take"] == 3
    assert await paginator(Server(5), page_size=2, max_items=0).collect() == []
    server = Server(25, default=10)
    first = await paginator(server, max_items=3)  # no size to ask for: the page is trimmed
    assert len(first) == 3 and "take" not in server.queries[0]


async def test_start_offset() -> None:
    server = Server(25)
    items = [i["id"] async for i in paginator(server, page_size=10, start=20)]
    assert items == list(range(20, 25))
    assert server.queries[0]["skip"] == 20


async def test_limit_offset_style() -> None:
    server = Server(12)
    items = await paginator(server, PaginationStyle.LIMIT_OFFSET, page_size=5).collect()
    assert len(items) == 12
    assert server.queries == [
        {"q": "x", "limit": 5},
        {"q": "x", "limit": 5, "offset": 5},
        {"q": "x", "limit": 5, "offset": 10},
    ]


async def test_cursor_style() -> None:
    server = Server(12)
    items = await paginator(server, PaginationStyle.CURSOR, page_size=5).collect()
    assert len(items) == 12
    assert [q.get("cursor") for q in server.queries] == [None, "c5", "c10"]


async def test_first_page_is_fetched_once() -> None:
    server = Server(15)
    pager = paginator(server, page_size=10)
    first = await pager
    assert (await pager) is first
    assert len([i async for i in pager]) == 15
    assert len(server.queries) == 2


async def test_options_reach_every_call() -> None:
    server = Server(3)
    pager = paginator(
        server, page_size=2, extra_headers={"x": "1"}, timeout=5.0, api_version="2024-08-13"
    )
    await pager.collect()
    for kwargs in server.kwargs:
        assert kwargs["extra_headers"] == {"x": "1"}
        assert kwargs["timeout"] == 5.0
        assert kwargs["api_version"] == "2024-08-13"


class KeysServer(Server):
    """Items shaped like ``KeysDto``."""

    def __init__(self, total: int = 3) -> None:
        super().__init__(0)
        self.items = [
            {
                "accessToken": f"a{i}",
                "refreshToken": "r",
                "accessTokenExpiresAt": 1,
                "refreshTokenExpiresAt": 2,
            }
            for i in range(total)
        ]


async def test_items_are_decoded_into_models() -> None:
    pager = AsyncPaginator(
        KeysServer(), operation(PaginationStyle.TAKE_SKIP), (1,), gen.KeysDto.from_dict, page_size=2
    )
    items = await pager.collect()
    assert [k.access_token for k in items] == ["a0", "a1", "a2"]
    assert all(isinstance(k, gen.KeysDto) for k in items)


async def test_one_object_where_a_list_was_expected_is_one_item() -> None:
    class OneServer(Server):
        async def _call(
            self, operation: Operation, path_params: tuple[object, ...] = (), **kw: Any
        ) -> Response:
            response = await super()._call(operation, path_params, **kw)
            return attrs.evolve(response, data={"id": 1})

    page = await paginator(OneServer(0), page_size=10)
    assert page.items == [{"id": 1}]


def test_bad_arguments() -> None:
    with pytest.raises(ConfigurationError):
        paginator(Server(1), page_size=0)
    with pytest.raises(ConfigurationError):
        paginator(Server(1), max_items=-1)
    assert "things.list" in repr(paginator(Server(1)))


class GatedServer(Server):
    """A Server whose pages after the first wait for ``gate``; records cancellations."""

    def __init__(self, total: int, **kw: Any) -> None:
        super().__init__(total, **kw)
        self.gate = asyncio.Event()
        self.cancelled = 0
        self.fail_after_first = False

    async def _call(
        self, operation: Operation, path_params: tuple[object, ...] = (), **kw: Any
    ) -> Response:
        if self.queries:  # not the first page
            self.queries.append(dict(kw.get("query") or {}))
            try:
                await self.gate.wait()
            except asyncio.CancelledError:
                self.cancelled += 1
                raise
            self.queries.pop()
            if self.fail_after_first:
                raise RuntimeError("page two failed")
        return await super()._call(operation, path_params, **kw)


async def test_the_next_page_is_requested_while_the_current_one_is_used() -> None:
    server = GatedServer(25)
    walk = paginator(server, page_size=10).pages()
    first = await walk.__anext__()
    await asyncio.sleep(0)  # let the prefetch start
    # The second page was asked for before the caller came back for it.
    assert [q.get("skip") for q in server.queries] == [None, 10]
    server.gate.set()
    rest = [page async for page in walk]
    assert [len(p) for p in (first, *rest)] == [10, 10, 5]
    assert [q.get("skip") for q in server.queries] == [None, 10, 20]


async def test_prefetch_off_asks_only_when_the_caller_does() -> None:
    server = GatedServer(25)
    server.gate.set()
    # pages() is an async generator, which a caller leaving early may close
    walk = paginator(server, page_size=10).pages(prefetch=False)
    await walk.__anext__()
    await asyncio.sleep(0.01)
    assert len(server.queries) == 1
    await walk.__anext__()
    assert len(server.queries) == 2
    await walk.aclose()

    quiet = paginator(GatedServer(25), page_size=10, prefetch=False)
    assert quiet.prefetch is False


async def test_leaving_early_cancels_the_prefetched_page() -> None:
    server = GatedServer(25)
    pages = paginator(server, page_size=10).pages()
    async with contextlib.aclosing(pages) as walk:
        async for _page in walk:
            await asyncio.sleep(0)
            break
    await asyncio.sleep(0)
    assert server.cancelled == 1


async def test_a_failed_prefetch_surfaces_on_the_next_page_and_never_earlier() -> None:
    server = GatedServer(25)
    server.fail_after_first = True
    walk = paginator(server, page_size=10).pages()
    first = await walk.__anext__()
    assert len(first) == 10
    server.gate.set()
    await asyncio.sleep(0.01)  # the prefetch fails meanwhile; nothing is raised yet
    with pytest.raises(RuntimeError, match="page two failed"):
        await walk.__anext__()


async def test_no_request_beyond_the_last_page_or_max_items() -> None:
    server = Server(30, meta=True)
    assert len(await paginator(server, page_size=10).collect()) == 30
    assert len(server.queries) == 3  # hasNextPage false on the third: no fourth request
    capped = Server(30, meta=True)
    assert len(await paginator(capped, page_size=10, max_items=15).collect()) == 15
    assert [q.get("take") for q in capped.queries] == [10, 5]


async def test_pages_and_items_without_decoding_give_the_json_objects() -> None:
    pager = AsyncPaginator(
        KeysServer(5),
        operation(PaginationStyle.TAKE_SKIP),
        (1,),
        gen.KeysDto.from_dict,
        page_size=2,
    )
    raw_pages = [page async for page in pager.pages(decode=False)]
    assert [len(p) for p in raw_pages] == [2, 2, 1]
    assert raw_pages[0].items[0] == KeysServer(5).items[0]  # the dict as sent
    items = [item async for item in pager.items(decode=False)]
    assert [i["accessToken"] for i in items] == [f"a{i}" for i in range(5)]
    decoded = [item async for item in pager.items()]
    assert all(isinstance(k, gen.KeysDto) for k in decoded)
    assert (await pager).items[0] is decoded[0]  # the first page is decoded once


async def test_capture_responses_sees_every_page_decoded_or_not() -> None:
    from icalendly_async.endpoints import capture_responses

    server = Server(25)
    with capture_responses() as responses:
        assert len([i async for i in paginator(server, page_size=10).items(decode=False)]) == 25
    assert len(responses) == 3


async def test_a_walk_decodes_each_item_as_it_reaches_it() -> None:
    # A model the caller has finished with is freed before the next is built (the cyclic GC
    # never has to look at it); only the first page, kept for `await pager`, stays.
    live = 0

    class Tracked:
        def __init__(self, item: dict[str, Any]) -> None:
            nonlocal live
            live += 1
            self.id = item["id"]

        def __del__(self) -> None:
            nonlocal live
            live -= 1

    pager = AsyncPaginator(
        Server(6), operation(PaginationStyle.TAKE_SKIP), (1,), Tracked, page_size=2
    )
    seen = []
    async for item in pager:
        seen.append((item.id, live))
    assert seen == [(0, 1), (1, 2), (2, 3), (3, 3), (4, 3), (5, 3)]


async def test_a_bad_item_fails_the_walk_where_the_walk_reaches_it() -> None:
    from icalendly_async.errors import DecodeError
    from icalendly_async.models._generated.platform import decode_KeysDto  # what list methods use

    server = KeysServer(5)
    server.items[3]["accessTokenExpiresAt"] = "soon"
    pager = AsyncPaginator(
        server, operation(PaginationStyle.TAKE_SKIP), (1,), decode_KeysDto, page_size=2
    )
    got: list[str] = []
    with pytest.raises(DecodeError) as failed:
        async for key in pager:
            got.append(key.access_token)
    assert got == ["a0", "a1", "a2"]  # the items before the bad one, in order
    assert "data[1].accessTokenExpiresAt" in str(failed.value)  # the second item of its page
    assert "soon" in str(failed.value)


async def test_a_bad_item_on_the_first_page_comes_after_the_good_items_before_it(
    recording_server: RecordingServer,
) -> None:
    """The README's promise holds on the first page too: ``async for`` yields the items before
    a bad one, then raises ``DecodeError`` naming it (the first page was decoded whole)."""

    def hook(i: int) -> dict[str, Any]:
        return {
            "id": i,
            "userId": 1,
            "triggers": ["BOOKING_CREATED"],
            "subscriberUrl": f"https://example.com/{i}",
            "active": True,
            "payloadTemplate": "",
        }

    hooks = [hook(i) for i in range(3)]
    hooks[2]["active"] = "maybe"

    async def answer(request: web.Request) -> web.StreamResponse:
        return web.json_response({"status": "success", "data": hooks})

    recording_server.handler = answer
    async with ICalendly(
        ApiKey("ical_0123456789abcdef"),
        base_url=recording_server.base_url,
        allow_insecure_http=True,
    ) as client:
        got: list[int] = []
        with pytest.raises(DecodeError) as failed:
            async for webhook in client.webhooks.list():
                got.append(webhook.id)
        assert got == [0, 1]
        assert failed.value.path == "data[2].active"
        # awaiting the paginator still decodes its first page whole, and fails the same way
        with pytest.raises(DecodeError):
            await client.webhooks.list()
