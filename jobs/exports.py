"""Long exports as jobs: the page returns at once, the worker writes the file with progress.

``start_export`` (called by the reports pages) records a :class:`tables.background.BackgroundJob`
and defers ``exports.run`` with its id. The task writes the file to a temporary path, counting
rows into the job's progress (at most once a second), then keeps the file in the database
(``tables.background.store_file``), so any app host serves the download; files expire
(``exports.expire``, hourly). A failure is recorded on the same row by the worker's middleware
(``jobs.worker.record_outcome``); ``retry`` (the admin's form) queues a failed job again.
"""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
import time
from typing import Any

import anyio
import procrastinate

from jobs.engine import RETRY, app, engine_ref, local_periodic
from settings import get_settings
from tables.audit import Actor

logger = logging.getLogger("centra.jobs")

EXPORT_TASK = "exports.run"
#: An export that failed for a passing reason (the database restarted) is tried twice more.
EXPORT_RETRY = procrastinate.RetryStrategy(max_attempts=3, exponential_wait=5)
#: Seconds between two progress writes of one job.
PROGRESS_EVERY = 1.0

FORMATS = {"csv": "text/csv; charset=utf-8", "xlsx": None}


def _filters(slug: str, kind: str, params: dict[str, str]):
    from tables.calendar import utcnow
    from tables.reports import REPORTS, Filters, local_today

    spec = REPORTS.get(slug) if kind == "report" else None
    return Filters.parse(params, today=local_today(utcnow()), spec=spec)


def describe(kind: str, slug: str, fmt: str, params: dict[str, str]) -> str:
    """The job's title, in Russian; raises ``ValueError`` for what cannot be exported."""
    from tables.reports import REPORTS
    from tables.reports.raw import RAW_EXPORTS

    if fmt not in FORMATS:
        raise ValueError("Формат: csv или xlsx")
    if kind == "raw" and slug in RAW_EXPORTS:
        title = RAW_EXPORTS[slug].title
    elif kind == "report" and slug in REPORTS:
        if fmt != "xlsx":
            raise ValueError("Отчёт в фоне выгружается в Excel (XLSX)")
        title = REPORTS[slug].title
    else:
        raise ValueError("Нет такой выгрузки")
    f = _filters(slug, kind, params)
    span = f.month_from if f.month_from == f.month_to else f"{f.month_from} — {f.month_to}"
    return f"{title}, {span} ({fmt.upper()})"


async def start_export(kind: str, slug: str, fmt: str, params: dict[str, str], *, actor: Actor,
                       parameters: list[tuple[str, str]] | None = None) -> int:
    """Record the export and queue it; returns the job's id (the page to show).

    :param kind: ``raw`` (ledger, payments: every row of a period) or ``report`` (a report's table).
    :param params: the filter fields as typed (``from``, ``to``, ``town``…).
    :param parameters: the selection in words, for the XLSX sheet "Отбор".
    """
    from tables.background import create_job

    title = describe(kind, slug, fmt, params)
    kwargs = {"kind": kind, "slug": slug, "fmt": fmt, "params": params,
              "parameters": [list(p) for p in parameters or []]}
    job_id = await create_job(title, EXPORT_TASK, kwargs, actor=actor)
    await run_export.configure(queue=get_settings().export_queue).defer_async(job_id=job_id, **kwargs)
    return job_id


async def retry(job_id: int, *, actor: Actor) -> str:
    """Queue a failed job again (the admin's "Повторить задание"); returns a message."""
    from tables.background import requeue, set_engine_ref

    task_name, kwargs = await requeue(job_id, actor=actor)
    try:
        # Long work a person started (exports, bank statements) runs on the exports' queue.
        queue = get_settings().export_queue if "job_id" in kwargs else None
        engine_job = await app.configure_task(task_name, queue=queue).defer_async(**kwargs)
    except procrastinate.exceptions.AlreadyEnqueued:
        return "Такая задача уже стоит в очереди: повтор не нужен"
    if task_name != EXPORT_TASK:
        await set_engine_ref(job_id, engine_ref(engine_job))
    return f"Задание №{job_id} снова в очереди"


class JobProgress:
    """Writes a job's progress at most every ``PROGRESS_EVERY`` seconds."""

    def __init__(self, job_id: int, total: int | None) -> None:
        self.job_id, self.total, self.done, self._last = job_id, total, 0, 0.0

    async def add(self, rows: int) -> None:
        from tables.background import set_progress

        self.done += rows
        if time.monotonic() - self._last >= PROGRESS_EVERY:
            self._last = time.monotonic()
            await set_progress(self.job_id, self.done, self.total)

    async def reached(self, done: int, total: int) -> None:
        """``done`` of ``total`` (for work that counts from the start)."""
        self.total = total
        await self.add(done - self.done)


async def _write_raw(slug: str, fmt: str, f: Any, path: str, progress: JobProgress,
                     parameters: list[tuple[str, str]]) -> None:
    from tables.reports.exports import XlsxWriter
    from tables.reports.raw import RAW_EXPORTS, raw_converters, raw_csv, raw_rows

    if fmt == "csv":
        with open(path, "wb") as handle:
            first = True
            async for chunk in raw_csv(slug, f):
                handle.write(chunk)
                lines = chunk.count(b"\n") - (1 if first else 0)  # the header is no row
                first = False
                await progress.add(lines)
        return
    export = RAW_EXPORTS[slug]
    writer = XlsxWriter(path, export.report_columns, export.title)
    converters = raw_converters(export.columns)
    async for batch in raw_rows(slug, f):
        await anyio.to_thread.run_sync(writer.write_fast, batch, converters)
        await progress.add(len(batch))
    await anyio.to_thread.run_sync(writer.close, parameters)


@app.task(name=EXPORT_TASK, queue="exports", retry=EXPORT_RETRY, pass_context=True)
async def run_export(context: procrastinate.JobContext, job_id: int, kind: str, slug: str, fmt: str,
                     params: dict[str, str], parameters: list[list[str]] | None = None) -> dict[str, Any]:
    """Write one export into the job's file."""
    from tables.background import mark_running, set_progress, store_file
    from tables.reports import build_report
    from tables.reports.exports import XLSX_MEDIA_TYPE, export_filename, write_report_xlsx
    from tables.reports.raw import raw_count

    job = context.job
    await mark_running(job_id, engine_ref=engine_ref(job.id), attempt=job.attempts + 1)
    f = _filters(slug, kind, params)
    pairs = [(str(a), str(b)) for a, b in parameters or []]
    fd, path = tempfile.mkstemp(prefix="centra-job-", suffix=f".{fmt}")
    os.close(fd)
    try:
        if kind == "raw":
            total = await raw_count(slug, f)
            await set_progress(job_id, 0, total)
            progress = JobProgress(job_id, total)
            await _write_raw(slug, fmt, f, path, progress, pairs)
            rows = progress.done
            name = export_filename(slug, f, fmt)
        else:
            report = await build_report(slug, f)
            rows = len(report.rows)
            await set_progress(job_id, 0, rows)
            await anyio.to_thread.run_sync(write_report_xlsx, report, path, pairs)
            from tables.reports import REPORTS

            name = export_filename(slug, f, fmt, period="period" in REPORTS[slug].uses)
        await set_progress(job_id, rows, rows)
        media_type = XLSX_MEDIA_TYPE if fmt == "xlsx" else FORMATS["csv"]
        size = await store_file(job_id, path, file_name=name, media_type=media_type or "")
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
    return {"rows": rows, "bytes": size}


@local_periodic("17 * * * *", "hourly")
@app.task(name="exports.expire", queue="housekeeping", retry=RETRY)
async def expire_files(timestamp: int) -> int:
    """Remove the files of exports whose time is over."""
    from tables.background import delete_expired_files

    return await delete_expired_files()

