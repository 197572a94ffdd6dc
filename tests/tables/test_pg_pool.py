"""PostgreSQL: the back office borrows from a small pool of its own (db/pg_pool.py)."""

from __future__ import annotations

import asyncio

import pytest

from db.engine import is_sqlite, write_transaction
from db.lanes import back_office_reads
from db.pg_pool import BACK_OFFICE_SETTINGS, LanedPostgresEngine
from piccolo_conf import DB
from tables.tariffs import Tariff
from tests.support.factories import make_tariff

pytestmark = pytest.mark.skipif(is_sqlite(), reason="the pools are the PostgreSQL engine's")

BACKEND = "SELECT pg_backend_pid() AS pid, current_setting('max_parallel_workers_per_gather') AS workers"


async def _backend(seconds: float = 0.0) -> tuple[int, str]:
    rows = await Tariff.raw(BACKEND + ", pg_sleep({}) AS slept", seconds)
    return rows[0]["pid"], rows[0]["workers"]


async def _back_office_backend(seconds: float = 0.0) -> tuple[int, str]:
    with back_office_reads():
        return await _backend(seconds)


async def test_back_office_sessions_run_without_parallel_workers():
    assert isinstance(DB, LanedPostgresEngine)
    site_pid, site_workers = await _backend()
    office_pid, office_workers = await _back_office_backend()
    assert office_workers == BACK_OFFICE_SETTINGS["max_parallel_workers_per_gather"] == "0"
    assert site_workers != "0", "the site keeps the server's default"
    assert office_pid != site_pid


async def test_back_office_queries_wait_for_their_own_connections_only():
    """Ten slow clerk queries use at most the back office's connections; the site's queries
    meanwhile run on other connections and are not held behind them."""
    clerks = [asyncio.ensure_future(_back_office_backend(0.2)) for _ in range(10)]
    await asyncio.sleep(0.05)  # the first clerks hold both connections
    site = await asyncio.gather(*(_backend() for _ in range(5)))
    assert not all(c.done() for c in clerks), "the site answered while the clerks still queued"
    office = await asyncio.gather(*clerks)
    office_pids = {pid for pid, _ in office}
    assert len(office_pids) <= DB.back_office_connections
    assert office_pids.isdisjoint(pid for pid, _ in site)


async def test_a_back_office_transaction_runs_and_ends_in_its_lane():
    tariff = await make_tariff(fee=1000)
    with back_office_reads():
        async with write_transaction():
            await Tariff.update({Tariff.monthly_fee: 1500}).where(Tariff.id == tariff.id)
            inside = await Tariff.raw("SELECT current_setting('max_parallel_workers_per_gather') AS workers")
    assert inside == [{"workers": "0"}], "the transaction took a back-office connection"
    pool = DB._back_office_pool
    assert pool.get_idle_size() == pool.get_size() > 0, "and gave it back to the same pool"
    assert await Tariff.select(Tariff.monthly_fee).where(Tariff.id == tariff.id).first() == {
        "monthly_fee": 1500}
