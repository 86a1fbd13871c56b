"""The :class:`Emulator`: a local iCalendly API v2 for tests, on a real loopback socket.

It behaves like the service in what a client's transport must get right: credentials and
token refresh (rotation, 498 on expiry), plan tiers (403), the service's rate limiter (fixed
window per credential, block after an overrun, ``X-RateLimit-*`` on every answer, no
``Retry-After``), the envelopes, a few seeded resources, and injectable faults.

::

    async with Emulator(rate_limit=RateLimit(5, 1)) as emu:
        async with aiohttp.ClientSession() as http:
            await http.get(f"{emu.base_url}/v2/me",
                           headers={"Authorization": f"Bearer {emu.api_key}"})
"""

from __future__ import annotations

from collections.abc import Mapping
from types import TracebackType

from aiohttp import web

from ..plans import Plan
from ..ratelimit.headers import RateLimit
from ._credentials import CredentialStore, OAuthClient, TokenPair, digest
from ._data import DataStore
from ._faults import Fault
from ._ratelimit import RateLimits
from ._routes import build_app
from ._state import EmulatorState
from ._stats import EmulatorStats, RequestRecord, max_in_window

__all__ = ["Emulator"]

DEFAULT_MANAGED_USERS = 12
_SHUTDOWN_TIMEOUT = 1.0


class Emulator:
    """A local iCalendly API v2 server; use ``async with Emulator() as emu``.

    ``rate_limit``: the ``Default`` limit of every credential kind (``None``: the documented
    defaults: API keys 120/60 s, platform clients and access tokens 500/60 s, unauthenticated
    120/60 s per IP). ``block_seconds``: how long a credential is blocked after exceeding a
    limit (``None``: that limit's window). ``enforce_rate_limits=False`` turns the limiter off
    (no 429, no ``X-RateLimit-*`` headers). ``extra_limits``: named limits,
    ``{"Bookings": ("/v2/bookings", RateLimit(5, 3))}``. ``plan``: the plan of :attr:`api_key`.
    ``access_token_ttl``: seconds an access token lives. ``seed``/``bookings``: the seeded data.
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
    ) -> None:
        if rate_limit is not None and not isinstance(rate_limit, RateLimit):
            raise TypeError(f"rate_limit must be a RateLimit, got {rate_limit!r}")
        if block_seconds is not None and block_seconds < 0:
            raise ValueError(f"block_seconds must be >= 0, got {block_seconds!r}")
        if access_token_ttl <= 0:
            raise ValueError(f"access_token_ttl must be > 0 seconds, got {access_token_ttl!r}")
        if bookings < 0:
            raise ValueError(f"bookings must be >= 0, got {bookings!r}")
        self._host = host
        self._port = port
        credentials = CredentialStore(access_token_ttl=access_token_ttl)
        data = DataStore(seed=seed, bookings=bookings, anchor=DataStore.default_anchor())
        limits = (
            RateLimits(block_seconds=block_seconds, extra_limits=extra_limits or {})
            if enforce_rate_limits
            else None
        )
        self._state = EmulatorState(
            credentials=credentials, data=data, limits=limits, rate_limit=rate_limit
        )
        self._api_key = credentials.add_api_key(live=False, plan=plan, rate_limit=None)
        self._client = credentials.add_client(plan=Plan.PLATFORM, rate_limit=None)
        for _ in range(DEFAULT_MANAGED_USERS):
            data.add_managed_user(self._client.client_id)
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
            site = web.TCPSite(runner, self._host, self._port)
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        port = runner.addresses[0][1]
        host = f"[{self._host}]" if ":" in self._host else self._host
        self._base_url = f"http://{host}:{port}"
        return self

    async def stop(self) -> None:
        """Stop serving; hung and trickling requests are dropped."""
        runner, self._runner = self._runner, None
        if runner is None:
            return
        self._state.closing.set()
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

    # --- where and who -----------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT`` (only while running)."""
        if self._base_url is None:
            raise RuntimeError("the emulator is not running: use 'async with Emulator() as emu'")
        return self._base_url

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
        """The seeded data the resources serve (read it to know what to expect)."""
        return self._state.data

    def add_api_key(
        self, *, live: bool = False, plan: Plan = Plan.PLATFORM, rate_limit: RateLimit | None = None
    ) -> str:
        """A new API key (``ical_live_…`` when ``live``) with its own plan and, maybe, limit."""
        return self._state.credentials.add_api_key(live=live, plan=plan, rate_limit=rate_limit)

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
            user_id = users[0] if users else data.add_managed_user(client)["id"]
        elif user_id not in users:
            if user_id in data.managed_users:
                raise ValueError(f"user {user_id} is a managed user of another client")
            data.add_managed_user(client, user_id)
        return self._state.credentials.issue(client, user_id)

    def expire_access_tokens(self) -> None:
        """Every access token issued so far is expired now (they get 498 from now on)."""
        self._state.credentials.expire_access_tokens()

    # --- faults ------------------------------------------------------------------------------

    def inject(self, fault: Fault) -> None:
        """Arm ``fault`` for the next ``fault.times`` matching requests."""
        if not isinstance(fault, Fault):
            raise TypeError(f"expected a Fault, got {fault!r}")
        self._state.faults.add(fault)

    def clear_faults(self) -> None:
        """Disarm every injected fault."""
        self._state.faults.clear()

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
        """Zero :attr:`stats` and empty :attr:`request_log` (rate-limit state is kept)."""
        self._state.stats.clear()
        self._state.log.clear()

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
