"""Test set-up (never import this module from tests: it would run twice and
point the environment at a second database; shared helpers live in
tests/support/helpers.py): a fresh database per session (SQLite file, or PostgreSQL when
``CENTRA_TEST_PG`` names a server's admin URL), built by the real migrations.

The engine is chosen here, before anything imports ``piccolo_conf``.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

_TMP = Path(tempfile.mkdtemp(prefix="centra-test-"))
PG_ADMIN_URL = os.environ.get("CENTRA_TEST_PG", "").strip()
PG_DB_NAME = f"centra_test_{uuid.uuid4().hex[:10]}"


def _pg_url(admin_url: str, dbname: str) -> str:
    parts = urlsplit(admin_url)
    return urlunsplit(parts._replace(path=f"/{dbname}"))


async def _pg_admin(sql: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(PG_ADMIN_URL)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


if PG_ADMIN_URL:
    asyncio.run(_pg_admin(f'CREATE DATABASE "{PG_DB_NAME}"'))
    os.environ["DATABASE_URL"] = _pg_url(PG_ADMIN_URL, PG_DB_NAME)
else:
    os.environ.pop("DATABASE_URL", None)
    os.environ["CENTRA_SQLITE_PATH"] = str(_TMP / "test.sqlite3")
os.environ.setdefault("CENTRA_SECRET_KEY", "test-secret-key")
# A developer's .env is for `make run`, not for the suite.
os.environ["CENTRA_ENV_FILE"] = ""
# Passwords hashed with argon2id at its minimal cost: the suite's time goes to behaviour. The
# tests of the cost itself set "standard" (production's, and the only value it accepts).
os.environ["CENTRA_PASSWORD_HASHING"] = "test-minimal"
# Development mode (as `make run`): production refuses to start without its settings, and
# the tests that check production build their own Settings (tests/test_production_start.py).
os.environ["CENTRA_DEBUG"] = "1"
# No background schedules in tests (the live servers would otherwise send the outbox and run the
# billing ticks behind a test's back): tests of the job engine start their own workers.
os.environ.setdefault("CENTRA_EMBEDDED_WORKER", "0")
# Many tests log staff in from one address; the limit itself has its own test.
os.environ.setdefault("CENTRA_ADMIN_LOGIN_LIMIT", "100000")
os.environ["PICCOLO_CONF"] = "piccolo_conf"

import httpx  # noqa: E402
from piccolo.apps.migrations.commands.forwards import run_forwards  # noqa: E402
from piccolo.engine.postgres import PostgresEngine  # noqa: E402
from piccolo.utils.sync import run_sync  # noqa: E402, F401

from piccolo_conf import DB  # noqa: E402
from tests.support.outside import engine, gateway  # noqa: E402, F401
from tests.support.payments import stripe_sandbox  # noqa: E402, F401


def pytest_report_header(config: pytest.Config) -> str:
    return f"centra database engine: {'postgres' if isinstance(DB, PostgresEngine) else 'sqlite'}"


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if PG_ADMIN_URL:
        asyncio.run(_pg_admin(f'DROP DATABASE IF EXISTS "{PG_DB_NAME}" WITH (FORCE)'))


@pytest.fixture(scope="session", autouse=True)
async def database() -> AsyncIterator[None]:
    response = await run_forwards(app_name="all")
    assert response.success, response.message
    if isinstance(DB, PostgresEngine):
        from db.engine import keep_pooled_session

        await DB.start_connection_pool(reset=keep_pooled_session)  # as app.py does
    yield
    if isinstance(DB, PostgresEngine):
        await DB.close_connection_pool()


@pytest.fixture(autouse=True)
async def clean_tables() -> AsyncIterator[None]:
    """Every test starts on an empty schema."""
    yield
    from tests.support.helpers import app_tables

    tables = app_tables()
    if isinstance(DB, PostgresEngine):
        names = ", ".join(f'"{t._meta.tablename}"' for t in tables)
        await DB.run_ddl(f"TRUNCATE {names} RESTART IDENTITY CASCADE")
    else:
        for table in reversed(tables):
            await DB.run_ddl(f'DELETE FROM "{table._meta.tablename}"')
    from cabinet import site

    site.forget_cached()
    from cabinet.limits import counters

    await counters().reset()  # rate limits: no test inherits another's attempts
    from settings import get_settings

    get_settings.cache_clear()


@pytest.fixture
def setenv(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[str, str], None]]:
    """Set an environment variable for one test, with the settings re-read."""
    from settings import get_settings

    def set_(name: str, value: str) -> None:
        monkeypatch.setenv(name, value)
        get_settings.cache_clear()

    yield set_
    get_settings.cache_clear()  # monkeypatch restores the variable next; nothing reads it between


@pytest.fixture(scope="session")
def app():
    from app import create_app

    return create_app()


@pytest.fixture
async def client(app) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c
