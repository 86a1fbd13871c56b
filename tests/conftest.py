from __future__ import annotations

import os
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from aiohttp import web

# Settings a shell may still export (`icalendly mock-server` prints them for `set -a`) would reach
# the examples and commands the tests run, pointing them at a server that is gone: the suite
# runs without them. ICALENDLY_EMULATOR_VALIDATE is the suite's own switch, kept.
for _name in [name for name in os.environ if name.startswith("ICALENDLY_")]:
    if _name != "ICALENDLY_EMULATOR_VALIDATE":
        del os.environ[_name]

# Every emulator in this suite checks the bodies it sends against the OpenAPI document
# (with its known defects repaired); a mismatch fails the test that made it.
os.environ.setdefault("ICALENDLY_EMULATOR_VALIDATE", "1")


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """``-n auto`` (the default run): two workers per core. The tests wait on loopback servers,
    Redis and subprocesses for much of their time; on 2 cores, 4 workers ran the default set in
    64 s where 2 took 82 s (taskset -c 0,1, same machine, same hour)."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    return 2 * cores


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class RecordingServer:
    """A tiny loopback server for transport checks the emulator has no reason to offer."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.handler: Handler | None = None
        self.base_url = ""
        self._runner: web.AppRunner | None = None

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        self.requests.append(
            {"method": request.method, "path": request.path, "headers": dict(request.headers)}
        )
        if self.handler is not None:
            return await self.handler(request)
        return web.json_response({"status": "success", "data": {"ok": True}})

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.base_url = f"http://127.0.0.1:{self._runner.addresses[0][1]}"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


@pytest.fixture
async def recording_server() -> AsyncIterator[RecordingServer]:
    server = RecordingServer()
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
def closed_port_url() -> str:
    """A loopback URL where nothing listens (connection refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"
