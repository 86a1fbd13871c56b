"""Credentials and settings from flags or the environment. Secrets are never echoed."""

from __future__ import annotations

import argparse
import os

from yarl import URL

from .._request import DEFAULT_BASE_URL
from .._request import is_loopback as _is_loopback
from ..auth import ApiKey, Credential, PlatformClient
from ..client import ICalendly
from ..errors import ConfigurationError
from ..plans import Plan
from ..ratelimit import Limiter, LocalLimiter

__all__ = ["add_connection_options", "make_client"]


def add_connection_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("connection (flags win over the environment)")
    group.add_argument("--api-key", help="API key (env ICALENDLY_API_KEY)")
    group.add_argument("--client-id", help="platform OAuth client id (env ICALENDLY_CLIENT_ID)")
    group.add_argument(
        "--client-secret", help="platform OAuth client secret (env ICALENDLY_CLIENT_SECRET)"
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
        "--redis-url", help="share rate limits with other processes (env ICALENDLY_REDIS_URL)"
    )


def _setting(args: argparse.Namespace, name: str, env: str) -> str | None:
    value = getattr(args, name, None) or os.environ.get(env)
    return value.strip() if isinstance(value, str) and value.strip() else None


def _credential(args: argparse.Namespace, platform: bool) -> Credential:
    client_id = _setting(args, "client_id", "ICALENDLY_CLIENT_ID")
    client_secret = _setting(args, "client_secret", "ICALENDLY_CLIENT_SECRET")
    api_key = _setting(args, "api_key", "ICALENDLY_API_KEY")
    if platform or (api_key is None and client_id and client_secret):
        if not (client_id and client_secret):
            raise ConfigurationError(
                "this needs the platform OAuth client: pass --client-id and --client-secret "
                "(or set ICALENDLY_CLIENT_ID and ICALENDLY_CLIENT_SECRET)"
            )
        return PlatformClient(client_id, client_secret)
    if api_key is None:
        raise ConfigurationError(
            "no credential: pass --api-key or set ICALENDLY_API_KEY "
            "(for managed users: --client-id and --client-secret)"
        )
    return ApiKey(api_key)


def _limiter(args: argparse.Namespace) -> Limiter:
    url = _setting(args, "redis_url", "ICALENDLY_REDIS_URL")
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
