"""The JSON decoder: orjson when installed, the standard library otherwise, same results."""

from __future__ import annotations

import json
import sys

import pytest

from icalendly_async.errors import DecodeError
from icalendly_async.models import envelope


def test_orjson_is_used_when_installed() -> None:
    pytest.importorskip("orjson")
    assert envelope._loads is not envelope._stdlib_loads


def test_without_orjson_the_standard_library_decodes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "orjson", None)  # `import orjson` now raises ImportError
    assert envelope._make_loads() is envelope._stdlib_loads


@pytest.mark.parametrize(
    "body",
    [
        b'{"status": "success", "data": {"id": 1, "name": "\\u00e9t\\u00e9"}}',
        b'{"status": "success", "data": {"big": 123456789012345678901234567890}}',
        b'{"status": "success", "data": {"lo": -9223372036854775809, "hi": 18446744073709551616}}',
        b'{"status": "success", "data": {"uid": "1234567890123456789012", "n": 9007199254740993}}',
        b'{"status": "success", "data": {"x": NaN, "y": -Infinity}}',
        '{"status": "success", "data": "été"}'.encode("utf-16"),
        b'{"status": "success", "data": [1.5, -0.0, 1e400]}',
    ],
)
def test_every_decoder_gives_what_the_standard_library_gives(body: bytes) -> None:
    expected = json.loads(body)["data"]
    got = envelope.decode_success(200, body).data
    assert repr(got) == repr(expected)


@pytest.mark.parametrize("body", [b"{", b"[1,]", b"\xff\xfe\x00", b"<html>oops</html>"])
def test_broken_json_is_a_decode_error_either_way(body: bytes) -> None:
    with pytest.raises(DecodeError, match="not JSON"):
        envelope.decode_success(200, body)
