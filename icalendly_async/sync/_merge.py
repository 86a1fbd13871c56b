"""Running several page walks at once and reading them as one.

dlt asks a resource for its next item only when it has handled the last one, so a walk that
fetched only on request would leave the connection idle while dlt writes. :func:`merged` runs
each walk in a task of its own that keeps up to ``ahead`` pages ready, and yields the pages in
the order they arrive; an error in any walk stops them all and is raised.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator, Sequence
from typing import Generic, TypeVar

__all__ = ["merged"]

T = TypeVar("T")


class _Done:
    pass


class _Failed:
    __slots__ = ("error",)

    def __init__(self, error: BaseException) -> None:
        self.error = error


class _Item(Generic[T]):
    __slots__ = ("value",)

    def __init__(self, value: T) -> None:
        self.value = value


async def merged(walks: Sequence[AsyncIterator[T]], *, ahead: int = 2) -> AsyncGenerator[T, None]:
    """The items of every walk, as they come; each walk runs at most ``ahead`` items ahead."""
    queue: asyncio.Queue[_Item[T] | _Failed | _Done] = asyncio.Queue(max(1, ahead))

    async def pump(walk: AsyncIterator[T]) -> None:
        try:
            async for item in walk:
                await queue.put(_Item(item))
        except asyncio.CancelledError:
            raise
        except BaseException as exc:  # handed to the reader, which raises it
            await queue.put(_Failed(exc))
        else:
            await queue.put(_Done())

    tasks = [asyncio.ensure_future(pump(walk)) for walk in walks]
    running = len(tasks)
    try:
        while running:
            got = await queue.get()
            if isinstance(got, _Done):
                running -= 1
            elif isinstance(got, _Failed):
                raise got.error
            else:
                yield got.value
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
