"""The admin login's rate limit, shared across processes through Redis when configured."""

from __future__ import annotations

import logging
import time

from piccolo_api.rate_limiting.middleware import InMemoryLimitProvider, RateLimitError, RateLimitProvider

from settings import get_settings

log = logging.getLogger("centra.limits")

# Per address and window: an office shares one address behind NAT, so the limit
# (``CENTRA_ADMIN_LOGIN_LIMIT``) is generous per IP and still stops brute force.
WINDOW_SECONDS = 300


class RedisLimitProvider(RateLimitProvider):
    """piccolo_api's provider interface (synchronous) over Redis INCR + EXPIRE.

    A Redis that cannot be reached must not take the staff login down: the count falls back to
    an in-process provider (logged), and Redis is tried again after ``RETRY_SECONDS``.
    """

    RETRY_SECONDS = 15.0

    def __init__(self, url: str, *, limit: int, timespan: int) -> None:
        from redis import Redis

        self.redis = Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5)
        self.limit = limit
        self.timespan = timespan
        self.fallback = InMemoryLimitProvider(limit=limit, timespan=timespan, block_duration=timespan)
        self.failed_at: float | None = None

    def increment(self, identifier: str) -> None:
        from redis.exceptions import RedisError

        if self.failed_at is not None and time.monotonic() - self.failed_at < self.RETRY_SECONDS:
            self.fallback.increment(identifier)
            return
        window = int(time.time() // self.timespan)
        key = f"centra:limit:admin-login:{identifier}:{window}"
        try:
            pipe = self.redis.pipeline()
            pipe.incr(key)
            pipe.expire(key, self.timespan)
            count, _ = pipe.execute()
        except (RedisError, OSError) as exc:
            if self.failed_at is None:
                log.warning("Redis is unreachable (%s): the staff login limit is counted per "
                            "process until it answers again", exc)
            self.failed_at = time.monotonic()
            self.fallback.increment(identifier)
            return
        if self.failed_at is not None:
            log.warning("Redis answers again: the staff login limit is shared again")
            self.failed_at = None
        if int(count) > self.limit:
            raise RateLimitError()


def admin_login_limit() -> RateLimitProvider:
    settings = get_settings()
    limit = settings.admin_login_limit
    if settings.redis_url:
        return RedisLimitProvider(settings.redis_url, limit=limit, timespan=WINDOW_SECONDS)
    return InMemoryLimitProvider(limit=limit, timespan=WINDOW_SECONDS,
                                 block_duration=WINDOW_SECONDS)
