"""The TLS path: the emulator over HTTPS with a throwaway CA."""

from __future__ import annotations

import ssl
from typing import Any

import pytest

from icalendly_async import ApiKey, ICalendly, errors
from icalendly_async.testing import Emulator

trustme = pytest.importorskip("trustme")  # a module object to mypy: CA below is Any


@pytest.fixture(scope="module")
def ca() -> object:
    return trustme.CA()


async def test_https_emulator_verified_against_its_ca(ca: Any) -> None:
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server)
    trusting = ssl.create_default_context()
    ca.configure_trust(trusting)
    async with Emulator(ssl_context=server) as emu:
        assert emu.base_url.startswith("https://")
        async with ICalendly(ApiKey(emu.api_key), base_url=emu.base_url, ssl=trusting) as client:
            assert (await client.me.get()).email
        # Verification is on by default: the throwaway CA is not trusted, and it is not retried.
        async with ICalendly(ApiKey(emu.api_key), base_url=emu.base_url) as default:
            with pytest.raises(errors.ConnectionError, match="certificate verification"):
                await default.request("GET", "/v2/me")
        assert emu.stats.requests == 1  # the handshake failed before any request was read
