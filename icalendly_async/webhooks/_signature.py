"""Signing and verifying deliveries: ``X-Cal-Signature-256``, compared in constant time.

iCalendly signs each delivery with the hex HMAC-SHA256 of the raw request body under the
subscription's secret (NOTES.md, "Webhooks"); a subscription without a secret sends the literal
``no-secret-provided``. The signature covers the exact bytes received: verify the raw body before
parsing it.
"""

from __future__ import annotations

import hashlib
import hmac
import string

from ..errors import ConfigurationError
from ._errors import WebhookSignatureError

__all__ = ["NO_SECRET", "SIGNATURE_HEADER", "raw_bytes", "sign", "verify"]

SIGNATURE_HEADER = "X-Cal-Signature-256"
NO_SECRET = "no-secret-provided"
_HEX = frozenset(string.hexdigits)


def raw_bytes(raw_body: object) -> bytes:
    """The body as bytes; a parsed or decoded body is refused (its signature cannot match)."""
    if isinstance(raw_body, (bytes, bytearray, memoryview)):
        return bytes(raw_body)
    kind = type(raw_body).__name__
    raise ConfigurationError(
        f"pass the raw request body as bytes, not a {kind}: the signature covers the exact bytes "
        "received, and re-serialised JSON does not match them (aiohttp: await request.read(); "
        "Starlette/FastAPI: await request.body())"
    )


def _secret_bytes(secret: str | bytes | None) -> bytes:
    if secret is None or secret in ("", b""):
        raise ConfigurationError(
            "no webhook secret given: set a secret on the subscription and pass it here; "
            "unsigned deliveries cannot be verified"
        )
    if isinstance(secret, str):
        return secret.encode()
    if isinstance(secret, (bytes, bytearray)):
        return bytes(secret)
    raise ConfigurationError(
        f"the webhook secret must be str or bytes, not {type(secret).__name__}"
    )


def sign(raw_body: bytes, secret: str | bytes) -> str:
    """The ``X-Cal-Signature-256`` value for ``raw_body``: hex HMAC-SHA256 under ``secret``."""
    return hmac.new(_secret_bytes(secret), raw_bytes(raw_body), hashlib.sha256).hexdigest()


def _header_text(signature_header: object) -> str:
    """The header's value as text; anything else a framework might hand over is refused."""
    if isinstance(signature_header, (bytes, bytearray)):
        try:
            return bytes(signature_header).decode("ascii")
        except UnicodeDecodeError:
            raise WebhookSignatureError(f"the {SIGNATURE_HEADER} header is not ASCII") from None
    if isinstance(signature_header, str):
        return signature_header
    kind = type(signature_header).__name__
    raise WebhookSignatureError(f"the {SIGNATURE_HEADER} header must be one text value, not {kind}")


def verify(
    raw_body: bytes, signature_header: str | bytes | None, secret: str | bytes | None
) -> None:
    """Raise :class:`WebhookSignatureError` unless ``signature_header`` signs ``raw_body``.

    ``signature_header`` is the value of ``X-Cal-Signature-256`` (``None`` when absent; bytes
    are read as ASCII). The comparison takes the same time wherever the values differ.
    """
    body = raw_bytes(raw_body)
    key = _secret_bytes(secret)
    if signature_header is None:
        raise WebhookSignatureError(f"the delivery has no {SIGNATURE_HEADER} header")
    received = _header_text(signature_header).strip()
    if not received:
        raise WebhookSignatureError(f"the delivery's {SIGNATURE_HEADER} header is empty")
    if received == NO_SECRET:
        raise WebhookSignatureError(
            f"the delivery was sent unsigned ({SIGNATURE_HEADER}: {NO_SECRET}): the subscription "
            "has no secret; set one on it so deliveries can be verified"
        )
    if received.lower().startswith("sha256="):
        received = received[len("sha256=") :]
    if len(received) != 64 or not _HEX.issuperset(received):
        raise WebhookSignatureError(
            f"the {SIGNATURE_HEADER} header is not a hex SHA-256 signature (64 hex digits)"
        )
    expected = hmac.new(key, body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected.encode(), received.lower().encode()):
        raise WebhookSignatureError(
            f"the {SIGNATURE_HEADER} signature does not match the body under the given secret "
            "(a different secret, or a body changed in transit)"
        )
