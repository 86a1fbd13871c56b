"""pytest plugin: the ``icalendly_emulator`` fixture.

Enable it with ``pytest_plugins = ["icalendly_async.testing.pytest_plugin"]`` (in the root
``conftest.py``). The fixture is a running :class:`~icalendly_async.testing.Emulator`, stopped
after the test. Configure it with keyword arguments of the constructor, per test with the
marker::

    @pytest.mark.icalendly_emulator(rate_limit=RateLimit(5, 1), seed=7)
    async def test_something(icalendly_emulator): ...

or for a module / directory by overriding the ``icalendly_emulator_options`` fixture (the
marker's arguments win)::

    @pytest.fixture
    def icalendly_emulator_options():
        return {"plan": Plan.TEAMS}
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio

from .emulator import Emulator

__all__ = ["icalendly_emulator", "icalendly_emulator_options"]

_MARKER = "icalendly_emulator"


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
    async with Emulator(**kwargs) as emulator:
        yield emulator
