"""The ``icalendly`` console script, run as a real subprocess."""

from __future__ import annotations

import csv
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from .redis_server import RedisServer, redis_server_fixture  # noqa: F401

SCRIPT = Path(sys.executable).with_name("icalendly")


def _command() -> list[str]:
    if SCRIPT.exists():
        return [str(SCRIPT)]
    return [sys.executable, "-m", "icalendly_async.cli"]  # not installed as a script (e.g. in tox)


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ICALENDLY_")}
    env.update(extra)
    return env


def _run(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """``icalendly ARGS`` with ``env`` added to the environment (ICALENDLY_* cleared first)."""
    return _run_in(None, *args, **env)


def _run_in(cwd: Path | None, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*_command(), *args], capture_output=True, text=True, timeout=120, env=_env(**env), cwd=cwd
    )


def _start(*args: str, **env: str) -> subprocess.Popen[bytes]:
    """``icalendly ARGS`` started, as :func:`_run` runs it."""
    return subprocess.Popen(
        [*_command(), *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_env(**env)
    )


class MockServer:
    def __init__(self, process: subprocess.Popen[str], settings: dict[str, str]) -> None:
        self.process = process
        self.settings = settings


@pytest.fixture
def mock_server() -> Iterator[MockServer]:
    process = subprocess.Popen(
        [*_command(), "mock-server", "--port", "0", "--bookings", "5000", "--rate-limit", "10/1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(),
    )
    settings: dict[str, str] = {}
    assert process.stdout is not None
    deadline = time.monotonic() + 30
    while "ICALENDLY_CLIENT_SECRET" not in settings and time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        match = re.match(r"(ICALENDLY_[A-Z_]+)=(\S+)", line.strip())
        if match:
            settings[match.group(1)] = match.group(2)
    assert "ICALENDLY_BASE_URL" in settings, process.stderr.read() if process.stderr else ""
    yield MockServer(process, settings)
    process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@pytest.mark.slow
def test_demo_reports_zero_429s_and_writes_under_the_directory_it_names(tmp_path: Path) -> None:
    out_dir = tmp_path / "demo-output"
    args = ["demo", "--bookings", "2000", "--rate-limit", "40/1", "--quiet"]
    done = _run(*args, "--out-dir", str(out_dir))
    assert done.returncode == 0, done.stderr
    out = out_dir / "bookings.jsonl"
    assert done.stdout.startswith(f"writing the bookings to {out}\n")
    assert "429s received: 0" in done.stdout
    assert "records exported: 2000" in done.stdout
    assert f"written to: {out}" in done.stdout
    assert len(out.read_text().splitlines()) == 2000


def test_demo_writes_under_icalendly_demo_by_default(tmp_path: Path) -> None:
    done = _run_in(tmp_path, "demo", "--bookings", "50", "--rate-limit", "1000/1", "--quiet")
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["icalendly-demo"]  # nothing else
    written = tmp_path / "icalendly-demo" / "bookings.jsonl"
    assert len(written.read_text().splitlines()) == 50


@pytest.mark.slow
def test_export_survives_sigkill_and_resumes_exactly_once(
    mock_server: MockServer, tmp_path: Path
) -> None:
    out = tmp_path / "bookings.jsonl"
    checkpoint = tmp_path / "bookings.jsonl.checkpoint.json"
    args = ["export", "bookings", "--out", str(out), "--page-size", "50", "--concurrency", "2"]
    first = _start(*args, "--quiet", **mock_server.settings)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if checkpoint.exists():
            try:
                if json.loads(checkpoint.read_text())["records"] >= 1000:
                    break
            except (ValueError, KeyError):
                pass  # replaced while we read it
        time.sleep(0.05)
    first.send_signal(signal.SIGKILL)
    first.wait()
    assert checkpoint.exists(), "killed after it finished: raise the page count"
    done = _run(*args, "--resume", "--quiet", **mock_server.settings)
    assert done.returncode == 0, done.stderr
    assert "resumed at record" in done.stdout
    uids = [json.loads(line)["uid"] for line in out.read_text().splitlines()]
    assert len(uids) == 5000 and len(set(uids)) == 5000
    assert not checkpoint.exists()


@pytest.mark.slow
def test_a_second_export_to_the_same_file_is_refused_and_overwrite_starts_a_killed_one_again(
    mock_server: MockServer, tmp_path: Path
) -> None:
    out = tmp_path / "bookings.jsonl"
    checkpoint = tmp_path / "bookings.jsonl.checkpoint.json"
    args = ["export", "bookings", "--out", str(out), "--page-size", "50", "--quiet"]
    first = _start(*args, **mock_server.settings)
    try:
        deadline = time.monotonic() + 30
        while not checkpoint.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        # While it runs, a second export to its file (a cron job that overlaps, a second
        # terminal) neither writes nor truncates it, whatever the flags.
        for extra in ("--overwrite", "--resume"):
            second = _run(*args, extra, **mock_server.settings)
            assert second.returncode == 1, second.stderr
            assert "another export is writing" in second.stderr, second.stderr
        assert first.poll() is None, "finished before the second export: raise the page count"
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait()
    assert checkpoint.exists()
    # Killed, then started again from scratch, as the message of a plain run says to.
    plain = _run(*args, **mock_server.settings)
    assert plain.returncode == 1 and "--overwrite to start again" in plain.stderr
    again = _run(*args[:-3], "--page-size", "250", "--overwrite", "--quiet", **mock_server.settings)
    assert again.returncode == 0, again.stderr
    uids = [json.loads(line)["uid"] for line in out.read_text().splitlines()]
    assert len(uids) == 5000 and len(set(uids)) == 5000
    assert not checkpoint.exists()


@pytest.mark.slow
def test_csv_export_with_filters(mock_server: MockServer, tmp_path: Path) -> None:
    out = tmp_path / "cancelled.csv"
    done = _run(
        "export",
        "bookings",
        "--out",
        str(out),
        "--status",
        "cancelled",
        "--page-size",
        "250",
        "--quiet",
        **mock_server.settings,
    )
    assert done.returncode == 0, done.stderr
    with open(out, newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert rows and all(row["status"] in ("cancelled", "rejected") for row in rows)
    assert len({row["uid"] for row in rows}) == len(rows)


def test_an_existing_file_is_not_overwritten_silently(tmp_path: Path) -> None:
    out = tmp_path / "x.jsonl"
    out.write_text("precious\n")
    done = _run(
        "export",
        "bookings",
        "--out",
        str(out),
        ICALENDLY_API_KEY="ical_0123456789abcdef",
        ICALENDLY_BASE_URL="http://127.0.0.1:9",
    )
    assert done.returncode == 1 and "--resume" in done.stderr and "--overwrite" in done.stderr
    assert out.read_text() == "precious\n"


@pytest.mark.slow  # starts processes (seconds each): in the full run, not the fast set
def test_an_output_directory_whose_parent_is_missing_is_refused(tmp_path: Path) -> None:
    key, url = "ical_0123456789abcdef", "http://127.0.0.1:9"
    typo = tmp_path / "exprots" / "2026" / "bookings.jsonl"
    done = _run(
        "export", "bookings", "--out", str(typo), ICALENDLY_API_KEY=key, ICALENDLY_BASE_URL=url
    )
    assert done.returncode == 1, done.stderr
    assert f"{tmp_path / 'exprots'} does not exist" in done.stderr
    sync = _run(
        "sync",
        "--to",
        f"duckdb:///{typo.with_suffix('.duckdb')}",
        ICALENDLY_API_KEY=key,
        ICALENDLY_BASE_URL=url,
    )
    assert sync.returncode == 1 and "does not exist" in sync.stderr, sync.stderr
    assert not (tmp_path / "exprots").exists()


@pytest.mark.slow  # starts processes (seconds each): in the full run, not the fast set
def test_errors_are_one_line_and_never_echo_secrets(tmp_path: Path) -> None:
    secret = "sk_0123456789abcdefSECRET"
    done = _run("export", "bookings", "--out", str(tmp_path / "a.jsonl"), ICALENDLY_API_KEY=secret)
    assert done.returncode == 1
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("icalendly: error:")
    assert secret not in done.stderr and "Traceback" not in done.stderr
    missing = _run("export", "bookings", "--out", str(tmp_path / "b.jsonl"))
    assert missing.returncode == 1 and "ICALENDLY_API_KEY" in missing.stderr
    debug = _run(
        "--debug",
        "export",
        "bookings",
        "--out",
        str(tmp_path / "c.jsonl"),
        ICALENDLY_API_KEY=secret,
    )
    assert "Traceback" in debug.stderr and secret not in debug.stderr


def test_plain_http_is_refused_unless_loopback(tmp_path: Path) -> None:
    done = _run(
        "export",
        "bookings",
        "--out",
        str(tmp_path / "a.jsonl"),
        ICALENDLY_API_KEY="ical_0123456789abcdef",
        ICALENDLY_BASE_URL="http://api.example.com",
    )
    assert done.returncode == 1 and "http" in done.stderr and "Traceback" not in done.stderr


def test_plan_tier_is_checked_before_sending(tmp_path: Path) -> None:
    done = _run(
        "export",
        "org-users",
        "--org-id",
        "1",
        "--out",
        str(tmp_path / "a.jsonl"),
        ICALENDLY_API_KEY="ical_0123456789abcdef",
        ICALENDLY_BASE_URL="http://127.0.0.1:9",  # nothing listens: a request would fail otherwise
        ICALENDLY_PLAN="teams",
    )
    assert done.returncode == 1 and "Plan.TEAMS" in done.stderr, done.stderr


@pytest.mark.slow
@pytest.mark.redis
def test_export_shares_limits_through_redis(
    mock_server: MockServer, redis_server: RedisServer, tmp_path: Path
) -> None:
    out = tmp_path / "bookings.jsonl"
    done = _run(
        "export",
        "bookings",
        "--out",
        str(out),
        "--page-size",
        "250",
        "--quiet",
        ICALENDLY_REDIS_URL=redis_server.url,
        **mock_server.settings,
    )
    assert done.returncode == 0, done.stderr
    assert len(out.read_text().splitlines()) == 5000


@pytest.mark.slow  # starts processes (seconds each): in the full run, not the fast set
def test_the_key_comes_from_a_file_or_the_environment_and_a_flag_is_warned_about(
    mock_server: MockServer, tmp_path: Path
) -> None:
    key = mock_server.settings["ICALENDLY_API_KEY"]
    base_url = mock_server.settings["ICALENDLY_BASE_URL"]
    key_file = tmp_path / "key"
    key_file.write_text(key + "\n")
    by_file = _run(
        "export", "webhooks", "--out", str(tmp_path / "a.jsonl"), "--api-key-file",
        str(key_file), "--quiet", ICALENDLY_BASE_URL=base_url,
    )  # fmt: skip
    assert by_file.returncode == 0, by_file.stderr
    assert "warning" not in by_file.stderr and key not in by_file.stdout + by_file.stderr
    by_flag = _run(
        "export", "webhooks", "--out", str(tmp_path / "b.jsonl"), "--api-key", key, "--quiet",
        ICALENDLY_BASE_URL=base_url,
    )  # fmt: skip
    assert by_flag.returncode == 0, by_flag.stderr
    assert "--api-key puts the API key in the process list" in by_flag.stderr
    assert key not in by_flag.stdout + by_flag.stderr
    missing = _run(
        "export", "webhooks", "--out", str(tmp_path / "c.jsonl"), ICALENDLY_BASE_URL=base_url
    )
    assert missing.returncode == 1 and "--api-key-file" in missing.stderr
    empty = tmp_path / "empty"
    empty.write_text("\n")
    blank = _run(
        "export", "webhooks", "--out", str(tmp_path / "d.jsonl"), "--api-key-file", str(empty),
        ICALENDLY_BASE_URL=base_url,
    )  # fmt: skip
    assert blank.returncode == 1 and "is empty" in blank.stderr


def test_the_key_is_prompted_for_without_echo_on_a_terminal(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import argparse

    from icalendly_async.cli._settings import secret_setting

    prompts: list[str] = []

    def getpass(prompt: str) -> str:
        prompts.append(prompt)
        return " ical_0123456789abcdef \n"

    monkeypatch.delenv("ICALENDLY_API_KEY", raising=False)
    monkeypatch.setattr("getpass.getpass", getpass)
    monkeypatch.setattr("sys.stdin.isatty", lambda: True)
    args = argparse.Namespace(api_key=None, api_key_file=None)
    value = secret_setting(args, "api_key", "ICALENDLY_API_KEY", "the API key", prompt=True)
    assert value == "ical_0123456789abcdef" and prompts == ["the API key (not echoed): "]
    monkeypatch.setattr("sys.stdin.isatty", lambda: False)  # a pipe or a cron job: no prompt
    assert secret_setting(args, "api_key", "ICALENDLY_API_KEY", "the key", prompt=True) is None


def test_mock_server_warns_loudly_on_a_non_loopback_host() -> None:
    process = subprocess.Popen(
        [*_command(), "mock-server", "--host", "0.0.0.0", "--port", "0", "--bookings", "1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(),
    )
    try:
        assert process.stderr is not None
        warning = process.stderr.readline()
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    assert "WARNING" in warning and "every machine" in warning


@pytest.mark.parametrize(
    ("command", "option", "value"),
    [
        ("mock-server", "--churn", "-5"),
        ("mock-server", "--bookings", "-1"),
        ("demo", "--bookings", "-1"),
    ],
)
def test_a_negative_count_is_a_usage_error_not_a_traceback(
    command: str, option: str, value: str, tmp_path: Path
) -> None:
    done = _run_in(
        tmp_path,
        command,
        "--port" if command == "mock-server" else "--quiet",
        *(["0"] if command == "mock-server" else []),
        option,
        value,
    )
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    assert f"argument {option}: must be a number >= 0, got '{value}'" in done.stderr
    assert list(tmp_path.iterdir()) == []  # nothing written
