"""pytest plugin: the ``icalendly_emulator`` and ``icalendly_webhook_receiver`` fixtures.

Enable it with ``pytest_plugins = ["icalendly_async.testing.pytest_plugin"]`` (in the root
``conftest.py``). ``icalendly_emulator`` is a running :class:`~icalendly_async.testing.Emulator`,
stopped after the test. Configure it with keyword arguments of the constructor, per test with
the marker::

    @pytest.mark.icalendly_emulator(rate_limit=RateLimit(5, 1), seed=7)
    async def test_something(icalendly_emulator): ...

or for a module / directory by overriding the ``icalendly_emulator_options`` fixture (the
marker's arguments win)::

    @pytest.fixture
    def icalendly_emulator_options():
        return {"plan": Plan.TEAMS}

To check every answer of the emulator against the OpenAPI document (a mismatch fails the test),
set ``icalendly_validate_responses = true`` in the pytest configuration, or the environment
variable ``ICALENDLY_EMULATOR_VALIDATE=1`` (which every ``Emulator()`` reads).

``icalendly_webhook_receiver`` is a :class:`~icalendly_async.testing.WebhookReceiver` on a free
loopback port, with the secret ``icalendly_webhook_secret`` (a fixture too: override it).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio

from ._receiver import WebhookReceiver
from .emulator import Emulator

__all__ = [
    "icalendly_emulator",
    "icalendly_emulator_options",
    "icalendly_webhook_receiver",
    "icalendly_webhook_secret",
]

_MARKER = "icalendly_emulator"
_INI = "icalendly_validate_responses"


def pytest_addoption(parser: pytest.Parser) -> None:
    """Register the ini option."""
    parser.addini(
        _INI,
        "check every answer of the icalendly_emulator fixture against the OpenAPI document",
        type="bool",
        default=False,
    )


def pytest_configure(config: pytest.Config) -> None:
    """Register the marker."""
    config.addinivalue_line(
        "markers", f"{_MARKER}(**kwargs): keyword arguments for the icalendly_emulator fixture"
    )


@pytest.fixture
def icalendly_emulator_options() -> dict[str, Any]:
    """Keyword arguments for the emulator of ``icalendly_emulator`` (override to configure)."""
    return {}


@pytest_asyncio.fixture
async def icalendly_emulator(
    request: pytest.FixtureRequest, icalendly_emulator_options: dict[str, Any]
) -> AsyncIterator[Emulator]:
    """A running emulator, configured by ``icalendly_emulator_options`` and the marker."""
    kwargs = dict(icalendly_emulator_options)
    marker = request.node.get_closest_marker(_MARKER)
    if marker is not None:
        kwargs.update(marker.kwargs)
    if request.config.getini(_INI):
        kwargs.setdefault("validate_responses", True)
    async with Emulator(**kwargs) as emulator:
        yield emulator


@pytest.fixture
def icalendly_webhook_secret() -> str:
    """The secret of ``icalendly_webhook_receiver`` (override to change it)."""
    return "icalendly-test-webhook-secret"


@pytest_asyncio.fixture
async def icalendly_webhook_receiver(
    icalendly_webhook_secret: str,
) -> AsyncIterator[WebhookReceiver]:
    """A webhook subscriber on loopback, verifying signatures with ``icalendly_webhook_secret``."""
    async with WebhookReceiver(icalendly_webhook_secret) as receiver:
        yield receiver
