"""The :class:`Emulator`: a local, stateful iCalendly API v2 for tests, on a real loopback socket.

It behaves like the service in what a client's transport must get right: credentials and
token refresh (rotation, 498 on expiry), plan tiers (403), the service's rate limiter (fixed
window per credential, block after an overrun, ``X-RateLimit-*`` on every answer, no
``Retry-After``), the envelopes, and injectable faults. And in what a backend drives: users,
event types, schedules, slots, bookings (create into a free slot, cancel, reschedule, mark
absent, confirm, decline), webhooks delivered signed to local subscribers, teams, the
organization and its users, platform OAuth clients and their managed users. Every request is
checked against the repaired document (400 when it breaks it). Operations it does not implement
answer 501 (``NotImplemented``), never a made-up 200, unless ``document_answers=True`` asks
for answers built from the document.

::

    async with Emulator(seed=7, bookings=500) as emu:
        async with aiohttp.ClientSession() as http:
            await http.get(f"{emu.base_url}/v2/me",
                           headers={"Authorization": f"Bearer {emu.api_key}"})
"""

from __future__ import annotations

import asyncio
import functools
import os
import ssl
from collections.abc import Mapping, Sequence
from types import TracebackType

from aiohttp import web

from .._clock import SYSTEM_CLOCK, Clock
from .._tokens import TokenPair
from ..plans import Plan
from ..ratelimit.headers import RateLimit
from ._answers import DocumentAnswers
from ._churn import Churn
from ._credentials import CredentialStore, OAuthClient, digest
from ._data import OWNER_ID, DataStore
from ._faults import Fault
from ._info import ServerInfo
from ._oauth import DEFAULT_REDIRECT_URI, OAuthFlows, PartnerApp
from ._ratelimit import RateLimits
from ._routes import build_app
from ._state import EmulatorState
from ._stats import EmulatorStats, RequestRecord, max_in_window
from ._validation import (
    ReceivedRequest,
    RequestValidator,
    ResponseValidator,
    SchemaViolation,
    jsonschema_available,
)
from ._webhooks import WebhookDelivery, WebhookDispatcher

__all__ = ["VALIDATE_ENV", "Emulator", "SchemaViolationError"]

DEFAULT_MANAGED_USERS = 12
VALIDATE_ENV = "ICALENDLY_EMULATOR_VALIDATE"
_SHUTDOWN_TIMEOUT = 1.0


class SchemaViolationError(AssertionError):
    """The emulator sent bodies that do not match the document (``validate_responses``)."""

    def __init__(self, violations: list[SchemaViolation]) -> None:
        self.violations = list(violations)
        lines = "\n".join(f"  - {violation}" for violation in self.violations[:20])
        more = len(self.violations) - 20
        tail = f"\n  … and {more} more" if more > 0 else ""
        super().__init__(
            f"the emulator sent {len(self.violations)} response(s) that do not match the "
            f"OpenAPI document:\n{lines}{tail}"
        )


@functools.lru_cache(maxsize=1)
def _shared_validator() -> ResponseValidator:
    return ResponseValidator()


@functools.lru_cache(maxsize=1)
def _shared_request_validator() -> RequestValidator:
    return RequestValidator()


def _validate_default() -> bool:
    return os.environ.get(VALIDATE_ENV, "").strip().lower() in ("1", "true", "yes", "on")


class Emulator:
    """A local iCalendly API v2 server; use ``async with Emulator() as emu``.

    ``rate_limit``: the ``Default`` limit of every credential kind (``None``: the documented
    defaults: API keys 120/60 s, platform clients and access tokens 500/60 s, unauthenticated
    120/60 s per IP). ``block_seconds``: how long a credential is blocked after exceeding a
    limit (``None``: that limit's window). ``enforce_rate_limits=False`` turns the limiter off
    (no 429, no ``X-RateLimit-*`` headers). ``extra_limits``: named limits,
    ``{"Bookings": ("/v2/bookings", RateLimit(5, 3))}``. ``plan``: the plan of :attr:`api_key`.
    ``access_token_ttl``: seconds an access token lives. ``seed``/``bookings``: the seeded data,
    the same for the same seed (``Emulator(seed=7, bookings=20_000)`` seeds in half a second):
    the owner of :attr:`api_key` (user 1) with four event types and its working hours, the
    organization (id 100) with six users and five teams, :attr:`client_id`'s twelve managed
    users, and the owner's bookings. :attr:`data` holds it all.

    ``validate_responses``: check every answer against the OpenAPI document (repaired as
    NOTES.md says); mismatches are collected in :attr:`schema_violations` and raised as
    :class:`SchemaViolationError` when the ``async with`` block ends. ``None``: on when the
    environment variable ``ICALENDLY_EMULATOR_VALIDATE`` is ``1``. It needs the document (see
    :mod:`icalendly_async.testing._spec`) and costs time: it is meant for test suites.

    ``validate_requests``: each request to an operation of the document is checked against it
    (path and query parameters: required, unknown, types; the JSON body against its schema), as
    the service validates what it receives, and a wrong one is answered 400 with the service's
    error envelope, naming what is wrong, before the handler runs. :attr:`received_requests`
    keeps what was read. It needs ``jsonschema`` (extra ``testing``): ``None`` (the default)
    turns it on when that is installed; ``True`` insists (``ImportError`` without it).

    ``document_answers``: the operations the emulator does not implement answer their first
    documented success status with a body built from the repaired document's response schema
    (its examples where they fit, else values drawn from ``seed``) instead of 501. Such answers
    are valid, not true: nothing is stored. Off by default: a test that gets a 200 from the
    emulator should be able to trust it.

    ``webhook_retries``/``webhook_backoff``/``webhook_timeout``: a failed delivery is retried
    that many times, waiting ``backoff`` seconds (doubled each time); each attempt waits at
    most ``timeout`` seconds for the subscriber. Subscribers must be on this machine (loopback
    URLs); :attr:`webhook_deliveries` logs every delivery.

    ``ssl_context``: serve HTTPS with it (a throwaway certificate, e.g. from ``trustme``), so
    a test exercises the client's TLS path; :attr:`base_url` is then ``https://…``.

    ``churn``: changes per second made to the owner's bookings while the emulator runs
    (updates, cancellations, new bookings), as on a live account; ``churn_delay``: a quarter of
    them become visible only later, up to that many seconds after the time they are stamped
    with, while later changes land at once (what a sync's lookback window is for);
    ``churn_seed``: the same changes for the same seed. :meth:`apply_churn` makes changes at
    once, :meth:`stop_churn` stops and lets the late ones land.

    OAuth 2.0 for partner apps ("Continue with iCalendly"): :attr:`oauth_app` (confidential,
    with a secret) and :attr:`oauth_public_app` (public: PKCE) are registered with
    ``oauth_redirect_uris``; :meth:`add_oauth_app` registers more. At :attr:`authorize_url` the
    user ``oauth_user_id`` approves every request (``oauth_consent=False``: denies it); their
    access tokens live ``oauth_token_ttl`` seconds (the service's 1800 by default).

    ``clock``: the clock that token and authorization-code expiry read (a ``VirtualClock``
    makes an hour pass at once; share it with the client's credentials).
    """

    def __init__(
        self,
        *,
        rate_limit: RateLimit | None = None,
        block_seconds: float | None = None,
        enforce_rate_limits: bool = True,
        extra_limits: Mapping[str, tuple[str, RateLimit]] | None = None,
        plan: Plan = Plan.PLATFORM,
        access_token_ttl: float = 3600.0,
        seed: int = 0,
        bookings: int = 50,
        host: str = "127.0.0.1",
        port: int = 0,
        validate_responses: bool | None = None,
        validate_requests: bool | None = None,
        document_answers: bool = False,
        webhook_retries: int = 3,
        webhook_backoff: float = 0.2,
        webhook_timeout: float = 5.0,
        ssl_context: ssl.SSLContext | None = None,
        churn: float = 0.0,
        churn_delay: float = 2.0,
        churn_seed: int | None = None,
        oauth_user_id: int = OWNER_ID,
        oauth_consent: bool = True,
        oauth_token_ttl: float = 1800.0,
        oauth_redirect_uris: Sequence[str] = (DEFAULT_REDIRECT_URI,),
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        if rate_limit is not None and not isinstance(rate_limit, RateLimit):
            raise TypeError(f"rate_limit must be a RateLimit, got {rate_limit!r}")
        if block_seconds is not None and block_seconds < 0:
            raise ValueError(f"block_seconds must be >= 0, got {block_seconds!r}")
        if access_token_ttl <= 0:
            raise ValueError(f"access_token_ttl must be > 0 seconds, got {access_token_ttl!r}")
        if oauth_token_ttl <= 0:
            raise ValueError(f"oauth_token_ttl must be > 0 seconds, got {oauth_token_ttl!r}")
        if isinstance(oauth_redirect_uris, str) or not oauth_redirect_uris:
            raise ValueError("oauth_redirect_uris must be a non-empty sequence of URIs")
        if bookings < 0:
            raise ValueError(f"bookings must be >= 0, got {bookings!r}")
        if webhook_retries < 0 or webhook_backoff < 0 or webhook_timeout <= 0:
            raise ValueError(
                "webhook_retries and webhook_backoff must be >= 0 and webhook_timeout > 0"
            )
        if churn < 0 or churn_delay < 0:
            raise ValueError(f"churn and churn_delay must be >= 0, got {churn!r}, {churn_delay!r}")
        if validate_responses is None:
            validate_responses = _validate_default()
        if validate_requests is None:
            validate_requests = jsonschema_available()
        elif validate_requests and not jsonschema_available():
            raise ImportError(
                "Emulator(validate_requests=True) needs jsonschema: "
                "pip install 'icalendly-async[testing]'"
            )
        self._host = host
        self._port = port
        self._ssl_context = ssl_context
        credentials = CredentialStore(access_token_ttl=access_token_ttl, clock=clock)
        data = DataStore(seed=seed, bookings=bookings, anchor=DataStore.default_anchor())
        if data.users.get(oauth_user_id) is None:
            raise ValueError(f"oauth_user_id: no user with id {oauth_user_id}")
        oauth = OAuthFlows(
            credentials,
            user_id=oauth_user_id,
            consent=oauth_consent,
            token_ttl=oauth_token_ttl,
            clock=clock,
        )
        limits = (
            RateLimits(block_seconds=block_seconds, extra_limits=extra_limits or {})
            if enforce_rate_limits
            else None
        )
        closing = asyncio.Event()
        webhooks = WebhookDispatcher(
            retries=webhook_retries,
            backoff=webhook_backoff,
            timeout=webhook_timeout,
            closing=closing,
        )
        self._state = EmulatorState(
            credentials=credentials,
            data=data,
            limits=limits,
            rate_limit=rate_limit,
            webhooks=webhooks,
            closing=closing,
            oauth=oauth,
            validator=_shared_validator() if validate_responses else None,
            request_validator=_shared_request_validator() if validate_requests else None,
            answers=DocumentAnswers(seed) if document_answers else None,
        )
        self._api_key = credentials.add_api_key(live=False, plan=plan, rate_limit=None)
        self._client = credentials.add_client(plan=Plan.PLATFORM, rate_limit=None)
        data.client_profiles[self._client.client_id] = {
            "name": "Emulator platform client",
            "permissions": ["BOOKING_READ", "BOOKING_WRITE", "EVENT_TYPE_READ", "SCHEDULE_READ"],
            "redirectUris": ["http://127.0.0.1/callback"],
            "areEmailsEnabled": True,
            "areDefaultEventTypesEnabled": False,
            "areCalendarEventsEnabled": True,
            "createdAt": data.anchor.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        }
        for _ in range(DEFAULT_MANAGED_USERS):
            data.add_managed_user(self._client.client_id)
        self._churn = Churn(self._state, rate=churn, seed=churn_seed, max_delay=churn_delay)
        self._churn_task: asyncio.Task[None] | None = None
        redirect_uris = tuple(oauth_redirect_uris)
        self._oauth_app = oauth.add_app(confidential=True, redirect_uris=redirect_uris)
        self._oauth_public_app = oauth.add_app(
            confidential=False, redirect_uris=redirect_uris, name="Emulator public app"
        )
        self._runner: web.AppRunner | None = None
        self._base_url: str | None = None

    def __repr__(self) -> str:
        where = self._base_url or "not started"
        return f"<Emulator {where}>"

    # --- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> Emulator:
        """Start serving (on a free port unless one was given)."""
        if self._runner is not None:
            raise RuntimeError("the emulator is already running")
        self._state.closing.clear()
        runner = web.AppRunner(
            build_app(self._state),
            access_log=None,
            handle_signals=False,
            shutdown_timeout=_SHUTDOWN_TIMEOUT,
        )
        await runner.setup()
        try:
            site = web.TCPSite(runner, self._host, self._port, ssl_context=self._ssl_context)
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        port = runner.addresses[0][1]
        host = f"[{self._host}]" if ":" in self._host else self._host
        scheme = "https" if self._ssl_context is not None else "http"
        self._base_url = f"{scheme}://{host}:{port}"
        if self._churn.rate > 0:
            self._churn_task = asyncio.get_running_loop().create_task(self._churn.run())
        return self

    async def stop(self) -> None:
        """Stop serving; hung and trickling requests are dropped, webhook deliveries still
        queued are abandoned (wait for them first with :meth:`wait_for_webhooks`)."""
        runner, self._runner = self._runner, None
        if runner is None:
            return
        await self._cancel_churn()
        self._churn.abandon()
        self._state.closing.set()
        try:
            await self._state.webhooks.close()
        finally:
            await runner.cleanup()

    async def __aenter__(self) -> Emulator:
        return await self.start()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()
        if exc_type is None:
            self.check_schema_violations()

    # --- where and who -----------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT`` (only while running)."""
        if self._base_url is None:
            raise RuntimeError("the emulator is not running: use 'async with Emulator() as emu'")
        return self._base_url

    @property
    def info(self) -> ServerInfo:
        """Everything a client needs to call this running emulator: its base URL, the ready
        API key, the platform client, the OAuth partner apps (secrets stay out of the repr;
        ``info.environment()`` gives them as ``ICALENDLY_*`` variables)."""
        app, public = self.oauth_app, self.oauth_public_app
        return ServerInfo(
            self.base_url,
            self.api_key,
            self.client_id,
            self.client_secret,
            authorize_url=self.authorize_url,
            oauth_client_id=app.client_id,
            oauth_client_secret=app.client_secret or "",
            oauth_public_client_id=public.client_id,
            oauth_redirect_uri=app.redirect_uris[0],
        )

    @property
    def api_key(self) -> str:
        """A ready test-mode API key (``ical_…``) on the ``plan`` given to the constructor."""
        return self._api_key

    @property
    def client_id(self) -> str:
        """The ready platform OAuth client's id (``x-cal-client-id``)."""
        return self._client.client_id

    @property
    def client_secret(self) -> str:
        """The ready platform OAuth client's secret (``x-cal-secret-key``)."""
        return self._client.client_secret

    @property
    def data(self) -> DataStore:
        """The emulator's state: ``users``, ``schedules``, ``event_types``, ``bookings`` (by
        start), ``teams`` (and memberships), ``subscriptions``, ``reservations``. Read it to know
        what to expect; change it through the API."""
        return self._state.data

    def add_api_key(
        self,
        *,
        live: bool = False,
        plan: Plan = Plan.PLATFORM,
        rate_limit: RateLimit | None = None,
        user_id: int = OWNER_ID,
    ) -> str:
        """A new API key (``ical_live_…`` when ``live``) with its own plan and, maybe, limit;
        ``user_id``: the user it acts as (default: the owner; see ``emu.data.users``)."""
        if self._state.data.users.get(user_id) is None:
            raise ValueError(f"no user with id {user_id}")
        return self._state.credentials.add_api_key(
            live=live, plan=plan, rate_limit=rate_limit, user_id=user_id
        )

    def add_oauth_client(
        self, *, plan: Plan = Plan.PLATFORM, rate_limit: RateLimit | None = None
    ) -> OAuthClient:
        """A new platform OAuth client; its access tokens share its plan and limit."""
        return self._state.credentials.add_client(plan=plan, rate_limit=rate_limit)

    def issue_tokens(
        self, user_id: int | None = None, *, client_id: str | None = None
    ) -> TokenPair:
        """A fresh token pair for a managed user of the client (default: the ready client).

        ``user_id`` ``None``: the client's first managed user; an unknown id becomes a new
        managed user of the client.
        """
        client = client_id or self._client.client_id
        if client not in self._state.credentials.clients:
            raise ValueError("unknown OAuth client id")
        data = self._state.data
        users = data.users_of_client.get(client, [])
        if user_id is None:
            user_id = users[0] if users else data.add_managed_user(client).id
        elif user_id not in users:
            if data.users.get(user_id) is not None:
                raise ValueError(f"user {user_id} exists and is not a managed user of this client")
            data.add_managed_user(client, user_id)
        return self._state.credentials.issue(client, user_id)

    # --- OAuth 2.0 for partner apps --------------------------------------------------------

    @property
    def authorize_url(self) -> str:
        """Where a partner app sends the user's browser (``OAuthApp(authorize_url=…)``)."""
        return f"{self.base_url}/auth/oauth2/authorize"

    @property
    def oauth_app(self) -> PartnerApp:
        """The ready confidential partner app (``client_id``, ``client_secret``,
        ``redirect_uris``)."""
        return self._oauth_app

    @property
    def oauth_public_app(self) -> PartnerApp:
        """The ready public partner app: no secret, PKCE required."""
        return self._oauth_public_app

    def add_oauth_app(
        self,
        *,
        redirect_uris: Sequence[str] = (DEFAULT_REDIRECT_URI,),
        confidential: bool = True,
        approved: bool = True,
        name: str = "Emulator partner app",
    ) -> PartnerApp:
        """Register a partner app: ``confidential`` gets a secret; an app not ``approved`` is
        refused at the authorize page (as the service refuses apps still under review)."""
        if isinstance(redirect_uris, str):
            raise ValueError("redirect_uris must be a sequence of URIs, not one string")
        return self._state.oauth.add_app(
            confidential=confidential,
            redirect_uris=tuple(redirect_uris),
            approved=approved,
            name=name,
        )

    @property
    def oauth_user_id(self) -> int:
        """The user who answers the authorize page (settable)."""
        return self._state.oauth.user_id

    @oauth_user_id.setter
    def oauth_user_id(self, user_id: int) -> None:
        if self._state.data.users.get(user_id) is None:
            raise ValueError(f"no user with id {user_id}")
        self._state.oauth.user_id = user_id

    @property
    def oauth_consent(self) -> bool:
        """Whether that user approves (``False``: denies with ``access_denied``; settable)."""
        return self._state.oauth.consent

    @oauth_consent.setter
    def oauth_consent(self, consent: bool) -> None:
        self._state.oauth.consent = bool(consent)

    def revoke_oauth_grants(
        self, *, client_id: str | None = None, user_id: int | None = None
    ) -> int:
        """Revoke partner apps' grants (as a user removing an app does): their tokens stop
        working and their refreshes answer ``invalid_grant``. Returns how many were revoked."""
        return self._state.oauth.revoke(client_id=client_id, user_id=user_id)

    def expire_access_tokens(self) -> None:
        """Every access token issued so far (managed users' and partner apps') is expired now
        (they get 498 from now on)."""
        self._state.credentials.expire_access_tokens()

    # --- churn -------------------------------------------------------------------------------

    def apply_churn(self, changes: int = 1, *, backdate: float = 0.0) -> None:
        """Make ``changes`` changes to the owner's bookings now; ``backdate``: stamp them that
        many seconds in the past, as a write that becomes visible late."""
        if backdate < 0:
            raise ValueError(f"backdate must be >= 0 seconds, got {backdate!r}")
        for _ in range(changes):
            self._churn.change(backdate=backdate)

    async def stop_churn(self) -> None:
        """Stop making changes, and wait until the late ones have landed."""
        await self._cancel_churn()
        await self._churn.settle()

    @property
    def churned(self) -> int:
        """How many churn changes have landed so far."""
        return self._churn.made

    async def _cancel_churn(self) -> None:
        task, self._churn_task = self._churn_task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    # --- faults ------------------------------------------------------------------------------

    def inject(self, fault: Fault) -> None:
        """Arm ``fault`` for the next ``fault.times`` matching requests."""
        if not isinstance(fault, Fault):
            raise TypeError(f"expected a Fault, got {fault!r}")
        self._state.faults.add(fault)

    def clear_faults(self) -> None:
        """Disarm every injected fault."""
        self._state.faults.clear()

    # --- webhooks ----------------------------------------------------------------------------

    @property
    def webhook_deliveries(self) -> list[WebhookDelivery]:
        """Every webhook delivery so far, in the order the events happened (updated in place
        as attempts are made)."""
        return self._state.webhooks.deliveries

    async def wait_for_webhooks(self, timeout: float = 10.0) -> list[WebhookDelivery]:
        """Wait until every queued delivery is done (delivered, or out of retries); return the
        log. ``asyncio.TimeoutError`` after ``timeout`` seconds."""
        await self._state.webhooks.wait_idle(timeout)
        return self.webhook_deliveries

    # --- validation --------------------------------------------------------------------------

    @property
    def validates_responses(self) -> bool:
        """Whether answers are checked against the document."""
        return self._state.validator is not None

    @property
    def validates_requests(self) -> bool:
        """Whether requests are checked against the document (``validate_requests``)."""
        return self._state.request_validator is not None

    @property
    def received_requests(self) -> list[ReceivedRequest]:
        """Every request to an operation of the document as request validation read it (path
        and query parameters, parsed body, and ``problem``: what was wrong, ``None`` when
        nothing), in order; empty when ``validate_requests`` is off."""
        return self._state.received

    @property
    def schema_violations(self) -> list[SchemaViolation]:
        """The answers that did not match the document (with ``validate_responses``)."""
        return self._state.violations

    def check_schema_violations(self) -> None:
        """Raise :class:`SchemaViolationError` if any answer did not match the document."""
        if self._state.violations:
            raise SchemaViolationError(self._state.violations)

    # --- observation -------------------------------------------------------------------------

    @property
    def stats(self) -> EmulatorStats:
        """Counters since the start or the last :meth:`reset_stats`."""
        return self._state.stats

    @property
    def request_log(self) -> list[RequestRecord]:
        """Every request received, in the order their answers were decided."""
        return self._state.log

    def reset_stats(self) -> None:
        """Zero :attr:`stats`, empty :attr:`request_log` and :attr:`received_requests`
        (rate-limit state is kept)."""
        self._state.stats.clear()
        self._state.log.clear()
        self._state.received.clear()

    def reset_rate_limits(self) -> None:
        """Forget every rate-limit window and block."""
        if self._state.limits is not None:
            self._state.limits.clear()

    @staticmethod
    def credential_digest(secret_or_header_value: str) -> str:
        """The digest :attr:`request_log` shows for a credential.

        Pass an API key or access token (``"Bearer …"`` works too) or a platform client's id.
        """
        value = secret_or_header_value.strip()
        if value[:7].lower() == "bearer ":
            value = value[7:].strip()
        return digest(value)

    def max_in_window(self, credential: str | None, window_seconds: float) -> int:
        """The most requests of ``credential`` (a digest; ``None``: all requests) received in
        any sliding window of ``window_seconds``."""
        return max_in_window(self._state.log, credential, window_seconds)
