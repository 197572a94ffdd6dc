"""The admin login's rate limit, shared across processes through Redis when configured."""

from __future__ import annotations

import os
import time

from piccolo_api.rate_limiting.middleware import InMemoryLimitProvider, RateLimitError, RateLimitProvider

from settings import get_settings

# An office shares one address behind NAT: generous per IP, still stops brute force.
LOGIN_ATTEMPTS = int(os.environ.get("CENTRA_ADMIN_LOGIN_LIMIT", "100"))
WINDOW_SECONDS = 300


class RedisLimitProvider(RateLimitProvider):
    """piccolo_api's provider interface (synchronous) over Redis INCR + EXPIRE."""

    def __init__(self, url: str, *, limit: int, timespan: int) -> None:
        from redis import Redis

        self.redis = Redis.from_url(url, socket_timeout=1)
        self.limit = limit
        self.timespan = timespan

    def increment(self, identifier: str) -> None:
        window = int(time.time() // self.timespan)
        key = f"centra:limit:admin-login:{identifier}:{window}"
        pipe = self.redis.pipeline()
        pipe.incr(key)
        pipe.expire(key, self.timespan)
        count, _ = pipe.execute()
        if int(count) > self.limit:
            raise RateLimitError()


def admin_login_limit() -> RateLimitProvider:
    url = get_settings().redis_url
    if url:
        return RedisLimitProvider(url, limit=LOGIN_ATTEMPTS, timespan=WINDOW_SECONDS)
    return InMemoryLimitProvider(limit=LOGIN_ATTEMPTS, timespan=WINDOW_SECONDS,
                                 block_duration=WINDOW_SECONDS)
