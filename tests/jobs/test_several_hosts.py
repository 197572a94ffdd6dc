"""Several hosts on one PostgreSQL and one Redis, as separate OS processes: two app servers
(uvicorn, as the Procfile's ``web``) and two job workers (``python -m jobs worker``, as its
``worker``). What one host starts, the other continues:

- a cabinet session made on one app host works on the other (sessions are database rows);
- the per-address login limit is counted once for both (Redis);
- a schedule tick of the real worker command runs once (the outbox's, every 15 s);
- an export started on one host runs on a worker and downloads from the other host.

(A worker killed in the middle of a job: tests/jobs/test_job_workers.py, same worker code.)
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import httpx
import pytest
from piccolo.apps.user.tables import BaseUser
from piccolo_api.session_auth.tables import SessionsBase

from cabinet.limits import LOGIN_PER_IP
from db.engine import is_sqlite
from tables.audit import SYSTEM
from tables.staff import set_role
from tests.support import report_data
from tests.support.factories import make_subscriber
from tests.support.live_server import live_server, redis_up

pytestmark = pytest.mark.skipif(is_sqlite(), reason="several hosts share a PostgreSQL (and Redis)")

ROOT = Path(__file__).resolve().parents[2]
REDIS_URL = "redis://127.0.0.1:6379/13"


@pytest.fixture(scope="module")
def hosts() -> Iterator[tuple[str, str]]:
    if not redis_up():
        if os.environ.get("CENTRA_TEST_REDIS"):
            pytest.fail("CENTRA_TEST_REDIS is set but no Redis answers on 127.0.0.1:6379")
        pytest.skip("no Redis on 127.0.0.1:6379")
    import redis

    redis.Redis.from_url(REDIS_URL).flushdb()
    env = {"REDIS_URL": REDIS_URL, "CENTRA_EMBEDDED_WORKER": "0"}
    workers = [subprocess.Popen([sys.executable, "-m", "jobs", "worker"], cwd=ROOT,
                                env={**os.environ, **env}, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL) for _ in range(2)]
    try:
        with live_server(env) as a, live_server(env) as b:
            for w in workers:
                assert w.poll() is None, "a worker exited"
            yield a, b
    finally:
        for w in workers:
            with contextlib.suppress(ProcessLookupError):
                w.send_signal(signal.SIGTERM)
        for w in workers:
            try:
                w.wait(timeout=30)
            except subprocess.TimeoutExpired:
                w.kill()
                w.wait()
        redis.Redis.from_url(REDIS_URL).flushdb()


def _token(html: str) -> str:
    return re.search(r'name="_csrf_token" value="([^"]+)"', html).group(1)


async def test_a_cabinet_session_from_one_host_works_on_the_other(hosts):
    a, b = hosts
    subscriber = await make_subscriber(password="correct-horse-1")
    async with httpx.AsyncClient(base_url=a, timeout=60) as on_a:
        page = await on_a.get("/cabinet/login")
        login = await on_a.post("/cabinet/login", data={
            "contract_number": subscriber.contract_number, "password": "correct-horse-1",
            "_csrf_token": _token(page.text)})
        assert login.status_code in (302, 303), login.text
        cookies = on_a.cookies
    async with httpx.AsyncClient(base_url=b, timeout=60, cookies=cookies) as on_b:
        dashboard = await on_b.get("/cabinet/")
        assert dashboard.status_code == 200 and subscriber.contract_number in dashboard.text


async def test_the_login_limit_is_counted_once_for_both_hosts(hosts):
    async def attempt(base: str, contract: str) -> int:
        async with httpx.AsyncClient(base_url=base, timeout=60) as c:
            page = await c.get("/cabinet/login")
            return (await c.post("/cabinet/login", data={
                "contract_number": contract, "password": "guess-guess",
                "_csrf_token": _token(page.text)})).status_code

    for n in range(LOGIN_PER_IP.max_hits):
        assert await attempt(hosts[n % 2], str(600000 + n)) == 401
    assert await attempt(hosts[0], "699999") == 429
    assert await attempt(hosts[1], "699998") == 429


async def test_a_tick_of_the_real_workers_runs_once(hosts):
    # The outbox's schedule fires every 15 s; both workers defer each tick.
    deadline = time.monotonic() + 120
    conn = await asyncpg.connect(os.environ["DATABASE_URL"])
    try:
        while True:
            ticks = await conn.fetch(
                "SELECT args->>'timestamp' AS tick, count(*) AS n FROM procrastinate_jobs "
                "WHERE task_name = 'messages.send' GROUP BY 1")
            if len(ticks) >= 3 or time.monotonic() > deadline:
                break
            await asyncio.sleep(1)
        workers = await conn.fetchval("SELECT count(*) FROM procrastinate_workers")
    finally:
        await conn.close()
    assert len(ticks) >= 3
    assert {t["n"] for t in ticks} == {1}, ticks
    assert workers >= 2


async def test_an_export_started_on_one_host_downloads_from_the_other(hosts):
    a, b = hosts
    await report_data.build()
    rows = await BaseUser(username="host-manager", password="pbkdf2_sha256$no-login", active=True,
                          admin=True, email="host-manager@centra.test").save()
    await set_role(rows[0]["id"], "manager", actor=SYSTEM)
    session = {"id": (await SessionsBase.create_session(rows[0]["id"])).token}
    params = {"from": "2026-10", "to": "2026-10"}
    async with httpx.AsyncClient(base_url=a, timeout=60, cookies=session) as on_a:
        page = await on_a.get("/reports/")
        started = await on_a.post("/reports/jobs", data={
            "_csrf_token": _token(page.text), "kind": "raw", "slug": "ledger", "fmt": "csv", **params})
        assert started.status_code == 303, started.text
        job_page = started.headers["location"]
        direct = (await on_a.get("/reports/data/ledger/export.csv", params=params)).content
    async with httpx.AsyncClient(base_url=b, timeout=60, cookies=session) as on_b:
        deadline = time.monotonic() + 90
        while "Готово" not in (text := (await on_b.get(job_page)).text):
            assert "Ошибка" not in text, text
            assert time.monotonic() < deadline, "the export did not finish"
            await asyncio.sleep(0.5)
        download = await on_b.get(f"{job_page}/file")
    assert download.status_code == 200
    assert download.content == direct
