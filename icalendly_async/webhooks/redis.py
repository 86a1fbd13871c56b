"""``RedisLedger``: one delivery processed once by a whole fleet of receivers (extra ``redis``).

Two replicas behind a load balancer can each get a copy of the same delivery (a sender's retry,
a redelivery). The ledger keeps each delivery's lease and done mark in Redis, and every step is
one atomic script: a claim takes the lease only if nobody holds it and the delivery is not done;
a commit turns it into a done mark; a release (the handler failed) drops the lease only if it is
still the caller's; an extension keeps it while a slow handler runs.

::

    ledger = RedisLedger("redis://cache:6379/0")
    processor = WebhookProcessor(secret, handle, ledger=ledger)
"""

from __future__ import annotations

import secrets
from types import TracebackType

from ..ratelimit._redis_common import (
    RedisClient,
    RedisUnavailableError,
    bounded,
    check_prefix,
    check_timeout,
    connect,
)
from ._ledger import Claim, ClaimState, check_ledger_times

__all__ = ["RedisLedger"]

_CLAIM = """
local v = redis.call('GET', KEYS[1])
if v == 'done' then return 'done' end
if v then return 'busy' end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 'claimed'
"""
_EXTEND = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"""
_COMMIT = """
local held = redis.call('GET', KEYS[1]) == ARGV[1]
redis.call('SET', KEYS[1], 'done', 'PX', ARGV[2])
if held then return 1 end
return 0
"""
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""


class RedisLedger:
    """A :class:`~icalendly_async.webhooks.DeliveryLedger` on Redis.

    ``redis``: a URL (the ledger creates the client and closes it in :meth:`aclose`) or a
    ``redis.asyncio`` client you own. ``lease``/``done_ttl`` as for ``InMemoryLedger``;
    ``timeout``: seconds any one Redis call may take (then ``RedisUnavailableError``, which the
    receivers answer with a 503 so that the sender retries later).
    """

    def __init__(
        self,
        redis: str | RedisClient,
        *,
        prefix: str = "icalendly:wh",
        lease: float = 60.0,
        done_ttl: float = 86_400.0,
        timeout: float = 2.0,
    ) -> None:
        self._prefix = check_prefix(prefix)
        self._lease, self._done_ttl = check_ledger_times(lease, done_ttl)
        self._timeout = check_timeout(timeout, "timeout")
        self._client, self._owns_client = connect(redis, self._timeout)
        self._claim = self._client.register_script(_CLAIM)
        self._extend = self._client.register_script(_EXTEND)
        self._commit = self._client.register_script(_COMMIT)
        self._release = self._client.register_script(_RELEASE)

    def _key(self, delivery_id: str) -> str:
        return f"{self._prefix}:{delivery_id}"

    def _ms(self, seconds: float) -> int:
        return max(1, round(seconds * 1000))

    async def claim(self, delivery_id: str) -> Claim:
        token = secrets.token_hex(8)
        answer = await bounded(
            self._claim(keys=[self._key(delivery_id)], args=[token, self._ms(self._lease)]),
            self._timeout,
            "webhook claim",
        )
        text = answer.decode() if isinstance(answer, bytes) else str(answer)
        if text == "claimed":
            return Claim(ClaimState.CLAIMED, token)
        return Claim(ClaimState.DONE if text == "done" else ClaimState.IN_PROGRESS)

    async def extend(self, delivery_id: str, token: str) -> bool:
        answer = await bounded(
            self._extend(keys=[self._key(delivery_id)], args=[token, self._ms(self._lease)]),
            self._timeout,
            "webhook lease extension",
        )
        return bool(answer)

    async def commit(self, delivery_id: str, token: str) -> bool:
        answer = await bounded(
            self._commit(keys=[self._key(delivery_id)], args=[token, self._ms(self._done_ttl)]),
            self._timeout,
            "webhook commit",
        )
        return bool(answer)

    async def release(self, delivery_id: str, token: str) -> None:
        await bounded(
            self._release(keys=[self._key(delivery_id)], args=[token]),
            self._timeout,
            "webhook release",
        )

    async def aclose(self) -> None:
        if self._owns_client:
            await self._client.aclose()

    async def __aenter__(self) -> RedisLedger:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        return f"RedisLedger(prefix={self._prefix!r}, lease={self._lease:g})"


__all__ += ["RedisUnavailableError"]
