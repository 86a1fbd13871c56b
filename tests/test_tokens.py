"""TokenPair: every form an expiry comes in converts to one aware instant; the in-memory store."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

import pytest

from icalendly_async import InMemoryTokenStore, TokenPair, TokenStore, errors

UTC = dt.timezone.utc
WHEN = dt.datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)


@pytest.mark.parametrize(
    "value",
    [
        WHEN,
        WHEN.replace(tzinfo=None),  # naive: UTC
        WHEN.timestamp(),  # Unix seconds
        int(WHEN.timestamp() * 1000),  # epoch milliseconds, as accessTokenExpiresAt
        WHEN.timestamp() * 1000.0,
    ],
)
def test_every_form_of_expiry_is_the_same_aware_instant(value: Any) -> None:
    pair = TokenPair("access-000000000001", "refresh-00000000001", value)
    assert pair.expires_at == WHEN and pair.expires_at.tzinfo is not None


def test_from_expires_in_counts_from_now() -> None:
    now = WHEN.timestamp()
    pair = TokenPair.from_expires_in("access-000000000001", "refresh-00000000001", 1800, now=now)
    assert pair.expires_at == WHEN + dt.timedelta(seconds=1800)
    assert TokenPair.from_expires_in("access-000000000001", now=now).expires_at is None
    for bad in (-1, float("nan"), "1800", True):
        with pytest.raises(errors.ConfigurationError, match="expires_in"):
            TokenPair.from_expires_in("access-000000000001", expires_in=bad, now=now)  # type: ignore[arg-type]


def test_from_response_reads_both_services_shapes() -> None:
    now = WHEN.timestamp()
    oauth = {
        "access_token": "oauth-access-00000001",
        "token_type": "bearer",
        "refresh_token": "oauth-refresh-0000001",
        "expires_in": 1800,
    }
    pair = TokenPair.from_response(oauth, now=now)
    assert pair == TokenPair(
        "oauth-access-00000001", "oauth-refresh-0000001", WHEN + dt.timedelta(seconds=1800)
    )
    ms = int(WHEN.timestamp() * 1000)
    platform = {
        "accessToken": "platform-access-00001",
        "refreshToken": "platform-refresh-0001",
        "accessTokenExpiresAt": ms,
        "refreshTokenExpiresAt": ms + 86_400_000,
    }
    pair = TokenPair.from_response(platform)
    assert pair.expires_at == WHEN and pair.refresh_expires_at == WHEN + dt.timedelta(days=1)
    assert TokenPair.from_response({"status": "success", "data": platform}) == pair  # envelope
    # a refresh answer without a new refresh token keeps the old one
    kept = TokenPair.from_response({"access_token": "a-000000000001"}, refresh_token="r-01")
    assert kept.refresh_token == "r-01"
    with pytest.raises(errors.ConfigurationError, match="now="):
        TokenPair.from_response(oauth)
    with pytest.raises(errors.ConfigurationError, match="no access token"):
        TokenPair.from_response({"token": "x"})


def test_bad_values_are_refused_without_echoing_the_token() -> None:
    secret = "secret-access-token-0001"
    for bad in ("tomorrow", float("inf"), True, 1e30):
        with pytest.raises(errors.ConfigurationError, match="expires_at") as info:
            TokenPair(secret, None, bad)  # type: ignore[arg-type]
        assert secret not in str(info.value)
    with pytest.raises(errors.ConfigurationError, match="access_token"):
        TokenPair("")
    with pytest.raises(errors.ConfigurationError, match="refresh_token"):
        TokenPair(secret, "")


def test_repr_masks_both_tokens() -> None:
    pair = TokenPair("access-token-0000abcd", "refresh-token-000wxyz", WHEN)
    assert "access-token" not in repr(pair) and "refresh-token" not in repr(pair)
    assert "abcd" in repr(pair) and "2030" in repr(pair)


async def test_in_memory_store_keeps_pairs_per_user_and_forgets_dead_ones() -> None:
    store = InMemoryTokenStore()
    assert isinstance(store, TokenStore)
    first, second = TokenPair("access-000000000001"), TokenPair("access-000000000002")
    await store.set("user-1", first)
    assert await store.get("user-1") == first and await store.get("user-2") is None
    await store.set("user-1", second)
    await store.mark_dead("user-1", first)  # no longer the stored pair: nothing happens
    assert await store.get("user-1") == second
    await store.mark_dead("user-1", second)
    assert await store.get("user-1") is None and len(store) == 0
    assert "access-" not in repr(store)
    with pytest.raises(errors.ConfigurationError, match="TokenPair"):
        await store.set("user-1", "access-000000000001")  # type: ignore[arg-type]


async def test_in_memory_lock_is_per_user_and_goes_away_when_free() -> None:
    store = InMemoryTokenStore()
    order: list[str] = []

    async def hold(key: str, name: str) -> None:
        async with store.lock(key):
            order.append(f"{name} in")
            await asyncio.sleep(0.01)
            order.append(f"{name} out")

    await asyncio.gather(hold("u1", "a"), hold("u1", "b"), hold("u2", "c"))
    assert order.index("a out") < order.index("b in")  # one user: one at a time
    assert order.index("c in") < order.index("a out")  # another user: not held up
