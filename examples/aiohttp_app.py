"""An aiohttp web app: the client lives in a cleanup context, handlers use it.

``/upcoming`` lists the account's bookings with its API key. With an ``OAuthApp``, "Continue
with iCalendly" signs users in: ``/login`` sends the browser to iCalendly's authorize page,
``/oauth/callback`` checks the state kept in the encrypted session cookie, exchanges the code
(PKCE for a public client) and makes the first call as the user; ``/me`` acts as them from then
on, a credential per request.

Run it against the emulator (``icalendly mock-server`` prints the settings; sessions need
``pip install aiohttp-session cryptography``)::

    export ICALENDLY_BASE_URL=http://127.0.0.1:8080 ICALENDLY_API_KEY=ical_…
    export ICALENDLY_AUTHORIZE_URL=… ICALENDLY_OAUTH_CLIENT_ID=… ICALENDLY_OAUTH_CLIENT_SECRET=…
    export ICALENDLY_OAUTH_REDIRECT_URI=http://127.0.0.1:8000/oauth/callback
    python examples/aiohttp_app.py         # then open http://127.0.0.1:8000/login
"""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator

from aiohttp import web
from aiohttp_session import get_session, new_session, setup
from aiohttp_session.cookie_storage import EncryptedCookieStorage

from icalendly_async import (
    ApiKey,
    ICalendly,
    OAuthApp,
    OAuthStateError,
    Priority,
    ReauthorizationRequired,
    errors,
)

CLIENT = web.AppKey("icalendly", ICalendly)
OAUTH = web.AppKey("oauth", OAuthApp)


def create_app(
    base_url: str,
    api_key: str,
    *,
    oauth: OAuthApp | None = None,
    session_key: bytes | None = None,
) -> web.Application:
    """The app; ``oauth`` turns on "Continue with iCalendly" (``session_key``: 32 bytes that
    encrypt and sign the session cookie; default: a fresh one, so sessions end with the
    process)."""

    async def icalendly_client(app: web.Application) -> AsyncIterator[None]:
        insecure = base_url.startswith(("http://127.0.0.1", "http://localhost"))
        async with ICalendly(ApiKey(api_key), base_url=base_url, allow_insecure_http=insecure) as c:
            app[CLIENT] = c.with_options(priority=Priority.INTERACTIVE, timeout=10)
            yield
        if oauth is not None:
            await oauth.aclose()

    async def upcoming(request: web.Request) -> web.Response:
        client = request.app[CLIENT]
        try:
            page = await client.bookings.list(status=["upcoming"], take=10)
        except errors.ICalendlyError as exc:
            return web.json_response({"error": type(exc).__name__}, status=502)
        return web.json_response({"bookings": [b.uid for b in page.items]})

    app = web.Application()
    app.cleanup_ctx.append(icalendly_client)
    app.router.add_get("/upcoming", upcoming)
    if oauth is not None:
        app[OAUTH] = oauth
        setup(app, EncryptedCookieStorage(session_key or secrets.token_bytes(32), samesite="Lax"))
        app.router.add_get("/login", login)
        app.router.add_get("/oauth/callback", callback)
        app.router.add_get("/me", me)
    return app


async def login(request: web.Request) -> web.StreamResponse:
    session = await get_session(request)
    account = session.get("account") or secrets.token_urlsafe(16)  # the app's own account
    authorization = request.app[OAUTH].authorization_url()
    session = await new_session(request)  # a fresh session for a sign-in (no fixation)
    session["account"] = account
    session["oauth"] = {"state": authorization.state, "verifier": authorization.code_verifier}
    raise web.HTTPFound(authorization.url)


async def callback(request: web.Request) -> web.StreamResponse:
    oauth = request.app[OAUTH]
    session = await get_session(request)
    issued = session.pop("oauth", None) or {}
    account = session.get("account")
    code = request.query.get("code")
    if "error" in request.query or code is None or account is None:
        reason = request.query.get("error", "no code")
        raise web.HTTPBadRequest(text=f"iCalendly access was not granted ({reason})")
    try:
        await oauth.exchange_code(
            code,
            state=request.query.get("state"),
            expected_state=issued.get("state"),
            code_verifier=issued.get("verifier"),
            user_key=account,
        )
    except OAuthStateError:
        raise web.HTTPBadRequest(text="this login link expired: start again at /login") from None
    except errors.APIError as exc:
        raise web.HTTPBadGateway(text=f"iCalendly refused the code ({exc.code})") from None
    client = request.app[CLIENT].with_credential(oauth.credential(account))
    session["username"] = (await client.me.get()).username  # the first call as the user
    raise web.HTTPFound("/me")


async def me(request: web.Request) -> web.StreamResponse:
    session = await get_session(request)
    account = session.get("account")
    if account is None:
        raise web.HTTPFound("/login")
    client = request.app[CLIENT].with_credential(request.app[OAUTH].credential(account))
    try:
        user = await client.me.get()
    except ReauthorizationRequired:  # never connected, or the user revoked the app
        raise web.HTTPFound("/login") from None
    return web.json_response(
        {"id": user.id, "email": user.email, "connected_as": session.get("username")}
    )


def _from_env() -> web.Application:
    base_url = os.environ.get("ICALENDLY_BASE_URL", "https://api.icalendly.com")
    oauth = None
    if "ICALENDLY_OAUTH_CLIENT_ID" in os.environ:
        oauth = OAuthApp(
            os.environ["ICALENDLY_OAUTH_CLIENT_ID"],
            client_secret=os.environ.get("ICALENDLY_OAUTH_CLIENT_SECRET"),
            redirect_uri=os.environ["ICALENDLY_OAUTH_REDIRECT_URI"],
            base_url=base_url,
            authorize_url=os.environ.get(
                "ICALENDLY_AUTHORIZE_URL", "https://app.icalendly.com/auth/oauth2/authorize"
            ),
            allow_insecure_http=base_url.startswith(("http://127.0.0.1", "http://localhost")),
        )
    return create_app(base_url, os.environ["ICALENDLY_API_KEY"], oauth=oauth)


if __name__ == "__main__":
    web.run_app(_from_env(), host="127.0.0.1", port=8000)
