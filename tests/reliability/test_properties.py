"""Property tests: what a hostile or broken server can send never escapes as a non-library error.

The envelope decoder and the rate-limit header parser are total over arbitrary input: they
return a value or raise an :class:`~icalendly_async.errors.ICalendlyError`, never anything else.
"""

from __future__ import annotations

import asyncio
import json
import math
import time
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from multidict import CIMultiDict

from icalendly_async import RateLimit, errors
from icalendly_async.models.envelope import decode_error, decode_success
from icalendly_async.ratelimit import LocalLimiter, RateLimitState
from icalendly_async.ratelimit.headers import parse_headers
from icalendly_async.retry import server_wait

# The reliability sweep runs in the full suite (.ci/run: pytest -m slow), not the default run.
pytestmark = pytest.mark.slow

SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

json_scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=20,
)
envelope_like = st.fixed_dictionaries(
    {},
    optional={
        "status": st.sampled_from(["success", "error", "SUCCESS", ""]) | json_values,
        "data": json_values,
        "pagination": json_values,
        "error": json_values
        | st.fixed_dictionaries(
            {}, optional={"code": json_values, "message": json_values, "details": json_values}
        ),
        "message": json_values,
    },
)


def _json_bytes(value: Any) -> bytes:
    return json.dumps(value, allow_nan=True).encode()


bodies = (
    st.binary(max_size=300)
    | json_values.map(_json_bytes)
    | envelope_like.map(_json_bytes)
    | st.text(max_size=200).map(lambda t: t.encode("utf-8"))
    | st.text(max_size=50).map(lambda t: t.encode("utf-16"))
    | envelope_like.map(lambda v: _json_bytes(v)[: len(_json_bytes(v)) // 2])  # truncated
)
statuses = st.integers(100, 599)


@SETTINGS
@given(statuses, bodies)
@example(200, b"")
@example(204, b"  ")
@example(200, b"<html><body>502 Bad Gateway</body></html>")
@example(200, b'{"status": "success"}')
@example(200, b"\xff\xfe\x00")
@example(200, b"9" * 5000)  # past Python's int-digits limit
@example(200, b'{"status":"success","data":NaN}')
def test_decode_success_raises_only_decode_error(status: int, body: bytes) -> None:
    try:
        decoded = decode_success(status, body)
    except errors.DecodeError as exc:
        assert exc.status == status
        assert len(str(exc)) < 600  # a preview, not the whole body
        return
    if body.strip():
        payload = json.loads(body)
        assert payload["status"] == "success"
        assert decoded.pagination is None or isinstance(decoded.pagination, dict)


@SETTINGS
@given(statuses, bodies)
@example(502, b"<html>nginx</html>")
@example(429, b'{"status":"error","error":{"code":null,"message":null}}')
def test_decode_error_never_raises(status: int, body: bytes) -> None:
    err = decode_error(status, body)
    assert err.code is None or isinstance(err.code, str)
    assert isinstance(err.message, str) and len(err.message) < 600


@settings(max_examples=20, deadline=None)
@given(st.integers(5_000, 200_000), st.sampled_from([b"[", b'{"a":']), statuses)
def test_deeply_nested_bodies_are_decode_errors(depth: int, opener: bytes, status: int) -> None:
    body = opener * depth
    with pytest.raises(errors.DecodeError):
        decode_success(status, body)
    decode_error(status, body)


# -- rate-limit headers ------------------------------------------------------------------------

names = st.sampled_from(["Default", "default", "Bookings", "x", "", "-", "a-b"]) | st.text(
    max_size=6
)
fields = st.sampled_from(["Limit", "Remaining", "Reset", "limit", "RESET", "Other", ""])
prefixes = st.sampled_from(["X-RateLimit-", "x-ratelimit-", "X-RATELIMIT-", "X-Rate-Limit-", ""])
number_text = (
    st.integers(-(10**30), 10**30).map(str)
    | st.floats(allow_nan=True, allow_infinity=True).map(str)
    | st.sampled_from(["", " ", "nan", "inf", "-inf", "1e400", "1_000", " 42 ", "0x10", "9" * 400])
    | st.text(max_size=10)
)
header_names = st.builds(lambda p, f, n: f"{p}{f}-{n}", prefixes, fields, names) | st.text(
    max_size=20
)
header_lists = st.lists(st.tuples(header_names, number_text), max_size=12)


def _check_state(state: RateLimitState) -> None:
    for named in state.limits:
        assert named.limit is None or named.limit >= 1
        assert named.remaining is None or named.remaining >= 0
        assert named.reset_seconds is None or (
            math.isfinite(named.reset_seconds) and named.reset_seconds >= 0
        )
    exhausted = state.exhausted_for
    assert exhausted is None or (math.isfinite(exhausted) and exhausted >= 0)
    state.tightest  # noqa: B018 - computes without raising
    bool(state)


@SETTINGS
@given(header_lists)
@example([("X-RateLimit-Remaining-Default", "nan"), ("X-RateLimit-Reset-Default", "inf")])
@example([("X-RateLimit-Limit-Default", "0"), ("X-RateLimit-Limit-Default", "-3")])
@example([("X-RateLimit-Remaining-Default", "1e300")])
@example([("X-RateLimit-Limit-", "5"), ("X-RateLimit--Default", "5")])
def test_rate_limit_header_parser_is_total(headers: list[tuple[str, str]]) -> None:
    _check_state(RateLimitState.from_headers(headers))  # an iterable of pairs
    _check_state(RateLimitState.from_headers(dict(headers)))  # a plain mapping
    _check_state(RateLimitState.from_headers(CIMultiDict(headers)))  # what aiohttp gives
    # What the session parses with: the same state, and its exhausted_for found on the way.
    state, exhausted = parse_headers(CIMultiDict(headers))
    assert state == RateLimitState.from_headers(CIMultiDict(headers))
    assert exhausted == state.exhausted_for


@SETTINGS
@given(st.lists(header_lists, min_size=1, max_size=5))
def test_any_feedback_leaves_the_limiter_usable(feedback: list[list[tuple[str, str]]]) -> None:
    """Whatever headers come back, the limiter takes them without error, and a call still gets
    a decision: granted now, or queued behind a finite hold."""

    async def run() -> None:
        limiter = LocalLimiter(calibrate=False)
        limit = RateLimit(10, 1)
        for headers in feedback:
            await limiter.acquire("k", limit)
            await limiter.observe("k", RateLimitState.from_headers(headers))
        task = asyncio.ensure_future(limiter.acquire("k", limit))
        await asyncio.sleep(0)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        snap = limiter.snapshot("k")
        assert snap is not None and snap.waiting == 0

    asyncio.run(run())


# -- Retry-After -------------------------------------------------------------------------------

retry_after_text = (
    st.floats(allow_nan=True, allow_infinity=True).map(str)
    | st.integers(-(10**6), 10**9).map(str)
    | st.sampled_from(["Wed, 21 Oct 2015 07:28:00 GMT", "Fri, 31 Dec 2100 23:59:59 GMT"])
    | st.text(max_size=30)
)


@SETTINGS
@given(retry_after_text, header_lists)
@example("soon", [])
def test_retry_after_parsing_is_total(value: str, headers: list[tuple[str, str]]) -> None:
    state = RateLimitState.from_headers(headers)
    wait = server_wait(CIMultiDict([*headers, ("Retry-After", value)]), state, time.time())
    assert wait is None or wait >= 0
