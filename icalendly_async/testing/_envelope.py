"""The service's envelopes: ``{"status": "success", "data": …}`` and the error envelope.

Handlers return a :class:`Reply` (status + encoded body) or raise :class:`ApiError`; the
pipeline turns the error into the envelope the real service sends::

    {"status": "error", "timestamp": "2025-01-01T00:00:00.000Z", "path": "/v2/…",
     "error": {"code": "NotFoundException", "message": "…", "details": {…}}}

The ``code`` is the name of the NestJS exception the real service raises for that status.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime, timezone
from http import HTTPStatus
from typing import Any

import attrs

__all__ = ["ApiError", "Reply", "encode", "error_body", "reason_for", "success", "success_raw"]

_encoder = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)

_CODES: dict[int, str] = {
    400: "BadRequestException",
    401: "UnauthorizedException",
    403: "ForbiddenException",
    404: "NotFoundException",
    405: "MethodNotAllowedException",
    409: "ConflictException",
    422: "UnprocessableEntityException",
    429: "ThrottlerException",
    500: "InternalServerErrorException",
    502: "BadGatewayException",
    503: "ServiceUnavailableException",
    504: "GatewayTimeoutException",
}

# Statuses the standard library does not name (498 is the service's expired-token status).
_REASONS: dict[int, str] = {498: "Invalid Token"}


def encode(value: Any) -> bytes:
    """Compact JSON, as UTF-8 bytes."""
    return _encoder.encode(value).encode()


def reason_for(status: int) -> str:
    """The reason phrase for ``status`` (``"Invalid Token"`` for 498, ``"Error"`` if unknown)."""
    if status in _REASONS:
        return _REASONS[status]
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


@attrs.frozen(slots=True)
class Reply:
    """What a handler answers: the status, the encoded body, and headers of its own (a
    redirect's ``Location``, say)."""

    body: bytes
    status: int = 200
    content_type: str = "application/json"
    headers: Mapping[str, str] | None = None


def success(data: Any, pagination: Any = None, *, status: int = 200) -> Reply:
    """The success envelope around ``data`` (plus ``pagination`` when given)."""
    payload: dict[str, Any] = {"status": "success", "data": data}
    if pagination is not None:
        payload["pagination"] = pagination
    return Reply(encode(payload), status)


def success_raw(data_json: bytes, pagination: Any = None, *, status: int = 200) -> Reply:
    """Like :func:`success`, for ``data`` that is already encoded JSON."""
    tail = b"}" if pagination is None else b',"pagination":' + encode(pagination) + b"}"
    return Reply(b'{"status":"success","data":' + data_json + tail, status)


def _timestamp() -> str:
    now = datetime.now(timezone.utc)
    return now.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def error_body(
    status: int, path: str, message: str, *, code: str | None = None, details: Any = None
) -> bytes:
    """The encoded error envelope."""
    if details is None:
        details = {"message": message, "error": reason_for(status), "statusCode": status}
    return encode(
        {
            "status": "error",
            "timestamp": _timestamp(),
            "path": path,
            "error": {
                "code": code or _CODES.get(status, "HttpException"),
                "message": message,
                "details": details,
            },
        }
    )


class ApiError(Exception):
    """Raised by handlers (and the pipeline) to answer with the error envelope."""

    def __init__(
        self, status: int, message: str, *, code: str | None = None, details: Any = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code
        self.details = details

    def reply(self, path: str) -> Reply:
        """The error envelope for a request to ``path``."""
        body = error_body(self.status, path, self.message, code=self.code, details=self.details)
        return Reply(body, self.status)
