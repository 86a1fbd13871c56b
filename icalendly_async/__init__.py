"""icalendly_async: the asyncio client for the iCalendly API v2."""

from ._version import __version__
from .auth import AccessToken, ApiKey, Credential, PlatformClient, TokenPair, TokenStore
from .client import ICalendly
from .errors import APIError, ICalendlyError, PlanTierError, RateLimitError
from .models._generated.webhooks import WebhookTrigger
from .plans import Plan
from .ratelimit import Limiter, LocalLimiter, Priority, RateLimit
from .response import Response
from .retry import RetryPolicy

__all__ = [
    "APIError",
    "AccessToken",
    "ApiKey",
    "Credential",
    "ICalendly",
    "ICalendlyError",
    "Limiter",
    "LocalLimiter",
    "Plan",
    "PlanTierError",
    "PlatformClient",
    "Priority",
    "RateLimit",
    "RateLimitError",
    "Response",
    "RetryPolicy",
    "TokenPair",
    "TokenStore",
    "WebhookTrigger",
    "__version__",
]
