"""Contract test: every operation, through its generated method and the real client, against
Stoplight Prism mocking ``icalendly_async/spec/openapi.repaired.json`` with request validation on.

Prism answers a request that breaks the document with 422 (``application/problem+json``,
listing the violations); the test fails on any of those, and on any response the models cannot
decode. Install Prism with ``tools/install_prism.sh`` (into ``tools/prism/node_modules``); without
it the test is skipped, except under ``CI=true`` where a missing Prism is a failure.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import os
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from icalendly_async.endpoints import OPERATIONS, AuthRequirement, Operation
from icalendly_async.pagination import AsyncPaginator

from .test_endpoints import method_of, sample_arguments

ROOT = Path(__file__).resolve().parents[1]
PRISM = ROOT / "tools" / "prism" / "node_modules" / ".bin" / "prism"
SPEC = ROOT / "icalendly_async" / "spec" / "openapi.repaired.json"

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def prism(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    if not PRISM.exists():
        message = f"Prism is not installed ({PRISM}); run tools/install_prism.sh"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    port = _free_port()
    log = tmp_path_factory.mktemp("prism") / "prism.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [str(PRISM), "mock", str(SPEC), "--host", "127.0.0.1", "--port", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
        )
    try:
        deadline = time.monotonic() + 90
        while "Prism is listening" not in log.read_text(errors="replace"):
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"Prism did not start:\n{log.read_text(errors='replace')[-3000:]}")
            time.sleep(0.2)
        yield f"http://127.0.0.1:{port}", log
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _credential(operation: Operation) -> Any:
    from icalendly_async import ApiKey, PlatformClient

    if operation.auth in (AuthRequirement.PLATFORM_CLIENT, AuthRequirement.CLIENT_SECRET):
        return PlatformClient("contract-test-client", "contract-test-secret-0123456789")
    return ApiKey("ical_contract_test_key_0123456789")


async def _call(client: Any, operation: Operation) -> Any:
    method = method_of(client, operation)
    args, kwargs = sample_arguments(operation, method)
    if operation.paginated:
        params = inspect.signature(method).parameters
        size = "take" if "take" in params else "limit"
        kwargs[size] = 2
        kwargs.pop("skip" if size == "take" else "offset", None)
        paginator = method(*args, **kwargs)
        assert isinstance(paginator, AsyncPaginator)
        return await paginator
    return await method(*args, **kwargs)


def _violations(log: Path, operation: Operation, offset: int) -> str:
    lines = log.read_text(errors="replace")[offset:].splitlines()
    relevant = [line for line in lines if "✖" in line or "error" in line.lower() or "⚠" in line]
    return "\n      ".join(relevant[-8:])


async def test_every_operation_against_prism(prism: tuple[str, Path]) -> None:
    import icalendly_async
    from icalendly_async.endpoints import GeneratedGroups
    from icalendly_async.ratelimit import Unlimited

    if not issubclass(icalendly_async.ICalendly, GeneratedGroups):
        pytest.fail("ICalendly must inherit endpoints.GeneratedGroups")
    url, log = prism
    failures: list[str] = []
    client = icalendly_async.ICalendly(
        None,
        base_url=url,
        allow_insecure_http=True,
        limiter=Unlimited(),
        max_retries=0,
        timeout=30,
    )
    async with client:
        for operation in OPERATIONS:
            offset = len(log.read_text(errors="replace"))
            scoped = client.with_credential(_credential(operation))
            try:
                await asyncio.wait_for(_call(scoped, operation), 30)
            except Exception as exc:
                await asyncio.sleep(0.05)  # let Prism write its log line
                failures.append(
                    f"{operation} -> {type(exc).__name__}: {exc}\n      "
                    + _violations(log, operation, offset)
                )
    assert not failures, f"{len(failures)} of {len(OPERATIONS)} operations failed:\n" + "\n".join(
        failures
    )


def test_prism_is_pinned() -> None:
    with contextlib.suppress(FileNotFoundError):
        text = (ROOT / "tools" / "prism" / "package.json").read_text()
        assert '"@stoplight/prism-cli": "5.14.2"' in text
