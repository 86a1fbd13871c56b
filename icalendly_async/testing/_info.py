"""Where a running emulator listens and what to call it with (:attr:`Emulator.info`)."""

from __future__ import annotations

import attrs

__all__ = ["ServerInfo"]


@attrs.frozen
class ServerInfo:
    """Where the emulator listens and what to call it with. Secrets stay out of the repr.

    ``oauth_*``: the partner apps of "Continue with iCalendly": a confidential one (id and
    secret) and a public one (PKCE), both registered with ``oauth_redirect_uri``; the browser
    goes to ``authorize_url``.
    """

    base_url: str
    api_key: str = attrs.field(repr=False)
    client_id: str
    client_secret: str = attrs.field(repr=False)
    authorize_url: str = ""
    oauth_client_id: str = ""
    oauth_client_secret: str = attrs.field(default="", repr=False)
    oauth_public_client_id: str = ""
    oauth_redirect_uri: str = ""

    def environment(self) -> dict[str, str]:
        """The settings as environment variables (``ICALENDLY_BASE_URL``, ``ICALENDLY_API_KEY``,
        ``ICALENDLY_CLIENT_ID``, ``ICALENDLY_CLIENT_SECRET``, and for OAuth partner apps
        ``ICALENDLY_AUTHORIZE_URL``, ``ICALENDLY_OAUTH_CLIENT_ID``,
        ``ICALENDLY_OAUTH_CLIENT_SECRET``, ``ICALENDLY_OAUTH_PUBLIC_CLIENT_ID``,
        ``ICALENDLY_OAUTH_REDIRECT_URI``)."""
        settings = {
            "ICALENDLY_BASE_URL": self.base_url,
            "ICALENDLY_API_KEY": self.api_key,
            "ICALENDLY_CLIENT_ID": self.client_id,
            "ICALENDLY_CLIENT_SECRET": self.client_secret,
            "ICALENDLY_AUTHORIZE_URL": self.authorize_url,
            "ICALENDLY_OAUTH_CLIENT_ID": self.oauth_client_id,
            "ICALENDLY_OAUTH_CLIENT_SECRET": self.oauth_client_secret,
            "ICALENDLY_OAUTH_PUBLIC_CLIENT_ID": self.oauth_public_client_id,
            "ICALENDLY_OAUTH_REDIRECT_URI": self.oauth_redirect_uri,
        }
        return {name: value for name, value in settings.items() if value}
