"""Reports read from a real streaming replica (``DATABASE_REPLICA_URL``, db/replica.py).

The test starts its own throwaway primary cluster on a spare port, clones it with
``pg_basebackup -R`` into a streaming replica on another port, migrates the primary and loads the
demo, and runs the application against both (a uvicorn process, as in production):

- with the replica's replay paused, a town added on the primary is missing from the reports'
  town list: the list came from the replica; subscriber-facing reads stay on the primary;
- a replica lagging beyond the bound is not used (and the log says why);
- with the replica stopped, the reports still answer, from the primary, and the log says so.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
PG_BIN = next(iter(sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)), None) \
    if Path("/usr/lib/postgresql").exists() else None

pytestmark = pytest.mark.skipif(
    not os.environ.get("CENTRA_TEST_PG") or PG_BIN is None or os.geteuid() != 0,
    reason="needs PostgreSQL's server programs and root (runs them as the postgres user); "
           "runs with the PostgreSQL suite")


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _pg(*args: str) -> None:
    subprocess.run(["runuser", "-u", "postgres", "--", *args], check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.PIPE, timeout=120)


@pytest.fixture(scope="module")
def clusters() -> Iterator[tuple[str, str]]:
    """(primary URL, replica URL) of a fresh primary and its streaming replica."""
    tmp = Path(tempfile.mkdtemp(prefix="centra-replica-"))
    shutil.chown(tmp, "postgres")
    primary, standby = tmp / "primary", tmp / "replica"
    p_port, r_port = _port(), _port()
    started: list[Path] = []
    try:
        _pg(f"{PG_BIN}/initdb", "-D", str(primary), "-A", "trust", "-U", "postgres")
        _pg(f"{PG_BIN}/pg_ctl", "-D", str(primary), "-w", "-l", str(tmp / "primary.log"), "-o",
            f"-p {p_port} -k {tmp} -c listen_addresses=127.0.0.1 -c wal_level=replica", "start")
        started.append(primary)
        _pg(f"{PG_BIN}/pg_basebackup", "-h", "127.0.0.1", "-p", str(p_port), "-U", "postgres",
            "-D", str(standby), "-R", "-X", "stream")
        _pg(f"{PG_BIN}/pg_ctl", "-D", str(standby), "-w", "-l", str(tmp / "replica.log"), "-o",
            f"-p {r_port} -k {tmp} -c listen_addresses=127.0.0.1", "start")
        started.append(standby)
        yield (f"postgresql://postgres@127.0.0.1:{p_port}/postgres",
               f"postgresql://postgres@127.0.0.1:{r_port}/postgres")
    finally:
        for data in reversed(started):
            subprocess.run(["runuser", "-u", "postgres", "--", f"{PG_BIN}/pg_ctl", "-D", str(data),
                            "-m", "immediate", "stop"], capture_output=True, timeout=60)
        shutil.rmtree(tmp, ignore_errors=True)


async def _sql(url: str, sql: str) -> object:
    conn = await asyncpg.connect(url)
    try:
        return await conn.fetchval(sql)
    finally:
        await conn.close()


async def _caught_up(primary: str, replica: str) -> None:
    target = await _sql(primary, "SELECT pg_current_wal_lsn()::text")
    for _ in range(200):
        if await _sql(replica, f"SELECT pg_last_wal_replay_lsn() >= '{target}'::pg_lsn"):
            return
        await asyncio.sleep(0.1)
    raise AssertionError("the replica did not catch up")


def _env(primary: str, replica: str, **extra: str) -> dict[str, str]:
    env = {**os.environ, "DATABASE_URL": primary, "DATABASE_REPLICA_URL": replica,
           "PICCOLO_CONF": "piccolo_conf", "CENTRA_DEBUG": "1", "CENTRA_EMBEDDED_WORKER": "0",
           "PYTHONUNBUFFERED": "1", **extra}
    env.pop("CENTRA_TEST_PG", None)
    return env


async def test_reports_read_from_the_replica_and_survive_its_loss(clusters):
    from db.replica import Replica

    primary, replica = clusters
    env = _env(primary, replica, CENTRA_REPLICA_MAX_LAG="600", CENTRA_REPLICA_CHECK_EVERY="0")
    for command in (["migrations", "forwards", "all"], ["tables", "demo"]):
        subprocess.run([sys.executable, "-m", "piccolo.main", *command], cwd=ROOT, env=env, check=True,
                       stdout=subprocess.DEVNULL, timeout=600)
    await _caught_up(primary, replica)

    port = _port()
    log = tempfile.NamedTemporaryFile(prefix="centra-replica-app-", suffix=".log", delete=False)
    app = subprocess.Popen([sys.executable, "-m", "uvicorn", "app:create_app", "--factory", "--host",
                            "127.0.0.1", "--port", str(port), "--log-level", "warning"],
                           cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(base_url=base, timeout=60) as client:
            deadline = time.monotonic() + 180
            while True:
                try:
                    if (await client.get("/healthz")).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                assert app.poll() is None and time.monotonic() < deadline, "the app did not start"
                await asyncio.sleep(0.3)
            await client.get("/admin/")
            login = await client.post("/admin/public/login/",
                                      json={"username": "manager", "password": "centra-staff-2026"},
                                      headers={"X-CSRFToken": client.cookies.get("csrftoken")})
            assert login.status_code == 200, login.text
            assert "Новокузнецк" in (await client.get("/reports/")).text

            # Replay paused: what the primary gets now does not reach the replica.
            await _sql(replica, "SELECT pg_wal_replay_pause()")
            await _sql(primary, "INSERT INTO town (name) VALUES ('Город-на-первичном')")
            page = await client.get("/reports/")
            assert page.status_code == 200 and "Новокузнецк" in page.text
            assert "Город-на-первичном" not in page.text  # read from the replica
            from_replica = await client.get("/reports/data/ledger/export.csv")  # COPY on the standby
            assert from_replica.status_code == 200 and from_replica.content.count(b"\n") > 1

            # Beyond the bound it is not used; the reason goes to the log.
            await asyncio.sleep(2.5)
            strict = Replica(replica, max_lag=1, check_every=0)
            assert not await strict.usable() and "lags" in strict.reason
            await strict.close()

            # The replica goes away: the same page answers from the primary.
            await _stop_replica(replica)
            page = await client.get("/reports/")
            assert page.status_code == 200 and "Город-на-первичном" in page.text
            from_primary = await client.get("/reports/data/ledger/export.csv")
            assert from_primary.content == from_replica.content
            # A subscriber's page never needed the replica.
            assert (await client.get("/tariffs")).status_code == 200
    finally:
        app.terminate()
        app.wait(timeout=30)
        log.close()
    text = Path(log.name).read_text(errors="replace")
    assert "read replica does not answer" in text and "read from the primary" in text, text[-2000:]


async def _stop_replica(replica_url: str) -> None:
    data = await _sql(replica_url, "SHOW data_directory")
    subprocess.run(["runuser", "-u", "postgres", "--", f"{PG_BIN}/pg_ctl", "-D", str(data), "-m",
                    "immediate", "stop"], check=True, capture_output=True, timeout=60)
