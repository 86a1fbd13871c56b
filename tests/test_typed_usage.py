"""The typed methods used the way the README shows, against the emulator.

This module is written as a user writes code (public names, no casts, no isinstance) and is
type-checked with ``mypy --strict`` like the package: what does not type-check here would not
type-check in a user's program either.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from icalendly_async import ApiKey, ICalendly
from icalendly_async.models import WebhookTrigger
from icalendly_async.testing import Emulator


@pytest.fixture
async def client() -> AsyncIterator[ICalendly]:
    async with (
        Emulator(seed=5, bookings=30) as emu,
        ICalendly(ApiKey(emu.api_key), base_url=emu.base_url, allow_insecure_http=True) as client,
    ):
        yield client


async def test_webhooks_crud(client: ICalendly) -> None:
    hook = await client.webhooks.create(
        active=True,
        subscriber_url="http://127.0.0.1:9/hooks",
        triggers=[WebhookTrigger.BOOKING_CREATED, WebhookTrigger.BOOKING_CANCELLED],
    )
    assert hook.triggers == [WebhookTrigger.BOOKING_CREATED, WebhookTrigger.BOOKING_CANCELLED]
    assert all(trigger.is_known for trigger in hook.triggers)

    fetched = await client.webhooks.get(hook.id)
    assert fetched.subscriber_url == "http://127.0.0.1:9/hooks"

    # the emulator knows the triggers the repaired document lists (not a copy of its own)
    later = [WebhookTrigger.MEETING_ENDED, WebhookTrigger.BOOKING_REOPENED]
    updated = await client.webhooks.update(hook.id, triggers=later)
    assert updated.triggers == later

    listed = [item.id async for item in client.webhooks.list()]
    assert hook.id in listed

    await client.webhooks.delete(hook.id)
    assert hook.id not in [item.id async for item in client.webhooks.list()]
