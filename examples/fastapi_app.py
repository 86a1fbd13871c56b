"""A FastAPI app: one ICalendly client for the app's lifetime, a view per user and request.

Two kinds of users:

- **Continue with iCalendly** (OAuth 2.0 for partner apps): ``/login`` sends the browser to
  iCalendly's authorize page, ``/oauth/callback`` checks the state kept in the signed session
  cookie, exchanges the code (PKCE for a public client) and makes the first call as the user;
  ``/me`` then acts as them. Their pairs live in the ``OAuthApp``'s token store (in memory
  here; ``RedisTokenStore`` when several workers serve the app).
- **Managed users** (the platform): ``/users/{id}/profile`` acts as a managed user whose pair
  the app stored; a credential is built per request, and the rotated pairs are stored back
  through ``on_refresh``.

Views share the connection pool and the limiter, so 10,000 users cost one client; a token
expiring under many concurrent requests is refreshed once.

Run it against the emulator (``icalendly mock-server`` prints the settings; the session cookie
needs ``pip install itsdangerous``)::

    export ICALENDLY_BASE_URL=http://127.0.0.1:8080 ICALENDLY_CLIENT_ID=… ICALENDLY_CLIENT_SECRET=…
    export ICALENDLY_AUTHORIZE_URL=… ICALENDLY_OAUTH_CLIENT_ID=… ICALENDLY_OAUTH_CLIENT_SECRET=…
    export ICALENDLY_OAUTH_REDIRECT_URI=http://127.0.0.1:8000/oauth/callback SESSION_SECRET=…
    uvicorn examples.fastapi_app:app       # then open http://127.0.0.1:8000/login
"""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import RedirectResponse
from starlette.middleware.sessions import SessionMiddleware

from icalendly_async import (
    AccessToken,
    ICalendly,
    OAuthApp,
    OAuthStateError,
    Plan,
    Priority,
    ReauthorizationRequired,
    TokenPair,
    errors,
)


class TokenDirectory:
    """Where the app keeps each managed user's token pair (a database in real life)."""

    def __init__(self) -> None:
        self.pairs: dict[int, TokenPair] = {}

    def credential(self, user_id: int, client_id: str, client_secret: str) -> AccessToken:
        """A credential for this request, from the stored pair. Built per request: concurrent
        requests for one user still refresh it once, and store the rotated pair once."""
        pair = self.pairs.get(user_id)
        if pair is None:
            raise HTTPException(404, f"no tokens for user {user_id}")

        def store(new: TokenPair) -> None:
            self.pairs[user_id] = new  # persist the rotated pair

        return AccessToken(
            pair.access_token,
            pair.refresh_token,
            pair.expires_at,
            client_id=client_id,
            client_secret=client_secret,
            on_refresh=store,
        )


def create_app(
    base_url: str,
    client_id: str,
    client_secret: str,
    tokens: TokenDirectory,
    *,
    oauth: OAuthApp | None = None,
    session_secret: str | None = None,
) -> FastAPI:
    """The app; ``oauth`` (and ``session_secret``, which signs the session cookie) turn on
    "Continue with iCalendly"."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        insecure = base_url.startswith(("http://127.0.0.1", "http://localhost"))
        async with ICalendly(
            plan=Plan.PLATFORM, base_url=base_url, allow_insecure_http=insecure
        ) as client:
            # Request handlers go first on each user's credential, ahead of any bulk work.
            app.state.client = client.with_options(priority=Priority.INTERACTIVE)
            try:
                yield
            finally:
                if oauth is not None:
                    await oauth.aclose()

    app = FastAPI(lifespan=lifespan)

    @app.get("/users/{user_id}/profile")
    async def profile(user_id: int, request: Request) -> dict[str, Any]:
        client: ICalendly = request.app.state.client
        user = client.with_credential(tokens.credential(user_id, client_id, client_secret))
        try:
            me = await user.me.get()
        except errors.RateLimitError as exc:
            headers = {"Retry-After": str(int(exc.retry_after or 60))}
            raise HTTPException(429, "iCalendly is rate limiting this user", headers) from None
        except errors.APIError as exc:
            raise HTTPException(502, f"iCalendly answered {exc.status}") from None
        return {"id": me.id, "email": me.email, "time_zone": me.time_zone}

    if oauth is None:
        return app
    if not session_secret:
        raise ValueError("Continue with iCalendly needs session_secret (signs the cookie)")

    @app.get("/login")
    async def login(request: Request) -> RedirectResponse:
        # The app's own account for this browser (a real app has its own sign-in).
        request.session.setdefault("account", secrets.token_urlsafe(16))
        authorization = oauth.authorization_url()
        request.session["oauth"] = {
            "state": authorization.state,
            "verifier": authorization.code_verifier,
        }
        return RedirectResponse(authorization.url, status_code=302)

    @app.get("/oauth/callback")
    async def callback(
        request: Request, code: str | None = None, state: str | None = None, error: str = ""
    ) -> RedirectResponse:
        issued = request.session.pop("oauth", None) or {}
        account = request.session.get("account")
        if error or code is None or account is None:
            raise HTTPException(400, f"iCalendly access was not granted ({error or 'no code'})")
        try:
            await oauth.exchange_code(
                code,
                state=state,
                expected_state=issued.get("state"),
                code_verifier=issued.get("verifier"),
                user_key=account,
            )
        except OAuthStateError:
            raise HTTPException(400, "this login link expired: start again at /login") from None
        except errors.APIError as exc:
            raise HTTPException(502, f"iCalendly refused the code ({exc.code})") from None
        client: ICalendly = request.app.state.client
        me = await client.with_credential(oauth.credential(account)).me.get()  # the first call
        request.session["username"] = me.username
        return RedirectResponse("/me", status_code=302)

    @app.get("/me", response_model=None)
    async def me(request: Request) -> dict[str, Any] | RedirectResponse:
        account = request.session.get("account")
        if account is None:
            return RedirectResponse("/login", status_code=302)
        client: ICalendly = request.app.state.client
        try:
            user = await client.with_credential(oauth.credential(account)).me.get()
        except ReauthorizationRequired:  # never connected, or the user revoked the app
            return RedirectResponse("/login", status_code=302)
        return {"id": user.id, "email": user.email, "connected_as": request.session.get("username")}

    # Signed (not encrypted) cookie: it holds the state and PKCE verifier of a login under way.
    app.add_middleware(
        SessionMiddleware, secret_key=session_secret, same_site="lax", https_only=False
    )
    return app


def _from_env() -> FastAPI:
    base_url = os.environ.get("ICALENDLY_BASE_URL", "https://api.icalendly.com")
    insecure = base_url.startswith(("http://127.0.0.1", "http://localhost"))
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
            allow_insecure_http=insecure,
        )
    return create_app(
        base_url,
        os.environ["ICALENDLY_CLIENT_ID"],
        os.environ["ICALENDLY_CLIENT_SECRET"],
        TokenDirectory(),
        oauth=oauth,
        session_secret=os.environ.get("SESSION_SECRET"),
    )


if "ICALENDLY_CLIENT_ID" in os.environ:
    app = _from_env()
