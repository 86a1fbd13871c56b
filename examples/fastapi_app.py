"""A FastAPI app: one ICalendly client for the app's lifetime, a view per managed user.

Each request acts as one managed user (``client.with_credential(...)``): views share the
connection pool and the limiter, so 10,000 users cost one client. Access tokens refresh
themselves; the rotated pairs are stored back through ``on_refresh``.

Run it against the emulator (``icalendly mock-server`` prints the settings)::

    export ICALENDLY_BASE_URL=http://127.0.0.1:8080 ICALENDLY_CLIENT_ID=… ICALENDLY_CLIENT_SECRET=…
    uvicorn examples.fastapi_app:app
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, HTTPException, Request

from icalendly_async import AccessToken, ICalendly, Plan, Priority, TokenPair, errors


class TokenDirectory:
    """Where the app keeps each managed user's token pair (a database in real life)."""

    def __init__(self) -> None:
        self.pairs: dict[int, TokenPair] = {}
        self._credentials: dict[int, AccessToken] = {}

    def credential(self, user_id: int, client_id: str, client_secret: str) -> AccessToken:
        """One AccessToken per user, so concurrent requests share its single-flight refresh."""
        if user_id not in self._credentials:
            pair = self.pairs.get(user_id)
            if pair is None:
                raise HTTPException(404, f"no tokens for user {user_id}")

            async def store(new: TokenPair) -> None:
                self.pairs[user_id] = new  # persist the rotated pair

            self._credentials[user_id] = AccessToken(
                pair.access_token,
                pair.refresh_token,
                pair.expires_at,
                client_id=client_id,
                client_secret=client_secret,
                on_refresh=store,
            )
        return self._credentials[user_id]


def create_app(
    base_url: str, client_id: str, client_secret: str, tokens: TokenDirectory
) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        insecure = base_url.startswith("http://127.0.0.1") or base_url.startswith(
            "http://localhost"
        )
        async with ICalendly(
            plan=Plan.PLATFORM, base_url=base_url, allow_insecure_http=insecure
        ) as client:
            # Request handlers go first on each user's credential, ahead of any bulk work.
            app.state.client = client.with_options(priority=Priority.INTERACTIVE)
            yield

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

    return app


def _from_env() -> FastAPI:
    return create_app(
        os.environ.get("ICALENDLY_BASE_URL", "https://api.icalendly.com"),
        os.environ["ICALENDLY_CLIENT_ID"],
        os.environ["ICALENDLY_CLIENT_SECRET"],
        TokenDirectory(),
    )


if "ICALENDLY_CLIENT_ID" in os.environ:
    app = _from_env()
