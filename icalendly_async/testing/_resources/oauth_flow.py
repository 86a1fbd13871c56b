"""OAuth 2.0 for partner apps: the authorize page and the token endpoint (see :mod:`.._oauth`).

* ``GET /auth/oauth2/authorize`` (``app.icalendly.com`` on the service; the emulator serves it on
  its own host): 302 to the app's ``redirect_uri`` with ``code`` and ``state`` (or an RFC 6749
  ``error``), or an HTML page naming what is wrong with the request (never a redirect).
* ``POST /v2/auth/oauth2/token``: JSON or ``application/x-www-form-urlencoded`` (the client may
  also authenticate with HTTP Basic, RFC 6749 §2.3.1); the RFC 6749 token response, or its §5.2
  error body. Both answers carry ``Cache-Control: no-store``.
"""

from __future__ import annotations

import base64
import binascii
import html
import json
from typing import Any
from urllib.parse import parse_qsl, unquote_plus

from .._context import Context
from .._envelope import Reply, encode
from .._oauth import AuthorizePageError, OAuthFlowError

__all__ = ["authorize", "token"]

_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
_FORM = "application/x-www-form-urlencoded"


def _page(status: int, message: str) -> Reply:
    text = html.escape(message)
    body = (
        "<!doctype html><html><head><title>iCalendly: authorization failed</title></head>"
        f"<body><h1>This app cannot ask for access</h1><p>{text}</p></body></html>"
    )
    return Reply(body.encode(), status, "text/html", _NO_STORE)


async def authorize(ctx: Context) -> Reply:
    """Approve (or deny) as the test user, or show what is wrong."""
    query = ctx.request.query
    repeated = sorted({name for name in query if len(query.getall(name)) > 1})
    if repeated:
        return _page(400, f"The authorization request repeats {', '.join(repeated)}.")
    try:
        location = ctx.state.oauth.authorize({name: query[name] for name in query})
    except AuthorizePageError as error:
        return _page(error.status, error.message)
    return Reply(b"", 302, "text/plain", {**_NO_STORE, "Location": location})


def _fields(content_type: str, raw: bytes) -> dict[str, str]:
    if content_type == _FORM:
        try:
            pairs = parse_qsl(raw.decode(), keep_blank_values=True, strict_parsing=bool(raw))
        except (UnicodeDecodeError, ValueError):
            raise OAuthFlowError("invalid_request", "the form body cannot be parsed") from None
        fields: dict[str, str] = {}
        for name, value in pairs:
            if name in fields:
                raise OAuthFlowError("invalid_request", f"{name} is repeated")
            fields[name] = value
        return fields
    if content_type == "application/json":
        try:
            data: Any = json.loads(raw or b"null")
        except ValueError:
            raise OAuthFlowError("invalid_request", "the JSON body cannot be parsed") from None
        if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
            raise OAuthFlowError("invalid_request", "the JSON body must be an object of strings")
        return data
    raise OAuthFlowError(
        "invalid_request", f"the body must be {_FORM} or application/json, not {content_type!r}"
    )


def _basic(header: str | None) -> tuple[str, str] | None:
    if not header or header[:6].lower() != "basic ":
        return None
    try:
        decoded = base64.b64decode(header[6:].strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        raise OAuthFlowError("invalid_client", "malformed Basic credentials", 401) from None
    client_id, sep, secret = decoded.partition(":")
    if not sep:
        raise OAuthFlowError("invalid_client", "malformed Basic credentials", 401)
    return unquote_plus(client_id), unquote_plus(secret)


async def token(ctx: Context) -> Reply:
    """Exchange a code, or refresh, for a token pair."""
    request, stats = ctx.request, ctx.state.stats
    grant_type = None
    basic = None
    try:
        basic = _basic(request.headers.get("Authorization"))
        fields = _fields(request.content_type, await request.read())
        grant_type = fields.get("grant_type")
        answer = ctx.state.oauth.token(fields, basic)
    except OAuthFlowError as error:
        if grant_type == "refresh_token":
            stats.refresh_failures += 1
        headers = dict(_NO_STORE)
        if error.status == 401 and basic is not None:
            headers["WWW-Authenticate"] = 'Basic realm="icalendly"'
        return Reply(encode(error.body()), error.status, headers=headers)
    if grant_type == "refresh_token":
        stats.refreshes += 1
    else:
        stats.code_exchanges += 1
    return Reply(encode(answer), 200, headers=_NO_STORE)
