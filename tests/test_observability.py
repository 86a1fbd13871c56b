"""Logs, metrics, traces and observer safety."""

from __future__ import annotations

import itertools
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from icalendly_async import AccessToken, ApiKey, ICalendly, RetryPolicy, errors
from icalendly_async.observability import CallInfo, LoggingObserver, MetricsObserver, Observer
from icalendly_async.testing import Emulator, Fault

FAST = RetryPolicy(backoff_base=0.01, backoff_max=0.02)


def _client(emu: Emulator, observers: list[Observer], **kwargs: object) -> ICalendly:
    return ICalendly(
        kwargs.pop("credential", None) or ApiKey(emu.api_key),  # type: ignore[arg-type]
        base_url=emu.base_url,
        allow_insecure_http=True,
        retry=FAST,
        observers=observers,
    )


async def _scripted_run(emu: Emulator, client: ICalendly) -> None:
    for _ in range(3):
        await client.request("GET", "/v2/me")
    emu.inject(Fault("status", status=503, path="/v2/me", times=2))
    await client.request("GET", "/v2/me")
    with pytest.raises(errors.NotFoundError):
        await client.request("GET", "/v2/bookings/nope")


async def test_debug_logs_one_line_per_attempt_and_never_a_secret(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="icalendly_async")
    async with Emulator() as emu:
        pair = emu.issue_tokens()
        emu.expire_access_tokens()
        token = AccessToken(
            pair.access_token,
            pair.refresh_token,
            client_id=emu.client_id,
            client_secret=emu.client_secret,
        )
        async with _client(emu, [LoggingObserver()]) as client:
            await _scripted_run(emu, client)
            await client.with_credential(token).request("GET", "/v2/me")
        secrets = [emu.api_key, emu.client_secret, pair.access_token, pair.refresh_token]
        current = await token.current()
        secrets += [current.access_token, current.refresh_token or ""]
    http = [r for r in caplog.records if r.name == "icalendly_async.http"]
    # One per attempt: 3 + 3 (two 503s) + the 404 + the token call (498, refresh, replay).
    assert len(http) == 3 + 3 + 1 + 3
    assert any(r.icalendly["path"] == "/v2/oauth/{clientId}/refresh" for r in http)  # type: ignore[attr-defined]
    fields = http[0].icalendly  # type: ignore[attr-defined]
    assert {"method", "path", "status", "attempt", "limiter_wait_ms", "duration_ms"} <= set(fields)
    assert fields["request_id"].startswith("req_")
    assert any(r.icalendly["path"] == "/v2/bookings/{bookingUid}" for r in http)  # type: ignore[attr-defined]
    messages = [r.getMessage() for r in caplog.records]
    assert any("retrying me.get" in m for m in messages)
    assert any("access token refreshed" in m for m in messages)
    dump = "\n".join(messages) + "\n".join(repr(r.__dict__) for r in caplog.records)
    for secret in secrets:
        assert secret and secret not in dump


async def test_metrics_snapshot_counts_exactly() -> None:
    metrics = MetricsObserver()
    async with Emulator() as emu, _client(emu, [metrics]) as client:
        await _scripted_run(emu, client)
    snapshot = metrics.snapshot()
    me = snapshot["operations"]["me.get"]
    assert (me["calls"], me["attempts"], me["retries"], me["errors"]) == (4, 6, 2, {})
    missing = snapshot["operations"]["bookings.get"]
    assert missing["errors"] == {"NotFoundError": 1}
    (credential,) = snapshot["credentials"].values()
    assert credential["calls"] == 5 and credential["attempts"] == 7
    assert credential["latency_seconds"]["count"] == 5
    assert emu.api_key not in repr(snapshot)


async def test_prometheus_exposition() -> None:
    prometheus_client = pytest.importorskip("prometheus_client")
    registry = prometheus_client.CollectorRegistry()
    metrics = MetricsObserver()
    metrics.register(registry)
    async with Emulator() as emu, _client(emu, [metrics]) as client:
        await client.request("GET", "/v2/me")
    text = prometheus_client.generate_latest(registry).decode()
    assert 'icalendly_calls_total{operation="me.get"} 1.0' in text
    assert "icalendly_latency_seconds_bucket" in text


async def test_opentelemetry_spans() -> None:
    sdk_trace = pytest.importorskip("opentelemetry.sdk.trace")
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from icalendly_async.observability.otel import OpenTelemetryObserver

    exporter = InMemorySpanExporter()
    provider = sdk_trace.TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    async with Emulator() as emu, _client(emu, [OpenTelemetryObserver(provider)]) as client:
        emu.inject(Fault("status", status=503, path="/v2/me", times=1))
        await client.request("GET", "/v2/me")
    spans = exporter.get_finished_spans()
    calls = [s for s in spans if s.parent is None]
    attempts = [s for s in spans if s.parent is not None]
    assert len(calls) == 1 and len(attempts) == 2
    call = calls[0]
    assert all(a.parent.span_id == call.context.span_id for a in attempts)  # type: ignore[union-attr]
    recorded = dict(call.attributes or {})
    assert recorded["icalendly.retry_count"] == 1
    assert "icalendly.limiter_wait_ms" in recorded
    assert recorded["http.request.method"] == "GET"
    statuses = [dict(a.attributes or {}).get("http.response.status_code") for a in attempts]
    assert sorted(statuses, key=str) == [200, 503]
    assert dict(attempts[-1].attributes or {}).get("http.request.resend_count") == 1


async def test_a_raising_observer_never_breaks_a_call(caplog: pytest.LogCaptureFixture) -> None:
    class Broken(Observer):
        def on_call_start(self, call: CallInfo) -> None:
            raise RuntimeError("boom with a secret-looking message ical_xyz")

    metrics = MetricsObserver()
    async with Emulator() as emu, _client(emu, [Broken(), metrics]) as client:
        assert await client.request("GET", "/v2/me")
    assert metrics.snapshot()["operations"]["me.get"]["calls"] == 1
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("Broken failed in on_call_start" in w for w in warnings)
    assert not any("ical_xyz" in w for w in warnings)


def test_icalendly_log_env_turns_logging_on() -> None:
    code = (
        "import asyncio\n"
        "from icalendly_async import ApiKey, ICalendly\n"
        "from icalendly_async.testing import Emulator\n"
        "async def main():\n"
        "    async with Emulator() as emu:\n"
        "        async with ICalendly(ApiKey(emu.api_key), base_url=emu.base_url,\n"
        "                             allow_insecure_http=True) as client:\n"
        "            await client.request('GET', '/v2/me')\n"
        "asyncio.run(main())\n"
    )
    env = {**os.environ, "ICALENDLY_LOG": "debug"}
    done = subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=Path(__file__).parent,
    )
    assert done.returncode == 0, done.stderr
    assert "icalendly_async.http: GET /v2/me -> 200 attempt=1" in done.stderr


async def test_metrics_count_the_replay_after_a_refresh_as_an_attempt() -> None:
    metrics = MetricsObserver()
    async with Emulator() as emu:
        pair = emu.issue_tokens()
        emu.expire_access_tokens()
        token = AccessToken(
            pair.access_token,
            pair.refresh_token,
            client_id=emu.client_id,
            client_secret=emu.client_secret,
        )
        async with _client(emu, [metrics], credential=token) as client:
            await client.request("GET", "/v2/me")
    me = metrics.snapshot()["operations"]["me.get"]
    assert (me["calls"], me["attempts"], me["retries"], me["errors"]) == (1, 2, 0, {})


async def test_each_observer_gets_the_events_it_overrides_and_active_is_asked_per_call() -> None:
    seen: list[str] = []

    class Recorder(Observer):
        def on_call_start(self, call: CallInfo) -> None:
            seen.append("start")

        def on_attempt_end(self, call: CallInfo, attempt: object) -> None:
            seen.append(f"attempt {getattr(attempt, 'status', None)}")

        def on_retry(self, call: CallInfo, attempt: int, delay: float, reason: str) -> None:
            seen.append("retry")

        def on_call_end(self, call: CallInfo, error: BaseException | None) -> None:
            seen.append(f"end {type(error).__name__ if error else 'ok'}")

    class Sometimes(Observer):
        def __init__(self) -> None:
            self.on = False
            self.calls = 0

        def active(self) -> bool:
            return self.on

        def on_call_end(self, call: CallInfo, error: BaseException | None) -> None:
            self.calls += 1

    sometimes = Sometimes()
    metrics = MetricsObserver()
    async with Emulator() as emu, _client(emu, [Recorder(), sometimes, metrics]) as client:
        emu.inject(Fault("status", status=503, path="/v2/me", times=1))
        await client.request("GET", "/v2/me")
        sometimes.on = True
        await client.request("GET", "/v2/me")
    first = ["start", "attempt 503", "retry", "attempt 200", "end ok"]
    assert seen == [*first, "start", "attempt 200", "end ok"]
    assert sometimes.calls == 1  # off for the first call, on for the second
    counts = metrics.snapshot()["operations"]["me.get"]
    assert (counts["calls"], counts["attempts"], counts["retries"]) == (2, 3, 1)


async def test_metrics_per_credential_stay_exact_when_a_second_credential_appears() -> None:
    metrics = MetricsObserver()
    async with Emulator() as emu, _client(emu, [metrics]) as client:
        other = client.with_credential(ApiKey(emu.add_api_key()))
        for _ in range(3):
            await client.request("GET", "/v2/me")
        with pytest.raises(errors.NotFoundError):
            await client.request("GET", "/v2/bookings/nope")
        one = metrics.snapshot()
        (first,) = one["credentials"].items()
        assert (first[1]["calls"], first[1]["errors"]) == (4, {"NotFoundError": 1})
        assert first[1]["latency_seconds"]["count"] == 4
        for _ in range(2):
            await other.request("GET", "/v2/me")
        await client.request("GET", "/v2/me")
    two = metrics.snapshot()
    assert two["operations"]["me.get"]["calls"] == 6
    by_credential = two["credentials"]
    assert len(by_credential) == 2
    assert by_credential[first[0]]["calls"] == 5  # its four, then one more
    assert by_credential[first[0]]["errors"] == {"NotFoundError": 1}
    (second,) = (v for k, v in by_credential.items() if k != first[0])
    assert (second["calls"], second["attempts"], second["errors"]) == (2, 2, {})
    assert sum(v["latency_seconds"]["count"] for v in by_credential.values()) == 7
    metrics.reset()
    assert metrics.snapshot() == {"operations": {}, "credentials": {}}


async def test_call_info_describes_the_call_and_its_duration() -> None:
    from icalendly_async import Plan, Priority

    ended: list[tuple[dict[str, object], float]] = []

    class Recorder(Observer):
        def on_call_end(self, call: CallInfo, error: BaseException | None) -> None:
            fields = ("name", "operation_id", "method", "path", "plan", "priority", "server")
            seen = {field: getattr(call, field) for field in fields}
            seen["api_version"] = call.api_version
            ended.append((seen, call.duration))

    metrics = MetricsObserver()
    async with Emulator(bookings=3) as emu:
        client = ICalendly(
            ApiKey(emu.api_key),
            base_url=emu.base_url,
            allow_insecure_http=True,
            plan=Plan.ORGANIZATIONS,
            observers=[Recorder(), metrics],
        )
        async with client:
            listed = await client.request("GET", "/v2/bookings", params={"take": 1})
            uid = listed[0]["uid"]
            await client.bookings.get(uid)
            response = await client.with_options(priority=Priority.BULK).request_response(
                "GET", f"/v2/bookings/{uid}"
            )
    _, (typed, typed_duration), (raw, raw_duration) = ended
    assert typed["name"] == "bookings.get" and typed["method"] == "GET"
    assert typed["operation_id"] and typed["api_version"]
    assert typed["path"] == "/v2/bookings/{bookingUid}"  # the template: never an id
    assert typed["plan"] == "organizations" and typed["priority"] == "NORMAL"
    assert typed["server"] == "127.0.0.1"
    # A raw request that matches an operation is described as that operation.
    assert raw == {**typed, "priority": "BULK"}
    assert raw_duration == response.elapsed > 0 and typed_duration > 0
    (series,) = metrics.snapshot()["credentials"].values()
    durations = sum(duration for _, duration in ended)
    assert series["latency_seconds"]["sum"] == pytest.approx(durations)


def test_metrics_derived_counts_match_a_direct_count() -> None:
    """MetricsObserver stores only what a call adds beyond the plain case (one attempt, no
    wait); its snapshot must equal a plain count of every figure."""
    import bisect
    import random
    from collections import Counter, defaultdict

    from icalendly_async._request import RequestSpec
    from icalendly_async.observability.metrics import BUCKETS
    from icalendly_async.ratelimit import Priority

    rng = random.Random(7)
    metrics = MetricsObserver()
    counts: defaultdict[tuple[str, str], Counter[str]] = defaultdict(Counter)
    waits: defaultdict[tuple[str, str], list[int]] = defaultdict(lambda: [0] * (len(BUCKETS) + 1))
    wait_sums: defaultdict[tuple[str, str], float] = defaultdict(float)
    for index in range(500):
        name = rng.choice(["me.get", "bookings.list"])
        credential = rng.choice(["k1", "k2"]) if index > 50 else "k1"  # a second one, later
        call = CallInfo(
            RequestSpec("GET", "/v2/me", name), credential, None, Priority.NORMAL, "h", 0
        )
        call.sent = rng.choice([1, 1, 1, 0, 2, 3])
        call.retries = max(0, call.sent - 1) if rng.random() < 0.5 else 0
        call.rate_limited = rng.choice([0, 0, 1])
        call.holds = rng.choice([0, 0, 0, 2])
        call.limiter_wait = rng.choice([0.0, 0.0, 0.0005, 0.02, 3.0])
        call.duration = rng.choice([0.0004, 0.03, 0.3, 7.0])
        error = rng.choice([None, None, None, KeyError("x")])
        metrics.on_call_end(call, error)
        for label in (("operations", name), ("credentials", credential)):
            counts[label].update(
                calls=1,
                attempts=call.sent,
                retries=call.retries,
                rate_limited=call.rate_limited,
                holds=call.holds,
                KeyError=error is not None,
            )
            waits[label][bisect.bisect_left(BUCKETS, call.limiter_wait)] += 1
            wait_sums[label] += call.limiter_wait
    snapshot = metrics.snapshot()
    assert len(snapshot["credentials"]) == 2
    for (group, key), expected in counts.items():
        got = snapshot[group][key]
        for field in ("calls", "attempts", "retries", "rate_limited", "holds"):
            assert got[field] == expected[field], (group, key, field)
        assert got["errors"] == ({"KeyError": expected["KeyError"]} if expected["KeyError"] else {})
        histogram = got["limiter_wait_seconds"]
        assert histogram["count"] == expected["calls"]
        assert histogram["sum"] == pytest.approx(wait_sums[group, key])
        cumulative = list(itertools.accumulate(waits[group, key]))
        assert list(histogram["buckets"].values()) == cumulative


async def test_metrics_count_each_call_once_and_a_failing_observer_never_breaks_a_call(
    caplog: pytest.LogCaptureFixture,
) -> None:
    class Broken(MetricsObserver):
        def on_call_end(self, call: CallInfo, error: BaseException | None) -> None:
            raise RuntimeError("boom")

    class Extended(MetricsObserver):  # overrides on_call_end again, and counts too
        def __init__(self) -> None:
            super().__init__()
            self.ended = 0

        def on_call_end(self, call: CallInfo, error: BaseException | None) -> None:
            self.ended += 1
            super().on_call_end(call, error)

    metrics, extended = MetricsObserver(), Extended()
    caplog.set_level(logging.WARNING, logger="icalendly_async")
    async with Emulator() as emu:
        async with _client(emu, [metrics, Broken()]) as client:
            emu.inject(Fault("status", status=429, path="/v2/me", times=1))
            assert await client.request("GET", "/v2/me")
        async with _client(emu, [extended]) as client:
            await client.request("GET", "/v2/me")
    assert any("Broken failed in on_call_end" in r.getMessage() for r in caplog.records)
    me = metrics.snapshot()["operations"]["me.get"]
    counted = (me["calls"], me["attempts"], me["retries"], me["rate_limited"], me["holds"])
    assert counted == (1, 2, 1, 1, 1)
    assert extended.ended == 1 and extended.snapshot()["operations"]["me.get"]["calls"] == 1


async def test_an_inactive_observer_beside_others_costs_no_events_per_call() -> None:
    class Off(Observer):
        def active(self) -> bool:
            return False

        def on_call_end(self, call: CallInfo, error: BaseException | None) -> None:
            raise AssertionError("an inactive observer is not called")

    class Unhashable(Observer):  # __eq__ without __hash__
        def __init__(self) -> None:
            self.ended = 0

        def __eq__(self, other: object) -> bool:
            return other is self

        def on_call_end(self, call: CallInfo, error: BaseException | None) -> None:
            self.ended += 1

    metrics, unhashable = MetricsObserver(), Unhashable()
    async with Emulator() as emu:
        async with _client(emu, [Off(), metrics]) as client:
            for _ in range(3):
                await client.request("GET", "/v2/me")
            (cached,) = client._pipeline.events._subsets.values()
            assert cached.observers == (metrics,)
        async with _client(emu, [Off(), unhashable]) as client:
            await client.request("GET", "/v2/me")
    assert metrics.snapshot()["operations"]["me.get"]["calls"] == 3
    assert unhashable.ended == 1
