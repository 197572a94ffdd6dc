"""Bank statements as jobs: the office's upload and confirmation return at once; the worker reads
the file and books it, with progress, on the exports' queue (``jobs/exports.py``: the same
``BackgroundJob`` rows, progress writes, failure records and the admin's retry).

- ``bank.import``: the uploaded file is kept with its job (``tables.background.store_upload``);
  the task reads it twice line by line (a parse pass that refuses a malformed file naming the
  line, then match and store in batches: ``tables.payments.bank.load_statement``). A malformed
  file fails the job for good with that message, shown on the statement's page; nothing is
  stored or booked.
- ``bank.confirm``: books the confirmed statement batch by batch
  (``tables.payments.bank.book_statement``); a failed or interrupted run leaves whole batches
  booked, and its retry books the rest.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from typing import Any

import procrastinate

from jobs.engine import app, engine_ref
from jobs.exports import EXPORT_RETRY, JobProgress
from settings import get_settings
from tables.audit import Actor

IMPORT_TASK = "bank.import"
CONFIRM_TASK = "bank.confirm"


def _actor(actor: dict[str, Any]) -> Actor:
    return Actor(name=str(actor.get("name", "")), staff_id=actor.get("staff_id"))


async def start_import(file_name: str, read: Any, *, actor: Actor) -> int:
    """A statement that is loading, its job, and the uploaded file kept with the job; then the
    job queued. Returns the statement's id (its page shows the progress).

    :param read: ``await read(n)`` gives the next piece of the upload (``b""`` at its end).
    """
    from db.engine import write_transaction
    from tables.background import create_job, store_upload
    from tables.payments.bank import create_statement, set_statement_job

    who = {"name": actor.name, "staff_id": actor.staff_id}
    async with write_transaction():
        statement_id = await create_statement(file_name, actor=actor)
        job_id = await create_job(f"Загрузка банковской выписки № {statement_id} ({file_name[:100]})",
                                  IMPORT_TASK, {"statement_id": statement_id, "actor": who}, actor=actor)
        await set_statement_job(statement_id, job_id)
        await store_upload(job_id, read)
    await run_import.configure(queue=get_settings().export_queue).defer_async(
        job_id=job_id, statement_id=statement_id, actor=who)
    return statement_id


async def start_booking(statement_id: int, *, actor: Actor) -> bool:
    """The clerk's confirmation: the draft is claimed once (a second press or a second clerk
    gets False) and its booking queued as a job."""
    from db.engine import write_transaction
    from tables.background import create_job
    from tables.payments.bank import set_statement_job, start_confirmation

    who = {"name": actor.name, "staff_id": actor.staff_id}
    async with write_transaction():
        if not await start_confirmation(statement_id, actor=actor):
            return False
        job_id = await create_job(f"Проведение банковской выписки № {statement_id}", CONFIRM_TASK,
                                  {"statement_id": statement_id, "actor": who}, actor=actor)
        await set_statement_job(statement_id, job_id)
    await run_booking.configure(queue=get_settings().export_queue).defer_async(
        job_id=job_id, statement_id=statement_id, actor=who)
    return True


@app.task(name=IMPORT_TASK, queue="exports", retry=EXPORT_RETRY, pass_context=True)
async def run_import(context: procrastinate.JobContext, job_id: int, statement_id: int,
                     actor: dict[str, Any]) -> dict[str, Any]:
    """Read, check, match and store an uploaded statement."""
    from tables.background import file_chunks, finish_job, mark_running, set_progress
    from tables.payments.bank import (
        BankStatement,
        StatementError,
        StatementStatus,
        check_statement,
        load_statement,
        refuse_statement,
    )

    job = context.job
    await mark_running(job_id, engine_ref=engine_ref(job.id), attempt=job.attempts + 1)
    row = await BankStatement.select(BankStatement.status, BankStatement.error).where(
        BankStatement.id == statement_id).first()
    if row is None or row["status"] == StatementStatus.FAILED:  # a retry of a refused file
        await finish_job(job_id, error=(row or {}).get("error") or "Выписка не найдена")
        return {"refused": True}
    if row["status"] != StatementStatus.IMPORTING:  # loaded by an earlier attempt
        await finish_job(job_id)
        return {"loaded": True}
    fd, path = tempfile.mkstemp(prefix="centra-statement-", suffix=".txt")
    try:
        with os.fdopen(fd, "wb") as handle:
            async for piece in file_chunks(job_id):
                handle.write(piece)

        def open_file():
            return open(path, "rb")  # the reader closes it

        try:
            if not os.path.getsize(path):
                raise StatementError("Файл выписки не сохранился: загрузите его ещё раз")
            scan = await check_statement(open_file, get_settings().payee_account)
        except StatementError as exc:
            await refuse_statement(statement_id, str(exc))
            await finish_job(job_id, error=f"Выписка не загружена: {exc}")
            return {"refused": True}
        await set_progress(job_id, 0, scan.incoming)
        progress = JobProgress(job_id, scan.incoming)
        result = await load_statement(statement_id, open_file, scan, actor=_actor(actor),
                                      progress=progress.reached)
        await set_progress(job_id, scan.incoming, scan.incoming)
        await finish_job(job_id)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
    return {"statement": statement_id, "counts": result.counts}


@app.task(name=CONFIRM_TASK, queue="exports", retry=EXPORT_RETRY, pass_context=True)
async def run_booking(context: procrastinate.JobContext, job_id: int, statement_id: int,
                      actor: dict[str, Any]) -> dict[str, Any]:
    """Book a confirmed statement, batch by batch (a retry books what is left)."""
    from tables.background import finish_job, mark_running
    from tables.payments.bank import book_statement

    job = context.job
    await mark_running(job_id, engine_ref=engine_ref(job.id), attempt=job.attempts + 1)
    progress = JobProgress(job_id, None)
    result = await book_statement(statement_id, actor=_actor(actor), progress=progress.reached)
    await finish_job(job_id)
    return {"booked": result.booked, "amount": result.booked_amount, "queued": result.queued,
            "duplicates": result.duplicates}
