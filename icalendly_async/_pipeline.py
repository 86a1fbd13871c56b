"""The pipeline every call runs through, stage by stage, in the order they run.

::

    1 gate       the client's event loop, the plan tier, the kind of credential the operation
                 needs -> ConfigurationError / PlanTierError, nothing sent
    2 acquire    the limiter grants this attempt (bounded by the call's deadline and by
                 RetryPolicy.max_rate_limit_wait for a credential the server holds)
    3 authorize  the credential's headers for this attempt; taken after the limiter's wait,
                 so a call that waited sends the freshest token (refreshed ahead of expiry)
    4 send       one HTTP attempt (_http.py), bounded by what is left of the deadline
    5 feed back  the X-RateLimit-* headers (or "no response") to the limiter, exactly once
                 per grant
    6 decide     a 2xx goes on to decode; anything else is retried after a backoff, replayed
                 once after a token refresh, or raised
    7 decode     the success envelope -> Response (data, pagination, headers); error
                 statuses become the exception types of errors.py

A call's ``timeout`` is one budget for all of it: the limiter wait, every attempt, every backoff.
When it runs out, :class:`~icalendly_async.errors.TimeoutError` says where the time went and
nothing more is sent. Every wait reads the injected :class:`~icalendly_async._clock.Clock`.
One :class:`~icalendly_async._hooks.CallInfo` per call records what observers need.
"""

from __future__ import annotations

import asyncio
import enum
from collections.abc import Awaitable, Mapping
from typing import TypeVar

import aiohttp

from . import errors
from ._clock import Clock, wait_for
from ._hooks import AttemptInfo, CallInfo, Events, Observer
from ._http import Answer, AttemptFailed, HttpTransport
from ._request import CallOptions, RequestSpec
from .auth import ClientSecret, Credential, TokenPair
from .endpoints._operation import AuthRequirement
from .models.converter import parse_datetime
from .models.envelope import decode_error, decode_success
from .plans import Plan
from .ratelimit import CredentialHeld, Limiter, RateLimitState
from .ratelimit.headers import NO_RESPONSE, parse_headers
from .response import Response
from .retry import Outcome, OutcomeKind, server_wait

__all__ = ["Pipeline"]

_REQUEST_ID_HEADERS = ("x-request-id", "request-id", "x-amzn-requestid")
# A per-attempt aiohttp timeout is rebuilt from what is left of the call's budget only when
# that is shorter than the configured total by more than this (seconds): on a call granted at
# once the configured timeout object is reused as is. Measured (client.me.get() against
# benchmarks/_common.canned_network, callgrind): a new ClientTimeout per attempt costs 11,400 more
# instructions per call (+6.5 % of 175,000).
_SLACK = 0.01
# Replays of one call after token refreshes (see Pipeline._replay_after_refresh).
_MAX_REPLAYS = 3

T = TypeVar("T")


class _Step(enum.Enum):
    RETRY = "retry"
    REPLAY = "replay"  # after a token refresh: the same attempt again, not a retry


class _Attempt:
    """One attempt's state while it goes through the stages."""

    __slots__ = (
        "answer",
        "ended",
        "failure",
        "headers",
        "request_id",
        "sent_at",
        "state",
        "url",
        "waited",
    )

    def __init__(self, url: str, waited: float, sent_at: float) -> None:
        self.url = url
        self.waited = waited
        self.sent_at = sent_at
        self.headers: dict[str, str] = {}
        self.answer: Answer | None = None
        self.ended = sent_at  # when its answer (or failure) was complete
        self.failure: AttemptFailed | None = None
        self.state: RateLimitState = NO_RESPONSE
        self.request_id: str | None = None


class Pipeline:
    """Runs calls through the stages; shared by a client and all its views."""

    def __init__(
        self,
        http: HttpTransport,
        limiter: Limiter,
        clock: Clock,
        observers: tuple[Observer, ...] = (),
    ) -> None:
        self.http = http
        self.limiter = limiter
        self.clock = clock
        self.refresh_options = CallOptions()
        """What a token refresh runs with: the client's own settings (timeout, retries)."""
        self.set_observers(observers)

    def set_observers(self, observers: tuple[Observer, ...]) -> None:
        """Replace the observers of every later call."""
        self.observers = observers
        self.events = Events(observers)

    async def send(
        self,
        spec: RequestSpec,
        credential: Credential,
        plan: Plan | None,
        options: CallOptions,
        timeout: aiohttp.ClientTimeout | None = None,
    ) -> Response:
        """Run one call through every stage; its result or its error."""
        self._gate(spec, credential, plan)
        timeout = timeout or options.timeout
        now = self.clock.monotonic()
        deadline = now + timeout.total if timeout.total else None
        call = CallInfo(
            spec, credential.limit_key, plan, options.priority, self.http.host, now, deadline
        )
        events = self.events.for_call()
        events.call_start(call)
        try:
            response = await self._run(call, spec, credential, options, timeout, events)
        except BaseException as exc:
            call.duration = self.clock.monotonic() - call.started
            events.call_end(call, exc)
            raise
        call.duration = response.elapsed
        events.call_end(call, None)
        return response

    async def _run(
        self,
        call: CallInfo,
        spec: RequestSpec,
        credential: Credential,
        options: CallOptions,
        timeout: aiohttp.ClientTimeout,
        events: Events,
    ) -> Response:
        refreshed = False  # whether this call had the credential refreshed already
        url = self.http.url(spec.path)
        while True:
            # A credential with a free slot is granted by a plain call; only a queued one waits
            # in a coroutine. The feed-back's bookkeeping is a plain call too, and the limiter's
            # observe() is awaited here (two coroutine layers fewer; with ICalendly._call's
            # one, ~850 instructions per client.me.get(), benchmarks/README.md "Round 5").
            attempt = self._acquire(call, url, credential, options, events)
            if attempt is None:
                attempt = await self._queue(call, url, credential, options, events)
            try:
                attempt.headers = await self._authorize(call, spec, credential, options)
                await self._send(call, spec, attempt, timeout, events)
            finally:
                await self.limiter.observe(call.credential, self._feed_back(call, attempt, events))
            if attempt.answer is not None and 200 <= attempt.answer.status < 300:
                return self._decode(call, spec, attempt)
            step = await self._decide(call, spec, credential, options, attempt, refreshed, events)
            if step is _Step.REPLAY:
                refreshed = True

    # -- 1 gate -----------------------------------------------------------------------------

    def _gate(self, spec: RequestSpec, credential: Credential, plan: Plan | None) -> None:
        self.http.check_loop()
        if not spec.tier.allows(plan):
            assert plan is not None
            raise errors.PlanTierError(spec.name, plan, spec.tier.plans)
        if spec.auth is AuthRequirement.PLATFORM_CLIENT and credential.kind != "platform_client":
            raise errors.ConfigurationError(
                f"{spec.name} needs a PlatformClient credential (x-cal-client-id and "
                f"x-cal-secret-key); this client holds {credential!r}. Use "
                "client.with_credential(PlatformClient(client_id, secret_key))."
            )
        if (
            spec.auth is AuthRequirement.CLIENT_SECRET
            and credential.client_secret_headers() is None
        ):
            raise errors.ConfigurationError(
                f"{spec.name} needs the OAuth client's secret: use a PlatformClient, or an "
                "AccessToken created with client_id and client_secret"
            )

    # -- 2 acquire --------------------------------------------------------------------------

    def _acquire(
        self,
        call: CallInfo,
        url: str,
        credential: Credential,
        options: CallOptions,
        events: Events,
    ) -> _Attempt | None:
        """The attempt, when the limiter grants it at once; ``None``: it must queue."""
        asked = self.clock.monotonic()
        # A free credential is granted without a coroutine or a deadline timer. Measured
        # (client.me.get() against benchmarks/_common.canned_network, callgrind): awaiting
        # acquire() under the call's deadline instead costs 112,000 more instructions per call
        # (175,000 -> 287,000, +64 %).
        if not self.limiter.try_acquire(call.credential, credential.rate_limit, options.priority):
            return None
        return self._start(call, url, asked, asked, events)

    async def _queue(
        self,
        call: CallInfo,
        url: str,
        credential: Credential,
        options: CallOptions,
        events: Events,
    ) -> _Attempt:
        """Wait for the limiter's grant, within the call's deadline and max_rate_limit_wait."""
        clock = self.clock
        asked = clock.monotonic()
        max_wait = options.retry.max_rate_limit_wait
        left = self._left(call, asked)
        acquire = self.limiter.acquire(
            call.credential,
            credential.rate_limit,
            priority=options.priority,
            max_hold=max_wait if left is None else min(max_wait, left),
        )
        try:
            await (acquire if left is None else wait_for(clock, acquire, left))
        except CredentialHeld as held:
            call.limiter_wait += clock.monotonic() - asked
            raise self._held(call, held.seconds, max_wait) from None
        except asyncio.TimeoutError:
            call.limiter_wait += clock.monotonic() - asked
            raise self._timeout(call, "queued") from None
        return self._start(call, url, asked, clock.monotonic(), events)

    @staticmethod
    def _start(call: CallInfo, url: str, asked: float, sent_at: float, events: Events) -> _Attempt:
        """Count the granted attempt and announce it."""
        waited = sent_at - asked
        call.attempts += 1
        call.sent += 1
        call.limiter_wait += waited
        events.attempt_start(call, call.attempts, waited)
        return _Attempt(url, waited, sent_at)

    def _held(self, call: CallInfo, held: float, max_wait: float) -> errors.ICalendlyError:
        """The server holds the credential longer than the call may wait: nothing is sent."""
        if held > max_wait:
            return errors.RateLimitError(
                429,
                None,
                f"{call.name}: the credential is held for {held:.1f} s by the server's rate "
                f"limit, more than max_rate_limit_wait={max_wait:g} s; nothing was sent",
                retry_after=held,
            )
        return self._timeout(
            call, "queued", f"the credential is held for {held:.1f} s by the server"
        )

    # -- 3 authorize ------------------------------------------------------------------------

    async def _authorize(
        self, call: CallInfo, spec: RequestSpec, credential: Credential, options: CallOptions
    ) -> dict[str, str]:
        if spec.auth is AuthRequirement.CLIENT_SECRET:
            auth = credential.client_secret_headers() or {}
        elif credential.can_refresh:  # it may refresh first (or read a token store)
            auth = await self._token_work(call, credential.auth_headers(self._refresh_tokens))
        else:
            auth = await credential.auth_headers(self._refresh_tokens)
        if options.headers or spec.headers:
            return {**options.headers, **auth, **spec.headers}
        return auth

    async def _token_work(self, call: CallInfo, work: Awaitable[T]) -> T:
        """``work`` (a token refresh, or reading the token store) within the call's timeout.

        A refresh is shared by every caller and runs on when one stops waiting (see
        ``_keeper``), so only this call's wait is cut at its deadline. The time counts as in
        flight: the refresh is a request made for the call.
        """
        clock = self.clock
        started = clock.monotonic()
        left = self._left(call, started)
        try:
            return await (work if left is None else wait_for(clock, work, max(left, 0.0)))
        except asyncio.TimeoutError as exc:
            if isinstance(exc, errors.TimeoutError):  # the refresh's own request timed out
                raise
        finally:
            call.in_flight += clock.monotonic() - started
        raise self._timeout(call, "in_flight", "waiting for the token refresh")

    # -- 4 send -----------------------------------------------------------------------------

    async def _send(
        self,
        call: CallInfo,
        spec: RequestSpec,
        attempt: _Attempt,
        timeout: aiohttp.ClientTimeout,
        events: Events,
    ) -> None:
        clock = self.clock
        started = clock.monotonic()
        left = self._left(call, started)
        if left is not None and left <= 0:
            raise self._timeout(call, "queued")
        if left is not None and timeout.total is not None and left < timeout.total - _SLACK:
            timeout = aiohttp.ClientTimeout(
                total=left,
                connect=None if timeout.connect is None else min(timeout.connect, left),
                sock_read=timeout.sock_read,
                sock_connect=timeout.sock_connect,
            )
        try:
            attempt.answer = await self.http.send(spec, attempt.url, attempt.headers, timeout)
        except AttemptFailed as failure:
            attempt.failure = failure
        attempt.ended = clock.monotonic()
        took = attempt.ended - started
        call.in_flight += took
        if attempt.answer is not None:
            call.status = attempt.answer.status
            attempt.request_id = _request_id(attempt.answer.headers)
        if events.wants_attempts:
            status = attempt.answer.status if attempt.answer is not None else None
            error = type(attempt.failure.error).__name__ if attempt.failure else None
            info = AttemptInfo(
                call.attempts, attempt.waited, took, status, attempt.request_id, error
            )
            events.attempt_end(call, info)

    # -- 5 feed back ------------------------------------------------------------------------

    def _feed_back(self, call: CallInfo, attempt: _Attempt, events: Events) -> RateLimitState:
        """What this attempt's answer said for the limiter (or that none came), counted."""
        exhausted = None
        if attempt.answer is not None:
            attempt.state, exhausted = parse_headers(attempt.answer.headers)
        if attempt.answer is not None and attempt.answer.status == 429:
            call.rate_limited += 1
        elif exhausted is not None:  # "Remaining: 0" holds the calls: a hold too
            call.holds += 1
            events.hold(call, exhausted, "remaining 0")
        return attempt.state

    # -- 6 decide ---------------------------------------------------------------------------

    async def _decide(
        self,
        call: CallInfo,
        spec: RequestSpec,
        credential: Credential,
        options: CallOptions,
        attempt: _Attempt,
        refreshed: bool,
        events: Events,
    ) -> _Step:
        """An attempt without a 2xx answer: retry it, replay it after a refresh, or raise."""
        policy = options.retry
        answer = attempt.answer
        if answer is None:
            assert attempt.failure is not None
            return await self._after_failure(call, spec, options, attempt.failure, events)
        status = answer.status
        if (
            status in (401, 498)
            and credential.can_refresh
            and await self._replay_after_refresh(call, credential, attempt, refreshed, events)
        ):
            call.attempts -= 1  # the replay after a refresh is not a retry
            return _Step.REPLAY
        wait = None
        if status in (408, 429, 503):
            wait = server_wait(answer.headers, attempt.state, self.clock.time())
        if status == 429:
            await self.limiter.penalize(call.credential, wait or 0.0)
            call.holds += 1
            events.hold(call, wait or 0.0, "429")
        decision = policy.decide(
            call.attempts, Outcome(OutcomeKind.STATUS, spec.method, status, wait)
        )
        error = self._api_error(call, spec, attempt, wait)
        if not decision.retry:
            raise error
        await self._back_off(call, decision.delay, decision.reason, error, events)
        return _Step.RETRY

    async def _after_failure(
        self,
        call: CallInfo,
        spec: RequestSpec,
        options: CallOptions,
        failure: AttemptFailed,
        events: Events,
    ) -> _Step:
        """An attempt without a response: give up (the deadline passed), retry, or raise."""
        left = self._left(call, self.clock.monotonic())
        if left is not None and left <= _SLACK:
            raise self._timeout(call, "in_flight") from failure.error
        decision = options.retry.decide(call.attempts, Outcome(failure.kind, spec.method))
        if not decision.retry:
            if isinstance(failure.error, errors.TimeoutError):  # a read or connect timeout
                raise self._timeout(call, "in_flight", gave_up=failure.error) from None
            raise failure.error from None
        await self._back_off(call, decision.delay, decision.reason, failure.error, events)
        return _Step.RETRY

    async def _back_off(
        self,
        call: CallInfo,
        delay: float,
        reason: str,
        cause: BaseException,
        events: Events,
    ) -> None:
        """Sleep before the next attempt, unless that would start after the deadline."""
        left = self._left(call, self.clock.monotonic())
        if left is not None and delay >= left:
            raise self._timeout(
                call, "backing_off", f"the next attempt was due in {delay:.2f} s"
            ) from cause
        call.retries += 1
        events.retry(call, call.attempts, delay, reason)
        await self.clock.sleep(delay)
        call.backing_off += delay

    async def _replay_after_refresh(
        self,
        call: CallInfo,
        credential: Credential,
        attempt: _Attempt,
        refreshed: bool,
        events: Events,
    ) -> bool:
        """After a 401/498: whether to send the attempt again with a refreshed token.

        The first time, the credential is refreshed (single-flight: a caller whose token was
        replaced meanwhile just takes the new one). After that, the call is replayed again only
        when the token it was refused with is no longer the current one (another refresh
        rotated it while this call's replay was in flight), at most ``_MAX_REPLAYS`` times: a
        token refused right after its refresh is an error, not a race.
        """
        if not refreshed:
            try:
                sent = await self._token_work(
                    call, credential.refresh(self._refresh_tokens, attempt.headers)
                )
            except BaseException:
                events.refresh(call, False)
                raise
            if sent is not False:  # False: another caller's new pair is used, nothing was sent
                events.refresh(call, True)
            return True
        if call.sent - call.attempts >= _MAX_REPLAYS:
            return False
        current = await self._token_work(call, credential.auth_headers(self._refresh_tokens))
        used = attempt.headers
        return any(used.get(name) != value for name, value in current.items())

    # -- 7 decode ---------------------------------------------------------------------------

    def _decode(self, call: CallInfo, spec: RequestSpec, attempt: _Attempt) -> Response:
        answer = attempt.answer
        assert answer is not None
        data, pagination = decode_success(
            answer.status, answer.body, envelope=spec.envelope, lenient=spec.lenient
        )
        return Response(
            answer.status,
            spec.method,
            attempt.url,
            answer.headers,
            data,
            pagination,
            attempt.request_id,
            attempt.state,
            call.attempts,
            attempt.ended - call.started,
            answer.body,
        )

    def _api_error(
        self, call: CallInfo, spec: RequestSpec, attempt: _Attempt, wait: float | None
    ) -> errors.APIError:
        answer = attempt.answer
        assert answer is not None
        status = answer.status
        response = Response(
            status,
            spec.method,
            attempt.url,
            answer.headers,
            None,
            None,
            attempt.request_id,
            attempt.state,
            call.attempts,
            self.clock.monotonic() - call.started,
            answer.body,
        )
        if 300 <= status < 400:
            location = answer.headers.get("Location", "?")
            return errors.APIError(
                status, None, f"unexpected redirect to {location}; redirects are not followed"
            )
        err = decode_error(status, answer.body)
        cls = errors.error_for_status(status)
        if cls is errors.RateLimitError:
            return errors.RateLimitError(
                status,
                err.code,
                err.message,
                err.details,
                attempt.request_id,
                response,
                retry_after=wait,
            )
        return cls(status, err.code, err.message, err.details, attempt.request_id, response)

    # -- the call's budget ------------------------------------------------------------------

    @staticmethod
    def _left(call: CallInfo, now: float) -> float | None:
        """Seconds left of the call's timeout (``None``: it has no total)."""
        return None if call.deadline is None else call.deadline - now

    def _timeout(
        self,
        call: CallInfo,
        phase: str,
        detail: str = "",
        *,
        gave_up: errors.TimeoutError | None = None,
    ) -> errors.TimeoutError:
        """The call's :class:`~icalendly_async.errors.TimeoutError`: its budget ran out in
        ``phase``, or (``gave_up``) its last attempt timed out (``sock_read``, connect) and
        is not retried."""
        total = None if call.deadline is None else call.deadline - call.started
        if gave_up is not None:
            what = f"gave up after its last attempt timed out ({gave_up})"
        else:
            where = {
                "queued": "while queued for the rate limiter",
                "in_flight": "while the request was in flight",
                "backing_off": "before the next retry could start",
            }[phase]
            assert total is not None
            note = f" ({detail})" if detail else ""
            what = f"the call's {total:g} s timeout ran out {where}{note}"
        return errors.TimeoutError(
            f"{call.name}: {what}: "
            f"{call.limiter_wait:.2f} s queued for the rate limiter, {call.in_flight:.2f} s in "
            f"flight, {call.backing_off:.2f} s backing off, over {call.attempts} attempt(s). "
            "Nothing more was sent.",
            phase=phase,
            timeout=total,
            queued=call.limiter_wait,
            in_flight=call.in_flight,
            backing_off=call.backing_off,
            attempts=call.attempts,
        )

    # -- the managed-user token refresh (a call of its own through the pipeline) -------------

    async def _refresh_tokens(self, client_id: str, secret: str, refresh_token: str) -> TokenPair:
        """``POST /v2/oauth/{clientId}/refresh``: the new (rotated) pair."""
        from ._encode import encode_body, format_path

        spec = RequestSpec(
            method="POST",
            path=format_path("/v2/oauth/{clientId}/refresh", ("clientId",), (client_id,)),
            name="token refresh",
            body=encode_body({"refreshToken": refresh_token}),
            template="/v2/oauth/{clientId}/refresh",
        )
        response = await self.send(
            spec, ClientSecret(client_id, secret), None, self.refresh_options
        )
        data = response.data
        if not isinstance(data, dict) or not isinstance(data.get("accessToken"), str):
            raise errors.DecodeError("token refresh answered without an accessToken")
        expires = data.get("accessTokenExpiresAt")
        return TokenPair(
            access_token=data["accessToken"],
            refresh_token=data.get("refreshToken") or refresh_token,
            expires_at=parse_datetime(expires) if expires is not None else None,
        )


def _request_id(headers: Mapping[str, str]) -> str | None:
    for name in _REQUEST_ID_HEADERS:
        value = headers.get(name)
        if value:
            return value
    return None
