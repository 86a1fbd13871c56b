"""Rate limiting: the :class:`Limiter` protocol, :class:`LocalLimiter`, header parsing."""

from ._dispatch import CredentialHeld
from ._protocol import Limiter
from .headers import NamedLimit, RateLimit, RateLimitState
from .local import BucketSnapshot, LocalLimiter
from .priority import Priority
from .unlimited import Unlimited

__all__ = [
    "BucketSnapshot",
    "CredentialHeld",
    "Limiter",
    "LocalLimiter",
    "NamedLimit",
    "Priority",
    "RateLimit",
    "RateLimitState",
    "Unlimited",
]
