"""A local, stateful iCalendly API v2 for tests: :class:`Emulator`, and a pytest plugin.

::

    from icalendly_async.testing import Emulator, Fault

    async with Emulator(seed=7, bookings=500) as emu:
        emu.inject(Fault("status", status=503, path="/v2/bookings"))
        ...  # point a client at emu.base_url with emu.api_key

With pytest: ``pytest_plugins = ["icalendly_async.testing.pytest_plugin"]`` gives the async
fixtures ``icalendly_emulator`` and ``icalendly_webhook_receiver``. From a shell:
``icalendly mock-server`` (:func:`serve`).
"""

from ._credentials import OAuthClient
from ._faults import Fault, FaultKind
from ._oauth import PartnerApp
from ._receiver import ReceivedWebhook, WebhookReceiver
from ._routes import implemented_operations
from ._serve import ServerInfo, run, serve
from ._stats import EmulatorStats, RequestRecord
from ._validation import SchemaViolation
from ._webhooks import DeliveryAttempt, WebhookDelivery
from .emulator import VALIDATE_ENV, Emulator, SchemaViolationError

__all__ = [
    "VALIDATE_ENV",
    "Emulator",
    "EmulatorStats",
    "Fault",
    "FaultKind",
    "OAuthClient",
    "PartnerApp",
    "ReceivedWebhook",
    "RequestRecord",
    "SchemaViolation",
    "SchemaViolationError",
    "ServerInfo",
    "DeliveryAttempt",
    "WebhookDelivery",
    "WebhookReceiver",
    "implemented_operations",
    "run",
    "serve",
]
