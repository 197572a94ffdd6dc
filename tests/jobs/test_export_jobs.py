"""Long exports as jobs (jobs/exports.py): the page returns at once with a progress bar that
refreshes, the worker writes the file into the database, the page then offers it; failures are
shown with their error and can be retried from the admin; files expire."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re

import openpyxl
import pytest
from piccolo.apps.user.tables import BaseUser
from piccolo_api.session_auth.tables import SessionsBase

from jobs.engine import app
from jobs.worker import run_worker
from tables.audit import SYSTEM, Actor, AuditEntry
from tables.background import BackgroundJob, JobFileChunk, delete_expired_files, mark_failed
from tables.staff import set_role
from tests.support import report_data
from tests.support.helpers import csrf_from

OCTOBER = {"from": "2026-10", "to": "2026-10"}




async def _manager(client, name: str = "clerk"):
    rows = await BaseUser(username=name, password="pbkdf2_sha256$no-login", active=True, admin=True,
                          email=f"{name}@centra.test").save()
    await set_role(rows[0]["id"], "manager", actor=SYSTEM)
    client.cookies.set("id", (await SessionsBase.create_session(rows[0]["id"])).token)
    return rows[0]["id"]


async def _start(client, **fields: str):
    page = await client.get("/reports/")
    data = {"_csrf_token": csrf_from(page.text), **fields}
    return await client.post("/reports/jobs", data=data, follow_redirects=False)


async def _work() -> None:
    """A worker that runs what is queued and stops (as the Procfile's worker would run it)."""
    await run_worker(queues=["exports", "probe-fail"], wait=False, install_signal_handlers=False,
                     name="test-worker")


def _job_id(response) -> int:
    assert response.status_code == 303, response.text
    match = re.fullmatch(r"/reports/jobs/(\d+)", response.headers["location"])
    assert match, response.headers["location"]
    return int(match.group(1))


async def test_a_raw_export_runs_as_a_job_with_progress_and_offers_its_file(client, engine):
    await report_data.build()
    await _manager(client)
    job_id = _job_id(await _start(client, kind="raw", slug="ledger", fmt="csv", **OCTOBER))

    # The page answers at once: queued, a progress bar, and it reloads itself.
    page = await client.get(f"/reports/jobs/{job_id}")
    assert page.status_code == 200
    assert "В очереди" in page.text and "<progress" in page.text
    assert 'http-equiv="refresh"' in page.text
    assert "/file" not in page.text

    await _work()
    job = await BackgroundJob.objects().get(BackgroundJob.id == job_id)
    assert job.status == "done" and job.progress == job.total == 9 and job.attempts == 1
    assert job.expires_at > job.finished_at
    assert await JobFileChunk.count().where(JobFileChunk.job == job_id) >= 1
    page = await client.get(f"/reports/jobs/{job_id}")
    assert "Готово" in page.text and 'value="100"' in page.text
    assert 'http-equiv="refresh"' not in page.text
    assert f"/reports/jobs/{job_id}/file" in page.text

    download = await client.get(f"/reports/jobs/{job_id}/file")
    assert download.status_code == 200
    assert 'filename="centra-ledger-2026-10.csv"' in download.headers["content-disposition"]
    # The same file as the direct download of the same selection.
    direct = await client.get("/reports/data/ledger/export.csv", params=OCTOBER)
    assert download.content == direct.content
    rows = list(csv.reader(io.StringIO(download.content.decode("utf-8-sig")), delimiter=";"))
    assert rows[0][0] == "№ проводки" and len(rows) == 1 + 9


async def test_xlsx_exports_of_raw_rows_and_of_a_report(client, engine):
    await report_data.build()
    await _manager(client)
    raw = _job_id(await _start(client, kind="raw", slug="payment-list", fmt="xlsx", **OCTOBER))
    report = _job_id(await _start(client, kind="report", slug="payments", fmt="xlsx", **OCTOBER))
    await _work()
    for job_id, data_rows in ((raw, 3), (report, None)):
        response = await client.get(f"/reports/jobs/{job_id}/file")
        assert response.status_code == 200, (job_id, response.text)
        book = openpyxl.load_workbook(io.BytesIO(response.content), read_only=True)
        assert "Отбор" in book.sheetnames
        rows = list(book.worksheets[0].iter_rows(values_only=True))
        if data_rows is not None:
            assert len(rows) == 1 + data_rows
    done = await BackgroundJob.select(BackgroundJob.title, BackgroundJob.status).order_by(BackgroundJob.id)
    assert [r["status"] for r in done] == ["done", "done"]
    assert done[1]["title"] == "Платежи, 2026-10 (XLSX)"


async def test_bad_requests_are_refused_in_russian_and_jobs_are_private(client, engine):
    await _manager(client)
    refused = await _start(client, kind="raw", slug="salaries", fmt="csv", **OCTOBER)
    assert refused.status_code == 400 and "Нет такой выгрузки" in refused.text
    refused = await _start(client, kind="raw", slug="ledger", fmt="pdf", **OCTOBER)
    assert refused.status_code == 400 and "csv или xlsx" in refused.text
    refused = await _start(client, kind="raw", slug="ledger", fmt="csv", **{"from": "2026-13"})
    assert refused.status_code == 400
    assert await BackgroundJob.count() == 0

    job_id = _job_id(await _start(client, kind="raw", slug="ledger", fmt="csv", **OCTOBER))
    await _work()
    client.cookies.clear()
    await _manager(client, "other-manager")
    assert (await client.get(f"/reports/jobs/{job_id}")).status_code == 404
    assert (await client.get(f"/reports/jobs/{job_id}/file")).status_code == 404


async def test_a_failed_export_shows_its_error_and_the_admin_form_runs_it_again(client, engine):
    from jobs.exports import retry

    await report_data.build()
    await _manager(client)
    job_id = _job_id(await _start(client, kind="raw", slug="ledger", fmt="csv", **OCTOBER))
    await _work()
    first_run = (await BackgroundJob.objects().get(BackgroundJob.id == job_id)).engine_ref
    # As if its attempts had been used up while the database was away.
    await mark_failed(job_id, ConnectionError("server closed the connection"), will_retry=False)
    page = await client.get(f"/reports/jobs/{job_id}")
    assert "Ошибка" in page.text and "server closed the connection" in page.text
    assert 'http-equiv="refresh"' not in page.text

    with pytest.raises(ValueError, match="не найдено"):
        await retry(job_id + 1000, actor=Actor("admin"))
    assert "снова в очереди" in await retry(job_id, actor=Actor("admin", staff_id=None))
    with pytest.raises(ValueError, match="только задание с ошибкой"):
        await retry(job_id, actor=Actor("admin"))  # queued now: nothing to retry
    assert await AuditEntry.count().where(AuditEntry.action == "job.retried") == 1
    await _work()
    job = await BackgroundJob.objects().get(BackgroundJob.id == job_id)
    assert job.status == "done" and job.error == "" and job.engine_ref != first_run  # run again
    assert (await client.get(f"/reports/jobs/{job_id}/file")).status_code == 200


async def test_a_failing_task_is_recorded_for_staff_with_its_error(engine):
    @app.task(name="probe.fails", queue="probe-fail", retry=False)
    async def fails() -> None:
        raise RuntimeError("the SMS gateway refused the login")

    try:
        await fails.defer_async()
        await _work()
    finally:
        del app.tasks["probe.fails"]
    [row] = await BackgroundJob.select().where(BackgroundJob.task_name == "probe.fails")
    assert row["status"] == "failed" and row["attempts"] == 1
    assert row["error"] == "RuntimeError: the SMS gateway refused the login"
    assert row["created_by"] == "расписание"


async def test_files_expire(client, engine):
    await report_data.build()
    await _manager(client)
    job_id = _job_id(await _start(client, kind="raw", slug="ledger", fmt="csv", **OCTOBER))
    await _work()
    job = await BackgroundJob.objects().get(BackgroundJob.id == job_id)
    assert await delete_expired_files(now=job.expires_at - dt.timedelta(minutes=1)) == 0
    assert await delete_expired_files(now=job.expires_at + dt.timedelta(minutes=1)) == 1
    assert await JobFileChunk.count() == 0
    assert (await client.get(f"/reports/jobs/{job_id}/file")).status_code == 404
    assert "Срок хранения файла истёк" in (await client.get(f"/reports/jobs/{job_id}")).text
