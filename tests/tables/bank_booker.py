"""Books a confirming bank statement as its own OS process: ``python bank_booker.py <id> <batch>``.

Started by tests/tables/test_bank_booking.py on the test database (SQLite file or PostgreSQL,
from the environment the test set): two at once, or one killed in the middle.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from piccolo.engine.postgres import PostgresEngine

from db.engine import engine
from tables.audit import Actor
from tables.payments.bank import book_statement


async def main(statement_id: int, batch: int) -> None:
    db = engine()
    if isinstance(db, PostgresEngine):
        await db.start_connection_pool()
    try:
        result = await book_statement(statement_id, actor=Actor("booker"), batch=batch)
        print(result.booked, result.duplicates, flush=True)
    finally:
        if isinstance(db, PostgresEngine):
            await db.close_connection_pool()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]), int(sys.argv[2])))
