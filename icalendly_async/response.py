"""What one completed call returns besides its data: status, headers, pagination, timings."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from .ratelimit.headers import RateLimitState

__all__ = ["Response"]


@attrs.frozen(repr=False)
class Response:
    """A decoded success envelope and the HTTP facts around it.

    ``data`` is the envelope's ``data`` as JSON (the whole body for the few endpoints that send no
    envelope, such as the OAuth token endpoint); ``pagination`` its ``pagination`` object when the
    endpoint sends one. ``headers`` are the response headers (case-insensitive); ``content`` the
    raw body.
    """

    status: int
    method: str
    url: str
    headers: Mapping[str, str]
    data: Any
    pagination: Mapping[str, Any] | None = None
    request_id: str | None = None
    rate_limit: RateLimitState = attrs.field(factory=RateLimitState)
    attempts: int = 1
    elapsed: float = 0.0
    content: bytes = attrs.field(default=b"", repr=False, eq=False)
    """The body exactly as received (for a decode error's report, or to read it yourself)."""

    def __repr__(self) -> str:
        rid = f" request_id={self.request_id!r}" if self.request_id else ""
        return f"<Response {self.method} {self.url} {self.status}{rid}>"
