"""Fault injection: make chosen requests fail the way networks and proxies do.

A :class:`Fault` hits the next ``times`` requests matching ``method`` and the ``path`` prefix
(``times=-1``: every one, until :meth:`Emulator.clear_faults`). Faults are tried in the order
they were injected; the first one that matches hits (one fault per request).

Where they act:

* ``"latency"`` sleeps ``delay`` seconds, then the request is processed normally (it is
  authenticated and counted by the rate limiter *after* the delay, like a slow network).
* ``"slow_body"`` processes the request normally (auth, rate limit, handler) and trickles the
  real answer's body over ``delay`` seconds.
* every other kind answers **before** authentication and rate limiting: such a request never
  counts against a rate limit, and its answer carries no ``X-RateLimit-*`` headers (it plays
  a proxy or a crashed server, not the API). They all carry ``X-Request-Id`` where headers are
  sent at all, plus ``Fault.headers``.

  - ``"status"``: the error envelope with ``status`` (default 500);
  - ``"html"``: a ``text/html`` error page with ``status`` (default 502);
  - ``"reset"``: the connection is reset (RST) before any byte of the answer;
  - ``"reset_mid_body"``: status line, headers (``Content-Length`` of the full body) and half
    of the body, then the connection is dropped;
  - ``"truncated"``: a 200 whose JSON is cut in half (``Content-Length`` matches what is sent);
  - ``"invalid_json"``: a 200 ``application/json`` body that is not JSON;
  - ``"no_envelope"``: a 200 JSON object without ``status``/``data``;
  - ``"hang"``: the request is accepted and never answered (until the emulator stops, when
    the connection is dropped).

``status`` overrides the status of the kinds that send one (``"truncated"`` etc. default to
200).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
from collections.abc import Mapping
from typing import Literal, get_args

import attrs
from aiohttp import web

from ._envelope import encode, error_body, reason_for

__all__ = [
    "EARLY_KINDS",
    "Fault",
    "FaultKind",
    "FaultQueue",
    "nap",
    "respond_with_fault",
    "trickle",
]

FaultKind = Literal[
    "status",
    "latency",
    "reset",
    "reset_mid_body",
    "html",
    "truncated",
    "invalid_json",
    "no_envelope",
    "hang",
    "slow_body",
]

_KINDS: frozenset[str] = frozenset(get_args(FaultKind))
_DEFAULT_STATUS: dict[str, int] = {"status": 500, "html": 502}
# Kinds that answer before authentication and rate limiting.
EARLY_KINDS: frozenset[str] = _KINDS - {"latency", "slow_body"}


def _check_kind(instance: Fault, attribute: attrs.Attribute[str], value: str) -> None:
    if value not in _KINDS:
        raise ValueError(f"unknown fault kind {value!r}; expected one of {sorted(_KINDS)}")


def _check_status(
    instance: Fault, attribute: attrs.Attribute[int | None], value: int | None
) -> None:
    if value is not None and not 100 <= value <= 599:
        raise ValueError(f"fault status must be an HTTP status (100-599), got {value!r}")


def _check_delay(instance: Fault, attribute: attrs.Attribute[float], value: float) -> None:
    if value < 0:
        raise ValueError(f"fault delay must be >= 0 seconds, got {value!r}")


def _check_times(instance: Fault, attribute: attrs.Attribute[int], value: int) -> None:
    if value != -1 and value < 1:
        raise ValueError(f"fault times must be >= 1, or -1 for forever; got {value!r}")


def _upper(value: str | None) -> str | None:
    return None if value is None else value.upper()


@attrs.frozen
class Fault:
    """A failure to inject; see the module documentation for what each kind does."""

    kind: FaultKind = attrs.field(validator=_check_kind)
    status: int | None = attrs.field(default=None, validator=_check_status)
    delay: float = attrs.field(default=1.0, validator=_check_delay)
    path: str | None = None
    method: str | None = attrs.field(default=None, converter=_upper)
    times: int = attrs.field(default=1, validator=_check_times)
    headers: Mapping[str, str] = attrs.field(factory=dict)

    @property
    def effective_status(self) -> int:
        """The status sent (``0``: none, the connection is dropped first)."""
        if self.kind in ("reset", "hang"):
            return 0
        if self.status is not None:
            return self.status
        return _DEFAULT_STATUS.get(self.kind, 200)

    def matches(self, method: str, path: str) -> bool:
        """Whether this fault applies to a request."""
        return (self.method is None or self.method == method) and (
            self.path is None or path.startswith(self.path)
        )


@attrs.define(slots=True)
class _Armed:
    fault: Fault
    left: int


class FaultQueue:
    """The injected faults and how many hits each has left."""

    __slots__ = ("_armed",)

    def __init__(self) -> None:
        self._armed: list[_Armed] = []

    def __bool__(self) -> bool:
        return bool(self._armed)

    def add(self, fault: Fault) -> None:
        """Arm ``fault``."""
        self._armed.append(_Armed(fault, fault.times))

    def clear(self) -> None:
        """Disarm every fault."""
        self._armed.clear()

    def take(self, method: str, path: str) -> Fault | None:
        """The fault that hits this request (and use up one of its hits), if any."""
        for index, armed in enumerate(self._armed):
            if armed.fault.matches(method, path):
                if armed.left > 0:
                    armed.left -= 1
                    if armed.left == 0:
                        del self._armed[index]
                return armed.fault
        return None


async def nap(closing: asyncio.Event, seconds: float) -> bool:
    """Sleep ``seconds``; ``True`` when the emulator began stopping meanwhile."""
    if closing.is_set():
        return True
    try:
        await asyncio.wait_for(closing.wait(), seconds)
    except asyncio.TimeoutError:
        return False
    return True


def _abort(request: web.Request, *, rst: bool) -> None:
    transport = request.transport
    if transport is None:
        return
    if rst:
        sock = transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):  # SO_LINGER 0: close() sends RST, not FIN
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()


_CANNED = encode(
    {
        "status": "success",
        "data": {
            "id": 1,
            "message": "a body from the emulator's fault injection",
            "padding": "x" * 64,
        },
    }
)


def _html(status: int) -> bytes:
    title = f"{status} {reason_for(status)}"
    return (
        f"<!DOCTYPE html>\n<html><head><title>{title}</title></head>\n"
        f"<body><center><h1>{title}</h1></center><hr><center>nginx</center></body></html>\n"
    ).encode()


async def respond_with_fault(
    request: web.Request, fault: Fault, headers: dict[str, str], closing: asyncio.Event
) -> web.StreamResponse:
    """Answer (or not) as an early-acting ``fault`` says."""
    kind = fault.kind
    status = fault.effective_status
    headers.update(fault.headers)
    if kind == "reset":
        _abort(request, rst=True)
        return web.Response(status=500)
    if kind == "hang":
        await closing.wait()
        _abort(request, rst=False)
        return web.Response(status=500)
    reason = reason_for(status)
    if kind == "status":
        body = error_body(status, request.path_qs, f"Injected fault: HTTP {status} {reason}")
        return web.Response(
            body=body,
            status=status,
            reason=reason,
            headers=headers,
            content_type="application/json",
        )
    if kind == "html":
        return web.Response(
            body=_html(status),
            status=status,
            reason=reason,
            headers=headers,
            content_type="text/html",
        )
    if kind == "truncated":
        body = _CANNED[: len(_CANNED) // 2]
    elif kind == "invalid_json":
        body = b"{status: 'success', data: [1, 2,, ]"
    elif kind == "no_envelope":
        body = b'{"id":1,"username":"owner","email":"owner@example.com"}'
    else:  # reset_mid_body
        response = web.StreamResponse(status=status, reason=reason, headers=headers)
        response.content_type = "application/json"
        response.content_length = len(_CANNED)
        await response.prepare(request)
        await response.write(_CANNED[: len(_CANNED) // 2])
        _abort(request, rst=False)
        return response
    return web.Response(
        body=body, status=status, reason=reason, headers=headers, content_type="application/json"
    )


async def trickle(
    request: web.Request,
    response: web.StreamResponse,
    body: bytes,
    seconds: float,
    closing: asyncio.Event,
) -> web.StreamResponse:
    """Send ``response`` with ``body`` in pieces spread over ``seconds``."""
    response.content_length = len(body)
    pieces = max(1, min(len(body), 8))
    size = -(-len(body) // pieces)
    pause = seconds / pieces
    try:
        await response.prepare(request)
        for offset in range(0, len(body), size):
            if await nap(closing, pause):
                _abort(request, rst=False)
                return response
            await response.write(body[offset : offset + size])
        await response.write_eof()
    except ConnectionError:
        pass
    return response
