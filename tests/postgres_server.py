"""A real PostgreSQL server on a free loopback port, in a temporary directory, for the sync tests.

``initdb`` and ``pg_ctl`` come from PATH or from Debian's ``/usr/lib/postgresql/<version>/bin``
(the ``postgresql`` package, which ``.ci/run`` installs when missing). Under ``CI=true`` a
missing server fails the tests; elsewhere they are skipped with the reason. PostgreSQL refuses to
run as root: as root, the server runs as ``postgres`` (or ``nobody``) through ``runuser``.
Test modules register the fixture by importing it::

    from .postgres_server import postgres_server_fixture  # noqa: F401  (`postgres_server`)
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator

import pytest

from .redis_server import free_port

__all__ = ["PostgresServer", "postgres_server_fixture", "require_postgres"]


def require_postgres() -> str:
    """The directory of ``initdb`` and ``pg_ctl``; fails under ``CI=true`` when missing."""
    found = shutil.which("initdb")
    candidates = [os.path.dirname(found)] if found else []
    candidates += sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)
    for directory in candidates:
        if all(os.access(os.path.join(directory, name), os.X_OK) for name in ("initdb", "pg_ctl")):
            return directory
    reason = (
        "PostgreSQL is not installed (apt-get install postgresql; .ci/run does it), so the sync "
        "into PostgreSQL cannot be tested"
    )
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(reason, pytrace=False)
    pytest.skip(reason)


def _run_as() -> list[str]:
    if os.geteuid() != 0:
        return []
    for user in ("postgres", "nobody"):
        try:
            pwd.getpwnam(user)
        except KeyError:
            continue
        return ["runuser", "-u", user, "--"]
    pytest.skip("running as root and neither a postgres nor a nobody user exists")


class PostgresServer:
    """One throwaway cluster (trust authentication, no fsync), stopped with :meth:`stop`."""

    def __init__(self, bin_dir: str) -> None:
        self._bin = bin_dir
        self.port = free_port()
        self._dir = tempfile.mkdtemp(prefix="icalendly-pg-")
        self._as = _run_as()
        if self._as:
            shutil.chown(self._dir, user=self._as[2])

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _tool(self, name: str, *args: str) -> None:
        subprocess.run(
            [*self._as, os.path.join(self._bin, name), *args],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            timeout=120,
        )

    def start(self) -> None:
        data = os.path.join(self._dir, "data")
        self._tool("initdb", "-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8")
        options = f"-p {self.port} -k {self._dir} -c listen_addresses=127.0.0.1 -c fsync=off"
        log = os.path.join(self._dir, "server.log")
        self._tool("pg_ctl", "-D", data, "-o", options, "-l", log, "-w", "start")

    def stop(self) -> None:
        data = os.path.join(self._dir, "data")
        try:
            if os.path.exists(os.path.join(data, "postmaster.pid")):
                self._tool("pg_ctl", "-D", data, "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self._dir, ignore_errors=True)


@pytest.fixture(name="postgres_server")
def postgres_server_fixture() -> Iterator[PostgresServer]:
    server = PostgresServer(require_postgres())
    try:
        server.start()
    except subprocess.CalledProcessError as exc:
        server.stop()
        pytest.fail(f"PostgreSQL did not start: {exc.stderr.decode(errors='replace')[-500:]}")
    try:
        yield server
    finally:
        server.stop()
