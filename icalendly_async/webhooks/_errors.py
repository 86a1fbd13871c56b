"""What can be wrong with a delivery. Every error a receiver meets is one of these."""

from __future__ import annotations

from ..errors import ICalendlyError

__all__ = [
    "WebhookError",
    "WebhookPayloadError",
    "WebhookReplayError",
    "WebhookSignatureError",
    "WebhookTooLargeError",
]


class WebhookError(ICalendlyError):
    """A delivery that must not be trusted or cannot be read."""


class WebhookSignatureError(WebhookError):
    """The signature is missing, malformed, repeated or wrong, or the delivery is unsigned."""


class WebhookPayloadError(WebhookError):
    """The body is not a delivery: not UTF-8 JSON, not an object, no trigger, too deep."""


class WebhookTooLargeError(WebhookError):
    """The body is larger than the receiver accepts (refused before it is read whole)."""


class WebhookReplayError(WebhookError):
    """This exact delivery was already accepted within the replay guard's TTL."""
