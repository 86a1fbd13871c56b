"""Shared pieces of the reliability suite: clients, counters, socket census, hostile servers."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import os
import socket
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING, Any

import aiohttp
import aiosignal
import pytest
import trustme
from aiohttp import web
from yarl import URL

from icalendly_async import ApiKey, ICalendly, RateLimit, RetryPolicy
from icalendly_async.observability import AttemptInfo, CallInfo, Observer

if TYPE_CHECKING:
    from icalendly_async.testing import Emulator

FAST = RetryPolicy(max_retries=2, backoff_base=0.01, backoff_max=0.05)
"""The policy of the suite: the default bounds (2 retries), short backoff."""

ROOMY = RateLimit(5000, 60)
"""A limit no fault test reaches, so that pacing never hides what a fault does."""

IDEMPOTENT = ("GET", "HEAD", "PUT", "DELETE", "OPTIONS")


# -- clients ---------------------------------------------------------------------------------------


class AttemptCounter(Observer):
    """Counts what the pipeline reports: attempts sent, their statuses or errors, retries."""

    def __init__(self) -> None:
        self.attempts = 0
        self.retries = 0
        self.refreshes = 0
        self.calls = 0
        self.statuses: collections.Counter[int | None] = collections.Counter()
        self.errors: collections.Counter[str | None] = collections.Counter()

    def on_attempt_end(self, call: CallInfo, attempt: AttemptInfo) -> None:
        self.attempts += 1
        self.statuses[attempt.status] += 1
        self.errors[attempt.error] += 1

    def on_retry(self, call: CallInfo, attempt: int, delay: float, reason: str) -> None:
        self.retries += 1

    def on_refresh(self, call: CallInfo, ok: bool) -> None:
        self.refreshes += 1

    def on_call_end(self, call: CallInfo, error: BaseException | None) -> None:
        self.calls += 1

    def reset(self) -> None:
        self.__init__()  # type: ignore[misc]


def emulator_client(emu: Emulator, **kwargs: Any) -> ICalendly:
    """A client of ``emu`` with the suite's retry policy and a roomy limit."""
    credential = kwargs.pop("credential", None) or ApiKey(
        emu.api_key, rate_limit=kwargs.pop("rate_limit", ROOMY)
    )
    kwargs.setdefault("retry", FAST)
    return ICalendly(credential, base_url=emu.base_url, allow_insecure_http=True, **kwargs)


def acquired(client: ICalendly) -> int:
    """Connections checked out of the client's pool right now (0 when every response was
    released)."""
    connector = client.connector
    if connector is None:
        return 0
    return len(connector._acquired)  # private, but the one true answer


def pooled(client: ICalendly) -> int:
    """Idle keep-alive connections in the client's pool."""
    connector = client.connector
    if connector is None:
        return 0
    return sum(len(conns) for conns in connector._conns.values())


# -- the kernel's view of sockets ------------------------------------------------------------------

_STATES = {
    "01": "ESTABLISHED",
    "02": "SYN_SENT",
    "03": "SYN_RECV",
    "04": "FIN_WAIT1",
    "05": "FIN_WAIT2",
    "06": "TIME_WAIT",
    "07": "CLOSE",
    "08": "CLOSE_WAIT",
    "09": "LAST_ACK",
    "0A": "LISTEN",
    "0B": "CLOSING",
}


def _own_socket_inodes() -> set[str]:
    inodes = set()
    for fd in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):
            target = os.readlink(f"/proc/self/fd/{fd}")
            if target.startswith("socket:["):
                inodes.add(target[8:-1])
    return inodes


class SocketCensus:
    """This process's TCP sockets touching ``port``, from ``/proc/net/tcp{,6}``.

    ``server``: sockets whose local port is ``port`` (the server's side, listener excluded);
    ``client``: sockets whose remote port is ``port`` (our side). By state name. Only sockets
    this process holds a descriptor of are counted (other processes on the machine, and
    TIME_WAIT remnants, which no process holds, are not).
    """

    def __init__(self, port: int) -> None:
        self.server: collections.Counter[str] = collections.Counter()
        self.client: collections.Counter[str] = collections.Counter()
        own = _own_socket_inodes()
        for table in ("/proc/net/tcp", "/proc/net/tcp6"):
            try:
                with open(table) as fh:
                    lines = fh.read().splitlines()[1:]
            except OSError:
                continue
            for line in lines:
                fields = line.split()
                if fields[9] not in own:
                    continue
                local = int(fields[1].rsplit(":", 1)[1], 16)
                remote = int(fields[2].rsplit(":", 1)[1], 16)
                state = _STATES.get(fields[3], fields[3])
                if local == port and state != "LISTEN":
                    self.server[state] += 1
                if remote == port:
                    self.client[state] += 1

    @property
    def open_at_server(self) -> int:
        """Connections the server still holds open (established or half-closed by the peer)."""
        return self.server["ESTABLISHED"] + self.server["CLOSE_WAIT"]

    @property
    def open_at_client(self) -> int:
        """Connections our process still holds open (established, or closed by the server and
        not yet by us: CLOSE_WAIT is the classic leak)."""
        return self.client["ESTABLISHED"] + self.client["CLOSE_WAIT"]

    def __repr__(self) -> str:
        return f"SocketCensus(server={dict(self.server)}, client={dict(self.client)})"


async def settled_census(client: ICalendly, port: int, timeout: float = 1.0) -> SocketCensus:
    """The census once neither side holds a socket beyond the client's idle pool (and ours
    none in CLOSE_WAIT): a leak never settles, a connection still closing settles within
    ``timeout``. Returns the last census either way (the caller asserts)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        census = SocketCensus(port)
        idle = pooled(client)
        settled = (
            census.client["CLOSE_WAIT"] == 0
            and census.open_at_client <= idle
            and census.open_at_server <= idle
        )
        if settled or loop.time() >= deadline:
            return census
        await asyncio.sleep(0.02)


def proc_net_available() -> bool:
    try:
        with open("/proc/net/tcp"):
            return True
    except OSError:
        return False


def port_of(url: str) -> int:
    port = URL(url).port
    assert port is not None
    return port


@pytest.fixture
def closed_port_url() -> str:
    """A loopback URL where nothing listens: every connect is refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


# -- a hostile server ------------------------------------------------------------------------------


class RawRequest:
    """One HTTP/1.1 request as a raw server read it."""

    def __init__(self, method: str, target: str, headers: dict[str, str], body: bytes) -> None:
        self.method = method
        self.target = target
        self.headers = headers
        self.body = body


Behaviour = Callable[[RawRequest, asyncio.StreamWriter], Awaitable[None]]


class HostileServer:
    """A raw asyncio TCP server on loopback that answers (or not) however ``behaviour`` says.

    ``behaviour`` is called with each parsed request and the writer; it may write anything,
    sleep, or never return. With ``read_requests=False`` the server accepts and never reads.
    Counts connections accepted and requests parsed; closes everything on :meth:`stop`.
    """

    def __init__(self, behaviour: Behaviour | None = None, *, read_requests: bool = True) -> None:
        self.behaviour = behaviour
        self.read_requests = read_requests
        self.connections = 0
        self.requests: list[RawRequest] = []
        self._writers: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._server: asyncio.Server | None = None
        self.port = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> HostileServer:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        for writer in list(self._writers):
            writer.transport.abort()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._server is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self._writers.add(writer)
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            if not self.read_requests:
                await asyncio.Event().wait()  # accept, never read, never answer
            while True:
                request = await self._read(reader)
                if request is None:
                    return
                self.requests.append(request)
                if self.behaviour is None:
                    await reply(writer, 200, b'{"status":"success","data":{"ok":true}}')
                else:
                    await self.behaviour(request, writer)
                if writer.is_closing():
                    return
        except (ConnectionError, asyncio.IncompleteReadError):
            return
        except asyncio.CancelledError:
            return  # stopped: end quietly (asyncio's stream callback chokes on a cancelled task)
        finally:
            self._writers.discard(writer)
            self._tasks.discard(task)
            writer.transport.abort()

    @staticmethod
    async def _read(reader: asyncio.StreamReader) -> RawRequest | None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            return None
        lines = head.decode("latin-1").split("\r\n")
        method, target, _ = lines[0].split(" ", 2)
        headers: dict[str, str] = {}
        for line in lines[1:]:
            if ":" in line:
                name, value = line.split(":", 1)
                headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length", "0") or 0)
        body = await reader.readexactly(length) if length else b""
        return RawRequest(method, target, headers, body)


async def reply(
    writer: asyncio.StreamWriter,
    status: int,
    body: bytes = b"",
    headers: dict[str, str] | None = None,
    reason: str = "X",
) -> None:
    """Write one complete HTTP/1.1 response."""
    head = [f"HTTP/1.1 {status} {reason}", f"Content-Length: {len(body)}"]
    if body:
        head.append("Content-Type: application/json")
    head += [f"{k}: {v}" for k, v in (headers or {}).items()]
    writer.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body)
    await writer.drain()


@pytest.fixture
async def hostile() -> AsyncIterator[Callable[..., Awaitable[HostileServer]]]:
    """A factory of started :class:`HostileServer` s, all stopped after the test."""
    servers: list[HostileServer] = []

    async def make(behaviour: Behaviour | None = None, **kwargs: Any) -> HostileServer:
        server = HostileServer(behaviour, **kwargs)
        servers.append(await server.start())
        return server

    yield make
    for server in servers:
        await server.stop()


# -- TLS -------------------------------------------------------------------------------------------


class TLSServer:
    """An aiohttp server on ``https://127.0.0.1`` with a certificate from a throwaway CA.

    ``connections`` counts TCP connections accepted (each is one TLS handshake attempt);
    ``requests`` counts requests that got through the handshake.
    """

    def __init__(self, ca: trustme.CA, handler: Callable[[web.Request], Awaitable[Any]]) -> None:
        self.ca = ca
        self.handler = handler
        self.connections = 0
        self.requests = 0
        self._runner: web.AppRunner | None = None
        self._server: asyncio.Server | None = None
        self.port = 0

    @property
    def base_url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    def client_context(self) -> ssl.SSLContext:
        """An ``ssl.SSLContext`` that trusts the throwaway CA."""
        ctx = ssl.create_default_context()
        self.ca.configure_trust(ctx)
        return ctx

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        self.requests += 1
        result: web.StreamResponse = await self.handler(request)
        return result

    async def start(self) -> TLSServer:
        server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.ca.issue_cert("127.0.0.1", "localhost").configure_cert(server_ctx)
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        protocol_factory = self._runner.server
        assert protocol_factory is not None

        def counting_factory() -> asyncio.BaseProtocol:
            self.connections += 1
            return protocol_factory()

        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            counting_factory, "127.0.0.1", 0, ssl=server_ctx, ssl_handshake_timeout=5
        )
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        if self._runner is not None:
            await self._runner.cleanup()


@pytest.fixture(scope="session")
def throwaway_ca() -> trustme.CA:
    return trustme.CA()


def library_tasks() -> list[asyncio.Task[Any]]:
    """Tasks running code of the library (the emulator's excluded), other than this one."""
    found = []
    for task in asyncio.all_tasks():
        if task is asyncio.current_task():
            continue
        code = getattr(task.get_coro(), "cr_code", None)
        filename = code.co_filename if code is not None else ""
        if "icalendly_async" in filename and "testing" not in filename:
            found.append(task)
    return found


async def drain_loop(rounds: int = 5) -> None:
    """Let callbacks scheduled by cancellations and closes run."""
    for _ in range(rounds):
        await asyncio.sleep(0)


def make_traced_session(
    record: list[tuple[str, Any]],
) -> aiohttp.ClientSession:
    """A user-supplied ``aiohttp.ClientSession`` with a ``TraceConfig`` recording every
    callback's params (name, params)."""
    trace = aiohttp.TraceConfig()
    for name in dir(trace):
        if not name.startswith("on_"):
            continue
        signal = getattr(trace, name)
        if not isinstance(signal, aiosignal.Signal):
            continue

        async def callback(
            session: aiohttp.ClientSession, ctx: Any, params: Any, _name: str = name
        ) -> None:
            record.append((_name, params))

        signal.append(callback)
    return aiohttp.ClientSession(trace_configs=[trace])
