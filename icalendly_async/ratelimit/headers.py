"""Rate-limit values: the configured :class:`RateLimit`, and :class:`RateLimitState`, what the
server said.

The service sends one header set per named limit on every response::

    X-RateLimit-Limit-Default: 120
    X-RateLimit-Remaining-Default: 97
    X-RateLimit-Reset-Default: 41        # seconds until the window (or the block) ends

Parsing is sans-I/O and total: any mapping of headers gives a state, and malformed values are
skipped rather than trusted (a proxy mangling one header must not stop a request).
"""

from __future__ import annotations

import contextlib
import logging
import math
from collections.abc import Iterable, Mapping
from typing import Any

import attrs

from ..errors import ConfigurationError

__all__ = [
    "MAX_NAMED_LIMITS",
    "MAX_SERVER_WAIT",
    "MAX_TRACKED_LIMITS",
    "NamedLimit",
    "RateLimit",
    "RateLimitState",
    "clamp_server_wait",
    "forget_oldest",
]

log = logging.getLogger("icalendly_async.ratelimit")

#: The longest wait a server may announce (``X-RateLimit-Reset``, ``Retry-After``) that the
#: client believes: a longer one is cut to this, and logged. A server (or a proxy) announcing
#: ``Reset: 1e18`` must not make the limiter wait forever.
MAX_SERVER_WAIT = 3600.0
#: The named limits one response may report that the client tracks (``Default`` always is):
#: invented ``X-RateLimit-*-{Name}`` headers must not grow the limiter's state without bound.
MAX_NAMED_LIMITS = 16
#: The named limits a limiter keeps per credential; the oldest goes first (``default`` stays).
MAX_TRACKED_LIMITS = 32

_PREFIX = "x-ratelimit-"
_FIELD_INDEX = {"limit": 1, "remaining": 2, "reset": 3}


def _check_limit(instance: RateLimit, attribute: attrs.Attribute[int], value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigurationError(
            f"RateLimit.limit must be a positive whole number of requests, got {value!r}; "
            "for example RateLimit(120, 60)"
        )


def _check_window(instance: RateLimit, attribute: attrs.Attribute[float], value: float) -> None:
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not math.isfinite(value)
        or value <= 0
    ):
        raise ConfigurationError(
            f"RateLimit.window_seconds must be a positive number of seconds, got {value!r}; "
            "for example RateLimit(120, 60)"
        )


@attrs.frozen
class RateLimit:
    """At most ``limit`` requests start in any window of ``window_seconds``."""

    limit: int = attrs.field(validator=_check_limit)
    window_seconds: float = attrs.field(validator=_check_window)

    @classmethod
    def parse(cls, text: str) -> RateLimit:
        """Parse ``"120/60"`` (requests per seconds) into a :class:`RateLimit`."""
        try:
            limit_text, window_text = text.split("/")
            return cls(int(limit_text), float(window_text))
        except ValueError:
            raise ConfigurationError(
                f"cannot read a rate limit from {text!r}: write it as REQUESTS/SECONDS, e.g. 120/60"
            ) from None

    def __str__(self) -> str:
        return f"{self.limit}/{self.window_seconds:g}s"


@attrs.frozen
class NamedLimit:
    """One ``X-RateLimit-*-<Name>`` set of a response."""

    name: str
    limit: int | None
    remaining: int | None
    reset_seconds: float | None


_Meaning = tuple[int, str, str]  # field index (1 limit, 2 remaining, 3 reset), name, name lowered
_UNKNOWN: Any = object()
_MEANINGS: dict[object, _Meaning | None] = {}


def _meaning(key: object) -> _Meaning | None:
    """What a header name says: ``None`` unless ``X-RateLimit-<Field>-<Name>`` (remembered)."""
    meaning: _Meaning | None = None
    if isinstance(key, str) and key[:12].lower() == _PREFIX:
        field, _, name = key[12:].partition("-")
        index = _FIELD_INDEX.get(field.lower())
        if index is not None and name:
            meaning = (index, name, name.lower())
    if len(_MEANINGS) >= 1024:  # names are few; a server inventing them must not grow this
        _MEANINGS.clear()
    with contextlib.suppress(TypeError):  # an unhashable name is not remembered
        _MEANINGS[key] = meaning
    return meaning


@attrs.frozen
class RateLimitState:
    """Every named limit one response reported.

    Empty when the response carried none; ``received`` is ``False`` when no response arrived at
    all (connection error, timeout, cancellation), which the limiter treats differently: nothing
    was learned, and the request may or may not have been counted.
    """

    limits: tuple[NamedLimit, ...] = ()
    received: bool = True

    @classmethod
    def no_response(cls) -> RateLimitState:
        """The state of an attempt that ended without a response."""
        return NO_RESPONSE

    @classmethod
    def from_headers(cls, headers: Mapping[str, str] | Iterable[tuple[str, str]]) -> RateLimitState:
        """Collect every ``X-RateLimit-{Limit,Remaining,Reset}-{Name}``; skip bad values."""
        return parse_headers(headers)[0]

    def __bool__(self) -> bool:
        return bool(self.limits)

    def get(self, name: str) -> NamedLimit | None:
        """The named limit (case-insensitive), e.g. ``state.get("Default")``."""
        lowered = name.lower()
        for limit in self.limits:
            if limit.name.lower() == lowered:
                return limit
        return None

    @property
    def tightest(self) -> NamedLimit | None:
        """The limit with the fewest requests remaining (ties: the later reset)."""
        known = [limit for limit in self.limits if limit.remaining is not None]
        if not known:
            return None
        return min(known, key=lambda lim: (lim.remaining, -(lim.reset_seconds or 0.0)))

    @property
    def exhausted_for(self) -> float | None:
        """Seconds until the latest reset among the limits that show ``Remaining: 0``."""
        latest: float | None = None
        for limit in self.limits:
            if limit.remaining == 0:
                reset = limit.reset_seconds or 0.0
                if latest is None or reset > latest:
                    latest = reset
        return latest


def clamp_server_wait(seconds: float, what: str) -> float:
    """``seconds`` cut to :data:`MAX_SERVER_WAIT` (logged when cut)."""
    if seconds > MAX_SERVER_WAIT:
        log.warning(
            "the server announced a wait of %.6g s (%s); waiting at most %g s",
            seconds,
            what,
            MAX_SERVER_WAIT,
        )
        return MAX_SERVER_WAIT
    return seconds


def forget_oldest(by_name: dict[str, Any]) -> None:
    """Drop the oldest named limit of a limiter's per-credential table (``default`` stays)."""
    for name in by_name:
        if name != "default":
            del by_name[name]
            return


NO_RESPONSE = RateLimitState((), received=False)
_EMPTY = RateLimitState(())
_NOTHING: tuple[RateLimitState, float | None] = (_EMPTY, None)


def parse_headers(
    headers: Mapping[str, str] | Iterable[tuple[str, str]],
) -> tuple[RateLimitState, float | None]:
    """:meth:`RateLimitState.from_headers`, and its ``exhausted_for`` found on the way.

    The session parses every response with this: a response showing ``Remaining: 0`` is a
    hold its observers hear of, and this way telling costs nothing on the others.
    """
    # What a header's name means is remembered per name (servers send the same few names), so
    # a header costs one dictionary lookup. Measured (client.me.get() against
    # benchmarks/_common.canned_network, 7 headers): lowering and splitting every name instead
    # costs 18,000 more instructions per call (callgrind; +10 % of the pipeline's 177,000) and
    # 2.2 µs more per parse (6.2 against 4.0 µs, timeit on a loaded 2-core machine).
    items = headers.items() if hasattr(headers, "items") else headers
    found: dict[str, list[Any]] | None = None  # name lowered -> [name, limit, left, reset]
    for raw_key, raw_value in items:
        try:
            meaning = _MEANINGS.get(raw_key, _UNKNOWN)
        except TypeError:  # an unhashable name (only odd iterables have them)
            meaning = _UNKNOWN
        if meaning is _UNKNOWN:
            meaning = _meaning(raw_key)
        if meaning is None:
            continue
        index, name, lowered = meaning
        try:
            number = float(raw_value)  # float() ignores surrounding whitespace
        except (TypeError, ValueError):
            continue  # not a number: a proxy's noise, skipped
        if not 0 <= number < math.inf:
            continue
        if index == 3 and number > MAX_SERVER_WAIT:
            number = clamp_server_wait(number, f"X-RateLimit-Reset-{name}")
        if found is None:
            found = {}
        entry = found.get(lowered)
        if entry is None:
            if len(found) >= MAX_NAMED_LIMITS and lowered != "default":
                continue  # a server inventing names: the first ones are tracked
            entry = found[lowered] = [name, None, None, None]
        entry[index] = number
    if found is None:
        return _NOTHING
    limits = []
    exhausted: float | None = None
    for name, limit, remaining, reset in found.values():
        left = int(remaining) if remaining is not None else None
        if left == 0:  # as RateLimitState.exhausted_for: the latest reset of these
            at = reset or 0.0
            if exhausted is None or at > exhausted:
                exhausted = at
        limits.append(
            NamedLimit(name, int(limit) if limit is not None and limit >= 1 else None, left, reset)
        )
    return RateLimitState(tuple(limits)), exhausted
