"""Benchmark 4: the admin's list, search and filter pages over 100,000 subscribers and the
ledger, through the admin's API, against the raw queries.

    .venv/bin/python bench/admin_api.py [--engine pg|sqlite|both] [--quick] [--keep]

A list page in Piccolo Admin is two requests, one after the other: ``GET
/admin/api/tables/<table>/count/?<filters>`` then ``GET /admin/api/tables/<table>/?__readable=true
&__order=…&__page=…&<filters>``. Each case is timed as that pair, sequentially (one clerk),
median of ``--repeat``, next to the same two queries on the raw driver (the SQL piccolo_api
builds, written out). The plan column says whether the database reads a whole big table
(ledger, payments) for the page: ``EXPLAIN`` on PostgreSQL, ``EXPLAIN QUERY PLAN`` on SQLite.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import SCALES, Dataset, Server, dataset, machine, ok, query, table

BIG_TABLES = ("ledger_entry", "payment")
TARGET_PAGE_MS = 300  # "usable": a list page within a third of a second


def cases(data: Dataset) -> list[dict[str, Any]]:
    """(name, table, API params, raw count SQL, raw rows SQL) with values from the dataset."""
    n = data.info["subscribers"]
    sub = n // 2
    period = query(data, "SELECT MIN(period) FROM ledger_entry WHERE kind = 'charge'")[0][0]
    intent = query(data, f"SELECT provider_intent_id FROM payment WHERE subscriber = {sub} "
                         "AND provider_intent_id IS NOT NULL LIMIT 1")
    intent = intent[0][0] if intent else "pi_none"
    s_cols = ("subscriber.id, subscriber.contract_number, subscriber.full_name, subscriber.phone, "
              "subscriber.email, subscriber.address, subscriber.tariff, subscriber.router_rented, "
              "subscriber.status, subscriber.connected_on, subscriber.terminated_on, "
              "subscriber.must_change_password, subscriber.failed_logins, subscriber.locked_until, "
              "subscriber.balance, subscriber.created_at, a.id AS address_readable, "
              "t.id AS tariff_readable")
    s_from = ("subscriber LEFT JOIN address a ON a.id = subscriber.address "
              "LEFT JOIN tariff t ON t.id = subscriber.tariff")
    l_cols = "ledger_entry.*, s.id AS subscriber_readable"
    l_from = "ledger_entry LEFT JOIN subscriber s ON s.id = ledger_entry.subscriber"
    p_from = "payment LEFT JOIN subscriber s ON s.id = payment.subscriber"
    like = "ILIKE" if data.engine == "pg" else "LIKE"
    last_page = max(1, n // 15 - 1)
    # Parameters as the admin's filter form sends them: a text box with its match type, a
    # choice (status, kind) as the value and an operator, never a match type.
    out = [
        ("subscribers, page 1", "subscriber", {"__order": "contract_number"}, "", "contract_number", 0),
        (f"subscribers, page {last_page:,}", "subscriber", {"__order": "contract_number",
                                                           "__page": str(last_page)},
         "", "contract_number", (last_page - 1) * 15),
        ("subscribers, name contains", "subscriber",
         {"full_name": "Кузнецова", "full_name__match": "contains", "__order": "contract_number"},
         f"subscriber.full_name {like} '%Кузнецова%'", "contract_number", 0),
        ("subscribers, contract contains", "subscriber",
         {"contract_number": "1234", "contract_number__match": "contains", "__order": "contract_number"},
         f"subscriber.contract_number {like} '%1234%'", "contract_number", 0),
        ("subscribers, status = suspended", "subscriber",
         {"status": "suspended", "status__operator": "e", "__order": "contract_number"},
         "subscriber.status = 'suspended'", "contract_number", 0),
        ("ledger, page 1", "ledger_entry", {"__order": "-id"}, "", "id DESC", 0),
        ("ledger, one subscriber", "ledger_entry", {"subscriber": str(sub), "__order": "-id"},
         f"ledger_entry.subscriber = {sub}", "id DESC", 0),
        (f"ledger, period = {period}", "ledger_entry",
         {"period": period, "period__match": "exact", "__order": "-id"},
         f"ledger_entry.period = '{period}'", "id DESC", 0),
        ("ledger, kind = payment", "ledger_entry",
         {"kind": "payment", "kind__operator": "e", "__order": "-id"},
         "ledger_entry.kind = 'payment'", "id DESC", 0),
        ("payments, page 1", "payment", {"__order": "-id"}, "", "id DESC", 0),
        ("payments, intent id (exact)", "payment",
         {"provider_intent_id": intent, "provider_intent_id__match": "exact", "__order": "-id"},
         f"payment.provider_intent_id = '{intent}'", "id DESC", 0),
        ("audit, page 1", "audit_entry", {"__order": "-id"}, "", "id DESC", 0),
    ]
    result = []
    for name, tbl, params, where, order, offset in out:
        cond = f" WHERE {where}" if where else ""
        cols, src = {"subscriber": (s_cols, s_from), "ledger_entry": (l_cols, l_from),
                     "payment": ("payment.*, s.id AS subscriber_readable", p_from),
                     "audit_entry": ("audit_entry.*", "audit_entry")}[tbl]
        result.append({
            "name": name, "table": tbl, "params": params,
            "count_sql": f"SELECT COUNT(*) FROM {tbl}{cond}",
            "rows_sql": f"SELECT {cols} FROM {src}{cond} ORDER BY {tbl}.{order} LIMIT 15 OFFSET {offset}",
        })
    return result


class Raw:
    """The raw driver, timed."""

    def __init__(self, data: Dataset) -> None:
        self.data = data

    async def __aenter__(self) -> Raw:
        if self.data.engine == "pg":
            import asyncpg

            from db.pg_pool import BACK_OFFICE_SETTINGS

            # The admin's own session settings (its pool, db/pg_pool.py): same plans.
            self.conn: Any = await asyncpg.connect(self.data.info["database_url"],
                                                   server_settings=BACK_OFFICE_SETTINGS)
        else:
            import aiosqlite

            self.conn = await aiosqlite.connect(self.data.info["sqlite_path"])
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.conn.close()

    async def run(self, sql: str) -> list[Any]:
        if self.data.engine == "pg":
            return await self.conn.fetch(sql)
        async with self.conn.execute(sql) as cursor:
            return await cursor.fetchall()

    async def plan(self, sql: str) -> str:
        if self.data.engine == "pg":
            rows = await self.conn.fetch(f"EXPLAIN {sql}")
            return "\n".join(r[0] for r in rows)
        async with self.conn.execute(f"EXPLAIN QUERY PLAN {sql}") as cursor:
            return "\n".join(str(r[-1]) for r in await cursor.fetchall())


def scans_big_table(plan: str, engine: str, *, count: bool) -> list[str]:
    """Big tables the plan reads whole. PostgreSQL says "Seq Scan". SQLite says "SCAN t" both
    for a full read and for a walk in key order that a LIMIT stops after a page; the walk
    reads everything only when counting or when the rows are sorted afterwards."""
    found = []
    for tbl in BIG_TABLES:
        if engine == "pg" and f"Seq Scan on {tbl}" in plan:
            found.append(tbl)
        scan = any(line.strip().startswith(f"SCAN {tbl}") for line in plan.splitlines())
        if engine == "sqlite" and scan and (count or "USE TEMP B-TREE" in plan):
            found.append(tbl)
    return found


async def measure(data: Dataset, url: str, repeat: int, all_cases: list[dict[str, Any]]) -> list[list]:
    import httpx

    rows = []
    async with httpx.AsyncClient(base_url=url, timeout=120) as client, Raw(data) as raw:
        await client.get("/admin/")
        token = client.cookies.get("csrftoken")
        login = await client.post("/admin/public/login/", headers={"X-CSRFToken": token},
                                  json={"username": data.info["staff"][0],
                                        "password": data.info["staff"][1]})
        login.raise_for_status()
        for case in all_cases:
            api = f"/admin/api/tables/{case['table']}/"
            count_params = {k: v for k, v in case["params"].items() if k != "__order"}
            row_params = {"__readable": "true", "__page_size": "15", **case["params"]}
            api_counts, api_rows, raw_counts, raw_rows = [], [], [], []
            answer, estimated = None, False
            for _ in range(repeat):
                start = time.perf_counter()
                count = await client.get(api + "count/", params=count_params)
                middle = time.perf_counter()
                page = await client.get(api, params=row_params)
                end = time.perf_counter()
                count.raise_for_status()
                page.raise_for_status()
                answer = count.json()["count"], len(page.json()["rows"])
                estimated = bool(count.json().get("estimate"))
                api_counts.append(middle - start)
                api_rows.append(end - middle)
                start = time.perf_counter()
                await raw.run(case["count_sql"])
                middle = time.perf_counter()
                await raw.run(case["rows_sql"])
                raw_counts.append(middle - start)
                raw_rows.append(time.perf_counter() - middle)
            # An estimated count runs no COUNT(*) at all (backoffice/crud.py).
            count_plan = "" if estimated else await raw.plan(case["count_sql"])
            scans = sorted(set(scans_big_table(count_plan, data.engine, count=True)
                               + scans_big_table(await raw.plan(case["rows_sql"]), data.engine,
                                                 count=False)))
            ms = {k: statistics.median(v) * 1000 for k, v in (
                ("ac", api_counts), ("ar", api_rows), ("rc", raw_counts), ("rr", raw_rows))}
            page_ms, raw_ms = ms["ac"] + ms["ar"], ms["rc"] + ms["rr"]
            total = f"{answer[0]:,}{' (estimate)' if estimated else ''}" if answer else ""
            rows.append([data.engine, case["name"], total,
                         f"{ms['ac']:.1f}", f"{ms['ar']:.1f}", f"{page_ms:.1f}", f"{ms['rc']:.1f}",
                         f"{ms['rr']:.1f}", f"{page_ms / raw_ms:.1f}×", ", ".join(scans) or "no",
                         ok(page_ms <= TARGET_PAGE_MS and not scans)])
            print(table(HEADERS, rows[-1:]), flush=True)
    return rows


HEADERS = ["engine", "admin list page", "count", "API count ms", "API rows ms", "page ms",
           "raw count ms", "raw rows ms", "page / raw", "reads a whole big table", "usable"]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--engine", choices=["pg", "sqlite", "both"], default="both")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--repeat", type=int, default=None)
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args(argv)
    scale = "quick" if args.quick else "full"
    repeat = args.repeat or (3 if args.quick else 5)
    engines = ["pg", "sqlite"] if args.engine == "both" else [args.engine]
    print(f"admin_api: {machine()}; one clerk, sequential, median of {repeat}", flush=True)
    rows = []
    for engine in engines:
        subscribers, months = SCALES[scale][engine]
        with dataset(engine, subscribers, months, keep=args.keep) as data:
            print(f"\n{data.label}", flush=True)
            all_cases = cases(data)
            with Server("app:create_app", data.env) as server:
                rows += asyncio.run(measure(data, server.url, repeat, all_cases))
    print(f"\n## Benchmark 4: admin list pages (count + rows), target ≤ {TARGET_PAGE_MS} ms and "
          "no full read of the ledger or payments\n")
    print(table(HEADERS, rows))


if __name__ == "__main__":
    main()
