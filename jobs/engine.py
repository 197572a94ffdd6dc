"""The job engine: one procrastinate ``App`` for the whole system.

With a PostgreSQL ``DATABASE_URL`` the queue is procrastinate's own tables in that database
(``procrastinate_jobs``…, created by a migration of the ``tables`` app): any number of web
processes defer jobs, any number of workers run them, a periodic tick is deferred once (a unique
row per task and tick), a job whose worker died is put back in the queue (``jobs.worker``).

On SQLite (``make run``, the tests' default) the queue is procrastinate's in-memory connector,
so jobs live in the process that deferred them: the worker runs embedded in the web process
(``jobs.worker.embedded``), and the domain functions it calls work on the SQLite file as usual.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from typing import Any

import croniter
import procrastinate
from procrastinate.testing import InMemoryConnector

from settings import database_url, get_settings
from tables.calendar import LOCAL_TZ

#: Retries with exponential backoff: 4 s, 16 s, 64 s, 256 s, 1024 s (six attempts in ~23 min).
#: Every task is idempotent, so a retry after a half-done attempt is safe.
RETRY = procrastinate.RetryStrategy(max_attempts=6, exponential_wait=4)


def _connector() -> procrastinate.BaseConnector:
    url = database_url()
    if url:
        return procrastinate.PsycopgConnector(
            conninfo=url, min_size=1, max_size=get_settings().jobs_pool_size,
            kwargs={"application_name": "centra-jobs"},
        )
    return InMemoryConnector()


app = procrastinate.App(connector=_connector(),
                        import_paths=["jobs.schedules", "jobs.exports", "jobs.bank", "jobs.broadcasts"])


def in_memory() -> bool:
    """True when the queue lives in this process (SQLite): only an embedded worker sees it."""
    return isinstance(app.connector, InMemoryConnector)


#: Names the queue an engine job id belongs to: one PostgreSQL queue, or this process's own
#: in-memory one (whose ids start again at 1 in every process).
_QUEUE_NAME = "pg" if not in_memory() else f"mem-{uuid.uuid4().hex[:8]}"


def engine_ref(job_id: int | None) -> str:
    """A job's reference kept on ``tables.background.BackgroundJob`` rows."""
    return f"{_QUEUE_NAME}:{job_id}"


def local_periodic(cron: str, periodic_id: str, **options: Any) -> Callable[[Any], Any]:
    """``app.periodic`` with the cron read in Novokuznetsk time, not UTC.

    procrastinate evaluates a schedule with ``croniter`` on UNIX timestamps, which it reads in
    UTC ("5 0 1 * *" would be 07:05 local). A ``croniter`` started from an aware local time
    keeps that zone for every later timestamp, so it is put in the periodic task's cached
    ``croniter`` (the one place procrastinate reads the schedule from).

    :param cron: five fields (minute … weekday) or six (the sixth: seconds), local time.
    """

    def decorate(task: Any) -> Any:
        task = app.periodic(cron=cron, periodic_id=periodic_id, **options)(task)
        periodic = app.periodic_registry.periodic_tasks[(task.name, periodic_id)]
        periodic.__dict__["croniter"] = croniter.croniter(cron, dt.datetime.now(LOCAL_TZ))
        return task

    return decorate


def next_tick(task_name: str, periodic_id: str, after: dt.datetime) -> dt.datetime:
    """When the schedule fires next after ``after`` (local time; for tests and the docs)."""
    periodic = app.periodic_registry.periodic_tasks[(task_name, periodic_id)]
    stamp = periodic.croniter.get_next(ret_type=float, start_time=after.timestamp())
    return dt.datetime.fromtimestamp(stamp, LOCAL_TZ)
