"""Reads for reports and big exports from a PostgreSQL streaming replica (``DATABASE_REPLICA_URL``).

Only the managers' reports and the raw exports ask for it (``tables.reports.sql.fetch``,
``tables.reports.raw``); writes and everything a subscriber sees stay on the primary. The
replica is used while it answers and its replay lag stays within ``CENTRA_REPLICA_MAX_LAG``
seconds (30); otherwise those reads go to the primary, and the log says so once per change
(and again when the replica is back). Its state is checked at most every
``CENTRA_REPLICA_CHECK_EVERY`` seconds (5), so a report costs no extra round trip.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from collections.abc import AsyncIterator
from typing import Any

import asyncpg

from settings import get_settings

logger = logging.getLogger("centra.replica")

#: Replay lag in seconds: 0 when everything received is replayed, else the age of the last
#: replayed transaction (an idle primary sends nothing, and is then no lag).
LAG_SQL = """SELECT CASE WHEN pg_last_wal_receive_lsn() IS NOT DISTINCT FROM pg_last_wal_replay_lsn()
                    THEN 0
                    ELSE COALESCE(EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp()), 0)
               END AS lag"""
#: What a replica that went away raises.
LOST = (OSError, asyncio.TimeoutError, asyncpg.PostgresConnectionError, asyncpg.InterfaceError,
        asyncpg.CannotConnectNowError)


def dollar_params(sql: str) -> str:
    """``?`` placeholders as asyncpg's ``$1, $2…``."""
    count = 0

    def number(_match: re.Match[str]) -> str:
        nonlocal count
        count += 1
        return f"${count}"

    return re.sub(r"\?", number, sql)


class Replica:
    def __init__(self, url: str, *, max_lag: float | None = None, check_every: float | None = None) -> None:
        self.url = url
        settings = get_settings()
        self.max_lag = max_lag if max_lag is not None else settings.replica_max_lag
        self.check_every = check_every if check_every is not None else settings.replica_check_every
        self.pool: asyncpg.Pool | None = None
        self._checked = float("-inf")
        self.ok = False
        self.reason = "not checked yet"

    async def _pool(self) -> asyncpg.Pool:
        if self.pool is None:
            self.pool = await asyncpg.create_pool(self.url, min_size=0, max_size=4, timeout=3,
                                                  server_settings={"application_name": "centra-replica"})
        return self.pool

    async def close(self) -> None:
        pool, self.pool = self.pool, None
        if pool is not None:
            pool.terminate()

    async def check(self) -> str | None:
        """Why the replica cannot be used now, or ``None`` when it can."""
        try:
            pool = await self._pool()
            async with pool.acquire(timeout=3) as connection:
                lag = float(await asyncio.wait_for(connection.fetchval(LAG_SQL), 3))
        except LOST as exc:
            await self.close()
            return f"does not answer ({type(exc).__name__}: {exc})"
        if lag > self.max_lag:
            return f"lags {lag:.0f} s behind the primary (bound {self.max_lag:.0f} s)"
        return None

    def _note(self, reason: str | None) -> None:
        ok = reason is None
        if ok and not self.ok:
            logger.warning("read replica usable again: reports and exports read from it")
        elif not ok and (self.ok or reason != self.reason):
            logger.warning("read replica %s: reports and exports read from the primary", reason)
        self.ok, self.reason = ok, reason or ""

    async def usable(self) -> bool:
        now = time.monotonic()
        if now - self._checked >= self.check_every:
            self._checked = now
            self._note(await self.check())
        return self.ok

    def failed(self, exc: BaseException) -> None:
        """A read on the replica lost its connection: the primary until the next check."""
        self._checked = time.monotonic()
        self._note(f"failed ({type(exc).__name__}: {exc})")

    @contextlib.asynccontextmanager
    async def connection(self, *, time_zone: str | None = None) -> AsyncIterator[Any]:
        pool = await self._pool()
        async with pool.acquire() as connection:  # released with RESET ALL (the time zone too)
            if time_zone:
                await connection.execute(f"SET TIME ZONE '{time_zone}'")
            yield connection


_replica: Replica | None = None


def replica() -> Replica | None:
    """The configured replica (PostgreSQL primary and ``DATABASE_REPLICA_URL`` set), else None."""
    global _replica
    settings = get_settings()
    url = settings.database_replica_url
    if not url or not settings.database_url:
        return None
    if _replica is None or _replica.url != url:
        _replica = Replica(url)
    return _replica
