"""What the OAuth tests share: a partner app's OAuthApp on an emulator, and the user's browser."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, urlsplit

import aiohttp

from icalendly_async import OAuthApp, TokenPair
from icalendly_async.testing import Emulator, PartnerApp


def partner_app(emu: Emulator, partner: PartnerApp | None = None, **kwargs: Any) -> OAuthApp:
    """An ``OAuthApp`` for one of the emulator's partner apps (default: the confidential one)."""
    partner = partner or emu.oauth_app
    return OAuthApp(
        partner.client_id,
        client_secret=partner.client_secret,
        redirect_uri=partner.redirect_uris[0],
        base_url=emu.base_url,
        authorize_url=emu.authorize_url,
        allow_insecure_http=True,
        **kwargs,
    )


async def approve(url: str) -> dict[str, str]:
    """The user's browser: open the authorization URL, read where it is sent back."""
    async with (
        aiohttp.ClientSession() as browser,
        browser.get(url, allow_redirects=False) as answer,
    ):
        assert answer.status == 302, await answer.text()
        return dict(parse_qsl(urlsplit(answer.headers["Location"]).query))


async def log_in(app: OAuthApp, user_key: str = "user-1") -> TokenPair:
    """The whole flow for one user: the URL, the approval, the code exchange."""
    request = app.authorization_url()
    callback = await approve(request.url)
    return await app.exchange_code(
        callback["code"],
        state=callback["state"],
        expected_state=request.state,
        code_verifier=request.code_verifier,
        user_key=user_key,
    )
