"""OAuth 2.0 for partner apps: "Continue with iCalendly" (RFC 6749's authorization-code flow).

::

    app = OAuthApp(CLIENT_ID, client_secret=SECRET, redirect_uri="https://app.example/callback")

    # /login: send the browser to iCalendly, remember state (and the verifier) in its session
    request = app.authorization_url(scopes=["READ_BOOKING"])
    session["oauth"] = {"state": request.state, "verifier": request.code_verifier}
    redirect(request.url)

    # /callback?code=…&state=…: check the state, exchange the code, keep the pair for the user
    await app.exchange_code(code, state=state, expected_state=session["oauth"]["state"],
                            code_verifier=session["oauth"]["verifier"], user_key=user.id)

    # any request later, as that user (a credential per request is fine)
    me = await client.with_credential(app.credential(user.id)).me.get()

A public client (a single-page or native app: no secret) always uses PKCE (RFC 7636, ``S256``).
The pairs live in a :class:`~icalendly_async.TokenStore` keyed by your user's key (in memory by
default; ``RedisTokenStore`` for a fleet). A user's expired token is refreshed exactly once
however many credentials, coroutines or processes use it at once; a refresh refused with
``invalid_grant`` raises :class:`~icalendly_async.errors.ReauthorizationRequired` (and the store
forgets the pair). The token endpoint is called through the client's pipeline (pacing, retries,
timeouts). The client secret and the tokens never appear in a URL, a repr, a log line or an
exception.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any
from urllib.parse import urlencode, urlsplit

import attrs

from . import errors
from ._clock import SYSTEM_CLOCK, Clock
from ._keeper import RefreshFunction, TokenKeeper, forget_unsaved
from ._request import DEFAULT_BASE_URL, CallOptions, RequestSpec
from ._request import is_loopback as _is_loopback
from ._tokens import InMemoryTokenStore, TokenPair, TokenStore, mask
from .auth import (
    PLATFORM_RATE_LIMIT,
    TokenRefresher,
    _check_margin,
    _check_secret,
    _digest,
    _KeptToken,
)
from .client import ICalendly
from .ratelimit.headers import RateLimit

__all__ = [
    "DEFAULT_AUTHORIZE_URL",
    "TOKEN_PATH",
    "AuthorizationRequest",
    "OAuthApp",
    "OAuthCredential",
    "OnUserRefresh",
]

DEFAULT_AUTHORIZE_URL = "https://app.icalendly.com/auth/oauth2/authorize"
TOKEN_PATH = "/v2/auth/oauth2/token"
_FORM = "application/x-www-form-urlencoded"
_MIN_STATE = 16
_VERIFIER = re.compile(r"[A-Za-z0-9._~-]{43,128}")  # RFC 7636 §4.1

OnUserRefresh = Callable[[str, TokenPair], "Awaitable[None] | None"]
"""``(user_key, new pair)``: called with every refreshed pair, before it is stored."""


def code_challenge(verifier: str) -> str:
    """RFC 7636's ``S256`` challenge: BASE64URL(SHA-256(verifier)), without padding."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def _check_url(what: str, url: object, *, allow_http: bool) -> str:
    """An absolute https URL (http only when ``allow_http`` and the host is this machine)."""
    if not isinstance(url, str) or not url:
        raise errors.ConfigurationError(f"{what} must be an absolute URL string")
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:
        raise errors.ConfigurationError(f"{what} {url!r} is not a URL") from None
    if parts.scheme not in ("https", "http") or not host:
        raise errors.ConfigurationError(f"{what} must be an absolute https:// URL, got {url!r}")
    if parts.username or parts.password:
        raise errors.ConfigurationError(f"{what} must not carry credentials")
    if parts.fragment:
        raise errors.ConfigurationError(f"{what} must not have a #fragment (RFC 6749 §3.1)")
    if parts.scheme == "http" and not (allow_http and _is_loopback(host)):
        raise errors.ConfigurationError(
            f"{what} must use https:// (plain http:// only for this machine: 127.0.0.1, ::1 or "
            f"localhost), got {url!r}"
        )
    return url


def _check_user_key(user_key: object) -> str:
    if not isinstance(user_key, str) or not user_key:
        raise errors.ConfigurationError(
            f"user_key must be a non-empty string (your user's id, as text), got {user_key!r}"
        )
    return user_key


@attrs.frozen(repr=False)
class AuthorizationRequest:
    """Where to send the user's browser, and what to keep in their session until the callback.

    ``url``: the authorization URL (it carries ``state`` and the PKCE challenge, never a
    secret). ``state``: compare it with the callback's (:meth:`OAuthApp.exchange_code` does).
    ``code_verifier``: the PKCE verifier to send with the code (``None`` without PKCE). Keep
    both server-side or in a signed session cookie.
    """

    url: str
    state: str
    code_verifier: str | None = None

    def __repr__(self) -> str:
        endpoint = self.url.split("?", 1)[0]
        return (
            f"AuthorizationRequest(url={endpoint + '?…'!r}, state={mask(self.state)!r}, "
            f"code_verifier={mask(self.code_verifier)!r})"
        )


class OAuthApp:
    """A registered OAuth client of a partner app: the authorization-code flow, and credentials
    that act as each user.

    ``client_id`` and ``redirect_uri`` (exactly as registered: https, or http on loopback) name
    the app; ``client_secret`` makes it a confidential client (``None``: a public client, which
    always uses PKCE). ``store`` keeps each user's pair (default: an
    :class:`~icalendly_async.InMemoryTokenStore`; ``RedisTokenStore`` for a fleet).
    ``base_url`` is the API (the token endpoint); ``authorize_url`` the page users are sent to;
    ``allow_insecure_http`` allows plain http for both on loopback (the emulator).

    ``on_refresh(user_key, pair)`` receives every refreshed pair before it is stored (persist it
    elsewhere too, if you like); an exception it raises reaches the call that refreshed,
    unchanged, while the new pair stays in use. ``refresh_margin``: refresh that many seconds
    before expiry, on ``clock``. ``rate_limit``: the limit each user's credential is paced at
    (default: access tokens' 500 / 60 s). Close the app (``await app.aclose()`` or ``async
    with``) to close its connections.
    """

    def __init__(
        self,
        client_id: str,
        *,
        redirect_uri: str,
        client_secret: str | None = None,
        store: TokenStore | None = None,
        base_url: str = DEFAULT_BASE_URL,
        authorize_url: str = DEFAULT_AUTHORIZE_URL,
        allow_insecure_http: bool = False,
        on_refresh: OnUserRefresh | None = None,
        refresh_margin: float = 60.0,
        rate_limit: RateLimit | None = None,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        self._client_id = _check_secret("OAuthApp: client_id", client_id)
        if client_secret is not None:
            _check_secret("OAuthApp: client_secret", client_secret)
        self._client_secret = client_secret
        self._redirect_uri = _check_url("OAuthApp: redirect_uri", redirect_uri, allow_http=True)
        self._authorize_url = _check_url(
            "OAuthApp: authorize_url", authorize_url, allow_http=allow_insecure_http
        )
        if urlsplit(self._authorize_url).query:
            raise errors.ConfigurationError("OAuthApp: authorize_url must not have a query")
        if store is None:
            store = InMemoryTokenStore()
        elif not isinstance(store, TokenStore):
            raise errors.ConfigurationError(
                "OAuthApp: store must be a TokenStore (get, set, mark_dead, lock), e.g. "
                "InMemoryTokenStore() or RedisTokenStore(url)"
            )
        self._store = store
        if on_refresh is not None and not callable(on_refresh):
            raise errors.ConfigurationError("OAuthApp: on_refresh must be callable")
        self._on_refresh = on_refresh
        _check_margin("OAuthApp", refresh_margin)
        self._refresh_margin = float(refresh_margin)
        if rate_limit is not None and not isinstance(rate_limit, RateLimit):
            raise errors.ConfigurationError("OAuthApp: rate_limit must be a RateLimit")
        self._rate_limit = rate_limit or PLATFORM_RATE_LIMIT
        self._clock = clock
        # The token endpoint's own pipeline: pacing, retries and timeouts as for every call.
        self._http = ICalendly(base_url=base_url, allow_insecure_http=allow_insecure_http)

    # -- what it is ----------------------------------------------------------------------------

    @property
    def client_id(self) -> str:
        return self._client_id

    @property
    def redirect_uri(self) -> str:
        return self._redirect_uri

    @property
    def confidential(self) -> bool:
        """Whether the app has a client secret (``False``: a public client, PKCE always)."""
        return self._client_secret is not None

    @property
    def store(self) -> TokenStore:
        """Where the users' pairs live."""
        return self._store

    def __repr__(self) -> str:
        kind = "confidential" if self.confidential else "public"
        return (
            f"OAuthApp(client_id={self._client_id!r}, redirect_uri={self._redirect_uri!r}, "
            f"{kind}, store={type(self._store).__name__})"
        )

    # -- the flow ------------------------------------------------------------------------------

    def authorization_url(
        self,
        *,
        scopes: Iterable[str] | None = None,
        state: str | None = None,
        pkce: bool | None = None,
    ) -> AuthorizationRequest:
        """The URL to send the user's browser to, with a fresh ``state`` (or yours: at least 16
        characters) and, for public clients (or ``pkce=True``), a PKCE verifier and its S256
        challenge."""
        if state is None:
            state = secrets.token_urlsafe(32)
        elif not isinstance(state, str) or len(state) < _MIN_STATE:
            raise errors.ConfigurationError(
                f"state must be a string of at least {_MIN_STATE} characters (unguessable: from "
                "secrets); leave it out to get one"
            )
        if pkce is None:
            pkce = not self.confidential
        elif not pkce and not self.confidential:
            raise errors.ConfigurationError("a public client always uses PKCE (pkce=True)")
        query: dict[str, str] = {
            "client_id": self._client_id,
            "redirect_uri": self._redirect_uri,
            "response_type": "code",
            "state": state,
        }
        if scopes is not None:
            if isinstance(scopes, str):
                raise errors.ConfigurationError(
                    "scopes must be a list of scope names, not one string"
                )
            names = list(scopes)
            if not all(isinstance(n, str) and n and not any(c.isspace() for c in n) for n in names):
                raise errors.ConfigurationError(
                    f"scopes must be non-empty names without spaces, got {names!r}"
                )
            if names:
                query["scope"] = " ".join(names)
        verifier = None
        if pkce:
            verifier = secrets.token_urlsafe(64)  # 86 characters of RFC 7636's alphabet
            query["code_challenge"] = code_challenge(verifier)
            query["code_challenge_method"] = "S256"
        url = f"{self._authorize_url}?{urlencode(query)}"
        return AuthorizationRequest(url, state, verifier)

    async def exchange_code(
        self,
        code: str,
        *,
        state: str | None,
        expected_state: str | None,
        code_verifier: str | None = None,
        user_key: str | None = None,
    ) -> TokenPair:
        """Exchange the callback's ``code`` for the user's pair; store it under ``user_key``.

        ``state`` (the callback's) must equal ``expected_state`` (the one issued with the
        authorization URL): compared in constant time, and a mismatch raises
        :class:`~icalendly_async.errors.OAuthStateError` before anything is sent.
        ``code_verifier``: the PKCE verifier of the authorization request (required for public
        clients). RFC 6749 errors arrive as :class:`~icalendly_async.errors.APIError` with the
        error as ``code`` (``invalid_grant``: the code expired or was used).
        """
        if not isinstance(expected_state, str) or not expected_state:
            raise errors.OAuthStateError(
                "no state was issued for this login (the session holding it expired or was "
                "lost): start the flow again with authorization_url(); nothing was sent"
            )
        if not isinstance(state, str) or not hmac.compare_digest(
            state.encode(), expected_state.encode()
        ):
            raise errors.OAuthStateError(
                "the callback's state is not the one issued for this login (a forged or stale "
                "callback): nothing was sent; start the flow again"
            )
        if not isinstance(code, str) or not code or any(c.isspace() for c in code):
            raise errors.ConfigurationError(
                "code must be the callback's non-empty code parameter (a callback with error= "
                "instead means the user did not authorize the app)"
            )
        if code_verifier is None:
            if not self.confidential:
                raise errors.ConfigurationError(
                    "a public client must pass code_verifier (the AuthorizationRequest's)"
                )
        elif not isinstance(code_verifier, str) or not _VERIFIER.fullmatch(code_verifier):
            raise errors.ConfigurationError(
                "code_verifier must be the AuthorizationRequest's verifier (43-128 characters)"
            )
        if user_key is not None:
            _check_user_key(user_key)
        fields = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": self._redirect_uri,
        }
        if code_verifier is not None:
            fields["code_verifier"] = code_verifier
        pair = await self._token_request(fields, "code exchange")
        if user_key is not None:
            await self._store.set(user_key, pair)
            forget_unsaved(self._store, user_key)  # a pair this process could not store is older
        return pair

    def credential(self, user_key: str) -> OAuthCredential:
        """A credential acting as the user whose pair is stored under ``user_key``.

        ``ICalendly(app.credential(key), base_url=…)`` or, sharing a client's pool and limiter,
        ``client.with_credential(app.credential(key))``. Cheap: build one per request. A user
        with no stored pair (or a dead one) raises
        :class:`~icalendly_async.errors.ReauthorizationRequired` on the first call.
        """
        return OAuthCredential(self, _check_user_key(user_key))

    async def refresh(self, user_key: str) -> TokenPair:
        """Refresh the user's pair now (once, whoever else is refreshing it); the new pair."""
        keeper = self._keeper(_check_user_key(user_key))
        pair = await keeper.current()
        new, _ = await keeper.refresh(pair.access_token, self._refresher(user_key))
        return new

    # -- the token endpoint --------------------------------------------------------------------

    def _keeper(self, user_key: str) -> TokenKeeper:
        on_refresh = self._on_refresh
        handed = None
        if on_refresh is not None:

            def handed(pair: TokenPair) -> Awaitable[None] | None:
                return on_refresh(user_key, pair)

        return TokenKeeper(
            self._store,
            user_key,
            on_new_pair=handed,
            margin=self._refresh_margin,
            clock=self._clock,
        )

    def _refresher(self, user_key: str) -> RefreshFunction:
        async def refresh(pair: TokenPair) -> TokenPair:
            if not pair.refresh_token:
                raise errors.ReauthorizationRequired(
                    user_key, "the access token expired and the pair has no refresh token"
                )
            fields = {"grant_type": "refresh_token", "refresh_token": pair.refresh_token}
            try:
                return await self._token_request(fields, "refresh", keep=pair.refresh_token)
            except errors.APIError as exc:
                if exc.code != "invalid_grant":
                    raise
                raise errors.ReauthorizationRequired(
                    user_key,
                    f"the refresh was refused (invalid_grant: {exc.message})",
                    error="invalid_grant",
                ) from exc

        return refresh

    async def _token_request(
        self, fields: Mapping[str, str], what: str, *, keep: str | None = None
    ) -> TokenPair:
        body = {**fields, "client_id": self._client_id}
        if self._client_secret is not None:
            body["client_secret"] = self._client_secret
        spec = RequestSpec(
            "POST",
            TOKEN_PATH,
            f"oauth token ({what})",
            body=urlencode(body).encode(),
            template=TOKEN_PATH,
            operation_id="OAuth2Controller_token",
            content_type=_FORM,
            envelope=False,
        )
        http = self._http
        try:
            response = await http._pipeline.send(spec, http.credential, None, CallOptions())
        except errors.DecodeError as exc:  # its message quotes the body: it may hold a token
            raise errors.DecodeError(
                f"the token endpoint's answer to the {what} is not JSON", status=exc.status
            ) from None
        return _token_pair(response.data, response.status, self._clock.time(), keep, what)

    async def aclose(self) -> None:
        """Close the token endpoint's connections."""
        await self._http.aclose()

    async def __aenter__(self) -> OAuthApp:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()


def _token_pair(data: Any, status: int, now: float, keep: str | None, what: str) -> TokenPair:
    """The pair of an RFC 6749 token response; :class:`DecodeError` (naming no value) if it is
    not one."""

    def wrong(problem: str) -> errors.DecodeError:
        return errors.DecodeError(
            f"the token endpoint's answer to the {what} {problem}", status=status
        )

    if not isinstance(data, dict):
        raise wrong("is not a JSON object")
    token_type = data.get("token_type")
    if not isinstance(token_type, str) or token_type.lower() != "bearer":
        raise wrong("has no token_type 'bearer'")
    if not isinstance(data.get("access_token"), str) or not data["access_token"]:
        raise wrong("has no access_token")
    refresh = data.get("refresh_token")
    if refresh is not None and (not isinstance(refresh, str) or not refresh):
        raise wrong("has a refresh_token that is not a string")
    try:
        return TokenPair.from_response(data, now=now, refresh_token=keep)
    except errors.ConfigurationError:
        raise wrong("has an expires_in that is not seconds") from None


class OAuthCredential(_KeptToken):
    """Calls as one user of an :class:`OAuthApp` (``app.credential(user_key)``).

    ``Authorization: Bearer <the user's access token>``, paced as access tokens are (500 / 60 s
    per user); refreshed through the app's token endpoint before expiry and after a 401/498,
    once for everyone using the user's pair (it ignores the session's managed-user refresher).
    """

    __slots__ = ("_app", "_refresh", "_user_key")

    def __init__(self, app: OAuthApp, user_key: str) -> None:
        self._app = app
        self._user_key = user_key
        self._keeper = app._keeper(user_key)
        self._refresh = app._refresher(user_key)
        self._rate_limit = app._rate_limit
        # Per app and user: stable across rotations and processes, and never a token.
        self._limit_key = _digest("access_token", "oauth", app.client_id, user_key)

    @property
    def user_key(self) -> str:
        return self._user_key

    def _refresh_function(self, refresher: TokenRefresher) -> RefreshFunction:
        return self._refresh

    def __repr__(self) -> str:
        return f"OAuthCredential(client_id={self._app.client_id!r}, user_key={self._user_key!r})"
