"""Piccolo configuration: the database engine and the registered apps.

SQLite file by default (``CENTRA_SQLITE_PATH``); PostgreSQL when
``DATABASE_URL`` names it.
"""

from piccolo.conf.apps import AppRegistry

from db.pg_pool import LanedPostgresEngine
from db.sqlite_pool import PooledSQLiteEngine
from settings import database_url, sqlite_path

_url = database_url()
if _url:
    # The back office borrows from a small pool of its own (db/pg_pool.py).
    DB = LanedPostgresEngine(config={"dsn": _url}, log_queries=False)
else:
    _path = sqlite_path()
    _path.parent.mkdir(parents=True, exist_ok=True)
    # A generous busy timeout: writers queue instead of failing with "database is locked".
    # Kept connections and WAL: see db/sqlite_pool.py and docs/performance.md.
    DB = PooledSQLiteEngine(path=str(_path), timeout=30)

APP_REGISTRY = AppRegistry(
    apps=[
        "tables.piccolo_app",
        "piccolo_admin.piccolo_app",
        "piccolo_api.mfa.authenticator.piccolo_app",
    ]
)
