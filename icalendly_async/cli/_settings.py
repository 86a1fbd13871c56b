"""Credentials and settings from the environment, files, a prompt or flags. Secrets are never
echoed.

A secret (the API key, the client secret, a Redis URL with a password) is read, in order, from
its ``--…-file`` (the file's first line), its environment variable, or, on a terminal, a prompt
that does not echo. ``--api-key VALUE`` (and ``--client-secret``, ``--redis-url``) still works,
with a warning: a value on the command line is in the process list, where every user of the
machine can read it, and in the shell's history.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from pathlib import Path

from yarl import URL

from .._request import DEFAULT_BASE_URL
from .._request import is_loopback as _is_loopback
from ..auth import ApiKey, Credential, PlatformClient
from ..client import ICalendly
from ..errors import ConfigurationError
from ..plans import Plan
from ..ratelimit import Limiter, LocalLimiter

__all__ = [
    "add_connection_options",
    "make_client",
    "non_negative_float",
    "non_negative_int",
    "secret_setting",
]


def non_negative_int(text: str) -> int:
    """An argparse type: a whole number >= 0 (a count), refused as a usage error otherwise."""
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be a number >= 0, got {text!r}")
    return value


def non_negative_float(text: str) -> float:
    """An argparse type: a number >= 0 (a rate), refused as a usage error otherwise."""
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 <= value < float("inf"):  # NaN and infinity too
        raise argparse.ArgumentTypeError(f"must be a number >= 0, got {text!r}")
    return value


def add_connection_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group(
        "connection (secrets: a file, the environment or a prompt; flags win over the environment)"
    )
    group.add_argument(
        "--api-key-file", metavar="PATH", help="a file holding the API key (first line)"
    )
    group.add_argument(
        "--api-key",
        help="API key (prefer env ICALENDLY_API_KEY or --api-key-file: other users can read "
        "a command line)",
    )
    group.add_argument("--client-id", help="platform OAuth client id (env ICALENDLY_CLIENT_ID)")
    group.add_argument(
        "--client-secret-file", metavar="PATH", help="a file holding the platform client secret"
    )
    group.add_argument(
        "--client-secret",
        help="platform OAuth client secret (prefer env ICALENDLY_CLIENT_SECRET or "
        "--client-secret-file)",
    )
    group.add_argument(
        "--base-url",
        help=f"API base URL (env ICALENDLY_BASE_URL; default {DEFAULT_BASE_URL}); "
        "plain http only for a loopback host, e.g. the emulator",
    )
    group.add_argument(
        "--plan",
        choices=[p.value for p in Plan],
        help="your plan, to refuse calls outside it before sending (env ICALENDLY_PLAN)",
    )
    group.add_argument(
        "--redis-url",
        help="share rate limits with other processes (env ICALENDLY_REDIS_URL; a URL with a "
        "password belongs in the environment or --redis-url-file)",
    )
    group.add_argument(
        "--redis-url-file", metavar="PATH", help="a file holding the Redis URL (first line)"
    )


def _warn(line: str) -> None:
    print(f"icalendly: warning: {line}", file=sys.stderr, flush=True)


def _from_file(path: str, what: str) -> str:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigurationError(f"cannot read {what} from {path}: {exc.strerror}") from None
    first = text.strip().splitlines()[0].strip() if text.strip() else ""
    if not first:
        raise ConfigurationError(f"{path} is empty: it should hold {what} on its first line")
    return first


def secret_setting(
    args: argparse.Namespace,
    name: str,
    env: str,
    what: str,
    *,
    prompt: bool = False,
    is_secret: bool = True,
) -> str | None:
    """A secret from ``--<name>-file``, ``env``, ``--<name>`` (warned about) or, when
    ``prompt`` and stdin is a terminal, a prompt that does not echo; ``None`` when none.

    ``is_secret=False``: the value on the command line is not warned about (a Redis URL
    without a password).
    """
    flag = "--" + name.replace("_", "-")
    path = getattr(args, f"{name}_file", None)
    if path:
        return _from_file(path, what)
    value = getattr(args, name, None)
    if isinstance(value, str) and value.strip():
        if is_secret:
            _warn(
                f"{flag} puts {what} in the process list and your shell history, where other "
                f"users of this machine can read it; set {env} or use {flag}-file instead"
            )
        return value.strip()
    value = os.environ.get(env)
    if value and value.strip():
        return value.strip()
    if prompt and sys.stdin.isatty():
        entered = getpass.getpass(f"{what} (not echoed): ").strip()
        return entered or None
    return None


def _setting(args: argparse.Namespace, name: str, env: str) -> str | None:
    value = getattr(args, name, None) or os.environ.get(env)
    return value.strip() if isinstance(value, str) and value.strip() else None


def _credential(args: argparse.Namespace, platform: bool) -> Credential:
    client_id = _setting(args, "client_id", "ICALENDLY_CLIENT_ID")
    client_secret = secret_setting(
        args,
        "client_secret",
        "ICALENDLY_CLIENT_SECRET",
        "the platform client secret",
        prompt=platform and client_id is not None,
    )
    api_key = secret_setting(
        args,
        "api_key",
        "ICALENDLY_API_KEY",
        "the API key",
        prompt=not platform and not (client_id and client_secret),
    )
    if platform or (api_key is None and client_id and client_secret):
        if not (client_id and client_secret):
            raise ConfigurationError(
                "this needs the platform OAuth client: pass --client-id and --client-secret "
                "(or set ICALENDLY_CLIENT_ID and ICALENDLY_CLIENT_SECRET)"
            )
        return PlatformClient(client_id, client_secret)
    if api_key is None:
        raise ConfigurationError(
            "no credential: set ICALENDLY_API_KEY or pass --api-key-file "
            "(for managed users: --client-id with ICALENDLY_CLIENT_SECRET or "
            "--client-secret-file)"
        )
    return ApiKey(api_key)


def _limiter(args: argparse.Namespace) -> Limiter:
    flag = getattr(args, "redis_url", None)
    has_password = bool(flag) and URL(str(flag).strip()).password is not None
    url = secret_setting(
        args, "redis_url", "ICALENDLY_REDIS_URL", "the Redis URL", is_secret=has_password
    )
    if url is None:
        return LocalLimiter()
    try:
        from ..ratelimit.redis import RedisLimiter
    except ImportError:
        raise ConfigurationError(
            "ICALENDLY_REDIS_URL needs the redis extra: pip install 'icalendly-async[redis]'"
        ) from None
    limiter: Limiter = RedisLimiter(url)
    return limiter


def make_client(args: argparse.Namespace, *, platform: bool = False) -> ICalendly:
    base_url = _setting(args, "base_url", "ICALENDLY_BASE_URL") or DEFAULT_BASE_URL
    host = URL(base_url).host or ""
    insecure = base_url.startswith("http://") and _is_loopback(host)
    plan_name = _setting(args, "plan", "ICALENDLY_PLAN")
    try:
        plan = Plan(plan_name.lower()) if plan_name else None
    except ValueError:
        raise ConfigurationError(
            f"unknown plan {plan_name!r}: use one of {', '.join(p.value for p in Plan)}"
        ) from None
    return ICalendly(
        _credential(args, platform),
        plan=plan,
        base_url=base_url,
        allow_insecure_http=insecure,
        limiter=_limiter(args),
    )
