"""One user's token pair in a :class:`~icalendly_async.TokenStore`, refreshed once for everyone.

Refresh tokens rotate: a refresh returns a new pair and kills the refresh token it used, and a
second refresh with that token is refused (on the OAuth token endpoint it may even revoke the
whole grant). So, however many credential objects, coroutines or processes hold one user's pair:

- in this process, callers that find the user's pair being refreshed wait for that refresh and
  use its pair (one flight per user and store, shared by every credential built on the store);
- the refresh itself runs under the store's ``lock(key)`` (fleet-wide with ``RedisTokenStore``)
  and re-reads the pair first: if another caller or process already replaced the failed pair,
  its pair is used and nothing is sent;
- the new pair is kept in memory before anything else can fail, handed to ``on_refresh``, then
  written to the store (the write is retried); only then do the waiting callers get it. A store
  that still refuses it leaves the pair in this process (the next call uses it and tries the
  write again) and raises :class:`~icalendly_async.errors.TokenStoreWriteError` to the caller
  that refreshed;
- a refresh refused for good (:class:`~icalendly_async.errors.ReauthorizationRequired`) marks
  the pair dead in the store, so no other process tries it again.

A refresh, once begun, runs to its end even if the call that began it is cancelled: the server
rotates the refresh token as soon as it has the request, and an abandoned answer would lose the
only pair that works. Expiry is read from the injected :class:`~icalendly_async._clock.Clock`.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import weakref
from collections.abc import Awaitable, Callable
from typing import NamedTuple

from ._clock import SYSTEM_CLOCK, Clock
from ._tokens import TokenPair, TokenStore
from .errors import ReauthorizationRequired, TokenStoreWriteError

__all__ = ["OnNewPair", "RefreshFunction", "TokenKeeper", "forget_unsaved"]

log = logging.getLogger("icalendly_async.auth")

RefreshFunction = Callable[[TokenPair], Awaitable[TokenPair]]
"""``(current pair) -> new pair``: one request to the server; raises ReauthorizationRequired
when the grant is dead."""

OnNewPair = Callable[[TokenPair], "Awaitable[None] | None"]

#: Store writes of a new pair: attempts, and the wait before the second (doubled each time).
WRITE_ATTEMPTS = 3
WRITE_BACKOFF = 0.05
#: How often an unsaved pair is offered to the store again (seconds).
RESAVE_EVERY = 5.0

_RUNNING: set[asyncio.Task[_Outcome]] = set()  # refreshes running on, their callers cancelled


class _Outcome(NamedTuple):
    pair: TokenPair
    refreshed: bool = False  # False: another caller's (or process's) newer pair was found
    # What only the caller that refreshed is told (the refresh itself succeeded): an
    # on_refresh exception, or the store write that failed.
    error: BaseException | None = None


class _Flight(NamedTuple):
    stale: str  # the access token being replaced
    task: asyncio.Task[_Outcome]


class _Unsaved(NamedTuple):
    previous: TokenPair  # the pair it replaced
    pair: TokenPair
    retry_at: float  # clock.monotonic() of the next write attempt


class _Shared:
    """What every credential on one store shares in this process."""

    __slots__ = ("flights", "unsaved")

    def __init__(self) -> None:
        self.flights: dict[str, _Flight] = {}
        self.unsaved: dict[str, _Unsaved] = {}


_SHARED: weakref.WeakKeyDictionary[TokenStore, _Shared] = weakref.WeakKeyDictionary()


def _shared(store: TokenStore) -> _Shared:
    try:
        found = _SHARED.get(store)
        if found is None:
            found = _SHARED[store] = _Shared()
        return found
    except TypeError:  # a store that cannot be weakly referenced: its lock still guards it
        own = getattr(store, "_icalendly_shared", None)
        if own is None:
            own = _Shared()
            with contextlib.suppress(AttributeError):
                store._icalendly_shared = own  # type: ignore[attr-defined]
        return own


def forget_unsaved(store: TokenStore, key: str) -> None:
    """Drop a pair this process could not store under ``key`` (a newer one was just stored)."""
    _shared(store).unsaved.pop(key, None)


class TokenKeeper:
    """Reads and refreshes the pair stored under ``key`` (one per credential; cheap).

    ``seed``: a pair to store when the store has none under ``key`` (``None``: nothing stored
    means the user must authorize, :class:`ReauthorizationRequired`). ``on_new_pair`` receives
    every pair this keeper's refreshes produce. ``margin``: refresh that many seconds before
    ``expires_at``.
    """

    __slots__ = ("_clock", "_key", "_margin", "_on_new_pair", "_seed", "_shared", "_store")

    def __init__(
        self,
        store: TokenStore,
        key: str,
        *,
        seed: TokenPair | None = None,
        on_new_pair: OnNewPair | None = None,
        margin: float = 60.0,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        self._store = store
        self._key = key
        self._seed = seed
        self._on_new_pair = on_new_pair
        self._margin = margin
        self._clock = clock
        self._shared = _shared(store)

    @property
    def store(self) -> TokenStore:
        return self._store

    @property
    def key(self) -> str:
        return self._key

    def expiring(self, pair: TokenPair) -> bool:
        """Whether ``pair``'s access token expires within the margin (or has expired)."""
        if pair.expires_at is None:
            return False
        return pair.expires_at.timestamp() - self._clock.time() <= self._margin

    # -- reading -------------------------------------------------------------------------------

    async def current(self) -> TokenPair:
        """The pair to use now: the one being refreshed (once refreshed), an unsaved one, or the
        stored one."""
        flight = self._shared.flights.get(self._key)
        if flight is not None:
            return (await asyncio.shield(flight.task)).pair
        unsaved = self._shared.unsaved.get(self._key)
        if unsaved is not None:
            return await self._offer_unsaved(unsaved)
        pair = await self._store.get(self._key)
        if pair is None:
            pair = await self._seeded()
        return pair

    async def _seeded(self) -> TokenPair:
        if self._seed is None:
            raise ReauthorizationRequired(
                self._key,
                "no token pair is stored for this user (never authorized, or its "
                "refresh was refused)",
            )
        async with self._store.lock(self._key):  # seed once, even across processes
            pair = await self._store.get(self._key)
            if pair is None:
                pair = self._seed
                await self._store.set(self._key, pair)
        return pair

    async def _offer_unsaved(self, unsaved: _Unsaved) -> TokenPair:
        """Use a pair the store refused, offering it to the store again now and then."""
        now = self._clock.monotonic()
        if now < unsaved.retry_at:
            return unsaved.pair
        shared, key = self._shared, self._key
        try:
            stored = await self._store.get(key)
            if stored is not None and stored not in (unsaved.previous, unsaved.pair):
                # Someone stored another pair meanwhile (the user authorized again): theirs wins.
                if shared.unsaved.get(key) is unsaved:
                    del shared.unsaved[key]
                return stored
            if stored != unsaved.pair:
                await self._store.set(key, unsaved.pair)
        except Exception as exc:  # still unreachable: keep using the pair, try again later
            if shared.unsaved.get(key) is unsaved:
                shared.unsaved[key] = unsaved._replace(retry_at=now + RESAVE_EVERY)
            log.warning(
                "the refreshed token pair of %r is still not stored (%s); it stays in use here",
                key,
                type(exc).__name__,
            )
            return unsaved.pair
        if shared.unsaved.get(key) is unsaved:
            del shared.unsaved[key]
        log.info("the refreshed token pair of %r is stored now", key)
        return unsaved.pair

    # -- refreshing ----------------------------------------------------------------------------

    async def refresh(self, stale_access: str, refresh: RefreshFunction) -> tuple[TokenPair, bool]:
        """Replace the pair whose access token is ``stale_access``, once for every caller.

        Returns the pair to use, and ``True`` when this call refreshed (``False``: it found, or
        waited for, a newer pair). Errors that concern only the refresh's own caller (an
        ``on_new_pair`` exception, :class:`TokenStoreWriteError`) are raised only in the call
        that refreshed.
        """
        shared, key = self._shared, self._key
        while (flight := shared.flights.get(key)) is not None:
            outcome = await asyncio.shield(flight.task)
            if outcome.pair.access_token != stale_access:
                return outcome.pair, False
        task = asyncio.ensure_future(self._refresh_locked(stale_access, refresh))
        flight = _Flight(stale_access, task)
        shared.flights[key] = flight
        _RUNNING.add(task)
        task.add_done_callback(_RUNNING.discard)
        task.add_done_callback(lambda _: self._land(flight))
        try:
            outcome = await asyncio.shield(task)
        except asyncio.CancelledError:
            task.add_done_callback(self._report_unclaimed)
            raise
        if outcome.error is not None:
            raise outcome.error
        return outcome.pair, outcome.refreshed

    def _land(self, flight: _Flight) -> None:
        if self._shared.flights.get(self._key) is flight:
            del self._shared.flights[self._key]

    def _report_unclaimed(self, task: asyncio.Task[_Outcome]) -> None:
        """The caller that began a refresh was cancelled: nobody else will see its problems."""
        if task.cancelled():
            return
        error = task.exception()
        if error is None:
            error = task.result().error
        if error is not None:
            log.warning(
                "a token refresh of %r whose caller was cancelled ended with %s",
                self._key,
                type(error).__name__,
            )

    async def _refresh_locked(self, stale_access: str, refresh: RefreshFunction) -> _Outcome:
        shared, key, store = self._shared, self._key, self._store
        async with store.lock(key):
            unsaved = shared.unsaved.get(key)
            pair = unsaved.pair if unsaved is not None else await store.get(key)
            if pair is None:
                raise ReauthorizationRequired(
                    key,
                    "no token pair is stored for this user (another process's refresh of "
                    "it was refused, or it was never stored)",
                )
            if pair.access_token != stale_access:
                return _Outcome(pair)  # refreshed by another caller or process: use theirs
            try:
                new = await refresh(pair)
            except ReauthorizationRequired:
                if shared.unsaved.get(key) is unsaved:
                    shared.unsaved.pop(key, None)
                try:
                    await store.mark_dead(key, pair)
                except Exception as exc:
                    log.warning("could not mark the dead token pair of %r: %s", key, exc)
                raise
            # From here on the new pair is the only one that works: never lose it.
            kept = _Unsaved(pair, new, 0.0)
            shared.unsaved[key] = kept
            error: BaseException | None = None
            if self._on_new_pair is not None:
                try:
                    result = self._on_new_pair(new)
                    if inspect.isawaitable(result):
                        await result
                except Exception as exc:  # the caller that refreshed gets it as it was raised
                    error = exc
            try:
                await self._write(new)
            except Exception as exc:
                shared.unsaved[key] = kept._replace(retry_at=self._clock.monotonic() + RESAVE_EVERY)
                failure = TokenStoreWriteError(
                    key,
                    f"the refreshed token pair of {key!r} could not be stored after "
                    f"{WRITE_ATTEMPTS} attempts ({type(exc).__name__}: {exc}); it is in use in "
                    "this process, which keeps offering it to the store"
                    + ("" if self._on_new_pair is None else ", and was handed to on_refresh"),
                )
                failure.__cause__ = exc
                if error is not None:
                    failure.__context__ = error
                return _Outcome(new, True, failure)
            if shared.unsaved.get(key) is kept:
                del shared.unsaved[key]
            return _Outcome(new, True, error)

    async def _write(self, pair: TokenPair) -> None:
        delay = WRITE_BACKOFF
        for attempt in range(1, WRITE_ATTEMPTS + 1):
            try:
                await self._store.set(self._key, pair)
                return
            except Exception as exc:
                if attempt == WRITE_ATTEMPTS:
                    raise
                log.warning(
                    "storing the refreshed token pair of %r failed (%s); trying again",
                    self._key,
                    type(exc).__name__,
                )
                await self._clock.sleep(delay)
                delay *= 2
