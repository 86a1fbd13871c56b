"""What the generated endpoint groups are built on (hand-written).

A group holds the client and calls ``client._call(operation, path_params, ...)``; the session
does the rest (tier gate, credential, limiter, retries, envelope). :func:`decode` turns the
envelope's ``data`` into the method's return type and attaches the response to the models it
returns; :func:`capture_responses` gives the responses of calls whose result is not a model.
"""

from __future__ import annotations

import contextlib
import contextvars
import re
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any, Protocol, TypeAlias

from ..errors import DecodeError
from ..models._base import Model, error_text
from ..models.converter import converter

if TYPE_CHECKING:
    import aiohttp

    from ..response import Response
    from ._operation import Operation

__all__ = [
    "Group",
    "SupportsCall",
    "Timeout",
    "capture_responses",
    "decode",
    "record",
    "renamed",
]

Timeout: TypeAlias = "float | aiohttp.ClientTimeout | None"


class SupportsCall(Protocol):
    """The one method of the client that generated code uses (``ICalendly._call``)."""

    async def _call(
        self,
        operation: Operation,
        path_params: tuple[object, ...] = (),
        *,
        query: Mapping[str, object] | None = None,
        body: object = None,
        extra_headers: Mapping[str, str] | None = None,
        extra_query: Mapping[str, object] | None = None,
        timeout: Timeout = None,
        api_version: str | None = None,
    ) -> Response: ...


class Group:
    """Base of the generated endpoint groups: holds the client."""

    def __init__(self, client: SupportsCall) -> None:
        self._client = client

    def __repr__(self) -> str:
        return f"<{type(self).__name__} endpoints>"


_captured: contextvars.ContextVar[list[Response] | None] = contextvars.ContextVar(
    "icalendly_captured_responses", default=None
)


@contextlib.contextmanager
def capture_responses() -> Iterator[list[Response]]:
    """Collect the responses of the calls made inside the block (in this task and its children).

    For results that cannot carry their response (lists, plain JSON, ``None``)::

        with capture_responses() as responses:
            await client.bookings.confirm(uid)
        print(responses[-1].headers["x-request-id"])
    """
    responses: list[Response] = []
    token = _captured.set(responses)
    try:
        yield responses
    finally:
        _captured.reset(token)


def record(response: Response) -> None:
    """Hand ``response`` to an active :func:`capture_responses` block, if any."""
    captured = _captured.get()
    if captured is not None:
        captured.append(response)


_DATA: Any = object()


def decode(response: Response, type_: Any, operation: Operation, *, data: Any = _DATA) -> Any:
    """Structure ``response.data`` (or ``data``) as ``type_``; a mismatch is a DecodeError."""
    record(response)
    try:
        result = converter.structure(response.data if data is _DATA else data, type_)
    except Exception as exc:
        raise DecodeError(
            f"{operation}: the response data does not match {_type_name(type_)}: {error_text(exc)}",
            status=response.status,
        ) from exc
    if isinstance(result, Model):
        result._attach_response(response)
    return result


def renamed(fields: Mapping[str, Any], names: Mapping[str, str]) -> dict[str, Any]:
    """``fields`` with the keyword names a method had to change mapped back to the model's."""
    return {names.get(key, key): value for key, value in fields.items()}


def _type_name(type_: Any) -> str:
    if isinstance(type_, type):
        return type_.__name__
    return re.sub(r"\b[\w.]+\.(\w+)", r"\1", str(type_))  # list[a.b.C] -> list[C]
