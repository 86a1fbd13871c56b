"""Twenty common calls, written the way a user writes them, against the emulator.

Public names only, no casts, no isinstance: ``mypy --strict`` checks this module like the
package (``.ci/run``), so what does not type-check here would not type-check in a user's program
either. Bookings (list, page, read fields, create, reschedule, cancel), webhooks (create, read,
update, list, delete), event types, schedules, slots, teams and organization users.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator

import pytest

from icalendly_async import ApiKey, ICalendly, Plan, PlatformClient, WebhookTrigger
from icalendly_async.errors import ParameterError
from icalendly_async.models import CreateBookingAttendee
from icalendly_async.testing import Emulator

UTC = dt.timezone.utc


@pytest.fixture
async def client() -> AsyncIterator[ICalendly]:
    async with (
        Emulator(seed=5, bookings=30) as emu,
        ICalendly(
            ApiKey(emu.api_key), plan=Plan.PLATFORM, base_url=emu.base_url, allow_insecure_http=True
        ) as client,
    ):
        yield client


async def test_profile_bookings_and_their_fields(client: ICalendly) -> None:
    me = await client.me.get()  # 1
    assert me.email and me.time_zone
    if me.organization:  # UNSET narrows away: the field is typed, no isinstance
        assert me.organization.id == me.organization_id

    page = await client.bookings.list(take=10)  # 2: the first page
    assert len(page.items) == 10
    assert page.info is not None and page.info.has_next_page
    booking = page.items[0]
    # 3: the fields every booking shape shares, without isinstance
    assert booking.uid and booking.title and booking.start < booking.end
    assert booking.status.is_known and booking.event_type.id == booking.event_type_id
    assert booking.location is not None
    emails = [attendee.email for attendee in booking.attendees]
    assert emails and all("@" in email for email in emails)
    if booking.rating:
        assert booking.rating >= 0

    since = dt.datetime(2000, 1, 1, tzinfo=UTC)
    uids = [b.uid async for b in client.bookings.list(after_start=since, take=7)]  # 4: paging
    assert len(uids) == len(set(uids)) == 30

    again = await client.bookings.get(booking.uid)  # 5
    assert again.uid == booking.uid and again.attendees[0].email == emails[0]
    assert again.raw_response is not None and again.raw_response.status == 200


async def test_book_move_and_cancel(client: ICalendly) -> None:
    event_types = await client.event_types.list()  # 6
    event_type = event_types.items[0]
    assert event_type.length_in_minutes > 0
    same = await client.event_types.get(event_type.id)  # 7: the document allows null data
    assert same is not None and same.slug == event_type.slug

    day = dt.date.today() + dt.timedelta(days=7)
    free = await client.slots.get_available(  # 8
        event_type_id=event_type.id, start=day, end=day + dt.timedelta(days=7)
    )
    starts = [slot.start for slots in free.values() for slot in slots]
    assert len(starts) >= 3

    made = await client.bookings.create(  # 9
        start=starts[0],
        event_type_id=event_type.id,
        attendee=CreateBookingAttendee(
            name="Ada Lovelace", email="ada@example.com", time_zone="Europe/London"
        ),
    )
    assert made.status == "accepted" and made.attendees[0].name == "Ada Lovelace"

    moved = await client.bookings.reschedule(  # 10
        made.uid, start=starts[2], rescheduling_reason="conflict"
    )
    assert moved.start == starts[2]

    cancelled = await client.bookings.cancel(moved.uid)  # 11: no body needed
    assert cancelled.status == "cancelled"


async def test_webhooks_crud(client: ICalendly) -> None:
    hook = await client.webhooks.create(  # 12
        active=True,
        subscriber_url="http://127.0.0.1:9/hooks",
        triggers=[WebhookTrigger.BOOKING_CREATED, WebhookTrigger.BOOKING_CANCELLED],
    )
    assert hook.triggers == [WebhookTrigger.BOOKING_CREATED, WebhookTrigger.BOOKING_CANCELLED]
    assert all(trigger.is_known for trigger in hook.triggers)

    fetched = await client.webhooks.get(hook.id)  # 13
    assert fetched.subscriber_url == "http://127.0.0.1:9/hooks"

    # the emulator knows the triggers the repaired document lists (not a copy of its own)
    later = [WebhookTrigger.MEETING_ENDED, WebhookTrigger.BOOKING_REOPENED]
    updated = await client.webhooks.update(hook.id, triggers=later, active=False)  # 14
    assert updated.triggers == later and not updated.active

    listed = [item.id async for item in client.webhooks.list()]  # 15
    assert hook.id in listed

    await client.webhooks.delete(hook.id)  # 16
    assert hook.id not in [item.id async for item in client.webhooks.list()]


async def test_schedules_teams_and_org_users(client: ICalendly) -> None:
    default = await client.schedules.get_default()  # 17
    assert default is not None and default.availability
    made = await client.schedules.create(  # 18
        name="Evenings", time_zone="Europe/Rome", is_default=False
    )
    assert made.name == "Evenings"
    names = [s.name async for s in client.schedules.list()]  # 19
    assert "Evenings" in names

    team = await client.teams.create(name="Platform Guild")  # 20
    assert [t.name async for t in client.teams.list()].count("Platform Guild") == 1
    assert team is not None

    me = await client.me.get()
    if me.organization_id:
        users = await client.orgs.users.list(me.organization_id, take=5)
        assert users.items and all(user.email for user in users.items)


async def test_a_wrong_argument_is_refused_before_anything_is_sent(client: ICalendly) -> None:
    with pytest.raises(ParameterError) as info:
        await client.webhooks.create({"subscriberUri": "https://x", "active": True, "triggers": []})
    assert "subscriberUrl" in str(info.value)
    with pytest.raises(ParameterError, match="after_start"):
        await client.bookings.list(after_start=dt.datetime(2024, 1, 1)).first_page()  # naive


async def test_secrets_in_results_are_masked_in_reprs_and_whole_in_attributes() -> None:
    # A created webhook's signing secret, a managed user's tokens and an OAuth client's secret
    # end up in log lines through repr(); the README promises no secret appears in a repr.
    async with (
        Emulator(seed=5) as emu,
        ICalendly(
            PlatformClient(emu.client_id, emu.client_secret),
            plan=Plan.PLATFORM,
            base_url=emu.base_url,
            allow_insecure_http=True,
        ) as platform,
    ):
        user = platform.with_credential(ApiKey(emu.api_key))
        hook = await user.webhooks.create(
            active=True,
            subscriber_url="http://127.0.0.1:9/signed",
            triggers=[WebhookTrigger.BOOKING_CREATED],
            secret="whsec_do_not_log_me_0123",
        )
        assert hook.secret == "whsec_do_not_log_me_0123"  # the attribute is whole
        assert hook.to_dict()["secret"] == "whsec_do_not_log_me_0123"
        assert "do_not_log_me" not in repr(hook) and "secret='…0123'" in repr(hook)

        made = await platform.platform.managed_users.create(
            emu.client_id, email="ada@example.com", name="Ada"
        )
        keys = await platform.platform.managed_users.force_refresh_tokens(
            emu.client_id, made.user.id
        )
        clients = await platform.oauth_clients.list()
        shown = repr(made) + repr(keys) + repr(clients)
        secrets = [made.access_token, made.refresh_token, keys.access_token, keys.refresh_token]
        secrets += [c.secret for c in clients.items if c.secret]
        assert len(secrets) == 5 and all(len(s) > 12 for s in secrets)
        assert not [s for s in secrets if s in shown]
        assert made.user.email in shown  # the rest is shown as before
