"""Piccolo's PostgreSQL engine with a small pool of its own for the back office.

One asyncpg pool served everything: ten slow back-office queries at once would have kept
every subscriber's page waiting for a connection, and each exact count over millions of
ledger rows ran as a parallel scan that took every core of a small database machine (two
clerks re-counting the ledger by kind cut the cabinet's dashboard to a quarter of its
throughput; docs/performance.md, benchmark 6). Work done in the back office's lane
(``db/lanes.py``: the admin, managers' reports) now borrows from a second pool of at
most ``back_office_connections``, whose sessions run with ``back_office_settings`` (by
default no parallel workers: one backend process per query). Clerks then queue behind
each other, and the database keeps cores for the site: with two to eight clerks re-counting
the ledger, the dashboard kept 53–57% of its throughput instead of 8–23%.

Everything else is Piccolo's own: ``pool`` is the lane's pool wherever Piccolo reads it
(queries outside transactions, and the connection a transaction takes and gives back, both
within the same request's lane).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Sequence
from typing import Any

import asyncpg
from asyncpg.pool import Pool
from piccolo.engine.postgres import PostgresEngine, PostgresTransaction

from db.lanes import BACK_OFFICE, current_lane

log = logging.getLogger("centra.db")

#: What asyncpg raises when the server side of a connection is gone (``pg_terminate_backend``,
#: a restart, a failover), or when a connection such an error left mid-operation is used again
#: ("cannot switch to state 12; another operation is in progress"). Such a connection is closed,
#: never given back to the pool as it is.
CONNECTION_LOST: tuple[type[BaseException], ...] = (
    asyncpg.exceptions.PostgresConnectionError,
    asyncpg.exceptions.AdminShutdownError,
    asyncpg.exceptions.CrashShutdownError,
    asyncpg.exceptions.CannotConnectNowError,
    asyncpg.exceptions.InternalClientError,
    asyncpg.exceptions.InterfaceError,
    ConnectionError,
)


async def drop_lost(pool: Pool | None, connection: Any) -> None:
    """Close a lost connection, and have the pool replace all the others on their next use:
    the server rarely loses one alone (a restart, a failover, an administrator's
    ``pg_terminate_backend``), and a dead one handed out next fails the retry too."""
    try:
        connection.terminate()
    except asyncpg.exceptions.InterfaceError:
        pass  # asyncpg already gave it back when it saw the socket close
    if pool is not None:
        await pool.expire_connections()


def is_read(query: str) -> bool:
    """A plain ``SELECT``: safe to run again on another connection (nothing was written)."""
    return query.lstrip()[:6].upper() == "SELECT"


class ReconnectingTransaction(PostgresTransaction):
    """Piccolo's transaction, except that a connection found dead at ``BEGIN`` is closed and
    another one taken (nothing ran on it yet), and a connection lost during the transaction is
    closed and still handed back (Piccolo's own leaves it out of the pool, or puts it back
    broken)."""

    async def __aenter__(self) -> PostgresTransaction:
        if self._parent is not None:
            return self._parent
        for attempt in (1, 2):
            self.connection = await self.get_connection()
            self.transaction = self.connection.transaction()
            try:
                await self.begin()
                break
            except CONNECTION_LOST:
                await self._drop_connection()
                if attempt == 2:
                    raise
                log.warning("database connection lost before BEGIN: retrying on another one")
        self.context = self.engine.current_transaction.set(self)
        return self

    async def __aexit__(self, exception_type: Any, exception: Any, traceback: Any) -> bool:
        if self._parent:
            return exception is None
        if isinstance(exception, CONNECTION_LOST):
            await drop_lost(None, self.connection)  # its ROLLBACK fails below; the server rolled back
        try:
            return await super().__aexit__(exception_type, exception, traceback)
        except CONNECTION_LOST:
            await self._drop_connection()
            self.engine.current_transaction.reset(self.context)
            if exception is not None:
                return False  # the body's own error is the one to see
            raise  # COMMIT failed: whether it was applied is unknown, the caller must know

    async def _drop_connection(self) -> None:
        await drop_lost(self.engine.pool, self.connection)
        if self.engine.pool:
            with contextlib.suppress(asyncpg.exceptions.InterfaceError):  # given back already
                await self.engine.pool.release(self.connection)

#: One backend process per back-office query, so the cores stay with the site's pages; and the
#: planner told that reading an index's rows is cheap (SSD storage, the usual production
#: advice): without parallel workers it otherwise read all 11M ledger rows for a year's
#: charges (1.2 s) instead of that year's index range (0.5 s).
BACK_OFFICE_SETTINGS = {"max_parallel_workers_per_gather": "0", "random_page_cost": "1.1"}


class LanedPostgresEngine(PostgresEngine):
    """``PostgresEngine`` whose back-office lane has a pool of its own (see module doc).

    :param back_office_connections: the back office's pool size: how many of its queries
        run at once (the others wait for a connection).
    :param back_office_settings: PostgreSQL settings of the back office's sessions.
    """

    def __init__(self, *args: Any, back_office_connections: int = 2,
                 back_office_settings: dict[str, str] | None = None, **kwargs: Any) -> None:
        self._site_pool: Pool | None = None
        self._back_office_pool: Pool | None = None
        super().__init__(*args, **kwargs)
        self.back_office_connections = back_office_connections
        self.back_office_settings = dict(BACK_OFFICE_SETTINGS if back_office_settings is None
                                         else back_office_settings)

    @property  # type: ignore[override]
    def pool(self) -> Pool | None:
        if self._back_office_pool is not None and current_lane() == BACK_OFFICE:
            return self._back_office_pool
        return self._site_pool

    @pool.setter
    def pool(self, value: Pool | None) -> None:
        self._site_pool = value

    async def start_connection_pool(self, **kwargs: Any) -> None:
        if self._site_pool is not None:
            await super().start_connection_pool(**kwargs)  # Piccolo's "already exists" warning
            return
        await super().start_connection_pool(**kwargs)
        config = {**self.config, **kwargs}
        config["server_settings"] = {**config.get("server_settings", {}), **self.back_office_settings}
        config.update(min_size=0, max_size=self.back_office_connections)
        self._back_office_pool = await asyncpg.create_pool(**config)

    def transaction(self, allow_nested: bool = True) -> PostgresTransaction:
        return ReconnectingTransaction(engine=self, allow_nested=allow_nested)

    async def _run_in_pool(self, query: str, args: Sequence[Any] | None = None) -> Any:
        """Piccolo's, except that a lost connection is closed (the pool opens a new one in its
        place) and a read on it is run again on another connection."""
        if not self.pool:
            raise ValueError("A pool isn't currently running.")
        # Up to three tries: a terminate that cut many connections at once may also have cut the
        # one the first retry got (its backend dies a moment after the terminate is issued).
        for attempt in (1, 2, 3):
            pool = self.pool
            connection = await pool.acquire()
            try:
                return await connection.fetch(query, *(args or []))
            except CONNECTION_LOST:
                await drop_lost(pool, connection)
                if attempt == 3 or not is_read(query):
                    raise
                log.warning("database connection lost during a read: retrying it (try %d of 3)",
                            attempt + 1)
            finally:
                await pool.release(connection)
        raise AssertionError("unreachable")

    async def close_connection_pool(self) -> None:
        if self._back_office_pool is not None:
            pool, self._back_office_pool = self._back_office_pool, None
            await pool.close()
        await super().close_connection_pool()
