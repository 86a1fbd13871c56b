"""A local iCalendly API v2 for tests: :class:`Emulator`, :class:`Fault`, and a pytest plugin.

::

    from icalendly_async.testing import Emulator, Fault

    async with Emulator() as emu:
        emu.inject(Fault("status", status=503, path="/v2/bookings"))
        ...  # point a client at emu.base_url with emu.api_key

With pytest: ``pytest_plugins = ["icalendly_async.testing.pytest_plugin"]`` gives the async
fixture ``icalendly_emulator``.
"""

from ._credentials import OAuthClient, TokenPair
from ._faults import Fault, FaultKind
from ._stats import EmulatorStats, RequestRecord
from .emulator import Emulator

__all__ = [
    "Emulator",
    "EmulatorStats",
    "Fault",
    "FaultKind",
    "OAuthClient",
    "RequestRecord",
    "TokenPair",
]
