"""The database engine as the domain sees it: which one, write transactions, driver errors."""

from __future__ import annotations

from piccolo.engine.base import Engine
from piccolo.engine.sqlite import SQLiteEngine, TransactionType
from piccolo.table import Table


def engine() -> Engine:
    from piccolo_conf import DB

    return DB


def is_sqlite() -> bool:
    return isinstance(engine(), SQLiteEngine)


def write_transaction():
    """A transaction suited to read-modify-write on both engines.

    SQLite's default deferred transactions fail concurrent writers with
    "database is locked"; an immediate one takes the write lock up front and
    the others wait for it (busy timeout).  Nested use is a no-op in Piccolo,
    so domain functions can compose.
    """
    db = engine()
    if isinstance(db, SQLiteEngine):
        return db.transaction(transaction_type=TransactionType.immediate)
    return db.transaction()


async def keep_pooled_session(connection: object) -> None:
    """asyncpg pool ``reset`` that skips the reset query on every release.

    asyncpg's default runs ``SELECT pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *;
    RESET ALL`` each time a connection goes back to the pool, one more round trip per
    Piccolo query (every query outside a transaction borrows a connection). Nothing here
    leaves session state behind: advisory locks are ``pg_advisory_xact_lock`` (released at
    commit), no ``LISTEN``, no session ``SET``, cursors only inside transactions; asyncpg
    still rolls back a transaction left open. Keep it that way, or drop this setting.
    """


def is_unique_violation(exc: Exception) -> bool:
    """A unique constraint refused the write (aiosqlite's IntegrityError, asyncpg's
    UniqueViolationError): the row a concurrent writer got in first."""
    name = type(exc).__name__
    return name in {"IntegrityError", "UniqueViolationError"} or "UNIQUE" in str(exc)


def table_names(*tables: type[Table]) -> list[str]:
    return [t._meta.tablename for t in tables]


#: The largest row id (Piccolo's ``Serial`` is a 4-byte integer on PostgreSQL): ids typed or put
#: in a path beyond it are bad input, refused before they overflow the database driver.
MAX_ROW_ID = 2**31 - 1
