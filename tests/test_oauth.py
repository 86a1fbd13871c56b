"""OAuthApp against the emulator, as a partner app uses it: the authorization URL, the code
exchange, calls as the user, refreshes (ahead of expiry on a virtual clock, after 401/498, once
for any number of credentials), a dead grant, a broken token store, and no secret anywhere."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
import traceback
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from icalendly_async import (
    ICalendly,
    InMemoryTokenStore,
    OAuthApp,
    OAuthStateError,
    RateLimit,
    ReauthorizationRequired,
    TokenPair,
    TokenStoreWriteError,
    errors,
)
from icalendly_async._clock import VirtualClock
from icalendly_async.oauth import code_challenge
from icalendly_async.testing import Emulator

from ._oauth_flow import approve, log_in, partner_app

ROOMY = RateLimit(5000, 60)
TOKEN_PATH = "/v2/auth/oauth2/token"


def _token_requests(emu: Emulator) -> int:
    return sum(1 for record in emu.request_log if record.path == TOKEN_PATH)


@contextlib.asynccontextmanager
async def _flow(**options: Any) -> AsyncIterator[tuple[Emulator, OAuthApp, ICalendly]]:
    emulator_options = {k: v for k, v in options.items() if k in ("clock", "oauth_token_ttl")}
    async with Emulator(rate_limit=ROOMY, **emulator_options) as emu:
        app_options = {k: v for k, v in options.items() if k not in emulator_options}
        if "clock" in options:
            app_options["clock"] = options["clock"]
        async with (
            partner_app(emu, rate_limit=ROOMY, **app_options) as app,
            ICalendly(base_url=emu.base_url, allow_insecure_http=True) as client,
        ):
            yield emu, app, client


# -- the authorization URL ------------------------------------------------------------------


async def test_authorization_url_of_a_confidential_client() -> None:
    async with Emulator() as emu, partner_app(emu) as app:
        request = app.authorization_url(scopes=["READ_BOOKING", "READ_PROFILE"])
        query = parse_qs(urlsplit(request.url).query)
        assert request.url.startswith(emu.authorize_url + "?")
        assert query["client_id"] == [emu.oauth_app.client_id]
        assert query["redirect_uri"] == [emu.oauth_app.redirect_uris[0]]
        assert query["response_type"] == ["code"]
        assert query["scope"] == ["READ_BOOKING READ_PROFILE"]
        assert query["state"] == [request.state] and len(request.state) >= 16
        assert "code_challenge" not in query and request.code_verifier is None
        assert emu.oauth_app.client_secret is not None
        assert emu.oauth_app.client_secret not in request.url
        assert app.authorization_url().state != request.state  # fresh every time
        with_pkce = app.authorization_url(pkce=True)
        assert with_pkce.code_verifier is not None and "code_challenge=" in with_pkce.url


async def test_authorization_url_of_a_public_client_always_has_pkce() -> None:
    async with Emulator() as emu, partner_app(emu, emu.oauth_public_app) as app:
        request = app.authorization_url()
        verifier = request.code_verifier
        assert verifier is not None and re.fullmatch(r"[A-Za-z0-9._~-]{43,128}", verifier)
        query = parse_qs(urlsplit(request.url).query)
        assert query["code_challenge"] == [code_challenge(verifier)]
        assert query["code_challenge_method"] == ["S256"]
        assert verifier not in request.url
        with pytest.raises(errors.ConfigurationError, match="PKCE"):
            app.authorization_url(pkce=False)


async def test_authorization_url_checks_what_it_is_given() -> None:
    async with Emulator() as emu, partner_app(emu) as app:
        assert app.authorization_url(state="s" * 16).state == "s" * 16
        with pytest.raises(errors.ConfigurationError, match="16"):
            app.authorization_url(state="short")
        with pytest.raises(errors.ConfigurationError, match="list"):
            app.authorization_url(scopes="READ_BOOKING")
        with pytest.raises(errors.ConfigurationError, match="spaces"):
            app.authorization_url(scopes=["READ BOOKING"])


@pytest.mark.parametrize(
    ("redirect_uri", "ok"),
    [
        ("https://partner.example/oauth/callback", True),
        ("http://127.0.0.1:8000/callback", True),
        ("http://localhost:8000/callback", True),
        ("http://[::1]:8000/callback", True),
        ("http://partner.example/callback", False),  # https except loopback
        ("https://partner.example/callback#frag", False),
        ("/callback", False),
        ("ftp://partner.example/callback", False),
    ],
)
def test_redirect_uri_must_be_https_except_loopback(redirect_uri: str, ok: bool) -> None:
    def make() -> OAuthApp:
        return OAuthApp("client-id-1", redirect_uri=redirect_uri)

    if ok:
        assert make().redirect_uri == redirect_uri
    else:
        with pytest.raises(errors.ConfigurationError, match="redirect_uri"):
            make()


def test_construction_is_checked_before_any_io() -> None:
    uri = "https://partner.example/cb"
    with pytest.raises(errors.ConfigurationError, match="authorize_url"):
        OAuthApp("cid", redirect_uri=uri, authorize_url="http://auth.example/authorize")
    with pytest.raises(errors.ConfigurationError, match="authorize_url"):  # loopback, not allowed
        OAuthApp("cid", redirect_uri=uri, authorize_url="http://127.0.0.1:1/authorize")
    with pytest.raises(errors.ConfigurationError, match="base_url"):
        OAuthApp("cid", redirect_uri=uri, base_url="http://api.example")
    with pytest.raises(errors.ConfigurationError, match="client_secret") as info:
        OAuthApp("cid", redirect_uri=uri, client_secret="top-secret-value\n")
    assert "top-secret-value" not in str(info.value)
    with pytest.raises(errors.ConfigurationError, match="store"):
        OAuthApp("cid", redirect_uri=uri, store={})  # type: ignore[arg-type]
    with pytest.raises(errors.ConfigurationError, match="user_key"):
        OAuthApp("cid", redirect_uri=uri).credential("")


# -- the code exchange ----------------------------------------------------------------------


@pytest.mark.parametrize("public", [False, True])
async def test_the_whole_flow_then_calls_as_the_user(public: bool) -> None:
    async with Emulator() as emu:
        emu.oauth_user_id = 2
        partner = emu.oauth_public_app if public else emu.oauth_app
        async with (
            partner_app(emu, partner) as app,
            ICalendly(base_url=emu.base_url, allow_insecure_http=True) as client,
        ):
            pair = await log_in(app, "user-42")
            assert pair.expires_at is not None and pair.refresh_token is not None
            assert abs(pair.expires_at.timestamp() - (time.time() + 1800)) < 5  # expires_in
            assert await app.store.get("user-42") == pair
            me = await client.with_credential(app.credential("user-42")).me.get()
            assert me.id == 2
        assert emu.stats.code_exchanges == 1 and not emu.schema_violations


async def test_a_state_mismatch_is_refused_before_anything_is_sent() -> None:
    async with Emulator() as emu, partner_app(emu) as app:
        request = app.authorization_url()
        callback = await approve(request.url)
        for state, expected in ((callback["state"] + "x", request.state), ("a" * 43, None)):
            with pytest.raises(OAuthStateError):
                await app.exchange_code(callback["code"], state=state, expected_state=expected)
        assert _token_requests(emu) == 0
        # the genuine callback still works: the code was not spent
        await app.exchange_code(
            callback["code"], state=callback["state"], expected_state=request.state
        )


async def test_a_public_client_without_its_verifier_is_refused_before_sending() -> None:
    async with Emulator() as emu, partner_app(emu, emu.oauth_public_app) as app:
        request = app.authorization_url()
        callback = await approve(request.url)
        with pytest.raises(errors.ConfigurationError, match="code_verifier"):
            await app.exchange_code(
                callback["code"], state=callback["state"], expected_state=request.state
            )
        assert _token_requests(emu) == 0
        wrong = app.authorization_url().code_verifier  # a real verifier, of another request
        with pytest.raises(errors.BadRequestError) as info:
            await app.exchange_code(
                callback["code"],
                state=callback["state"],
                expected_state=request.state,
                code_verifier=wrong,
            )
        assert info.value.code == "invalid_grant" and "PKCE" in info.value.message


async def test_codes_are_single_use_and_a_second_use_revokes_the_first() -> None:
    async with Emulator() as emu, partner_app(emu) as app:
        request = app.authorization_url()
        callback = await approve(request.url)
        await app.exchange_code(
            callback["code"], state=callback["state"], expected_state=request.state, user_key="u"
        )
        with pytest.raises(errors.BadRequestError) as info:
            await app.exchange_code(
                callback["code"], state=callback["state"], expected_state=request.state
            )
        assert info.value.code == "invalid_grant"
        async with ICalendly(
            app.credential("u"), base_url=emu.base_url, allow_insecure_http=True
        ) as c:
            with pytest.raises(ReauthorizationRequired):
                await c.me.get()  # its grant was revoked: 401, and the refresh is refused


async def test_codes_live_ten_minutes_on_the_emulators_clock() -> None:
    clock = VirtualClock(epoch=time.time())
    async with Emulator(clock=clock) as emu, partner_app(emu, clock=clock) as app:
        late, on_time = app.authorization_url(), app.authorization_url()
        late_callback, on_time_callback = await approve(late.url), await approve(on_time.url)
        await clock.advance(599)
        await app.exchange_code(
            on_time_callback["code"], state=on_time_callback["state"], expected_state=on_time.state
        )
        await clock.advance(2)
        with pytest.raises(errors.BadRequestError, match="expired"):
            await app.exchange_code(
                late_callback["code"], state=late_callback["state"], expected_state=late.state
            )


async def test_a_wrong_client_secret_is_invalid_client_and_not_echoed() -> None:
    async with Emulator() as emu:
        partner = emu.oauth_app
        wrong = "not-the-secret-0123456789"
        async with OAuthApp(
            partner.client_id,
            client_secret=wrong,
            redirect_uri=partner.redirect_uris[0],
            base_url=emu.base_url,
            authorize_url=emu.authorize_url,
            allow_insecure_http=True,
        ) as app:
            request = app.authorization_url()
            callback = await approve(request.url)
            with pytest.raises(errors.AuthenticationError) as info:
                await app.exchange_code(
                    callback["code"], state=callback["state"], expected_state=request.state
                )
        assert info.value.code == "invalid_client" and wrong not in str(info.value)


# -- refreshing -----------------------------------------------------------------------------


async def test_refresh_ahead_of_expiry_on_the_injected_clock() -> None:
    clock = VirtualClock(epoch=time.time())
    async with _flow(clock=clock, refresh_margin=120) as (emu, app, client):
        first = await log_in(app)
        user = client.with_credential(app.credential("user-1"))
        await user.me.get()
        await clock.advance(1800 - 121)  # not yet inside the margin
        await user.me.get()
        assert emu.stats.refreshes == 0
        await clock.advance(2)
        await user.me.get()
        assert emu.stats.refreshes == 1 and emu.stats.by_status[498] == 0
        assert (await app.store.get("user-1")) != first


@pytest.mark.parametrize("status", [498, 401])
async def test_refused_token_is_refreshed_and_the_call_replayed(status: int) -> None:
    async with _flow() as (emu, app, client):
        first = await log_in(app)
        if status == 498:
            emu.expire_access_tokens()
        else:  # a token the server no longer knows: rotated by another process, say
            await app.store.set(
                "user-1", TokenPair("unknown-access-token-000", first.refresh_token)
            )
        me = await client.with_credential(app.credential("user-1")).me.get()
        assert me.id == emu.oauth_user_id
        assert emu.stats.refreshes == 1 and emu.stats.by_status[status] == 1


async def test_credentials_built_per_call_refresh_once(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="icalendly_async")
    async with _flow() as (emu, app, client):
        await log_in(app)
        emu.expire_access_tokens()
        results = await asyncio.gather(
            *(client.with_credential(app.credential("user-1")).me.get() for _ in range(200)),
            return_exceptions=True,
        )
        assert not [r for r in results if isinstance(r, BaseException)]
        assert emu.stats.refreshes == 1 and emu.stats.refresh_failures == 0
    assert sum("refreshed" in r.getMessage() for r in caplog.records) == 1


class _SeparateProcess:
    """Another process's view of a shared store: the same pairs and locks, no shared memory."""

    def __init__(self, store: InMemoryTokenStore) -> None:
        self._store = store

    async def get(self, key: str) -> TokenPair | None:
        return await self._store.get(key)

    async def set(self, key: str, pair: TokenPair) -> None:
        await self._store.set(key, pair)

    async def mark_dead(self, key: str, pair: TokenPair) -> None:
        await self._store.mark_dead(key, pair)

    def lock(self, key: str) -> contextlib.AbstractAsyncContextManager[None]:
        return self._store.lock(key)


async def test_a_caller_with_a_stale_pair_uses_the_newer_one_instead_of_refreshing() -> None:
    shared = InMemoryTokenStore()
    async with _flow(store=_SeparateProcess(shared)) as (emu, app, client):
        first = await log_in(app)
        async with partner_app(emu, store=_SeparateProcess(shared)) as other:
            emu.expire_access_tokens()
            await client.with_credential(app.credential("user-1")).me.get()  # refreshes
            assert emu.stats.refreshes == 1
            # The other process's call was sent with the old token and refused: it finds the
            # rotated pair under the lock and uses it, without sending the dead refresh token.
            refreshed = await other.credential("user-1").refresh(
                None,  # type: ignore[arg-type]  # an OAuth credential refreshes through its app
                {"Authorization": f"Bearer {first.access_token}"},
            )
            assert refreshed is False
            assert emu.stats.refreshes == 1 and emu.stats.refresh_failures == 0
            me = await client.with_credential(other.credential("user-1")).me.get()
            assert me.id == emu.oauth_user_id


async def test_a_dead_grant_asks_for_authorization_once_for_every_process() -> None:
    shared = InMemoryTokenStore()
    async with _flow(store=_SeparateProcess(shared)) as (emu, app, client):
        await log_in(app, "user-9")
        emu.revoke_oauth_grants()  # the user removed the app from their account
        with pytest.raises(ReauthorizationRequired) as info:
            await client.with_credential(app.credential("user-9")).me.get()
        assert info.value.user_key == "user-9" and info.value.error == "invalid_grant"
        assert await shared.get("user-9") is None  # marked dead
        sent = _token_requests(emu)
        async with partner_app(emu, store=_SeparateProcess(shared)) as other:
            with pytest.raises(ReauthorizationRequired):
                await client.with_credential(other.credential("user-9")).me.get()
        assert _token_requests(emu) == sent  # the other process did not try the dead pair
        # authorizing again brings the user back
        await log_in(app, "user-9")
        await client.with_credential(app.credential("user-9")).me.get()


async def test_a_user_never_authorized_is_asked_to_authorize() -> None:
    async with _flow() as (emu, app, client):
        with pytest.raises(ReauthorizationRequired, match="user-404"):
            await client.with_credential(app.credential("user-404")).me.get()
        assert emu.stats.requests == 0


async def test_on_refresh_gets_each_pair_and_its_exception_keeps_type_and_message() -> None:
    handed: list[tuple[str, TokenPair]] = []

    class Unwritable(RuntimeError):
        pass

    async def on_refresh(user_key: str, pair: TokenPair) -> None:
        handed.append((user_key, pair))
        if len(handed) == 1:
            raise Unwritable("backup database is read-only")

    async with _flow(on_refresh=on_refresh) as (emu, app, client):
        await log_in(app)
        user = client.with_credential(app.credential("user-1"))
        emu.expire_access_tokens()
        with pytest.raises(Unwritable, match=r"^backup database is read-only$"):
            await user.me.get()
        await user.me.get()  # the new pair was kept and stored all the same
        assert emu.stats.refreshes == 1
        assert handed == [("user-1", await app.store.get("user-1"))]
        emu.expire_access_tokens()
        await user.me.get()
        assert emu.stats.refreshes == 2 and len(handed) == 2


# -- a refreshed pair is never lost (#19) ---------------------------------------------------


class _BrokenStore(InMemoryTokenStore):
    """A token store whose writes fail while ``failing`` (Redis failing over, say)."""

    def __init__(self) -> None:
        super().__init__()
        self.failing = 0  # writes still to fail
        self.events: list[str] = []

    async def set(self, key: str, pair: TokenPair) -> None:
        if self.failing:
            self.failing -= 1
            self.events.append("write failed")
            raise ConnectionError("the store is unreachable")
        self.events.append("written")
        await super().set(key, pair)


async def test_a_refreshed_pair_survives_a_store_that_cannot_write_it() -> None:
    clock = VirtualClock(epoch=time.time())
    store = _BrokenStore()
    order = store.events

    def on_refresh(user_key: str, pair: TokenPair) -> None:
        order.append("handed to on_refresh")

    async with _flow(clock=clock, store=store, on_refresh=on_refresh) as (emu, app, client):
        await log_in(app)
        old = await store.get("user-1")
        user = client.with_credential(app.credential("user-1"))
        order.clear()
        emu.expire_access_tokens()
        store.failing = 10**6
        call = asyncio.ensure_future(user.me.get())
        while not call.done():  # the write's retries wait on the clock
            await clock.advance(1)
        with pytest.raises(TokenStoreWriteError) as info:
            call.result()
        assert info.value.user_key == "user-1"
        assert isinstance(info.value.__cause__, ConnectionError)
        assert order[0] == "handed to on_refresh" and order.count("write failed") == 3
        assert await store.get("user-1") == old  # the store still has the dead pair...
        # ...but this process has the new one: the next calls use it, nothing is refreshed.
        for _ in range(3):
            await client.with_credential(app.credential("user-1")).me.get()
        assert emu.stats.refreshes == 1 and emu.stats.refresh_failures == 0
        # The store comes back: the pair is written at the next offer (every 5 s).
        store.failing = 0
        await clock.advance(5)
        await user.me.get()
        assert order[-1] == "written"
        new = await store.get("user-1")
        assert new is not None and new != old


async def test_a_store_write_that_fails_once_is_retried() -> None:
    clock = VirtualClock(epoch=time.time())
    store = _BrokenStore()
    async with _flow(clock=clock, store=store) as (emu, app, client):
        await log_in(app)
        emu.expire_access_tokens()
        store.failing = 1
        call = asyncio.ensure_future(client.with_credential(app.credential("user-1")).me.get())
        while not call.done():
            await clock.advance(0.05)
        assert call.result().id == emu.oauth_user_id
        assert store.events[-2:] == ["write failed", "written"]


# -- secrets ------------------------------------------------------------------------------------


async def test_no_secret_in_urls_reprs_logs_exceptions_or_tracebacks(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    shown: list[object] = []
    texts: list[str] = []

    def record(exc: BaseException) -> None:
        texts.append(str(exc))
        texts.append("".join(traceback.format_exception(exc)))

    async with _flow() as (emu, app, client):
        secret = emu.oauth_app.client_secret
        assert secret is not None
        request = app.authorization_url(pkce=True)
        callback = await approve(request.url)
        pair = await app.exchange_code(
            callback["code"],
            state=callback["state"],
            expected_state=request.state,
            code_verifier=request.code_verifier,
            user_key="user-1",
        )
        credential = app.credential("user-1")
        shown += [app, request, pair, credential, app.store, await credential.current()]
        emu.expire_access_tokens()
        await client.with_credential(credential).me.get()
        refreshed = await app.store.get("user-1")
        assert refreshed is not None and refreshed.refresh_token and pair.refresh_token
        shown.append(refreshed)
        for bad in (
            app.exchange_code(callback["code"], state="x" * 20, expected_state=request.state),
            app.exchange_code(
                callback["code"], state=callback["state"], expected_state=request.state
            ),
        ):
            try:
                await bad
            except errors.ICalendlyError as exc:
                record(exc)
        emu.revoke_oauth_grants()
        try:
            await client.with_credential(credential).me.get()
        except ReauthorizationRequired as exc:
            record(exc)
        assert len(texts) == 6
    secrets_ = {
        "client secret": secret,
        "code verifier": request.code_verifier,
        "access token": pair.access_token,
        "refresh token": pair.refresh_token,
        "new access token": refreshed.access_token,
        "new refresh token": refreshed.refresh_token,
    }
    haystack = "\n".join([*map(repr, shown), *texts, *(r.getMessage() for r in caplog.records)])
    for name, value in secrets_.items():
        assert value and value not in haystack, name
    assert secret not in request.url
