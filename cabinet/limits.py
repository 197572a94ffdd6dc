"""Fixed-window rate limits shared by all processes when Redis is configured.

``REDIS_URL`` set → counters live in Redis (atomic INCR + EXPIRE), so two web
processes behind one port enforce one limit; otherwise an in-process store
(one machine, one process — the default for ``make run``). When Redis cannot be
reached the counters fall back to the in-process store with a logged warning
(``/healthz`` reports it) and Redis is tried again after ``RETRY_SECONDS``.

Every limit is used the same way: ``reserve()`` counts the attempt *before* the
work it guards (one atomic increment), and the caller ``release()``s it when the
attempt should not count (a successful login, a form refused for bad input).
Looking first and counting afterwards let a burst of parallel requests all see
"under the limit" (issue 24).
"""

from __future__ import annotations

import itertools
import logging
import time
from dataclasses import dataclass

from litestar import Request

from settings import get_settings

log = logging.getLogger("centra.limits")


@dataclass(frozen=True)
class Limit:
    name: str
    max_hits: int
    window_seconds: int


# Cabinet login: per client address, across all contracts (password spraying).
LOGIN_PER_IP = Limit("login-ip", 20, 15 * 60)
# Wrong passwords typed on a trusted device (cabinet/devices.py), counted apart from the contract's.
LOGIN_PER_DEVICE = Limit("login-device", 5, 15 * 60)
QUICK_PAY_PER_IP = Limit("quickpay-ip", 30, 10 * 60)
PUBLIC_FORM_PER_IP = Limit("public-form-ip", 5, 60 * 60)
# Anonymous cabinet ratings; logged-in subscribers are limited by one rating a month instead.
RATING_PER_IP = Limit("rating-ip", 5, 60 * 60)
# Password recovery codes: per client, per contract typed and per phone/e-mail typed (whether
# or not they exist, so the limits say nothing about them either).
RECOVERY_PER_IP = Limit("recovery-ip", 10, 60 * 60)
RECOVERY_PER_CONTRACT = Limit("recovery-contract", 3, 60 * 60)
RECOVERY_PER_ADDRESS = Limit("recovery-address", 3, 60 * 60)
# Codes typed (recovery and contact changes), per client; each code also allows 3 tries.
CODE_TRIES_PER_IP = Limit("code-ip", 20, 15 * 60)
# Codes sent to a new phone or e-mail, per contract.
CONTACT_CODES_PER_CONTRACT = Limit("contact-codes", 5, 60 * 60)


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

    async def decr(self, key: str) -> None:
        """Give one hit back, unless its window has already ended."""
        count, expires = self._data.get(key, (0, 0.0))
        if count > 0 and expires > time.monotonic():
            self._data[key] = (count - 1, expires)

    async def reset(self) -> None:
        self._data.clear()


# DECR only while the key lives: after its window a bare DECR would create a key at -1 with
# no expiry, granting extra hits for ever.
_DECR_LIVE = "if redis.call('exists', KEYS[1]) == 1 then return redis.call('decr', KEYS[1]) end return 0"


class _RedisCounters:
    """Counters in Redis, falling back to in-process ones while Redis cannot be reached."""

    #: How long to keep counting in process after a failure before trying Redis again.
    RETRY_SECONDS = 15.0

    def __init__(self, url: str) -> None:
        from redis.asyncio import Redis

        # Short timeouts: a Redis that hangs must not hang every login with it.
        self._redis = Redis.from_url(url, socket_connect_timeout=0.5, socket_timeout=0.5)
        self.fallback = _MemoryCounters()
        self.failed_at: float | None = None
        self.error = ""

    def _use_fallback(self) -> bool:
        return self.failed_at is not None and time.monotonic() - self.failed_at < self.RETRY_SECONDS

    def _failed(self, exc: Exception) -> None:
        if self.failed_at is None:
            log.warning("Redis is unreachable (%s): rate limits are counted per process until it "
                        "answers again", exc)
        self.failed_at = time.monotonic()
        self.error = f"{type(exc).__name__}: {exc}"[:200]

    def _recovered(self) -> None:
        if self.failed_at is not None:
            log.warning("Redis answers again: rate limits are shared again")
        self.failed_at = None
        self.error = ""

    @property
    def degraded(self) -> bool:
        return self.failed_at is not None

    async def incr(self, key: str, window: int, amount: int = 1) -> int:
        from redis.exceptions import RedisError

        if self._use_fallback():
            return await self.fallback.incr(key, window, amount)
        full_key = f"centra:limit:{key}"
        try:
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.incrby(full_key, amount)
                pipe.expire(full_key, window, nx=True)
                count, _ = await pipe.execute()
        except (RedisError, OSError) as exc:
            self._failed(exc)
            return await self.fallback.incr(key, window, amount)
        self._recovered()
        return int(count)

    async def decr(self, key: str) -> None:
        from redis.exceptions import RedisError

        if self._use_fallback():
            await self.fallback.decr(key)
            return
        try:
            await self._redis.eval(_DECR_LIVE, 1, f"centra:limit:{key}")  # type: ignore[misc]
        except (RedisError, OSError) as exc:
            self._failed(exc)
            await self.fallback.decr(key)

    async def ping(self) -> bool:
        """Whether Redis answers now (for the health check); updates the fallback state."""
        from redis.exceptions import RedisError

        try:
            await self._redis.ping()  # type: ignore[misc]
        except (RedisError, OSError) as exc:
            self._failed(exc)
            return False
        self._recovered()
        return True

    async def reset(self) -> None:
        await self.fallback.reset()
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


async def limits_status() -> str | None:
    """None when the limits work as configured; otherwise why not (Redis unreachable)."""
    store = counters()
    if isinstance(store, _RedisCounters) and not await store.ping():
        return f"rate limits per process: Redis unreachable ({store.error})"
    return None


def client_ip(request: Request) -> str:
    """The peer address as the ASGI server reports it.

    X-Forwarded-For is trusted only through the server's proxy-headers option
    (uvicorn --proxy-headers --forwarded-allow-ips), never read here directly.
    """
    return request.client.host if request.client else "unknown"


@dataclass
class Attempt:
    """One counted hit of ``limit`` for ``key``; ``allowed`` is False when it was over the limit."""

    limit: Limit
    key: str
    allowed: bool
    released: bool = False

    async def release(self) -> None:
        """Uncount this hit (it should not count against the limit after all); idempotent."""
        if self.allowed and not self.released:
            self.released = True
            await counters().decr(f"{self.limit.name}:{self.key}")


async def reserve(limit: Limit, key: str) -> Attempt:
    """Count one hit for ``key`` now, before the work it guards (atomic in both stores).

    A refused hit stays counted (it never releases), so hammering does not reopen the window.
    """
    count = await counters().incr(f"{limit.name}:{key}", limit.window_seconds)
    return Attempt(limit, key, allowed=count <= limit.max_hits)


async def over_limit(limit: Limit, key: str) -> bool:
    """Count one hit that is never given back; True when it is over the limit."""
    return not (await reserve(limit, key)).allowed
