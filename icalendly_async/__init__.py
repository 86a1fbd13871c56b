"""icalendly_async: the asyncio client for the iCalendly API v2."""

from ._version import __version__
from .auth import (
    AccessToken,
    ApiKey,
    Credential,
    InMemoryTokenStore,
    PlatformClient,
    TokenPair,
    TokenStore,
)
from .client import ICalendly
from .errors import (
    APIError,
    ICalendlyError,
    OAuthStateError,
    PlanTierError,
    RateLimitError,
    ReauthorizationRequired,
    TokenStoreWriteError,
)
from .models._generated.webhooks import WebhookTrigger
from .oauth import OAuthApp
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
    "InMemoryTokenStore",
    "Limiter",
    "LocalLimiter",
    "OAuthApp",
    "OAuthStateError",
    "Plan",
    "PlanTierError",
    "PlatformClient",
    "Priority",
    "RateLimit",
    "RateLimitError",
    "ReauthorizationRequired",
    "Response",
    "RetryPolicy",
    "TokenPair",
    "TokenStore",
    "TokenStoreWriteError",
    "WebhookTrigger",
    "__version__",
]
