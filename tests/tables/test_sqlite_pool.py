"""The SQLite engine lends kept connections; it must behave like Piccolo's own engine."""

from __future__ import annotations

import asyncio

import pytest

from db.engine import is_sqlite, write_transaction
from db.sqlite_pool import PooledSQLiteEngine
from piccolo_conf import DB
from tables.tariffs import Tariff
from tests.support.factories import make_tariff

pytestmark = pytest.mark.skipif(not is_sqlite(), reason="the pool is the SQLite engine's")


async def test_queries_reuse_kept_connections():
    assert isinstance(DB, PooledSQLiteEngine)
    await Tariff.count()
    kept = list(DB._idle)
    assert kept, "a finished query gives its connection back"
    for _ in range(5):
        await Tariff.count()
    assert [id(c) for c in DB._idle] == [id(c) for c in kept], "the same connections, no new ones"
    mode = await DB.run_ddl("PRAGMA journal_mode")
    assert mode[0]["journal_mode"] == "wal"


async def test_concurrent_queries_and_transactions_see_committed_data():
    tariff = await make_tariff(fee=1000)

    async def bump() -> None:
        async with write_transaction():
            row = await Tariff.select(Tariff.monthly_fee).where(Tariff.id == tariff.id).first()
            await Tariff.update({Tariff.monthly_fee: row["monthly_fee"] + 1}).where(Tariff.id == tariff.id)

    await asyncio.gather(*(bump() for _ in range(20)), *(Tariff.count() for _ in range(20)))
    row = await Tariff.select(Tariff.monthly_fee).where(Tariff.id == tariff.id).first()
    assert row["monthly_fee"] == 1020
    assert len(DB._idle) <= DB.pool_size
    assert not any(conn.in_transaction for conn in DB._idle)


async def test_a_failed_transaction_leaves_no_open_transaction_in_the_pool():
    tariff = await make_tariff(fee=500)
    with pytest.raises(RuntimeError):
        async with write_transaction():
            await Tariff.update({Tariff.monthly_fee: 1}).where(Tariff.id == tariff.id)
            raise RuntimeError("boom")
    row = await Tariff.select(Tariff.monthly_fee).where(Tariff.id == tariff.id).first()
    assert row["monthly_fee"] == 500
    assert not any(conn.in_transaction for conn in DB._idle)


async def test_a_failing_statement_keeps_the_connection_usable():
    await make_tariff(name="Один")
    with pytest.raises(Exception, match="UNIQUE"):
        await Tariff.insert(Tariff(name="Один"))
    assert await Tariff.count() == 1
    assert DB._idle and not any(conn.in_transaction for conn in DB._idle)


async def test_reads_take_turns_and_writes_do_not_wait_for_them(monkeypatch):
    running = {"now": 0, "reads": 0, "writes": 0}
    fetch = PooledSQLiteEngine._fetch

    async def slow_fetch(self, conn, query, args, query_type, table):
        kind = "reads" if query.lstrip().upper().startswith("SELECT") else "writes"
        running["now"] += 1
        running[kind] = max(running[kind], running["now"])
        try:
            await asyncio.sleep(0.02)
            return await fetch(self, conn, query, args, query_type, table)
        finally:
            running["now"] -= 1

    monkeypatch.setattr(PooledSQLiteEngine, "_fetch", slow_fetch)
    await asyncio.gather(*(Tariff.count() for _ in range(20)))
    assert running["reads"] == DB.max_reads
    # Inserts outside a transaction are not held back by the bound (nor counted in it).
    await asyncio.gather(*(make_tariff(name=f"Тариф {i}") for i in range(8)))
    assert running["writes"] > DB.max_reads
    assert await Tariff.count() == 8


async def test_back_office_reads_take_turns_of_their_own(monkeypatch):
    """A clerk's slow reads never hold the site's turns (and are bounded themselves)."""
    from db import lanes

    running = {lanes.SITE: 0, lanes.BACK_OFFICE: 0}
    peak = dict(running)
    both = {"at_once": 0}
    fetch = PooledSQLiteEngine._fetch

    async def slow_fetch(self, conn, query, args, query_type, table):
        lane = lanes.current_lane()
        running[lane] += 1
        peak[lane] = max(peak[lane], running[lane])
        both["at_once"] = max(both["at_once"], sum(running.values()))
        try:
            await asyncio.sleep(0.03)
            return await fetch(self, conn, query, args, query_type, table)
        finally:
            running[lane] -= 1

    async def clerk_count() -> int:
        with lanes.back_office_reads():
            return await Tariff.count()

    monkeypatch.setattr(PooledSQLiteEngine, "_fetch", slow_fetch)
    await asyncio.gather(*(clerk_count() for _ in range(10)), *(Tariff.count() for _ in range(10)))
    assert peak[lanes.BACK_OFFICE] == DB.max_back_office_reads
    assert peak[lanes.SITE] == DB.max_reads
    # The site's reads ran beside the clerks' ones, not after them.
    assert both["at_once"] == DB.max_reads + DB.max_back_office_reads
    assert lanes.current_lane() == lanes.SITE
