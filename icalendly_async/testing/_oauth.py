"""The OAuth 2.0 authorization-code flow of partner apps ("Continue with iCalendly").

As the service runs it (NOTES.md, "OAuth 2.0 for partner apps"; RFC 6749, RFC 7636):

- **authorize** (the user's browser): the app is known, approved, and ``redirect_uri`` is one it
  registered, exactly; otherwise the error is shown to the user (:class:`AuthorizePageError`),
  never sent to the app. Past that, the test user approves (a 302 to
  ``redirect_uri?code=…&state=…``) or denies (``error=access_denied``); a public client must
  send ``code_challenge`` with ``code_challenge_method=S256``. Codes are single-use and live
  10 minutes.
- **token**: ``grant_type=authorization_code`` (with ``code``, ``redirect_uri`` when the
  authorization had one, and ``client_secret`` or ``code_verifier``) or ``refresh_token``.
  Answers ``{"access_token", "token_type": "bearer", "refresh_token", "expires_in"}``; errors
  are RFC 6749 §5.2 bodies (:class:`OAuthFlowError`). Refresh tokens rotate: the used one and
  the access token issued with it stop working. A used refresh token (or code) presented again
  revokes every token of its grant (reuse detection).

Access tokens are registered in the :class:`~._credentials.CredentialStore`, so they
authenticate every route like any access token; expiry reads the emulator's clock.
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

import attrs

from .._clock import SYSTEM_CLOCK, Clock
from ._credentials import CredentialStore

__all__ = [
    "CODE_TTL",
    "DEFAULT_REDIRECT_URI",
    "AuthorizePageError",
    "OAuthFlowError",
    "OAuthFlows",
    "PartnerApp",
]

CODE_TTL = 600.0  # seconds: the service's codes live 10 minutes
REFRESH_TOKEN_TTL = 365 * 24 * 3600.0
DEFAULT_REDIRECT_URI = "http://127.0.0.1:8000/oauth/callback"
_CHALLENGE = re.compile(r"[A-Za-z0-9_-]{43}")  # BASE64URL(SHA-256), no padding
_VERIFIER = re.compile(r"[A-Za-z0-9._~-]{43,128}")  # RFC 7636 §4.1


class OAuthFlowError(Exception):
    """An RFC 6749 error: the token endpoint's JSON body, or the ``error`` of a redirect."""

    def __init__(self, error: str, description: str, status: int = 400) -> None:
        super().__init__(f"{error}: {description}")
        self.error = error
        self.description = description
        self.status = status

    def body(self) -> dict[str, str]:
        return {"error": self.error, "error_description": self.description}


class AuthorizePageError(Exception):
    """An authorization request that cannot be trusted to redirect: shown to the user."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@attrs.frozen
class PartnerApp:
    """A registered OAuth client of a partner app. ``client_secret`` ``None``: a public client
    (a single-page or native app), which must use PKCE."""

    client_id: str
    client_secret: str | None = attrs.field(repr=False)
    redirect_uris: tuple[str, ...]
    approved: bool = True
    name: str = "Emulator partner app"

    @property
    def confidential(self) -> bool:
        return self.client_secret is not None


@attrs.define
class _Grant:
    """One authorization: what the user approved, and every token issued under it."""

    client_id: str
    user_id: int
    scopes: tuple[str, ...]
    access_tokens: set[str] = attrs.field(factory=set)
    revoked: bool = False


@attrs.define
class _Code:
    client_id: str
    user_id: int
    redirect_uri: str | None  # as the authorization request gave it (None: not given)
    challenge: str | None
    scopes: tuple[str, ...]
    expires_at: float
    grant: _Grant | None = None  # set once exchanged


@attrs.define
class _Refresh:
    grant: _Grant
    access_token: str  # issued with it
    expires_at: float
    used: bool = False


def s256(verifier: str) -> str:
    """RFC 7636's ``S256`` code challenge of ``verifier``."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def _with_query(uri: str, params: Mapping[str, str | None]) -> str:
    parts = urlsplit(uri)
    extra = urlencode({k: v for k, v in params.items() if v is not None})
    query = f"{parts.query}&{extra}" if parts.query else extra
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, ""))


class OAuthFlows:
    """Partner apps, their codes and grants; the test user who approves (or denies)."""

    def __init__(
        self,
        credentials: CredentialStore,
        *,
        user_id: int,
        consent: bool = True,
        token_ttl: float = 1800.0,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        self.credentials = credentials
        self.user_id = user_id
        self.consent = consent
        self.token_ttl = token_ttl
        self.clock = clock
        self.apps: dict[str, PartnerApp] = {}
        self._codes: dict[str, _Code] = {}
        self._refreshes: dict[str, _Refresh] = {}
        self._grants: list[_Grant] = []

    def __repr__(self) -> str:
        return f"<OAuthFlows apps={len(self.apps)} grants={len(self._grants)}>"

    def add_app(
        self,
        *,
        confidential: bool,
        redirect_uris: tuple[str, ...],
        approved: bool = True,
        name: str = "Emulator partner app",
    ) -> PartnerApp:
        """Register a partner app (a client id and, when ``confidential``, a secret)."""
        if not redirect_uris:
            raise ValueError("a partner app needs at least one redirect URI")
        app = PartnerApp(
            client_id="oa" + secrets.token_hex(12),
            client_secret=secrets.token_urlsafe(32) if confidential else None,
            redirect_uris=tuple(redirect_uris),
            approved=approved,
            name=name,
        )
        self.apps[app.client_id] = app
        return app

    # -- authorize ------------------------------------------------------------------------------

    def authorize(self, params: Mapping[str, str]) -> str:
        """The ``Location`` to send the browser to, or :class:`AuthorizePageError`."""
        client_id = params.get("client_id")
        if not client_id:
            raise AuthorizePageError(400, "The authorization request has no client_id.")
        app = self.apps.get(client_id)
        if app is None:
            raise AuthorizePageError(400, "Unknown client: no app is registered with this id.")
        redirect_uri = params.get("redirect_uri")
        if redirect_uri is None:
            if len(app.redirect_uris) != 1:
                raise AuthorizePageError(
                    400, "The authorization request has no redirect_uri, and the app has several."
                )
            target = app.redirect_uris[0]
        elif redirect_uri not in app.redirect_uris:
            raise AuthorizePageError(
                400, "The redirect_uri does not match any URI registered for this app."
            )
        else:
            target = redirect_uri
        if not app.approved:
            raise AuthorizePageError(
                403, f"{app.name} has not been approved yet: it cannot ask for access."
            )
        state = params.get("state")

        def refuse(error: str, description: str) -> str:
            return _with_query(
                target, {"error": error, "error_description": description, "state": state}
            )

        if params.get("response_type", "code") != "code":
            return refuse("unsupported_response_type", "response_type must be code")
        challenge = params.get("code_challenge")
        if challenge is not None:
            if params.get("code_challenge_method") != "S256":
                return refuse("invalid_request", "code_challenge_method must be S256")
            if not _CHALLENGE.fullmatch(challenge):
                return refuse("invalid_request", "code_challenge is not a BASE64URL SHA-256")
        elif not app.confidential:
            return refuse(
                "invalid_request", "a public client must send code_challenge (PKCE, S256)"
            )
        if not self.consent:
            return refuse("access_denied", "the user denied the request")
        code = secrets.token_urlsafe(32)
        self._codes[code] = _Code(
            app.client_id,
            self.user_id,
            redirect_uri,
            challenge,
            tuple(params.get("scope", "").split()),
            self.clock.time() + CODE_TTL,
        )
        return _with_query(target, {"code": code, "state": state})

    # -- token ----------------------------------------------------------------------------------

    def token(
        self, fields: Mapping[str, str], basic: tuple[str, str] | None = None
    ) -> dict[str, Any]:
        """The token response for a token request's fields, or :class:`OAuthFlowError`."""
        app = self._client(fields, basic)
        grant_type = fields.get("grant_type")
        if not grant_type:
            raise OAuthFlowError("invalid_request", "grant_type is missing")
        if not app.approved:
            raise OAuthFlowError("unauthorized_client", "the app has not been approved yet")
        if grant_type == "authorization_code":
            return self._exchange(app, fields)
        if grant_type == "refresh_token":
            return self._refresh(app, fields)
        raise OAuthFlowError(
            "unsupported_grant_type", "grant_type must be authorization_code or refresh_token"
        )

    def _client(self, fields: Mapping[str, str], basic: tuple[str, str] | None) -> PartnerApp:
        client_id = fields.get("client_id")
        secret = fields.get("client_secret")
        if basic is not None:
            if client_id is not None and client_id != basic[0]:
                raise OAuthFlowError(
                    "invalid_request", "client_id differs from the Authorization header's"
                )
            client_id, secret = basic
        if not client_id:
            raise OAuthFlowError("invalid_request", "client_id is missing")
        app = self.apps.get(client_id)
        if app is None:
            raise OAuthFlowError("invalid_client", "unknown client", 401)
        if app.client_secret is None:
            if secret:
                raise OAuthFlowError("invalid_client", "a public client has no secret", 401)
        elif not secret or not secrets.compare_digest(app.client_secret.encode(), secret.encode()):
            raise OAuthFlowError("invalid_client", "client authentication failed", 401)
        return app

    def _exchange(self, app: PartnerApp, fields: Mapping[str, str]) -> dict[str, Any]:
        code = fields.get("code")
        if not code:
            raise OAuthFlowError("invalid_request", "code is missing")
        record = self._codes.get(code)
        if record is None or record.client_id != app.client_id:
            raise OAuthFlowError("invalid_grant", "unknown authorization code")
        if record.grant is not None:  # a second use: revoke what the first one got
            self._revoke(record.grant)
            raise OAuthFlowError(
                "invalid_grant",
                "the authorization code was already used; the tokens issued with it are revoked",
            )
        if self.clock.time() >= record.expires_at:
            del self._codes[code]
            raise OAuthFlowError("invalid_grant", "the authorization code expired")
        redirect_uri = fields.get("redirect_uri")
        if record.redirect_uri is not None and redirect_uri != record.redirect_uri:
            raise OAuthFlowError(
                "invalid_grant", "redirect_uri does not match the authorization request's"
            )
        if record.challenge is not None:
            verifier = fields.get("code_verifier")
            if not verifier:
                raise OAuthFlowError("invalid_grant", "code_verifier is missing (PKCE)")
            if not _VERIFIER.fullmatch(verifier) or not secrets.compare_digest(
                s256(verifier), record.challenge
            ):
                raise OAuthFlowError("invalid_grant", "code_verifier does not match (PKCE)")
        grant = _Grant(app.client_id, record.user_id, record.scopes)
        record.grant = grant
        self._grants.append(grant)
        return self._issue(grant)

    def _refresh(self, app: PartnerApp, fields: Mapping[str, str]) -> dict[str, Any]:
        token = fields.get("refresh_token")
        if not token:
            raise OAuthFlowError("invalid_request", "refresh_token is missing")
        record = self._refreshes.get(token)
        if record is None or record.grant.client_id != app.client_id:
            raise OAuthFlowError("invalid_grant", "unknown refresh token")
        grant = record.grant
        if grant.revoked:
            raise OAuthFlowError("invalid_grant", "the grant was revoked")
        if record.used:
            self._revoke(grant)
            raise OAuthFlowError(
                "invalid_grant",
                "the refresh token was already used (they rotate): every token of this grant "
                "is revoked",
            )
        if self.clock.time() >= record.expires_at:
            raise OAuthFlowError("invalid_grant", "the refresh token expired")
        record.used = True
        self.credentials.access_tokens.pop(record.access_token, None)
        grant.access_tokens.discard(record.access_token)
        return self._issue(grant)

    def _issue(self, grant: _Grant) -> dict[str, Any]:
        ttl = self.token_ttl
        access, _ = self.credentials.add_access_token(grant.client_id, grant.user_id, ttl)
        grant.access_tokens.add(access)
        refresh = secrets.token_urlsafe(32)
        self._refreshes[refresh] = _Refresh(grant, access, self.clock.time() + REFRESH_TOKEN_TTL)
        return {
            "access_token": access,
            "token_type": "bearer",
            "refresh_token": refresh,
            "expires_in": int(ttl) if float(ttl).is_integer() else ttl,
        }

    def _revoke(self, grant: _Grant) -> None:
        grant.revoked = True
        for access in grant.access_tokens:
            self.credentials.access_tokens.pop(access, None)
        grant.access_tokens.clear()

    def revoke(self, *, client_id: str | None = None, user_id: int | None = None) -> int:
        """Revoke the grants of ``client_id`` and/or ``user_id`` (both ``None``: every grant), as
        a user removing the app from their account does; how many were revoked."""
        revoked = 0
        for grant in self._grants:
            if grant.revoked:
                continue
            if client_id is not None and grant.client_id != client_id:
                continue
            if user_id is not None and grant.user_id != user_id:
                continue
            self._revoke(grant)
            revoked += 1
        return revoked
