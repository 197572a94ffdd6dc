"""Piccolo's SQLite engine with a few connections kept open.

Piccolo's ``SQLiteEngine`` opens a new aiosqlite connection (a new thread, a new
``sqlite3.connect``, the schema parsed again) for every query outside a transaction and
for every transaction, then closes it: about 1 ms per query on this kind of machine,
more than the query itself (bench/cabinet_load.py, docs/performance.md). This engine
lends idle connections instead and gives them back afterwards; behaviour is otherwise
Piccolo's own (autocommit outside transactions, ``BEGIN <type>`` inside them).

Each statement is also one trip to the connection's thread instead of Piccolo's four.

A connection goes back to the pool only in autocommit state (never inside an open
transaction) and only after a normal end or an SQLite error; anything else (a
cancelled query) closes it. The pool never blocks: when every kept connection is busy a
new one is opened and closed after use if more than ``pool_size`` are idle.

Reads outside transactions take turns: at most ``max_reads`` run at once, the others wait
for a turn. On a machine with few cores more threads running SQLite only queue for the CPU
and for the interpreter lock with the event loop, which then answers every request later
(docs/performance.md: the SQLite statement page went from 59% to 68% of the raw driver's
throughput, its p95 from 20 to 14 ms). Writes and transactions are not bounded: a write may
wait for SQLite's write lock, and must not hold up the reads while it does.

The back office (the admin, managers' reports) takes turns of its own
(``max_back_office_reads``; ``db/lanes.py``): its reads can take a
fifth of a second each (an exact count over a million ledger rows), and four clerks
holding all of the site's turns left subscribers' pages waiting behind them (the dashboard
fell from ~800 to 79 req/s, p95 25 → 343 ms; docs/performance.md).
"""

from __future__ import annotations

import asyncio
import functools
import re
import sqlite3
from collections.abc import Callable
from typing import Any

import aiosqlite
from piccolo.engine.sqlite import SQLiteEngine, dict_factory

from db.lanes import BACK_OFFICE, SITE, current_lane


@functools.lru_cache(maxsize=256)
def _like_matcher(pattern: str, escape: str | None) -> Callable[[str], bool]:
    """A test for casefolded values; plain substring tests for the admin's usual patterns."""
    folded = pattern.casefold()
    core = folded.strip("%")
    if escape is None and "%" not in core and "_" not in core:
        starts, ends = folded.startswith("%"), folded.endswith("%")
        if starts and ends:
            return lambda value: core in value
        if ends:
            return lambda value: value.startswith(core)
        if starts:
            return lambda value: value.endswith(core)
        return lambda value: value == core
    parts: list[str] = []
    chars = iter(folded)
    for char in chars:
        if escape is not None and char == escape.casefold():
            parts.append(re.escape(next(chars, "")))
        elif char == "%":
            parts.append(".*")
        elif char == "_":
            parts.append(".")
        else:
            parts.append(re.escape(char))
    regex = re.compile("".join(parts), re.DOTALL)
    return lambda value: regex.fullmatch(value) is not None


def unicode_like(pattern: str | None, value: Any, escape: str | None = None) -> bool | None:
    """SQLite's ``LIKE`` without its ASCII-only case folding: «иванов» finds «Иванов».

    Piccolo Admin's search and filters use ``ILIKE`` on PostgreSQL and fall back to
    ``LIKE`` on SQLite, whose built-in one ignores case for Latin letters only.
    """
    if pattern is None or value is None:
        return None
    return _like_matcher(pattern, escape)(str(value).casefold())


#: Statements that only read (Piccolo's selects, counts, exists; the fixed-SQL reads).
_READ = re.compile(r"\s*(SELECT|WITH)\b", re.IGNORECASE)


class _Lease:
    """A pooled connection lent to a transaction: ``close()`` gives it back."""

    __slots__ = ("_conn", "_engine")

    def __init__(self, engine: PooledSQLiteEngine, conn: aiosqlite.Connection) -> None:
        object.__setattr__(self, "_engine", engine)
        object.__setattr__(self, "_conn", conn)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._conn, name)

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self._conn, name, value)  # row_factory is set by Piccolo

    async def close(self) -> None:
        await self._engine._release(self._conn)


class PooledSQLiteEngine(SQLiteEngine):
    """``SQLiteEngine`` that reuses up to ``pool_size`` idle connections.

    :param pool_size: how many idle connections to keep; as many as requests usually run
        at once, so a busy moment doesn't open and close connections (each is a thread).

    :param wal: switch the file to write-ahead logging on first use, so readers never
        block a writer's commit and a writer never blocks readers (persistent in the file).
    """

    __slots__ = ("_idle", "_journal_checked", "_read_turns", "max_back_office_reads", "max_reads",
                 "pool_size", "wal")

    def __init__(self, path: str = "piccolo.sqlite", *, pool_size: int = 16, max_reads: int = 4,
                 max_back_office_reads: int = 2, wal: bool = True, **kwargs: Any) -> None:
        super().__init__(path=path, **kwargs)
        self.pool_size = pool_size
        self.max_reads = max_reads
        self.max_back_office_reads = max_back_office_reads
        self.wal = wal
        self._idle: list[aiosqlite.Connection] = []
        self._journal_checked = False
        self._read_turns: tuple[asyncio.AbstractEventLoop, dict[str, asyncio.Semaphore]] | None = None

    def _turns(self) -> asyncio.Semaphore:
        # Semaphores per event loop: an asyncio primitive is bound to the loop it first
        # waited on, and tests run each on a loop of its own.
        loop = asyncio.get_running_loop()
        if self._read_turns is None or self._read_turns[0] is not loop:
            self._read_turns = (loop, {SITE: asyncio.Semaphore(self.max_reads),
                                       BACK_OFFICE: asyncio.Semaphore(self.max_back_office_reads)})
        return self._read_turns[1][current_lane()]

    async def _open(self) -> aiosqlite.Connection:
        conn = aiosqlite.connect(**self.connection_kwargs)
        # A kept connection must not keep the process alive at exit (its worker thread
        # is otherwise non-daemon and only stops when the connection is closed).
        conn._thread.daemon = True
        await conn
        conn.row_factory = dict_factory
        await conn.execute("PRAGMA foreign_keys = 1")
        await conn.create_function("like", 2, unicode_like, deterministic=True)
        await conn.create_function("like", 3, unicode_like, deterministic=True)
        if self.wal and not self._journal_checked:
            self._journal_checked = True
            try:
                await conn.execute("PRAGMA journal_mode = WAL")
            except sqlite3.OperationalError:  # locked right now: the next process will do it
                self._journal_checked = False
        return conn

    async def _acquire(self) -> aiosqlite.Connection:
        if self._idle:
            return self._idle.pop()
        return await self._open()

    async def _release(self, conn: aiosqlite.Connection, reusable: bool = True) -> None:
        if reusable and not conn.in_transaction and len(self._idle) < self.pool_size:
            self._idle.append(conn)
        else:
            await conn.close()

    async def get_connection(self) -> Any:
        """For transactions and batches: a pooled connection whose ``close()`` returns it."""
        return _Lease(self, await self._acquire())

    async def _run_in_new_connection(self, query: str, args: list[Any] | None = None,
                                     query_type: str = "generic", table: Any = None) -> Any:
        if _READ.match(query):
            async with self._turns():
                return await self._run_statement(query, args, query_type, table)
        return await self._run_statement(query, args, query_type, table)

    async def _run_statement(self, query: str, args: list[Any] | None, query_type: str,
                             table: Any) -> Any:
        conn = await self._acquire()
        reusable = False
        try:
            rows = await self._fetch(conn, query, args, query_type, table)
            reusable = True
            return rows
        except sqlite3.Error:
            reusable = True  # the statement failed; the connection is fine
            raise
        finally:
            await self._release(conn, reusable)

    async def _run_in_existing_connection(self, connection: Any, query: str,
                                          args: list[Any] | None = None,
                                          query_type: str = "generic", table: Any = None) -> Any:
        # Inside a transaction; the connection is a kept one, already set up.
        return await self._fetch(connection, query, args, query_type, table)

    async def _fetch(self, conn: Any, query: str, args: list[Any] | None, query_type: str,
                     table: Any) -> Any:
        """One statement in one trip to the connection's thread.

        Piccolo's own engine makes four (``PRAGMA foreign_keys``, execute, fetch, close the
        cursor); each trip wakes the connection's thread, which on a busy machine costs more
        than the statement. Kept connections had the pragma and the row factory set once.
        """
        if query_type == "insert" and self.get_version_sync() < 3.35:
            async with conn.execute(query, args or []) as cursor:
                return [{table._meta.primary_key._meta.db_column_name:
                         await self._get_inserted_pk(cursor, table)}]
        return await conn.execute_fetchall(query, args or [])

    async def close_pool(self) -> None:
        """Close the idle connections (on application shutdown)."""
        idle, self._idle = self._idle, []
        for conn in idle:
            await conn.close()
