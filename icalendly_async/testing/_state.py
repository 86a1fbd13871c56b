"""The emulator's shared state: what the pipeline and the resources read and change."""

from __future__ import annotations

import asyncio

from ..ratelimit.headers import RateLimit
from ._credentials import CredentialStore
from ._data import DataStore
from ._faults import FaultQueue
from ._oauth import OAuthFlows
from ._ratelimit import RateLimits
from ._stats import EmulatorStats, RequestRecord
from ._validation import ResponseValidator, SchemaViolation
from ._webhooks import WebhookDispatcher

__all__ = ["EmulatorState"]


class EmulatorState:
    """Everything one emulator holds; one instance per :class:`Emulator`."""

    __slots__ = (
        "closing",
        "counter",
        "credentials",
        "data",
        "faults",
        "limits",
        "log",
        "oauth",
        "rate_limit",
        "stats",
        "validator",
        "violations",
        "webhooks",
    )

    def __init__(
        self,
        *,
        credentials: CredentialStore,
        data: DataStore,
        limits: RateLimits | None,
        rate_limit: RateLimit | None,
        webhooks: WebhookDispatcher,
        closing: asyncio.Event,
        oauth: OAuthFlows,
        validator: ResponseValidator | None = None,
    ) -> None:
        self.credentials = credentials
        self.oauth = oauth  # partner apps: the authorization-code flow
        self.data = data
        self.limits = limits  # None: rate limits are not enforced (and no headers are sent)
        self.rate_limit = rate_limit  # the Default limit of every kind, when configured
        self.webhooks = webhooks
        self.validator = validator  # None: answers are not validated
        self.violations: list[SchemaViolation] = []
        self.faults = FaultQueue()
        self.stats = EmulatorStats()
        self.log: list[RequestRecord] = []
        self.closing = closing
        self.counter = 0
