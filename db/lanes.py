"""Which lane a request's database work runs in: the site's or the back office's.

The back office (the admin, managers' reports) reads far more per request than a
subscriber's page (an exact count over millions of ledger rows, a year of payments), so
both engines give it resources of its own: SQLite separate read turns
(``db/sqlite_pool.py``), PostgreSQL a small pool of its own (``db/pg_pool.py``).
A clerk's slow query then waits behind other clerks', never in front of a subscriber's page.
``app.back_office_lane`` enters the lane for every request under the back office's paths.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar

SITE, BACK_OFFICE = "site", "back office"
_lane: ContextVar[str] = ContextVar("centra_db_lane", default=SITE)


def current_lane() -> str:
    return _lane.get()


@contextlib.contextmanager
def back_office_reads() -> Iterator[None]:
    """Database work inside runs in the back office's lane (see module doc)."""
    token = _lane.set(BACK_OFFICE)
    try:
        yield
    finally:
        _lane.reset(token)
