"""A job worker as its own OS process, with probe tasks instead of the real schedules.

Started by tests/jobs/test_job_workers.py (PostgreSQL): it runs ``jobs.worker.main`` (what
``python -m jobs worker`` runs) on the test database, with the queue ``probe`` only. The probes
write to the table ``job_probe`` over their own asyncpg connection.
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import asyncpg

import jobs.schedules  # noqa: F401  (the real tasks register first, as in production)
from jobs.engine import app
from jobs.worker import main

URL = os.environ["DATABASE_URL"]


async def _write(kind: str, tick: int | None = None, key: str | None = None) -> None:
    conn = await asyncpg.connect(URL)
    try:
        await conn.execute("INSERT INTO job_probe (kind, tick, key, pid) VALUES ($1, $2, $3, $4)",
                           kind, tick, key, os.getpid())
    finally:
        await conn.close()


@app.periodic(cron="* * * * * */2", periodic_id="probe")
@app.task(name="probe.tick", queue="probe")
async def tick(timestamp: int) -> None:
    await _write("tick", tick=timestamp)


@app.task(name="probe.slow", queue="probe")
async def slow(key: str, seconds: float) -> None:
    """Marks its start, then does its work in one transaction that lasts ``seconds``."""
    await _write("started", key=key)
    conn = await asyncpg.connect(URL)
    try:
        async with conn.transaction():
            await conn.execute("INSERT INTO job_probe (kind, key, pid) VALUES ('effect', $1, $2)",
                               key, os.getpid())
            await asyncio.sleep(seconds)
    finally:
        await conn.close()
    await _write("finished", key=key)


if __name__ == "__main__":
    # Only the probes are scheduled here: the real ticks would charge and reconcile.
    registry = app.periodic_registry.periodic_tasks
    for name in [key for key in registry if not key[0].startswith("probe.")]:
        del registry[name]
    asyncio.run(main(queues=["probe"], name=f"probe-{os.getpid()}"))
