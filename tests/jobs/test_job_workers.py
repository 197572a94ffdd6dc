"""Workers as separate OS processes on one PostgreSQL (the Procfile's ``worker``, twice).

- a periodic tick runs once, however many workers defer it;
- a worker killed in the middle of a job leaves nothing half-done (its transaction is rolled
  back), and the job is put back in the queue and completes once, on the other worker.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

from db.engine import is_sqlite

pytestmark = pytest.mark.skipif(is_sqlite(), reason="separate workers share a PostgreSQL queue")

PROBE = Path(__file__).resolve().parent / "probe_worker.py"
#: Fast heartbeats so that a dead worker is noticed within seconds (production: 10 s / 60 s).
FAST = {"CENTRA_JOBS_HEARTBEAT": "0.5", "CENTRA_JOBS_STALLED_AFTER": "3",
        "CENTRA_JOBS_RECOVER_EVERY": "1", "CENTRA_JOBS_CONCURRENCY": "2"}


async def _rows(sql: str, *args) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(os.environ["DATABASE_URL"])
    try:
        return await conn.fetch(sql, *args)
    finally:
        await conn.close()


async def _wait_for(sql: str, *args, timeout: float = 60) -> list[asyncpg.Record]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        rows = await _rows(sql, *args)
        if rows:
            return rows
        await asyncio.sleep(0.2)
    raise AssertionError(f"nothing came for {sql!r} in {timeout} s")


@pytest.fixture
async def workers() -> AsyncIterator[list[subprocess.Popen]]:
    await _rows("CREATE TABLE IF NOT EXISTS job_probe (kind text, tick bigint, key text, pid int)")
    await _rows("DELETE FROM job_probe")
    await _rows("DELETE FROM procrastinate_workers")
    env = {**os.environ, **FAST}
    procs = [subprocess.Popen([sys.executable, str(PROBE)], env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE) for _ in range(2)]
    try:
        # Both registered (each worker writes its row at start).
        deadline = time.monotonic() + 90
        while len(await _rows("SELECT id FROM procrastinate_workers")) < 2:
            for p in procs:
                assert p.poll() is None, p.stderr.read().decode()[-3000:]
            assert time.monotonic() < deadline, "the workers did not start"
            await asyncio.sleep(0.2)
        yield procs
    finally:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        await _rows("DROP TABLE IF EXISTS job_probe")


async def test_a_tick_runs_once_with_two_worker_processes(workers):
    await asyncio.sleep(7)  # ticks every 2 s: three or four of them, each deferred by both workers
    for p in workers:
        assert p.poll() is None
    ticks = await _rows("SELECT tick, count(*) AS n, array_agg(pid) AS pids FROM job_probe "
                        "WHERE kind = 'tick' GROUP BY tick ORDER BY tick")
    assert len(ticks) >= 3
    assert [t["n"] for t in ticks] == [1] * len(ticks), ticks
    # Both workers took part (each defers every tick; whichever fetches it first runs it).
    assert {t["pids"][0] for t in ticks} <= {p.pid for p in workers}


async def test_a_worker_killed_mid_job_leaves_nothing_half_done_and_the_other_completes_it(workers):
    from jobs.engine import app

    key = uuid.uuid4().hex
    async with app.open_async():
        job_id = await app.configure_task("probe.slow", queue="probe").defer_async(key=key, seconds=4)
    started = await _wait_for("SELECT pid FROM job_probe WHERE kind = 'started' AND key = $1", key)
    victim = started[0]["pid"]
    by_pid = {p.pid: p for p in workers}
    assert victim in by_pid
    await asyncio.sleep(0.5)  # inside its transaction now
    by_pid[victim].send_signal(signal.SIGKILL)
    by_pid[victim].wait(timeout=10)

    done = await _wait_for("SELECT pid FROM job_probe WHERE kind = 'finished' AND key = $1", key,
                           timeout=60)
    survivor = next(pid for pid in by_pid if pid != victim)
    assert [r["pid"] for r in done] == [survivor]
    # The killed attempt's write was rolled back: one effect, by the survivor.
    effects = await _rows("SELECT pid FROM job_probe WHERE kind = 'effect' AND key = $1", key)
    assert [r["pid"] for r in effects] == [survivor]
    starts = await _rows("SELECT pid FROM job_probe WHERE kind = 'started' AND key = $1 ORDER BY pid", key)
    assert sorted(r["pid"] for r in starts) == sorted([victim, survivor])
    job = await _rows("SELECT status, attempts FROM procrastinate_jobs WHERE id = $1", job_id)
    assert job[0]["status"] == "succeeded" and job[0]["attempts"] == 2  # the killed run, the good one
