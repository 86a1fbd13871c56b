"""The response envelopes of NOTES.md, decoded once, here.

Success: ``{"status": "success", "data": …, "pagination"?: {…}}``.
Error:   ``{"status": "error", "timestamp": …, "path": …,
           "error": {"code", "message", "details"}}``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

import attrs

from .._tokens import mask
from ..errors import DecodeError
from ._base import SECRET_FIELDS

__all__ = ["ErrorBody", "SuccessBody", "decode_error", "decode_success", "preview"]

_PREVIEW = 200


# A JSON member with a string value, the value's closing quote optional (a body cut short).
_STRING_MEMBER = re.compile(r'"([A-Za-z_][A-Za-z0-9_]*)"(\s*:\s*)"((?:[^"\\]|\\.)*)')
_WORD_START = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


def _secret_masked(match: re.Match[str]) -> str:
    name, colon, value = match.groups()
    if _WORD_START.sub("_", name).lower() not in SECRET_FIELDS:
        return match.group(0)
    return f'"{name}"{colon}"{mask(value)}'


def preview(body: bytes) -> str:
    """What was received, for a message: decoded leniently and truncated, the values of members
    named like secrets (``accessToken``, ``secret``, ...) masked: a body that is cut short or
    not the envelope still never puts a token into an exception."""
    text = body[: _PREVIEW * 4].decode("utf-8", errors="replace")
    text = " ".join(_STRING_MEMBER.sub(_secret_masked, text).split())
    if len(text) > _PREVIEW or len(body) > _PREVIEW * 4:
        return text[:_PREVIEW] + f"… ({len(body)} bytes)"
    return text


class SuccessBody(NamedTuple):
    """A success envelope's ``data`` and ``pagination``."""

    data: Any
    pagination: Mapping[str, Any] | None


@attrs.frozen
class ErrorBody:
    code: str | None
    message: str
    details: Any


def _stdlib_loads(body: bytes) -> Any:
    return json.loads(body)


_DIGITS_AS_ZEROS = bytes(0x30 if 0x30 <= i <= 0x39 else 0x20 for i in range(256))
_NINETEEN_DIGITS = b"0" * 19


def _make_loads() -> Callable[[bytes], Any]:
    """``orjson.loads`` when orjson is installed (the ``fast`` extra), else ``json.loads``.

    orjson is three to four times faster on API payloads. Where it refuses what the standard
    library accepts (``NaN``, UTF-16) or reads it differently (it turns integers beyond 64 bits
    into floats), the standard library decides, so the result never depends on which is
    installed.
    """
    try:
        import orjson
    except ImportError:
        return _stdlib_loads
    fast = orjson.loads

    def loads(body: bytes) -> Any:
        # 19 digits in a row may be an integer beyond 64 bits: the standard library reads it.
        # (Digits mapped to "0", the rest to " ", then one substring search: ~10x quicker
        # than a regular expression, and a fraction of the parse.)
        if _NINETEEN_DIGITS in body.translate(_DIGITS_AS_ZEROS):
            return json.loads(body)
        try:
            return fast(body)
        except ValueError:  # orjson.JSONDecodeError is a ValueError: let json judge
            return json.loads(body)

    return loads


_loads = _make_loads()


def decode_success(
    status: int, body: bytes, *, envelope: bool = True, lenient: bool = False
) -> SuccessBody:
    """The ``data`` (and ``pagination``) of a 2xx body; :class:`DecodeError` for anything else.

    ``envelope=False``: the endpoint sends its data bare (RFC 6749's token endpoint); the whole
    JSON body is the data. ``lenient=True``: the document does not declare the envelope for this
    operation, so an empty body is no data and a body that is not the envelope is the data.
    """
    if not body.strip():
        if status == 204 or lenient:
            return SuccessBody(None, None)
        raise DecodeError(
            f"HTTP {status} with an empty body; expected the success envelope", status=status
        )
    try:
        payload = _loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):  # RecursionError: nested too deep
        raise DecodeError(
            f"HTTP {status} body is not JSON (truncated or not JSON at all): {preview(body)!r}",
            status=status,
            body=preview(body),
        ) from None
    is_envelope = isinstance(payload, dict) and payload.get("status") == "success"
    if not envelope or (lenient and not is_envelope):
        return SuccessBody(payload, None)
    if not is_envelope:
        raise DecodeError(
            f"HTTP {status} body is not the success envelope "
            f'{{"status": "success", "data": …}}: {preview(body)!r}',
            status=status,
            body=preview(body),
        )
    pagination = payload.get("pagination")
    return SuccessBody(payload.get("data"), pagination if isinstance(pagination, dict) else None)


_MESSAGE_MAX = 500


def _bounded(value: object) -> str:
    """A server's message as text of bounded length (it ends up in exception messages)."""
    text = value if isinstance(value, str) else str(value)
    if len(text) > _MESSAGE_MAX:
        return text[:_MESSAGE_MAX] + f"… ({len(text)} characters)"
    return text


def decode_error(status: int, body: bytes) -> ErrorBody:
    """Code, message and details of an error body; never raises (HTML pages become the message)."""
    try:
        payload = _loads(body) if body.strip() else None
    except (ValueError, UnicodeDecodeError, RecursionError):
        payload = None
    if isinstance(payload, dict):
        error = payload.get("error")
        if isinstance(error, dict):
            code = error.get("code")
            message = error.get("message")
            return ErrorBody(
                _bounded(code) if code is not None else None,
                _bounded(message) if message is not None else "",
                error.get("details"),
            )
        if isinstance(error, str):  # RFC 6749 section 5.2: {"error": code, "error_description"}
            description = payload.get("error_description")
            message = description if isinstance(description, str) else error
            return ErrorBody(_bounded(error), _bounded(message), None)
        message = payload.get("message")
        if isinstance(message, str):
            return ErrorBody(None, _bounded(message), None)
    text = preview(body) if body.strip() else "(empty body)"
    return ErrorBody(None, f"unexpected error body: {text}", None)
