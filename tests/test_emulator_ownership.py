"""The emulator enforces OAuth-client ownership as the service does; probed as an attacker would.

A test must not pass against the emulator where the service would refuse: another user's API key,
another client's credentials or a managed user's access token cannot read (secret included),
change or delete an OAuth client, nor reach another client's managed users.
"""

from __future__ import annotations

import pytest

from icalendly_async import AccessToken, ApiKey, ICalendly, PlatformClient, errors
from icalendly_async.testing import Emulator


def _client(emu: Emulator, credential: ApiKey | PlatformClient | AccessToken) -> ICalendly:
    return ICalendly(credential, base_url=emu.base_url, allow_insecure_http=True, max_retries=0)


async def test_only_the_manager_of_an_oauth_client_reads_changes_or_deletes_it() -> None:
    async with Emulator() as emu:
        users = emu.data.users.by_id.values()  # another user of the organization, not managed
        colleague = next(user.id for user in users if user.id != 1 and user.client_id is None)
        stranger_key = emu.add_api_key(user_id=colleague)
        async with (
            _client(emu, ApiKey(emu.api_key)) as owner,
            _client(emu, ApiKey(stranger_key)) as stranger,
        ):
            made = await owner.request(
                "POST",
                "/v2/oauth-clients",
                json={
                    "name": "Mine",
                    "redirectUris": ["https://app.example/cb"],
                    "permissions": ["*"],
                },
            )
            mine = made["clientId"]
            assert (await owner.request("GET", f"/v2/oauth-clients/{mine}"))["secret"]
            assert mine in [c["id"] for c in await owner.request("GET", "/v2/oauth-clients")]

            for method, body in (("GET", None), ("PATCH", {"name": "x"}), ("DELETE", None)):
                with pytest.raises(errors.NotFoundError):
                    await stranger.request(method, f"/v2/oauth-clients/{mine}", json=body)
            assert mine not in [c["id"] for c in await stranger.request("GET", "/v2/oauth-clients")]

        # another client's credentials reach that client alone
        other = emu.add_oauth_client()
        async with _client(emu, PlatformClient(other.client_id, other.client_secret)) as intruder:
            with pytest.raises(errors.NotFoundError):
                await intruder.request("GET", f"/v2/oauth-clients/{emu.client_id}")
            with pytest.raises(errors.PermissionDeniedError):
                await intruder.request("GET", f"/v2/oauth-clients/{emu.client_id}/users")
        # a managed user's token acts for its client; it does not administer clients
        pair = emu.issue_tokens()
        token = AccessToken(pair.access_token, pair.refresh_token)
        async with _client(emu, token) as managed:
            with pytest.raises(errors.PermissionDeniedError):
                await managed.request("GET", f"/v2/oauth-clients/{emu.client_id}")
            with pytest.raises(errors.PermissionDeniedError):
                await managed.request("DELETE", f"/v2/oauth-clients/{emu.client_id}")
        async with _client(emu, ApiKey(emu.api_key)) as owner:
            assert (await owner.request("GET", f"/v2/oauth-clients/{emu.client_id}"))["secret"]
