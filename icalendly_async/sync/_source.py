"""The dlt source: one resource per collection, each merged on its primary key.

dlt runs async resources on an event loop of its own, in a background thread, all on that one
loop. So each resource creates its clients there (a client belongs to the loop of its first
call), and all of a run's clients share one limiter, made on that loop when the first resource
starts and closed when the last one ends: one credential, one window, however many resources
read at once. Several credentials (one per managed user, say) each pace on their own in that
limiter, and a ``RedisLimiter`` shares the windows with a fleet.

How each collection is read:

* ``bookings`` and ``org_bookings``: by the cursor ``updatedAt`` (``afterUpdatedAt`` +
  ``sortUpdatedAt=asc``, see :mod:`._walk`), kept by dlt's incremental in the pipeline state
  with ``lag`` = the lookback window, so each run re-reads that window before the cursor. A
  cancelled booking comes back as a status change.
* ``routing_form_responses``: the document's responses carry no ``updatedAt``, but the list
  filters by it. Each run asks for the responses updated since the previous run began (minus the
  lookback), walking them by their ``createdAt`` cursor, and keeps the server's time at its own
  start (the ``Date`` header) in the resource's state for the next run.
* everything else has no update filter in the API: re-read whole each run, merged on the key.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
import types
import weakref
from collections.abc import (
    AsyncGenerator,
    AsyncIterator,
    Callable,
    Iterable,
    Iterator,
    Mapping,
    Sequence,
)
from datetime import datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from typing import Any

import aiohttp
import attrs
import dlt
from dlt.extract import DltResource, DltSource

from .._request import DEFAULT_BASE_URL, check_base_url
from ..auth import Credential
from ..client import ICalendly
from ..endpoints import OPERATIONS, Operation
from ..errors import APIError, ConfigurationError
from ..plans import Plan
from ..ratelimit import Limiter, LocalLimiter, Priority
from ..response import Response
from ._catalog import DEFAULT_LOOKBACK, RESOURCES
from ._merge import merged
from ._stats import SyncStats
from ._walk import Position, Row, fetch_all, first_page, instant, walk_cursor

__all__ = ["DEFAULT_LOOKBACK", "RESOURCES", "icalendly_source"]

log = logging.getLogger("icalendly_async.sync")

_BY_ID = {operation.operation_id: operation for operation in OPERATIONS}


def _op(operation_id: str) -> Operation:
    return _BY_ID[operation_id]


BOOKINGS = _op("BookingsController_2024_08_13_getBookings")
ORG_BOOKINGS = _op("OrganizationsBookingsController_getAllOrgTeamBookings")
EVENT_TYPES = _op("EventTypesController_2024_06_14_getEventTypes")
SCHEDULES = _op("SchedulesController_2024_06_11_getSchedules")
WEBHOOKS = _op("WebhooksController_getWebhooks")
TEAMS = _op("TeamsController_getTeams")
TEAM_MEMBERSHIPS = _op("TeamsMembershipsController_getTeamMemberships")
ORG_TEAMS = _op("OrganizationsTeamsController_getAllTeams")
ORG_TEAM_MEMBERSHIPS = _op("OrganizationsTeamsMembershipsController_getAllOrgTeamMemberships")
ORG_USERS = _op("OrganizationsUsersController_getOrganizationsUsers")
ROUTING_FORMS = _op("OrganizationsRoutingFormsController_getOrganizationRoutingForms")
FORM_RESPONSES = _op("OrganizationsRoutingFormsResponsesController_getRoutingFormResponses")
OUT_OF_OFFICE = _op("OrganizationsUsersOOOController_getOrganizationUsersOOO")
ME = _op("MeController_getMe")

# The date-time fields of the document's BookingOutput_2024_08_13 (and its recurring and seated
# variants), loaded as timestamps.
_BOOKING_TIMES = ("updatedAt", "start", "end", "createdAt")

# A call's timeout covers its wait for the limiter too. A run's walks all wait on one credential's
# window (up to a minute at the service's limits), so a bulk call may queue for a window or two:
# ten minutes in all, but still at most 10 s to connect and 60 s of silence from the server.
BULK_TIMEOUT = aiohttp.ClientTimeout(total=600, connect=10, sock_read=60)


class _ChunkDone(Exception):
    """A chunked sync's run has read its share: the walk stops, the next run goes on."""


class _LeftOut(Exception):
    """A resource this account cannot read (said once, then the resource yields nothing)."""


# --- one run's shared things -------------------------------------------------------------------


class _Run:
    """What a run's resources share on dlt's event loop: the limiter and the organizations."""

    def __init__(self, loop: asyncio.AbstractEventLoop, limiter: Limiter) -> None:
        self.loop = loop
        self.limiter = limiter
        self.users = 0
        self._orgs: dict[str, asyncio.Task[int | None]] = {}

    async def aclose(self) -> None:
        """Stop an organization lookup still going (every walk that waited for it is gone)."""
        pending = [task for task in self._orgs.values() if not task.done()]
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)

    def org_id(self, client: ICalendly, credential: Credential) -> asyncio.Task[int | None]:
        """The organization of ``credential``'s user (``None``: none), asked once per run."""
        task = self._orgs.get(credential.limit_key)
        if task is None:
            task = self._orgs[credential.limit_key] = self.loop.create_task(_org_of(client))
        return task


async def _org_of(client: ICalendly) -> int | None:
    response = await client._call(ME)
    data = response.data if isinstance(response.data, dict) else {}
    org = data.get("organizationId")
    if not isinstance(org, int):
        nested = data.get("organization")
        org = nested.get("id") if isinstance(nested, dict) else None
    return org if isinstance(org, int) and not isinstance(org, bool) else None


_PageGen = types.AsyncGeneratorType[list[Row], None]


class _Reader:
    __slots__ = ("reading", "task")

    def __init__(self) -> None:
        self.task: asyncio.Task[Any] | None = asyncio.current_task()  # the one running it
        self.reading = False  # waiting for its next page (what the run may cancel)


class _Readers:
    """The resources reading on one of dlt's event loops, so that the first to fail stops the
    others before its error reaches dlt.

    An error that reaches dlt makes it cancel the other resources' reads and, at the same time,
    close every async generator on its loop (``shutdown_asyncgens``): a generator still
    cleaning up in its cancelled task (closing its clients) is closed a second time, which
    fails with "asynchronous generator is already running", and every such failure was printed
    with its traceback (a wrong API key: about 300 lines on stderr before the one that says
    so). So the first resource to fail stops the others itself (a read waiting for its page is
    cancelled, a resource between pages closed), each one cleaning up once, and only then
    raises; a resource failing after that ends quietly and leaves the telling to the first.
    """

    def __init__(self) -> None:
        self._failed = False
        self._live: dict[_PageGen, _Reader] = {}

    def failed(self) -> bool:
        """Whether a resource failed: the others read nothing more."""
        return self._failed

    def add(self, gen: _PageGen) -> _Reader:
        reader = self._live[gen] = _Reader()
        return reader

    def remove(self, gen: _PageGen) -> None:
        self._live.pop(gen, None)

    async def stop_others(self, me: _PageGen) -> None:
        self._failed = True
        for gen, reader in list(self._live.items()):
            if gen is me:
                continue
            task = reader.task
            if task is not None and not task.done():
                if reader.reading:
                    task.cancel()
                await asyncio.wait({task})  # its step ends: a page given, or the end
            if gen.ag_frame is not None and not gen.ag_running:
                await gen.aclose()  # between pages: closed here, once


class _Shared:
    """Hands each run (each event loop) one limiter, made when its first resource starts and
    closed when its last one ends."""

    def __init__(self, make_limiter: Callable[[], Limiter]) -> None:
        self._make = make_limiter
        self._lock = threading.Lock()
        self._runs: dict[asyncio.AbstractEventLoop, _Run] = {}
        # A limiter with nothing to close keeps its state in this process (LocalLimiter): the
        # next run of the same source (a chunked sync's next run) paces on from it, where a new
        # one would not know what the last run sent in the current window.
        self._kept: Limiter | None = None
        self._readers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Readers] = (
            weakref.WeakKeyDictionary()
        )

    def readers(self) -> _Readers:
        """The resources reading on this event loop (dlt's, for one run)."""
        loop = asyncio.get_running_loop()
        with self._lock:
            readers = self._readers.get(loop)
            if readers is None:
                readers = self._readers[loop] = _Readers()
            return readers

    @contextlib.asynccontextmanager
    async def run(self) -> AsyncIterator[_Run]:
        loop = asyncio.get_running_loop()
        with self._lock:
            run = self._runs.get(loop)
            if run is None:
                limiter, self._kept = self._kept or self._make(), None
                run = self._runs[loop] = _Run(loop, limiter)
            run.users += 1
        try:
            yield run
        finally:
            with self._lock:
                run.users -= 1
                last = run.users == 0
                if last:
                    del self._runs[loop]
            if last:
                await run.aclose()
                close = getattr(run.limiter, "aclose", None)
                if close is not None:
                    await close()
                else:
                    self._kept = run.limiter


# --- settings ----------------------------------------------------------------------------------


@attrs.define
class _Chunks:
    """A sync in several runs (see :func:`chunked_sources`): a cursor walk stops before asking
    for a page once ``every`` seconds of a run's reading have passed, or once the run has read
    a window's worth and the credential's window is spent; the next run goes on from there."""

    every: float
    # time.monotonic() when the current run's first page was given: the clock counts reading,
    # not the wait for the window a run may begin with
    started: float | None = None
    # where each walk (resource, credential) stopped, carried from run to run
    positions: dict[tuple[str, str], Position] = attrs.field(factory=dict)
    unfinished: set[str] = attrs.field(factory=set)  # walks the current run stopped early

    def start(self) -> None:
        """A page of the run was given: the run's clock starts, if it has not yet."""
        if self.started is None:
            self.started = time.monotonic()

    def due(self) -> bool:
        return self.started is not None and time.monotonic() - self.started >= self.every


@attrs.frozen
class _Config:
    credentials: tuple[Credential, ...]
    plan: Plan | None
    base_url: str
    allow_insecure_http: bool
    page_size: int
    lookback: float
    client_options: Mapping[str, Any]
    stats: SyncStats
    shared: _Shared
    chunks: _Chunks | None = None

    @contextlib.asynccontextmanager
    async def clients(self, name: str) -> AsyncIterator[tuple[_Run, list[ICalendly]]]:
        """One client per credential for resource ``name``, on this loop, sharing the run's
        limiter; closed on the way out."""
        async with self.shared.run() as run:
            options = {"timeout": BULK_TIMEOUT, **self.client_options}
            observers = [*options.pop("observers", []), self.stats.observer(name)]
            clients = [
                ICalendly(
                    credential,
                    plan=self.plan,
                    base_url=self.base_url,
                    allow_insecure_http=self.allow_insecure_http,
                    limiter=run.limiter,
                    observers=observers,
                    **options,
                )
                for credential in self.credentials
            ]
            try:
                yield run, [client.with_options(priority=Priority.BULK) for client in clients]
            finally:
                await asyncio.gather(*(client.aclose() for client in clients))


Walk = Callable[[_Run, ICalendly, Credential], AsyncIterator[list[Row]]]


def _pages(config: _Config, name: str, key: str, walk: Walk) -> AsyncGenerator[list[Row], None]:
    """The pages of ``walk`` for every credential at once, counted in the stats: what each
    resource yields. The run can stop it (see :class:`_Readers`)."""
    me: list[_PageGen] = []
    pages = _each(config, name, key, walk, me)
    assert isinstance(pages, types.AsyncGeneratorType)
    me.append(pages)
    return pages


async def _each(
    config: _Config, name: str, key: str, walk: Walk, me: list[_PageGen]
) -> AsyncGenerator[list[Row], None]:
    stats = config.stats
    stats.start(name)
    readers = config.shared.readers()
    if readers.failed():  # another resource failed: this run reads nothing more
        stats.finish(name)
        return
    reader = readers.add(me[0])
    try:
        async with config.clients(name) as (run, clients):
            walks = [
                _guarded(config, name, walk(run, client, credential))
                for client, credential in zip(clients, config.credentials, strict=True)
            ]
            pages = merged(walks)
            try:
                while not readers.failed():
                    reader.reading = True
                    try:
                        page = await anext(pages)
                    except StopAsyncIteration:
                        break
                    finally:
                        reader.reading = False
                    stats.add_rows(name, [row.get(key) for row in page])
                    yield page
                    reader.task = asyncio.current_task()  # dlt asks in a task per page
            finally:
                await pages.aclose()
    except Exception:
        if readers.failed():
            return  # another resource's failure ended the run, and it says so
        await readers.stop_others(me[0])
        raise
    finally:
        readers.remove(me[0])
        stats.finish(name)


async def _guarded(
    config: _Config, name: str, pages: AsyncIterator[list[Row]]
) -> AsyncIterator[list[Row]]:
    """``pages``, unless the account cannot read them: then one line says so, and nothing."""
    try:
        async for page in pages:
            yield page
    except _LeftOut as exc:
        config.stats.leave_out(name, str(exc))
        log.warning("%s: left out (%s)", name, exc)
    except APIError as exc:
        if exc.status != 403:
            raise
        reason = f"the server refused it (403: {exc.message})"
        config.stats.leave_out(name, reason)
        log.warning("%s: left out (%s)", name, reason)


async def _org(run: _Run, client: ICalendly, credential: Credential) -> int:
    # Shielded: the task is shared by every walk of the run, and a walk cancelled while it
    # waits (another walk failed) would otherwise cancel it under the others.
    org_id = await asyncio.shield(run.org_id(client, credential))
    if org_id is None:
        raise _LeftOut("this account belongs to no organization")
    return org_id


# --- the walks ---------------------------------------------------------------------------------


def _walk_bookings(
    config: _Config, name: str, operation: Operation, start: datetime | None, *, org: bool
) -> Walk:
    async def walk(
        run: _Run, client: ICalendly, credential: Credential
    ) -> AsyncIterator[list[Row]]:
        path = (await _org(run, client, credential),) if org else ()
        chunks = config.chunks
        # A chunked sync's later runs go on from where this credential's walk stopped, not from
        # the saved cursor minus the lookback: the first run read that window.
        carried = chunks.positions.get((name, credential.limit_key)) if chunks else None
        told = carried is not None  # the server's total counts the rows from here: say it once
        position = carried or Position(start)
        if chunks is not None:
            chunks.positions[(name, credential.limit_key)] = position

        given = 0  # pages given by this run

        async def fetch(after: datetime | None, skip: int) -> list[Row]:
            nonlocal told
            # Time for the next run: stop before asking for the next page. Here, and not after
            # a page is given (the reader may be pages behind, and a short page ends the walk
            # anyway), the position is just past the pages given; the next run goes on from it.
            # Also when this run has read a window's worth and this page would wait for the
            # credential's next window anyway: that wait, not the new window's first seconds,
            # is when the run's load should happen.
            if (
                chunks is not None
                and given
                and (chunks.due() or _window_spent(run, credential, given))
            ):
                raise _ChunkDone
            query: dict[str, object] = {"sortUpdatedAt": "asc"}
            if after is not None:
                query["afterUpdatedAt"] = after
            rows, response = await first_page(
                client, operation, path, query, page_size=config.page_size, skip=skip
            )
            total = (response.pagination or {}).get("totalItems")
            if not told and isinstance(total, int) and len(config.credentials) == 1:
                config.stats.expect(name, total)
                told = True
            return rows

        pages = walk_cursor(
            fetch, field="updatedAt", key="uid", position=position, page_size=config.page_size
        )
        try:
            async for page in pages:
                for row in page:
                    # dlt's incremental compares datetimes. The other date-times of the
                    # document's booking parsed here too: dlt's own inference parses each with
                    # pendulum, which cost a third of the normalize step (benchmarks/sync.py,
                    # limit lifted).
                    for field in _BOOKING_TIMES:
                        value = row.get(field)
                        if isinstance(value, str):
                            row[field] = instant(value, field=field)
                yield page
                given += 1
                if chunks is not None:
                    chunks.start()
        except _ChunkDone:  # raised by fetch, only when chunks is set
            if chunks is not None:
                chunks.unfinished.add(name)
        finally:
            await pages.aclose()

    return walk


def _window_spent(run: _Run, credential: Credential, pages: int) -> bool:
    """Whether ``pages`` make a window's worth of the credential's requests and its next one
    would wait for the next window: known to the in-process limiter (anything else: ``False``,
    and a run ends by ``chunk_seconds`` alone). Fewer pages: the window's requests are still
    going, or the starts of the last window have not all aged out of the limiter's log yet.

    benchmarks/sync.py, 12 requests per 6 s: a run that went on into the next window ended just
    after its first request there, so that window's other requests waited for the run's
    normalize and load (0.5-1.3 s on a busy machine); whole run 0.86-0.88 of the ideal. Ended
    when the window is spent instead, each run is one window's pages, loaded while the next
    window's requests wait anyway."""
    limiter = run.limiter
    if not isinstance(limiter, LocalLimiter):
        return False
    state = limiter.snapshot(credential.limit_key)
    return state is not None and pages >= state.limit and state.recent_starts >= state.limit


def _walk_all(
    operation: Operation,
    *,
    org: bool = False,
    shape: Callable[[Row], Row] | None = None,
) -> Walk:
    async def walk(
        run: _Run, client: ICalendly, credential: Credential
    ) -> AsyncIterator[list[Row]]:
        path = (await _org(run, client, credential),) if org else ()
        async for page in fetch_all(client, operation, path):
            yield [shape(row) for row in page] if shape is not None else page

    return walk


def _without_secret(row: Row) -> Row:
    row.pop("secret", None)  # a webhook's signing secret has no place in a warehouse
    return row


def _walk_memberships(by_org: bool) -> Walk:
    async def walk(
        run: _Run, client: ICalendly, credential: Credential
    ) -> AsyncIterator[list[Row]]:
        prefix: tuple[object, ...]
        if by_org:
            org_id = await _org(run, client, credential)
            teams = [row async for page in fetch_all(client, ORG_TEAMS, (org_id,)) for row in page]
            operation, prefix = ORG_TEAM_MEMBERSHIPS, (org_id,)
        else:
            teams = [row async for page in fetch_all(client, TEAMS) for row in page]
            operation, prefix = TEAM_MEMBERSHIPS, ()
        walks = [fetch_all(client, operation, (*prefix, team["id"])) for team in teams]
        async for page in merged(walks):
            yield page

    return walk


def _walk_responses(config: _Config, since: datetime | None, began: list[datetime]) -> Walk:
    async def walk(
        run: _Run, client: ICalendly, credential: Credential
    ) -> AsyncIterator[list[Row]]:
        org_id = await _org(run, client, credential)
        forms: list[Row] = []
        while True:  # a handful of forms: pages by offset
            rows, response = await first_page(
                client, ROUTING_FORMS, (org_id,), {}, page_size=config.page_size, skip=len(forms)
            )
            if not forms:
                began.append(_server_time(response))  # before any response is read
            forms += rows
            if len(rows) < config.page_size:
                break
        updated_after = None if since is None else since - timedelta(seconds=config.lookback)

        def form_walk(form_id: str) -> AsyncIterator[list[Row]]:
            async def fetch(after: datetime | None, skip: int) -> list[Row]:
                query: dict[str, object] = {"sortCreatedAt": "asc"}
                if after is not None:
                    query["afterCreatedAt"] = after
                if updated_after is not None:
                    query["afterUpdatedAt"] = updated_after
                rows, _ = await first_page(
                    client,
                    FORM_RESPONSES,
                    (org_id, form_id),
                    query,
                    page_size=config.page_size,
                    skip=skip,
                )
                return rows

            return walk_cursor(
                fetch, field="createdAt", key="id", position=Position(), page_size=config.page_size
            )

        async for page in merged([form_walk(str(form["id"])) for form in forms]):
            yield page

    return walk


def _server_time(response: Response) -> datetime:
    """When the server answered (its ``Date`` header), else this machine's time."""
    header = response.headers.get("Date")
    if header:
        with contextlib.suppress(TypeError, ValueError, IndexError):
            moment = parsedate_to_datetime(header)
            return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
    return datetime.now(timezone.utc)


# --- the resources -----------------------------------------------------------------------------


def _bookings_resource(
    config: _Config, name: str, operation: Operation, since: datetime | None, *, org: bool
) -> DltResource:
    cursor: Any = dlt.sources.incremental[datetime](
        "updatedAt", initial_value=since, lag=config.lookback
    )

    async def read(updated_at: Any = cursor) -> AsyncIterator[list[Row]]:
        start: datetime | None = updated_at.start_value
        walk = _walk_bookings(config, name, operation, start, org=org)
        async for page in _pages(config, name, "uid", walk):
            yield page

    return dlt.resource(
        read,
        name=name,
        primary_key="uid",
        write_disposition="merge",
        # A booking given twice in one run (it changed during the walk): keep the newest.
        columns={"updatedAt": {"data_type": "timestamp", "dedup_sort": "desc"}},
    )


def _responses_resource(config: _Config) -> DltResource:
    name = "routing_form_responses"

    async def read() -> AsyncIterator[list[Row]]:
        state = dlt.current.resource_state()
        saved = state.get("updated_since")
        since = instant(saved, field="updated_since") if saved else None
        began: list[datetime] = []
        async for page in _pages(config, name, "id", _walk_responses(config, since, began)):
            yield page
        if began:  # kept only if the whole run succeeds: dlt saves the state with the data
            state["updated_since"] = min(began).isoformat()

    return dlt.resource(
        read,
        name=name,
        primary_key="id",
        write_disposition="merge",
        # The answers are keyed by field ids (UUIDs): one JSON column, not a column per id.
        columns={"response": {"data_type": "json"}, "createdAt": {"data_type": "timestamp"}},
    )


def _full_resource(
    config: _Config, name: str, key: str, walk: Walk, columns: Mapping[str, Any] | None = None
) -> DltResource:
    async def read() -> AsyncIterator[list[Row]]:
        async for page in _pages(config, name, key, walk):
            yield page

    return dlt.resource(
        read, name=name, primary_key=key, write_disposition="merge", columns=dict(columns or {})
    )


def _teams_tier(plan: Plan | None) -> bool | None:
    """Whether teams are read the Teams way (``/v2/teams``), the Organizations way (``None``:
    neither)."""
    if plan is None or TEAMS.allowed_for(plan):
        return True
    if plan is not None and ORG_TEAMS.allowed_for(plan):
        return False
    return None


def _build(config: _Config, name: str, since: datetime | None) -> DltResource:
    by_teams = _teams_tier(config.plan)
    if name == "bookings":
        return _bookings_resource(config, name, BOOKINGS, since, org=False)
    if name == "org_bookings":
        return _bookings_resource(config, name, ORG_BOOKINGS, since, org=True)
    if name == "routing_form_responses":
        return _responses_resource(config)
    walks: dict[str, tuple[str, Walk]] = {
        "event_types": ("id", _walk_all(EVENT_TYPES)),
        "schedules": ("id", _walk_all(SCHEDULES)),
        "webhooks": ("id", _walk_all(WEBHOOKS, shape=_without_secret)),
        "teams": ("id", _walk_all(TEAMS) if by_teams else _walk_all(ORG_TEAMS, org=True)),
        "memberships": ("id", _walk_memberships(by_org=not by_teams)),
        "org_users": ("id", _walk_all(ORG_USERS, org=True)),
        "routing_forms": ("id", _walk_all(ROUTING_FORMS, org=True)),
        "out_of_office": ("id", _walk_all(OUT_OF_OFFICE, org=True)),
        "profile": ("id", _walk_all(ME)),
    }
    key, walk = walks[name]
    return _full_resource(config, name, key, walk)


def _operations(name: str, plan: Plan | None) -> tuple[Operation, ...]:
    by_teams = _teams_tier(plan)
    return {
        "bookings": (BOOKINGS,),
        "org_bookings": (ME, ORG_BOOKINGS),
        "event_types": (EVENT_TYPES,),
        "schedules": (SCHEDULES,),
        "webhooks": (WEBHOOKS,),
        "teams": (TEAMS,) if by_teams else (ME, ORG_TEAMS),
        "memberships": (TEAMS, TEAM_MEMBERSHIPS)
        if by_teams
        else (ME, ORG_TEAMS, ORG_TEAM_MEMBERSHIPS),
        "org_users": (ME, ORG_USERS),
        "routing_forms": (ME, ROUTING_FORMS),
        "routing_form_responses": (ME, ROUTING_FORMS, FORM_RESPONSES),
        "out_of_office": (ME, OUT_OF_OFFICE),
        "profile": (ME,),
    }[name]


def _plans_for(operations: Iterable[Operation]) -> str:
    tiers = [operation.tier for operation in operations]
    allowed = set(Plan)
    for tier in tiers:
        allowed &= set(tier.plans)
    return " or ".join(plan.name.title() for plan in Plan if plan in allowed) or "no"


# --- the source --------------------------------------------------------------------------------


def icalendly_source(
    credential: Credential | Sequence[Credential],
    *,
    resources: Iterable[str] | None = None,
    plan: Plan | None = None,
    base_url: str = DEFAULT_BASE_URL,
    allow_insecure_http: bool = False,
    lookback: float = DEFAULT_LOOKBACK,
    since: datetime | None = None,
    page_size: int = 100,
    limiter: Callable[[], Limiter] | None = None,
    stats: SyncStats | None = None,
    client_options: Mapping[str, Any] | None = None,
) -> DltSource:
    """A dlt source reading the iCalendly API for ``credential`` (or several credentials: each
    resource reads them all, each credential paced on its own).

    ``resources``: names from :data:`RESOURCES` (default: all). ``plan``: your plan; resources it
    cannot call are left out before anything is sent, and :attr:`SyncStats.resources` says why
    (``None``: tried, and left out if the server answers 403). ``lookback``: seconds re-read
    before the saved cursor on every run, for changes that become visible late. ``since``: the
    first run reads bookings updated from then on (default: all). ``page_size``: rows per
    request. ``limiter``: makes the limiter a run's resources share (called once per run, on dlt's
    event loop; default ``LocalLimiter``; pass ``lambda: RedisLimiter(url)`` to pace with a
    fleet). ``stats`` collects rows, requests and 429s per resource as the run goes.
    ``client_options``: more keyword arguments of :class:`~icalendly_async.ICalendly` (``timeout``,
    ``max_retries``, ``observers``...).

    ::

        pipeline = dlt.pipeline("icalendly", destination="duckdb", dataset_name="icalendly")
        pipeline.run(icalendly_source(ApiKey("ical_…")), loader_file_format="jsonl")
    """
    config, wanted = configure(
        credential,
        resources=resources,
        plan=plan,
        base_url=base_url,
        allow_insecure_http=allow_insecure_http,
        lookback=lookback,
        since=since,
        page_size=page_size,
        limiter=limiter,
        stats=stats,
        client_options=client_options,
    )
    return _make_source(config, wanted, since)


def chunked_sources(
    config: _Config, wanted: list[str], since: datetime | None, chunk_seconds: float
) -> Iterator[DltSource]:
    """The source of :func:`configure`'s settings for several runs: run each source given
    before asking for the next. A cursor walk (bookings) stops before it asks for a page once
    ``chunk_seconds`` of the run's reading have passed, or once the run has read a window's
    worth and the window is spent (see :class:`_Chunks`); the next source goes on from there.
    So a long sync loads (and saves its cursor) as it goes, and at a binding rate limit the
    loading of one chunk runs while the next chunk's requests wait for the limiter, rather than
    all of it after the last page. Everything else is read whole by the first run."""
    if not chunk_seconds > 0:
        raise ConfigurationError(f"chunk_seconds must be > 0, got {chunk_seconds}")
    chunks = _Chunks(every=chunk_seconds)
    config = attrs.evolve(config, chunks=chunks)
    while wanted:
        chunks.unfinished.clear()
        chunks.started = None
        yield _make_source(config, wanted, since)
        wanted = [name for name in wanted if name in chunks.unfinished]


def configure(
    credential: Credential | Sequence[Credential],
    *,
    resources: Iterable[str] | None = None,
    plan: Plan | None = None,
    base_url: str = DEFAULT_BASE_URL,
    allow_insecure_http: bool = False,
    lookback: float = DEFAULT_LOOKBACK,
    since: datetime | None = None,
    page_size: int = 100,
    limiter: Callable[[], Limiter] | None = None,
    stats: SyncStats | None = None,
    client_options: Mapping[str, Any] | None = None,
) -> tuple[_Config, list[str]]:
    """Checks the options and makes the settings a source is built from."""
    credentials = (credential,) if isinstance(credential, Credential) else tuple(credential)
    if not credentials or not all(isinstance(item, Credential) for item in credentials):
        raise ConfigurationError(
            "credential must be an ApiKey, PlatformClient or AccessToken, or a list of them"
        )
    if plan is not None and not isinstance(plan, Plan):
        raise ConfigurationError(f"plan must be a Plan (e.g. Plan.TEAMS) or None, got {plan!r}")
    wanted = list(RESOURCES) if resources is None else list(dict.fromkeys(resources))
    unknown = [name for name in wanted if name not in RESOURCES]
    if unknown or not wanted:
        raise ConfigurationError(
            f"unknown resource(s) {', '.join(map(repr, unknown)) or '(none given)'}: "
            f"choose from {', '.join(RESOURCES)}"
        )
    if not 1 <= page_size <= 250:
        raise ConfigurationError(f"page_size must be from 1 to 250, got {page_size}")
    if lookback < 0:
        raise ConfigurationError(f"lookback must be >= 0 seconds, got {lookback}")
    if since is not None and since.tzinfo is None:
        raise ConfigurationError("since must be an aware datetime (e.g. with tzinfo=timezone.utc)")
    check_base_url(base_url, allow_insecure_http)
    config = _Config(
        credentials=credentials,
        plan=plan,
        base_url=base_url,
        allow_insecure_http=allow_insecure_http,
        page_size=page_size,
        lookback=float(lookback),
        client_options=dict(client_options or {}),
        stats=stats if stats is not None else SyncStats(),
        shared=_Shared(limiter or LocalLimiter),
    )
    return config, wanted


def _make_source(config: _Config, wanted: Iterable[str], since: datetime | None) -> DltSource:
    built: list[DltResource] = []
    plan = config.plan
    for name in wanted:
        operations = _operations(name, plan)
        if plan is not None and not all(op.allowed_for(plan) for op in operations):
            reason = f"needs the {_plans_for(operations)} plan; this is {plan.name.title()}"
            config.stats.leave_out(name, reason)
            log.warning("%s: left out (%s)", name, reason)
            continue
        built.append(_build(config, name, since))

    @dlt.source(name="icalendly")
    def icalendly() -> list[DltResource]:
        return built

    source: DltSource = icalendly()
    return source
