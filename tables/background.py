"""Background jobs as staff see them: long work with progress, its file, and failed scheduled work.

The job engine (``jobs/``) runs the work; this module keeps what people read about it, on both
engines, in the application's own tables:

- :class:`BackgroundJob`, one row per export a clerk started (queued → running with progress →
  done with a file, or failed with the error), and one per scheduled task that failed (its error,
  whether the engine retries it), so the admin lists running and failed work with its errors;
- :class:`JobFileChunk`, the finished file in 1 MiB pieces in the database, so that any app host
  can serve it (no shared disk needed) and a download streams without holding the file in memory.
  Files expire (:func:`file_ttl`); :func:`delete_expired_files` removes them.

Retrying a failed job (:func:`requeue`) marks the row queued again and hands back the task and
its arguments for the engine to defer; the export task then works on the same row.
"""

from __future__ import annotations

import datetime as dt
import enum
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from piccolo.columns import JSON, BigInt, Bytea, ForeignKey, Integer, OnDelete, Text, Timestamptz, Varchar
from piccolo.columns.readable import Readable
from piccolo.table import Table

from db.engine import write_transaction
from settings import get_settings
from tables.audit import Actor, write_audit
from tables.calendar import utcnow
from tables.choices import choices


def file_ttl() -> dt.timedelta:
    """How long a finished file can be downloaded (``CENTRA_EXPORT_TTL_HOURS``)."""
    return dt.timedelta(hours=get_settings().export_ttl_hours)


#: Size of one stored piece of a file.
CHUNK = 1024 * 1024


class JobStatus(enum.StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    RETRYING = "retrying"
    DONE = "done"
    FAILED = "failed"
    EXPIRED = "expired"


JOB_STATUS_LABELS = {
    "queued": "В очереди",
    "running": "Выполняется",
    "retrying": "Ошибка, будет повтор",
    "done": "Готово",
    "failed": "Ошибка",
    "expired": "Файл удалён (срок истёк)",
}
#: States after which nothing changes by itself.
FINAL = {JobStatus.DONE, JobStatus.FAILED, JobStatus.EXPIRED}


class BackgroundJob(Table, help_text="Фоновые задания: выгрузки и сбои задач по расписанию"):
    title = Varchar(length=200, help_text="Задание")
    task_name = Varchar(length=100, help_text="Задача: имя задачи в очереди")
    task_kwargs = JSON(default="{}", help_text="Параметры задачи")
    status = Varchar(length=10, choices=choices(JobStatus, JOB_STATUS_LABELS), default="queued",
                     index=True, help_text="Состояние")
    progress = BigInt(default=0, help_text="Сделано: строк или шагов")
    total = BigInt(null=True, default=None, help_text="Всего: строк или шагов, если известно")
    attempts = Integer(default=0, help_text="Попыток")
    error = Text(default="", help_text="Ошибка: последняя")
    created_by = Varchar(length=150, default="", help_text="Кто запустил")
    created_by_id = Integer(null=True, default=None, help_text="Сотрудник: id, кто запустил")
    created_at = Timestamptz(help_text="Создано")
    started_at = Timestamptz(null=True, default=None, help_text="Начато")
    finished_at = Timestamptz(null=True, default=None, help_text="Закончено")
    engine_ref = Varchar(length=60, default="", index=True,
                         help_text="Номер в очереди: задание движка, для сверки")
    file_name = Varchar(length=200, default="", help_text="Файл")
    media_type = Varchar(length=100, default="", help_text="Тип файла")
    file_size = BigInt(default=0, help_text="Размер файла, байт")
    expires_at = Timestamptz(null=True, default=None, help_text="Файл хранится до")

    @classmethod
    def get_readable(cls) -> Readable:
        return Readable(template="%s: %s", columns=[cls.id, cls.title])


class JobFileChunk(Table, help_text="Части файлов фоновых заданий"):
    job = ForeignKey(BackgroundJob, null=False, on_delete=OnDelete.cascade, help_text="Задание")
    seq = Integer(help_text="Номер части")
    data = Bytea(help_text="Данные")


def _now(now: dt.datetime | None) -> dt.datetime:
    return now or utcnow()


async def create_job(title: str, task_name: str, task_kwargs: dict[str, Any], *, actor: Actor,
                     now: dt.datetime | None = None) -> int:
    """A queued job row for work a person started; returns its id. The task's arguments are kept
    with the id added (``job_id``), as the task receives them, so a retry can defer them again."""
    async with write_transaction():
        rows = await BackgroundJob.insert(BackgroundJob(
            title=title[:200], task_name=task_name, status=JobStatus.QUEUED, created_by=actor.name,
            created_by_id=actor.staff_id, created_at=_now(now),
        )).returning(BackgroundJob.id)
        job_id = rows[0]["id"]
        await BackgroundJob.update({BackgroundJob.task_kwargs: json.dumps(
            {"job_id": job_id, **task_kwargs}, ensure_ascii=False)}).where(BackgroundJob.id == job_id)
    return job_id


async def get_job(job_id: int) -> dict[str, Any] | None:
    return await BackgroundJob.select().where(BackgroundJob.id == job_id).first()


async def mark_running(job_id: int, *, engine_ref: str, attempt: int, total: int | None = None,
                       now: dt.datetime | None = None) -> None:
    await BackgroundJob.update({
        BackgroundJob.status: JobStatus.RUNNING, BackgroundJob.engine_ref: engine_ref,
        BackgroundJob.attempts: attempt, BackgroundJob.started_at: _now(now),
        BackgroundJob.progress: 0, BackgroundJob.total: total, BackgroundJob.error: "",
    }).where(BackgroundJob.id == job_id)


async def set_progress(job_id: int, done: int, total: int | None = None) -> None:
    values: dict[Any, Any] = {BackgroundJob.progress: done}
    if total is not None:
        values[BackgroundJob.total] = total
    await BackgroundJob.update(values).where(BackgroundJob.id == job_id)


async def store_file(job_id: int, path: str, *, file_name: str, media_type: str,
                     now: dt.datetime | None = None) -> int:
    """Keep the finished file in the database (replacing an earlier attempt's) and mark the job
    done, in one transaction; returns the size in bytes."""
    now = _now(now)
    size = 0
    async with write_transaction():
        await JobFileChunk.delete().where(JobFileChunk.job == job_id)
        with open(path, "rb") as handle:
            seq = 0
            while data := handle.read(CHUNK):
                await JobFileChunk.insert(JobFileChunk(job=job_id, seq=seq, data=data))
                seq += 1
                size += len(data)
        await BackgroundJob.update({
            BackgroundJob.status: JobStatus.DONE, BackgroundJob.finished_at: now,
            BackgroundJob.file_name: file_name, BackgroundJob.media_type: media_type,
            BackgroundJob.file_size: size, BackgroundJob.expires_at: now + file_ttl(),
            BackgroundJob.error: "",
        }).where(BackgroundJob.id == job_id)
    return size


async def store_upload(job_id: int, read: Callable[[int], Awaitable[bytes]]) -> int:
    """Keep a file a person uploaded for the job to work on (its input), piece by piece, in the
    caller's transaction; returns its size. :func:`finish_job` removes it."""
    size = seq = 0
    async with write_transaction():
        await JobFileChunk.delete().where(JobFileChunk.job == job_id)
        while data := await read(CHUNK):
            await JobFileChunk.insert(JobFileChunk(job=job_id, seq=seq, data=data))
            seq += 1
            size += len(data)
    return size


async def finish_job(job_id: int, *, error: str = "", now: dt.datetime | None = None) -> None:
    """Work without a file to offer is over: done, or failed for good with ``error`` (a reason
    to show, not a passing fault: retrying would not help). Its uploaded input is removed."""
    async with write_transaction():
        await JobFileChunk.delete().where(JobFileChunk.job == job_id)
        await BackgroundJob.update({
            BackgroundJob.status: JobStatus.FAILED if error else JobStatus.DONE,
            BackgroundJob.finished_at: _now(now), BackgroundJob.error: _error_text(error),
        }).where(BackgroundJob.id == job_id)


async def file_chunks(job_id: int) -> AsyncIterator[bytes]:
    """The stored file, piece by piece (one query per piece: bounded memory)."""
    seq = 0
    while True:
        row = await JobFileChunk.select(JobFileChunk.data).where(
            (JobFileChunk.job == job_id) & (JobFileChunk.seq == seq)).first()
        if row is None:
            return
        yield bytes(row["data"])
        seq += 1


def _error_text(error: BaseException | str) -> str:
    text = error if isinstance(error, str) else f"{type(error).__name__}: {error}"
    return text[:2000]


async def mark_failed(job_id: int, error: BaseException | str, *, will_retry: bool,
                      now: dt.datetime | None = None) -> None:
    await BackgroundJob.update({
        BackgroundJob.status: JobStatus.RETRYING if will_retry else JobStatus.FAILED,
        BackgroundJob.error: _error_text(error),
        BackgroundJob.finished_at: None if will_retry else _now(now),
    }).where(BackgroundJob.id == job_id)


async def record_task_failure(task_name: str, task_kwargs: dict[str, Any], *, engine_ref: str,
                              attempt: int, error: BaseException | str, will_retry: bool,
                              now: dt.datetime | None = None) -> int:
    """A scheduled (or other untracked) task failed: one row per engine job, updated by its
    later attempts, so staff see the failure and its error."""
    now = _now(now)
    values = {
        BackgroundJob.status: JobStatus.RETRYING if will_retry else JobStatus.FAILED,
        BackgroundJob.error: _error_text(error), BackgroundJob.attempts: attempt,
        BackgroundJob.finished_at: None if will_retry else now,
    }
    async with write_transaction():
        row = await BackgroundJob.select(BackgroundJob.id).where(
            BackgroundJob.engine_ref == engine_ref).first()
        if row:
            await BackgroundJob.update(values).where(BackgroundJob.id == row["id"])
            return row["id"]
        rows = await BackgroundJob.insert(BackgroundJob(
            title=f"Задача по расписанию {task_name}", task_name=task_name,
            task_kwargs=json.dumps(task_kwargs, ensure_ascii=False), created_by="расписание",
            created_at=now, started_at=now, engine_ref=engine_ref,
            **{column._meta.name: value for column, value in values.items()},
        )).returning(BackgroundJob.id)
        return rows[0]["id"]


async def set_engine_ref(job_id: int, engine_ref: str) -> None:
    """The engine's job now working for this row (after a retry was deferred)."""
    await BackgroundJob.update({BackgroundJob.engine_ref: engine_ref}).where(BackgroundJob.id == job_id)


async def record_task_success(engine_ref: str, *, attempt: int, now: dt.datetime | None = None) -> None:
    """A task with a failure on record succeeded on a later attempt."""
    await BackgroundJob.update({
        BackgroundJob.status: JobStatus.DONE, BackgroundJob.attempts: attempt,
        BackgroundJob.finished_at: _now(now),
    }).where((BackgroundJob.engine_ref == engine_ref) & (BackgroundJob.status != JobStatus.DONE))


async def requeue(job_id: int, *, actor: Actor, now: dt.datetime | None = None) -> tuple[str, dict[str, Any]]:
    """Mark a failed job queued again (with an audit entry); returns the task and its arguments
    for the engine to defer.

    :raises ValueError: the job does not exist or has not failed.
    """
    async with write_transaction():
        row = await get_job(job_id)
        if row is None:
            raise ValueError("Задание не найдено")
        if row["status"] != JobStatus.FAILED:
            raise ValueError(f"Повторить можно только задание с ошибкой; это — "
                             f"«{JOB_STATUS_LABELS[row['status']]}»")
        await BackgroundJob.update({
            BackgroundJob.status: JobStatus.QUEUED, BackgroundJob.finished_at: None,
        }).where(BackgroundJob.id == job_id)
        await write_audit(action="job.retried", object_type="background_job", object_id=job_id,
                          actor=actor, object_repr=row["title"],
                          message=f"Повтор после ошибки: {row['error'][:200]}")
    kwargs = row["task_kwargs"]
    return row["task_name"], json.loads(kwargs) if isinstance(kwargs, str) else dict(kwargs)


async def delete_expired_files(now: dt.datetime | None = None) -> int:
    """Remove the files whose time is over; their jobs say so. Returns how many."""
    now = _now(now)
    async with write_transaction():
        rows = await BackgroundJob.select(BackgroundJob.id).where(
            (BackgroundJob.status == JobStatus.DONE) & (BackgroundJob.expires_at < now))
        ids = [r["id"] for r in rows]
        if ids:
            await JobFileChunk.delete().where(JobFileChunk.job.is_in(ids))
            await BackgroundJob.update({BackgroundJob.status: JobStatus.EXPIRED}).where(
                BackgroundJob.id.is_in(ids))
    return len(ids)
