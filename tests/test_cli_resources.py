"""Every resource ``icalendly export`` knows, exported from the emulator (in-process)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from icalendly_async import ApiKey, ICalendly, Plan, PlatformClient
from icalendly_async.cli._export import Exporter
from icalendly_async.cli._resources import RESOURCES, operation_for
from icalendly_async.testing import Emulator


@pytest.mark.parametrize("name", sorted(RESOURCES))
async def test_every_resource_exports(name: str, tmp_path: Path) -> None:
    resource = RESOURCES[name]
    async with Emulator(bookings=120) as emu:
        credential = (
            PlatformClient(emu.client_id, emu.client_secret)
            if name == "managed-users"
            else ApiKey(emu.api_key)
        )
        async with ICalendly(
            credential, plan=Plan.PLATFORM, base_url=emu.base_url, allow_insecure_http=True
        ) as client:
            owner = client.with_credential(ApiKey(emu.api_key))
            teams = await owner.request("GET", "/v2/teams")
            for n in range(9 if name == "webhooks" else 0):  # a fresh account has none
                await owner.request(
                    "POST",
                    "/v2/webhooks",
                    json={
                        "active": True,
                        "subscriberUrl": f"http://127.0.0.1:9/hook/{n}",
                        "triggers": ["BOOKING_CREATED"],
                    },
                )
            values = {
                "team-id": teams[0]["id"],
                "org-id": emu.data.organization_id,
                "client-id": emu.client_id,
            }
            out = tmp_path / f"{name}.jsonl"
            result = await Exporter(
                client,
                operation_for(resource),
                tuple(values[p] for p in resource.path_params),
                {},
                out,
                page_size=7,
                concurrency=3,
            ).run()
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert result.total_records == len(records) > 0
    ids = [r.get("uid", r.get("id")) for r in records]
    assert len(set(ids)) == len(ids)  # each record once, pages in order
