"""Development entry point behind ``make run``.

Applies migrations, loads demo data into an empty database, prints where to
open the system and how to log in, then serves it with uvicorn.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys

import uvicorn

from settings import PROJECT_DIR, database_url, get_settings, sqlite_path


def migrate() -> None:
    subprocess.run(
        [sys.executable, "-m", "piccolo.main", "migrations", "forwards", "all"],
        cwd=PROJECT_DIR, check=True, stdout=subprocess.DEVNULL,
    )


async def seed() -> bool:
    from piccolo.engine.postgres import PostgresEngine

    from piccolo_conf import DB
    from tables.commands.demo import load_demo

    if isinstance(DB, PostgresEngine):
        await DB.start_connection_pool()
    try:
        return await load_demo()
    finally:
        if isinstance(DB, PostgresEngine):
            await DB.close_connection_pool()


def main() -> None:
    from tables.commands.demo import logins_text

    settings = get_settings()
    migrate()
    loaded = asyncio.run(seed())
    where = "PostgreSQL (DATABASE_URL)" if database_url() else f"SQLite file {sqlite_path()}"
    base = f"http://{settings.host}:{settings.port}"
    print(f"\nCentra is starting on {where}{' with fresh demo data' if loaded else ''}.")
    print(f"  site and cabinet: {base}/   cabinet: {base}/cabinet/   admin: {base}/admin/")
    print(logins_text(), "\n", flush=True)
    uvicorn.run("app:create_app", factory=True, host=settings.host, port=settings.port,
                log_level=os.environ.get("LOG_LEVEL", "info"))


if __name__ == "__main__":
    main()
