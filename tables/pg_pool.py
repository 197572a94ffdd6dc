"""Piccolo's PostgreSQL engine with a small pool of its own for the back office.

One asyncpg pool served everything: ten slow back-office queries at once would have kept
every subscriber's page waiting for a connection, and each exact count over millions of
ledger rows ran as a parallel scan that took every core of a small database machine (two
clerks re-counting the ledger by kind cut the cabinet's dashboard to a quarter of its
throughput; docs/performance.md, benchmark 6). Work done in the back office's lane
(``tables/lanes.py``: the admin, managers' reports) now borrows from a second pool of at
most ``back_office_connections``, whose sessions run with ``back_office_settings`` (by
default no parallel workers: one backend process per query). Clerks then queue behind
each other, and the database keeps cores for the site: with two to eight clerks re-counting
the ledger, the dashboard kept 53–57% of its throughput instead of 8–23%.

Everything else is Piccolo's own: ``pool`` is the lane's pool wherever Piccolo reads it
(queries outside transactions, and the connection a transaction takes and gives back, both
within the same request's lane).
"""

from __future__ import annotations

from typing import Any

import asyncpg
from asyncpg.pool import Pool
from piccolo.engine.postgres import PostgresEngine

from tables.lanes import BACK_OFFICE, current_lane

#: One backend process per back-office query, so the cores stay with the site's pages; and the
#: planner told that reading an index's rows is cheap (SSD storage, the usual production
#: advice): without parallel workers it otherwise read all 11M ledger rows for a year's
#: charges (1.2 s) instead of that year's index range (0.5 s).
BACK_OFFICE_SETTINGS = {"max_parallel_workers_per_gather": "0", "random_page_cost": "1.1"}


class LanedPostgresEngine(PostgresEngine):
    """``PostgresEngine`` whose back-office lane has a pool of its own (see module doc).

    :param back_office_connections: the back office's pool size: how many of its queries
        run at once (the others wait for a connection).
    :param back_office_settings: PostgreSQL settings of the back office's sessions.
    """

    def __init__(self, *args: Any, back_office_connections: int = 2,
                 back_office_settings: dict[str, str] | None = None, **kwargs: Any) -> None:
        self._site_pool: Pool | None = None
        self._back_office_pool: Pool | None = None
        super().__init__(*args, **kwargs)
        self.back_office_connections = back_office_connections
        self.back_office_settings = dict(BACK_OFFICE_SETTINGS if back_office_settings is None
                                         else back_office_settings)

    @property  # type: ignore[override]
    def pool(self) -> Pool | None:
        if self._back_office_pool is not None and current_lane() == BACK_OFFICE:
            return self._back_office_pool
        return self._site_pool

    @pool.setter
    def pool(self, value: Pool | None) -> None:
        self._site_pool = value

    async def start_connection_pool(self, **kwargs: Any) -> None:
        if self._site_pool is not None:
            await super().start_connection_pool(**kwargs)  # Piccolo's "already exists" warning
            return
        await super().start_connection_pool(**kwargs)
        config = {**self.config, **kwargs}
        config["server_settings"] = {**config.get("server_settings", {}), **self.back_office_settings}
        config.update(min_size=0, max_size=self.back_office_connections)
        self._back_office_pool = await asyncpg.create_pool(**config)

    async def close_connection_pool(self) -> None:
        if self._back_office_pool is not None:
            pool, self._back_office_pool = self._back_office_pool, None
            await pool.close()
        await super().close_connection_pool()
