"""Fixed-window rate limits shared by all processes when Redis is configured.

``REDIS_URL`` set → counters live in Redis (atomic INCR + EXPIRE), so two web
processes behind one port enforce one limit; otherwise an in-process store
(one machine, one process — the default for ``make run``).
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass

from litestar import Request

from settings import get_settings


@dataclass(frozen=True)
class Limit:
    name: str
    max_hits: int
    window_seconds: int


# Cabinet login: per client address, across all contracts (password spraying).
LOGIN_PER_IP = Limit("login-ip", 20, 15 * 60)
QUICK_PAY_PER_IP = Limit("quickpay-ip", 30, 10 * 60)
PUBLIC_FORM_PER_IP = Limit("public-form-ip", 5, 60 * 60)


class _MemoryCounters:
    #: Bounded memory under a flood from many addresses.
    max_keys = 100_000

    def __init__(self) -> None:
        self._data: dict[str, tuple[int, float]] = {}
        self.prunes = 0

    def _prune(self, now: float) -> None:
        """Drop expired counters and, while still over three quarters of the bound, the oldest.

        Pruning down to 3/4 (not just under the bound) makes it run once per ``max_keys / 4``
        new keys: pruning on every request over the bound made each one scan every key.
        """
        self.prunes += 1
        kept = {k: v for k, v in self._data.items() if v[1] > now}
        excess = len(kept) - self.max_keys * 3 // 4
        for key in list(itertools.islice(kept, max(0, excess))):
            del kept[key]
        self._data = kept

    async def incr(self, key: str, window: int, amount: int = 1) -> int:
        # No await in here: on one event loop the read and the write cannot interleave.
        now = time.monotonic()
        count, expires = self._data.get(key, (0, now + window))
        if expires <= now:
            count, expires = 0, now + window
        count += amount
        self._data[key] = (count, expires)
        if len(self._data) > self.max_keys:
            self._prune(now)
        return count

    async def reset(self) -> None:
        self._data.clear()


class _RedisCounters:
    def __init__(self, url: str) -> None:
        from redis.asyncio import Redis

        self._redis = Redis.from_url(url)

    async def incr(self, key: str, window: int, amount: int = 1) -> int:
        key = f"centra:limit:{key}"
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.incrby(key, amount)
            pipe.expire(key, window, nx=True)
            count, _ = await pipe.execute()
        return int(count)

    async def reset(self) -> None:
        keys = [k async for k in self._redis.scan_iter("centra:limit:*")]
        if keys:
            await self._redis.delete(*keys)


_counters: _MemoryCounters | _RedisCounters | None = None


def counters() -> _MemoryCounters | _RedisCounters:
    global _counters
    if _counters is None:
        url = get_settings().redis_url
        _counters = _RedisCounters(url) if url else _MemoryCounters()
    return _counters


def client_ip(request: Request) -> str:
    """The peer address as the ASGI server reports it.

    X-Forwarded-For is trusted only through the server's proxy-headers option
    (uvicorn --proxy-headers --forwarded-allow-ips), never read here directly.
    """
    return request.client.host if request.client else "unknown"


async def over_limit(limit: Limit, key: str, *, peek: bool = False) -> bool:
    """Count one hit for ``key`` (or just look, with ``peek``); True when over the limit."""
    count = await counters().incr(f"{limit.name}:{key}", limit.window_seconds, 0 if peek else 1)
    # Peeking asks "may one more happen?"; counting asks "was this one allowed?".
    return count >= limit.max_hits if peek else count > limit.max_hits
