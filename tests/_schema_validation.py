"""Every emulator in the test modules that import this validates its answers.

``from ._schema_validation import validate_emulator_responses  # noqa: F401`` makes the
autouse fixture below apply to the module: each ``Emulator()`` created during its tests checks
every body it sends against the OpenAPI document (repaired as NOTES.md says) and raises
``SchemaViolationError`` at the end of its ``async with`` block on a mismatch, failing the test.
(The root conftest may set ``ICALENDLY_EMULATOR_VALIDATE=1`` for the whole suite instead.)
"""

from __future__ import annotations

import pytest

from icalendly_async.testing import VALIDATE_ENV

__all__ = ["validate_emulator_responses"]


@pytest.fixture(autouse=True)
def validate_emulator_responses(monkeypatch: pytest.MonkeyPatch) -> None:
    """Turn response validation on for every emulator of the test."""
    monkeypatch.setenv(VALIDATE_ENV, "1")
