"""The job engine on both engines: schedules in local time, one run per tick, retries with
backoff, the embedded worker of ``make run``. (Separate worker processes on PostgreSQL:
tests/jobs/test_job_workers.py.)"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
import uuid

import procrastinate

from jobs.engine import RETRY, app, next_tick
from jobs.schedules import charge
from tables.calendar import LOCAL_TZ


def _local(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=LOCAL_TZ)


def test_schedules_are_read_in_novokuznetsk_time():
    # The month's charge: 00:05 local on the 1st, i.e. 17:05 UTC on the last day of the month before.
    first = next_tick(charge.name, "month-start", _local(2026, 12, 15, 12))
    assert first == _local(2027, 1, 1, 0, 5)
    assert first.astimezone(dt.UTC) == dt.datetime(2026, 12, 31, 17, 5, tzinfo=dt.UTC)
    # The daily pass skips the 1st (the month's run is that day's pass).
    assert next_tick(charge.name, "daily", _local(2026, 12, 31, 1)) == _local(2027, 1, 2, 0, 5)
    assert next_tick(charge.name, "daily", _local(2027, 1, 2, 0, 4)) == _local(2027, 1, 2, 0, 5)
    # The tariff switch and the terminations come before the charge of the same night.
    evening = _local(2026, 12, 31, 23)
    assert next_tick("billing.apply_tariff_changes", "daily", evening) == _local(2027, 1, 1, 0, 1)
    assert next_tick("billing.apply_terminations", "daily", evening) == _local(2027, 1, 1, 0, 2)
    morning = _local(2027, 1, 1, 10, 1)
    assert next_tick("payments.reconcile", "every-5-min", morning) == _local(2027, 1, 1, 10, 5)
    # Reminders outside the quiet hours (21:00-09:00).
    assert next_tick("messages.remind", "daily", morning) == _local(2027, 1, 2, 10, 0)


def test_every_periodic_task_retries_with_backoff_and_is_on_the_schedule():
    names = {name for name, _ in app.periodic_registry.periodic_tasks}
    assert names >= {"billing.charge", "billing.apply_tariff_changes", "billing.apply_terminations",
                     "billing.reverse_promised", "payments.reconcile", "messages.send",
                     "messages.remind"}
    for name in names:
        assert app.tasks[name].retry_strategy is RETRY, name
    waits = [RETRY.get_retry_decision(exception=RuntimeError(), job=_job(n)).retry_at for n in range(5)]
    assert all(w is not None for w in waits)
    assert RETRY.get_retry_decision(exception=RuntimeError(), job=_job(6)) is None


def _job(attempts: int) -> procrastinate.jobs.Job:
    return procrastinate.jobs.Job(id=1, queue="q", lock=None, queueing_lock=None, task_name="t",
                                  attempts=attempts)


async def _run_workers(probe: procrastinate.App, queue: str, seconds: float, n: int = 2) -> None:
    workers = [asyncio.create_task(probe.run_worker_async(
        queues=[queue], name=f"w{i}", install_signal_handlers=False, fetch_job_polling_interval=0.2,
        concurrency=2)) for i in range(n)]
    await asyncio.sleep(seconds)
    for w in workers:
        w.cancel()
    await asyncio.gather(*workers, return_exceptions=True)


async def test_a_tick_runs_once_with_two_workers(engine):
    queue = f"probe-{uuid.uuid4().hex[:8]}"
    probe = procrastinate.App(connector=engine.connector)
    runs: list[tuple[int, str]] = []

    @probe.periodic(cron="* * * * * *", periodic_id="every-second")
    @probe.task(name=f"{queue}.tick", queue=queue, pass_context=True)
    async def tick(context, timestamp: int) -> None:
        runs.append((timestamp, context.worker_name))

    await _run_workers(probe, queue, 3.5)
    stamps = [stamp for stamp, _ in runs]
    assert len(stamps) >= 3
    assert len(stamps) == len(set(stamps)), runs  # each tick once, though both workers deferred it


async def test_a_failed_job_is_retried_after_a_backoff(engine):
    queue = f"probe-{uuid.uuid4().hex[:8]}"
    probe = procrastinate.App(connector=engine.connector)
    attempts: list[float] = []

    @probe.task(name=f"{queue}.flaky", queue=queue, retry=RETRY)
    async def flaky() -> None:
        attempts.append(time.monotonic())
        if len(attempts) == 1:
            raise ConnectionError("the provider did not answer")

    await flaky.defer_async()
    await _run_workers(probe, queue, 6.5, n=1)
    assert len(attempts) == 2
    assert attempts[1] - attempts[0] >= 4  # RETRY's first wait
    [job] = await probe.job_manager.list_jobs_async(queue=queue)
    assert job.status == "succeeded"


async def test_the_web_process_runs_the_jobs_itself_when_embedded(setenv, engine):
    """``make run`` (SQLite): the app's start-up starts a worker beside the requests, its
    shutdown stops it; with CENTRA_EMBEDDED_WORKER=0 only the engine is opened."""
    from jobs.worker import Embedded, embedded_wanted

    setenv("CENTRA_EMBEDDED_WORKER", "1")
    assert embedded_wanted()
    done = asyncio.Event()

    @app.task(name="probe.embedded", queue="probe-embedded")
    async def mark() -> None:
        done.set()

    try:
        embedded = Embedded()
        await embedded.start()
        try:
            await mark.defer_async()
            await asyncio.wait_for(done.wait(), 15)
        finally:
            await embedded.stop()
        setenv("CENTRA_EMBEDDED_WORKER", "0")
        assert not embedded_wanted()
    finally:
        del app.tasks["probe.embedded"]
