"""The pytest plugin: the ``icalendly_emulator`` fixture, its options fixture and its marker."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest

from icalendly_async.ratelimit.headers import RateLimit
from icalendly_async.testing import Emulator

from ._schema_validation import validate_emulator_responses  # noqa: F401

pytest_plugins = ["pytester", "icalendly_async.testing.pytest_plugin"]


@pytest.fixture
def icalendly_emulator_options() -> dict[str, Any]:
    return {"rate_limit": RateLimit(7, 60), "bookings": 3}


@pytest.mark.asyncio
async def test_fixture_gives_a_configured_running_emulator(icalendly_emulator: Emulator) -> None:
    assert len(icalendly_emulator.data.bookings) == 3
    async with (
        aiohttp.ClientSession() as http,
        http.get(
            icalendly_emulator.base_url + "/v2/bookings",
            headers={"Authorization": f"Bearer {icalendly_emulator.api_key}"},
        ) as response,
    ):
        assert response.status == 200
        assert response.headers["X-RateLimit-Limit-Default"] == "7"
        assert len((await response.json())["data"]) == 3


@pytest.mark.slow  # starts processes (seconds each): in the full run, not the fast set
def test_marker_in_a_users_project(pytester: pytest.Pytester) -> None:
    pytester.makeconftest('pytest_plugins = ["icalendly_async.testing.pytest_plugin"]\n')
    pytester.makepyfile(
        """
        import aiohttp
        import pytest

        from icalendly_async.ratelimit.headers import RateLimit


        @pytest.mark.asyncio
        async def test_default(icalendly_emulator):
            assert len(icalendly_emulator.data.bookings) == 50


        @pytest.mark.asyncio
        @pytest.mark.icalendly_emulator(rate_limit=RateLimit(9, 60), bookings=2)
        async def test_marker(icalendly_emulator):
            assert len(icalendly_emulator.data.bookings) == 2
            async with aiohttp.ClientSession() as http:
                async with http.get(
                    icalendly_emulator.base_url + "/v2/me",
                    headers={"Authorization": f"Bearer {icalendly_emulator.api_key}"},
                ) as response:
                    assert response.headers["X-RateLimit-Limit-Default"] == "9"
        """
    )
    result = pytester.runpytest_subprocess("-W", "error::pytest.PytestUnknownMarkWarning")
    result.assert_outcomes(passed=2)
