"""Contract test: every satisfiable GET of the document, through its generated method and the real
client, against Stoplight Prism mocking the PUBLISHED document (``spec/openapi.json``) with
request validation on.

The arguments and the checks are the operation sweep's (``test_operation_sweep.py``): built from
the repaired document, the result checked against the method's return annotation at runtime.
Prism answers a request that breaks the published document with 422 (``application/problem+json``)
and the test fails on it; it answers each GET from the published document's examples and schemas,
which the typed layer must read.

Some GETs cannot be satisfied by the published document: where it is wrong about the service (a
defect the repaired document fixes), Prism answers what the defect says. Those are listed in
``UNSATISFIABLE`` with the repair that names the defect, and a test checks that the repair log
(``spec/REPAIRS.md``) really touches each of them. ``TYPED`` would list GETs that fail for a
reason that is the typed layer's job, as strict xfails; there are none.

Install Prism with ``tools/install_prism.sh`` (into ``tools/prism/node_modules``); without it the
test is skipped, except under ``CI=true`` where a missing Prism is a failure.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from icalendly_async import ApiKey, ICalendly, PlatformClient
from icalendly_async.endpoints import OPERATIONS, AuthRequirement, Operation
from icalendly_async.ratelimit import Unlimited
from tools.codegen import spec

from .test_operation_sweep import build_call, call_and_check, cases, method_of

ROOT = Path(__file__).resolve().parents[1]
PRISM = ROOT / "tools" / "prism" / "node_modules" / ".bin" / "prism"
PUBLISHED = spec.SPEC_PATH

GETS = [operation for operation in OPERATIONS if operation.method == "GET"]

_TRIGGERS = "the published webhook outputs give `triggers` as objects; the service sends names"
_BARE = "the published answer is the bare data; the service sends the envelope"
_EXAMPLE = "the published example of a workflow step's `email` (a string) is the number 31214"

#: GETs whose published answer contradicts the service: operationId → (repair, why).
UNSATISFIABLE: dict[str, tuple[str, str]] = {
    "WebhooksController_getWebhooks": ("webhook-triggers", _TRIGGERS),
    "WebhooksController_getWebhook": ("webhook-triggers", _TRIGGERS),
    "EventTypeWebhooksController_getEventTypeWebhooks": ("webhook-triggers", _TRIGGERS),
    "EventTypeWebhooksController_getEventTypeWebhook": ("webhook-triggers", _TRIGGERS),
    "OrganizationsWebhooksController_getAllOrganizationWebhooks": ("webhook-triggers", _TRIGGERS),
    "OrganizationsWebhooksController_getOrganizationWebhook": ("webhook-triggers", _TRIGGERS),
    "OAuthClientWebhooksController_getOAuthClientWebhooks": ("webhook-triggers", _TRIGGERS),
    "OAuthClientWebhooksController_getOAuthClientWebhook": ("webhook-triggers", _TRIGGERS),
    "SlotsController_2024_09_04_getReservedSlot": (
        "self-referencing-data",
        "the published envelope's data is the envelope itself: no finite answer fits it",
    ),
    "OrganizationsConferencingController_getTeamDefaultApp": (
        "path-params",
        "the published operation requires a path parameter (`app`) its path does not have",
    ),
    "StripeController_save": ("non-envelope-response", _BARE),
    "OrganizationTeamWorkflowsController_getWorkflows": ("example-type-mismatch", _EXAMPLE),
    "OrganizationTeamWorkflowsController_getWorkflowById": ("example-type-mismatch", _EXAMPLE),
    "OrganizationsStripeController_save": ("non-envelope-response", _BARE),
}

#: GETs that fail because of the typed layer: operationId → reason. Empty since the typed
#: layer decodes an empty body and `{}` as the document allows (issue #16 item 3); the nine
#: GETs that were here pass.
TYPED: dict[str, str] = {}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def prism(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if not PRISM.exists():
        message = f"Prism is not installed ({PRISM}); run tools/install_prism.sh"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    port = _free_port()
    log = tmp_path_factory.mktemp("prism") / "prism.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [str(PRISM), "mock", str(PUBLISHED), "--host", "127.0.0.1", "--port", str(port)],
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
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.mark.slow
@pytest.mark.parametrize(
    "operation", cases([op for op in GETS if op.operation_id not in UNSATISFIABLE], TYPED)
)
async def test_get_against_prism(operation: Operation, prism: str) -> None:
    options: dict[str, Any] = {
        "base_url": prism,
        "allow_insecure_http": True,
        "limiter": Unlimited(),
        "max_retries": 0,
        "timeout": 30,
    }
    credential: Any = ApiKey("ical_contract_test_key_0123456789")
    if operation.auth is not AuthRequirement.ANY:
        credential = PlatformClient("contract-test-client", "contract-test-secret-0123456789")
    async with ICalendly(credential, **options) as client:
        method = method_of(client, operation)
        errors = await call_and_check(operation, method, build_call(operation, method, {}))
    assert not errors, "\n".join(errors)


def _schemas_of(node: Any, schemas: dict[str, Any], seen: set[str]) -> set[str]:
    """The component schemas ``node`` refers to, transitively."""
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str):
            name = ref.rsplit("/", 1)[-1]
            if name not in seen:
                seen.add(name)
                _schemas_of(schemas[name], schemas, seen)
        for value in node.values():
            _schemas_of(value, schemas, seen)
    elif isinstance(node, list):
        for value in node:
            _schemas_of(value, schemas, seen)
    return seen


def test_unsatisfiable_gets_are_repaired_defects() -> None:
    """Each GET left out is touched by the repair that names its defect (nothing else is)."""
    published = spec.load_original()
    log = spec.repair(published).log
    by_id = {op["operationId"]: (path, op) for path, _m, op in spec.iter_operations(published)}
    assert set(UNSATISFIABLE) <= {operation.operation_id for operation in GETS}
    assert not set(UNSATISFIABLE) & set(TYPED)
    for operation_id, (repair, _why) in UNSATISFIABLE.items():
        path, raw = by_id[operation_id]
        response = spec.success_response(raw)
        names = _schemas_of(response, published["components"]["schemas"], set())
        places = {f"GET {path}"} | {f"#/components/schemas/{name}" for name in names}
        touched = [
            entry
            for entry in log
            if entry.repair == repair
            and any(entry.where == p or entry.where.startswith(p + "/") for p in places)
        ]
        assert touched, f"{operation_id}: the repair log has no {repair!r} entry for it"


def test_the_sweep_counts() -> None:
    assert len(GETS) == 104
    assert len(GETS) - len(UNSATISFIABLE) == 90  # the satisfiable GETs


def test_prism_is_pinned() -> None:
    with contextlib.suppress(FileNotFoundError):
        text = (ROOT / "tools" / "prism" / "package.json").read_text()
        assert '"@stoplight/prism-cli": "5.14.2"' in text
