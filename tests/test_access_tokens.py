"""Managed users' access tokens held the way web apps hold them: built per request from a stored
pair, expiry taken straight from an API response, refreshed once, on an injected clock."""

from __future__ import annotations

import asyncio
import logging
import time

import pytest

from icalendly_async import (
    AccessToken,
    ICalendly,
    InMemoryTokenStore,
    PlatformClient,
    RateLimit,
    TokenPair,
)
from icalendly_async._clock import VirtualClock
from icalendly_async.testing import Emulator

ROOMY = RateLimit(5000, 60)


def _client(emu: Emulator) -> ICalendly:
    return ICalendly(base_url=emu.base_url, allow_insecure_http=True)


async def test_credentials_built_per_request_from_one_stored_pair_refresh_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with Emulator(rate_limit=ROOMY) as emu, _client(emu) as client:
        issued = emu.issue_tokens()
        stored = {"pair": TokenPair(issued.access_token, issued.refresh_token)}  # the app's DB
        emu.expire_access_tokens()

        def persist(new: TokenPair) -> None:
            stored["pair"] = new

        async def request() -> object:
            pair = stored["pair"]  # what a request handler reads, then builds a credential from
            token = AccessToken(
                pair.access_token,
                pair.refresh_token,
                client_id=emu.client_id,
                client_secret=emu.client_secret,
                on_refresh=persist,
                rate_limit=ROOMY,
            )
            return await client.with_credential(token).request("GET", "/v2/me")

        caplog.set_level(logging.INFO, logger="icalendly_async")
        results = await asyncio.gather(*(request() for _ in range(10)), return_exceptions=True)
        assert [type(r).__name__ for r in results] == ["dict"] * 10
        assert emu.stats.refreshes == 1 and emu.stats.refresh_failures == 0
        assert stored["pair"].access_token != issued.access_token
        refresh_lines = [r for r in caplog.records if "refresh" in r.getMessage()]
        assert len(refresh_lines) == 1, [r.getMessage() for r in refresh_lines]

        # A credential built later from the old pair (a stale read of the DB) uses the new one.
        old = AccessToken(
            issued.access_token,
            issued.refresh_token,
            client_id=emu.client_id,
            client_secret=emu.client_secret,
        )
        assert (await old.current()) == stored["pair"]
        await client.with_credential(old).request("GET", "/v2/me")
        assert emu.stats.refreshes == 1 and emu.stats.refresh_failures == 0


async def test_expiry_straight_from_the_create_response_refreshes_ahead() -> None:
    """accessTokenExpiresAt is epoch milliseconds: it used to raise 'year 58893 is out of range'."""
    clock = VirtualClock(epoch=time.time())
    async with Emulator(clock=clock) as emu, _client(emu) as client:
        platform = client.with_credential(PlatformClient(emu.client_id, emu.client_secret))
        created = await platform.platform.managed_users.create(
            emu.client_id, email="ada@example.com", name="Ada"
        )
        token = AccessToken(
            created.access_token,
            created.refresh_token,
            created.access_token_expires_at,  # as the response gives it
            client_id=emu.client_id,
            client_secret=emu.client_secret,
            clock=clock,
        )
        pair = await token.current()
        assert pair.expires_at is not None
        assert abs(pair.expires_at.timestamp() - (clock.time() + 3600)) < 5
        user = client.with_credential(token)
        assert (await user.me.get()).email.startswith("ada+")
        await clock.advance(3600 - 30)  # inside the 60-s margin: refreshed before sending
        await user.me.get()
        assert emu.stats.refreshes == 1 and emu.stats.by_status[498] == 0
        assert (await token.current()).access_token != created.access_token


async def test_a_refreshed_pair_is_stored_under_the_users_key() -> None:
    store = InMemoryTokenStore()
    async with Emulator() as emu, _client(emu) as client:
        issued = emu.issue_tokens()
        emu.expire_access_tokens()

        def token() -> AccessToken:
            return AccessToken(
                issued.access_token,
                issued.refresh_token,
                client_id=emu.client_id,
                client_secret=emu.client_secret,
                store=store,
                key="managed-user-7",
            )

        first, second = token(), token()
        assert first.limit_key == second.limit_key  # one user, one bucket
        await asyncio.gather(
            *(client.with_credential(t).request("GET", "/v2/me") for t in (first, second))
        )
        stored = await store.get("managed-user-7")
        assert stored is not None and stored.access_token != issued.access_token
        assert emu.stats.refreshes == 1


async def test_an_on_refresh_error_keeps_its_type_and_message_and_the_pair_stays() -> None:
    class DatabaseDown(Exception):
        pass

    def persist(pair: TokenPair) -> None:
        raise DatabaseDown("could not write the pair: connection refused")

    async with Emulator() as emu, _client(emu) as client:
        issued = emu.issue_tokens()
        emu.expire_access_tokens()
        token = AccessToken(
            issued.access_token,
            issued.refresh_token,
            client_id=emu.client_id,
            client_secret=emu.client_secret,
            on_refresh=persist,
        )
        user = client.with_credential(token)
        with pytest.raises(DatabaseDown, match="could not write the pair: connection refused"):
            await user.request("GET", "/v2/me")
        assert "email" in await user.request("GET", "/v2/me")  # the new pair is in use
        assert emu.stats.refreshes == 1
