"""What the Redis limiter and the Redis token store share: the connection, bounded calls, keys,
and the errors they raise when Redis cannot be reached.

Every Redis call goes through :func:`bounded`, so an outage (a refused connection, a host that
no longer answers, a server still loading its data) ends in a typed error within the configured
timeout instead of hanging a call of the client.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
from collections.abc import Awaitable
from typing import TypeVar, Union

from ..errors import ConfigurationError, TransportError

try:
    import redis.asyncio as redis_asyncio
    from redis.exceptions import RedisError
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError(
        "icalendly_async's Redis support needs the redis package: "
        "pip install 'icalendly-async[redis]'"
    ) from exc

__all__ = [
    "LimiterUnavailableError",
    "RedisClient",
    "RedisUnavailableError",
    "TokenStoreUnavailableError",
    "bounded",
    "check_prefix",
    "check_timeout",
    "connect",
    "credential_keys",
]

T = TypeVar("T")

RedisClient = Union["redis_asyncio.Redis", "redis_asyncio.RedisCluster"]
"""A ``redis.asyncio.Redis`` or ``redis.asyncio.RedisCluster`` instance."""


class RedisUnavailableError(TransportError):
    """Redis did not answer in time, refused the connection, or failed the command."""


class LimiterUnavailableError(RedisUnavailableError):
    """The shared rate limiter could not reach Redis, and it is configured to fail closed.

    Nothing was sent: without the shared log, a request could overrun the credential's limit
    for the whole fleet. Pass ``fallback="local"`` with ``expected_workers`` to keep working at
    a safe share of the limit instead.
    """


class TokenStoreUnavailableError(RedisUnavailableError):
    """The shared token store could not reach Redis (or waited too long for the refresh lock)."""


def check_timeout(value: float, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise ConfigurationError(f"{what} must be a positive number of seconds, got {value!r}")
    return float(value)


def check_prefix(prefix: str) -> str:
    if not isinstance(prefix, str) or not prefix:
        raise ConfigurationError("prefix must be a non-empty string, e.g. 'icalendly:rl'")
    if "{" in prefix or "}" in prefix:
        raise ConfigurationError(
            f"prefix {prefix!r} must not contain braces: the credential's part of each key is "
            "the Redis Cluster hash tag"
        )
    return prefix


def connect(redis: str | RedisClient, timeout: float) -> tuple[RedisClient, bool]:
    """A client for ``redis`` (a URL or a client) and whether we created it (and must close it).

    A client we create gets the same timeout on its sockets, so a dead host fails fast even in
    code paths that the per-call bound does not cover (closing a connection, say).
    """
    if isinstance(redis, str):
        try:
            client = redis_asyncio.Redis.from_url(
                redis, socket_timeout=timeout, socket_connect_timeout=timeout
            )
        except ValueError as exc:
            raise ConfigurationError(f"cannot use Redis URL: {exc}") from None
        return client, True
    if isinstance(redis, (redis_asyncio.Redis, redis_asyncio.RedisCluster)):
        return redis, False
    raise ConfigurationError(
        "redis must be a URL such as 'redis://localhost:6379/0' or a redis.asyncio client, "
        f"got {type(redis).__name__}"
    )


async def bounded(
    awaitable: Awaitable[T],
    timeout: float,
    what: str,
    error: type[RedisUnavailableError] = RedisUnavailableError,
) -> T:
    """Await one Redis call for at most ``timeout`` seconds; failures become ``error``."""
    try:
        return await asyncio.wait_for(awaitable, timeout)
    except asyncio.TimeoutError:
        raise error(f"Redis did not answer ({what}) within {timeout:g} s") from None
    except (RedisError, OSError) as exc:
        raise error(f"Redis failed ({what}): {type(exc).__name__}: {exc}") from exc


_PLAIN = re.compile(r"[A-Za-z0-9_.:\-]{1,128}\Z")


def _tag(name: str) -> str:
    # A limit key is already a digest ("api_key:3fa…"); anything else (a user-chosen name with
    # braces or spaces) is hashed so that it cannot break the hash tag or bloat every key.
    if _PLAIN.match(name):
        return name
    return "h:" + hashlib.sha256(name.encode()).hexdigest()[:32]


def credential_keys(prefix: str, name: str, *parts: str) -> list[str]:
    """``{prefix}:{<name>}:<part>`` for each part: one hash tag, so one Cluster slot."""
    base = f"{prefix}:{{{_tag(name)}}}:"
    return [base + part for part in parts]
