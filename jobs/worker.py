"""The worker: ``python -m jobs worker`` (the Procfile's ``worker``), or embedded in the web process.

A worker runs the queued jobs, defers the periodic ticks (every worker tries; the database
lets one deferral per tick through) and sends a heartbeat. Every worker also looks, every
``CENTRA_JOBS_RECOVER_EVERY`` seconds, for jobs left in ``doing`` by a worker whose heartbeat stopped
(killed, its machine gone) and puts them back in the queue: such a job then runs again, from
the start, on a live worker (each task is idempotent, and a transaction the dead worker had open
was rolled back by the database). procrastinate leaves this to the application (its
``get_stalled_jobs`` and ``retry_job``); two workers finding the same job is harmless: the
second retry is refused because the job is no longer ``doing``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from typing import Any

from jobs.engine import app, engine_ref, in_memory
from settings import get_settings

logger = logging.getLogger("centra.jobs")


# Heartbeat interval, stalled-worker timeout, recovery interval and jobs at once per worker (all
# tasks are async; the billing ones share a lock): settings.jobs_*.


async def recover_stalled() -> int:
    """Put jobs of dead workers back in the queue; returns how many."""
    recovered = 0
    stalled_after = get_settings().jobs_stalled_after
    for job in await app.job_manager.get_stalled_jobs(seconds_since_heartbeat=stalled_after):
        try:
            await app.job_manager.retry_job(job)
        except Exception as exc:  # another worker was first, or the job just finished
            logger.info("stalled job %s not retried: %s", job.id, exc)
            continue
        recovered += 1
        logger.warning("job %s (%s) of a dead worker is queued again", job.id, job.task_name)
    return recovered


async def _recovery_loop() -> None:
    while True:
        await asyncio.sleep(get_settings().jobs_recover_every)
        try:
            await recover_stalled()
        except Exception:
            logger.exception("looking for stalled jobs failed")


async def record_outcome(call_next: Any, context: Any, worker: Any) -> Any:
    """Worker middleware: what staff see of every job's failures (``tables.background``).

    Work a person started (an export, a statement's import or booking) has its own row (its
    ``job_id``): a failure is written there, with whether the engine will try again. Any other
    task that fails gets a row of its own (one per engine job,
    updated by later attempts), marked done when a later attempt succeeds.
    """
    from tables import background

    job = context.job
    ref, attempt = engine_ref(job.id), job.attempts + 1
    # Work a person started (an export, a bank statement) has its own row, named by ``job_id``.
    tracked = "job_id" in job.task_kwargs
    try:
        result = await call_next()
    except Exception as exc:
        task = worker.app.tasks.get(job.task_name)
        strategy = task.retry_strategy if task else None
        will_retry = bool(strategy and strategy.get_retry_decision(exception=exc, job=job))
        try:
            if tracked:
                await background.mark_failed(job.task_kwargs["job_id"], exc, will_retry=will_retry)
            else:
                await background.record_task_failure(job.task_name, job.task_kwargs, engine_ref=ref,
                                                     attempt=attempt, error=exc, will_retry=will_retry)
        except Exception:
            logger.exception("could not record the failure of job %s", ref)
        raise
    if not tracked:
        try:
            await background.record_task_success(ref, attempt=attempt)
        except Exception:
            logger.exception("could not record the success of job %s", ref)
    return result


def worker_options(**overrides: Any) -> dict[str, Any]:
    settings = get_settings()
    options: dict[str, Any] = {
        "name": f"{socket.gethostname()}:{os.getpid()}",
        "concurrency": settings.jobs_concurrency,
        "update_heartbeat_interval": settings.jobs_heartbeat,
        "stalled_worker_timeout": settings.jobs_stalled_after,
        "shutdown_graceful_timeout": 30,
        "worker_middleware": [record_outcome],
    }
    options.update(overrides)
    return options


async def run_worker(**overrides: Any) -> None:
    """Run the worker and the stalled-job recovery until cancelled or signalled (with the
    engine's connection open, which the caller owns)."""
    recovery = asyncio.create_task(_recovery_loop(), name="recover-stalled-jobs")
    try:
        await app.run_worker_async(**worker_options(**overrides))
    finally:
        recovery.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await recovery


async def main(**overrides: Any) -> None:
    """The worker process: the database pools and the engine opened, then ``run_worker``."""
    from piccolo.engine.postgres import PostgresEngine

    from db.engine import engine, keep_pooled_session

    if in_memory():
        raise SystemExit(
            "The job queue lives in PostgreSQL: set DATABASE_URL to run a separate worker. "
            "On SQLite the web process runs the jobs itself (make run).")
    db = engine()
    if isinstance(db, PostgresEngine):
        await db.start_connection_pool(reset=keep_pooled_session)
    try:
        async with app.open_async():
            await run_worker(**overrides)
    finally:
        if isinstance(db, PostgresEngine):
            await db.close_connection_pool()


def embedded_wanted() -> bool:
    """The web process runs a worker too: always on SQLite (the queue is in that process),
    on PostgreSQL when ``CENTRA_EMBEDDED_WORKER=1`` (one machine, no separate worker)."""
    wanted = get_settings().embedded_worker
    return in_memory() if wanted is None else wanted


class Embedded:
    """The engine in a web process: opened at start-up (pages defer jobs), and, when
    ``embedded_wanted()``, a worker running beside the requests until shutdown."""

    def __init__(self) -> None:
        self._task: asyncio.Task[None] | None = None
        self._opened = False

    async def start(self) -> None:
        await app.open_async()
        self._opened = True
        if embedded_wanted():
            # CENTRA_EMBEDDED_QUEUES limits it (the browser tests run exports, not the schedules).
            queues = list(get_settings().embedded_queues)
            self._task = asyncio.create_task(
                run_worker(install_signal_handlers=False, name=f"embedded:{os.getpid()}",
                           queues=queues or None),
                name="embedded-job-worker")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._opened:
            await app.close_async()
            self._opened = False
