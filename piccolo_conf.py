"""Piccolo configuration: the database engine and the registered apps.

SQLite file by default (``CENTRA_SQLITE_PATH``); PostgreSQL when
``DATABASE_URL`` names it.
"""

from piccolo.conf.apps import AppRegistry

from settings import database_url, sqlite_path
from tables.pg_pool import LanedPostgresEngine
from tables.sqlite_pool import PooledSQLiteEngine

_url = database_url()
if _url:
    # The back office borrows from a small pool of its own (tables/pg_pool.py).
    DB = LanedPostgresEngine(config={"dsn": _url}, log_queries=False)
else:
    _path = sqlite_path()
    _path.parent.mkdir(parents=True, exist_ok=True)
    # A generous busy timeout: writers queue instead of failing with "database is locked".
    # Kept connections and WAL: see tables/sqlite_pool.py and docs/performance.md.
    DB = PooledSQLiteEngine(path=str(_path), timeout=30)

APP_REGISTRY = AppRegistry(
    apps=[
        "tables.piccolo_app",
        "piccolo_admin.piccolo_app",
        "piccolo_api.mfa.authenticator.piccolo_app",
    ]
)
