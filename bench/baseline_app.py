"""The baseline the benchmarks compare the product with: a bare Litestar app that runs the
same SQL as the product's pages with the raw driver (asyncpg pool, or a small pool of open
aiosqlite connections) and returns a minimal page — no ORM, no templates, no middleware.

    uvicorn bench.baseline_app:create_app --factory   (DATABASE_URL or CENTRA_SQLITE_PATH)

Routes: ``/dashboard`` and ``/statement`` (cookie ``centra_session``), ``/lookup`` (quick-pay
search: ``?contract=`` or ``?town=&street=&house=&apartment=``), ``/lookup-page`` (the same
search answered with the product's quick-pay template, a reference row of benchmark 3),
``/healthz``.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import re
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import jinja2
from litestar import Litestar, Request, get
from litestar.response import Response
from markupsafe import Markup, escape

from cabinet.quickpay import MESSAGES, issue_ticket
from cabinet.site import SiteInfo
from tables.addresses import AMBIGUOUS, fresh, matching_streets, normalise, place_key, unique_ids
from tables.content import DEFAULT_HOTLINE, HOTLINE_KEY
from tables.payments.payment import MAX_AMOUNT, MIN_AMOUNT, payable_periods
from tables.payments.quick_pay import PayableContract
from tables.subscribers import mask_name
from web.formatting import FILTERS

LOCAL_TZ = ZoneInfo("Asia/Novokuznetsk")
SQLITE_CONNECTIONS = 4

# The SQL of the product's pages (``?`` placeholders; numbered for PostgreSQL).
SESSION_SUBSCRIBER = """
    SELECT s.id AS session_id, s.expiry_date, s.max_expiry_date, s.viewer,
           sub.id, sub.contract_number, sub.full_name, sub.status, sub.balance, sub.tariff,
           sub.address, sub.router_rented, sub.terminated_on, sub.connected_on,
           sub.must_change_password
    FROM subscriber_session s JOIN subscriber sub ON sub.id = s.user_id
    WHERE s.token = ?"""
TARIFF = """
    SELECT t.id, t.name, t.monthly_fee, t.router_fee, c.effective_from AS next_from,
           n.id AS next_id, n.name AS next_name, n.monthly_fee AS next_monthly_fee,
           n.router_fee AS next_router_fee
    FROM tariff t LEFT JOIN tariff_change c ON c.id = (
        SELECT x.id FROM tariff_change x WHERE x.subscriber = ? AND x.applied_at IS NULL
        ORDER BY x.effective_from LIMIT 1)
    LEFT JOIN tariff n ON n.id = c.tariff
    WHERE t.id = ?"""
OPEN_REQUESTS = """
    SELECT id, number, kind, status, created_at FROM service_request
    WHERE subscriber = ? AND status IN ('new', 'in_progress') ORDER BY created_at DESC"""
MAINTENANCE = """
    SELECT DISTINCT n.id, n.title, n.body, n.starts_at, n.ends_at
    FROM maintenance_area a
    JOIN news_item n ON n.id = a.news
    LEFT JOIN address aa ON aa.id = a.address
    JOIN address me ON me.id = ?
    JOIN street st ON st.id = me.street
    WHERE n.published = true AND n.kind = 'maintenance' AND n.starts_at <= ? AND n.ends_at >= ?
      AND n.published_at <= ?
      AND (a.town = st.town OR a.street = me.street
           OR (aa.street = me.street AND aa.house = me.house))
    ORDER BY n.starts_at"""
NEWS = """
    SELECT id, title, published_at FROM news_item
    WHERE kind = 'news' AND published = true AND published_at <= ?
    ORDER BY published_at DESC LIMIT 3"""
PROMISED = """
    SELECT id, subscriber, amount, period, granted_at, expires_at, reversed_at, created_by
    FROM promised_payment
    WHERE subscriber = ? AND (reversed_at IS NULL OR period = ?) ORDER BY id DESC"""
LEDGER_SUMMARY = """
    SELECT MIN(created_at) AS first, MAX(created_at) AS last,
           SUM(CASE WHEN created_at < ? THEN amount ELSE 0 END) AS opening
    FROM ledger_entry WHERE subscriber = ?"""
MONTH_ROWS = """
    SELECT id, created_at, kind, amount, period, comment FROM ledger_entry
    WHERE subscriber = ? AND created_at >= ? AND created_at < ? ORDER BY created_at, id"""
CONTRACT = """
    SELECT s.id, s.full_name, s.status, s.balance, a.house, st.name AS street, t.name AS town
    FROM subscriber s LEFT JOIN address a ON a.id = s.address
    LEFT JOIN street st ON st.id = a.street LEFT JOIN town t ON t.id = st.town WHERE """
BY_CONTRACT = CONTRACT + "s.contract_number = ?"
STREETS_OF_TOWN = "SELECT id, name FROM street WHERE town = ?"
ADDRESSES_OF_STREET = "SELECT id, house, apartment FROM address WHERE street = ?"
BY_ADDRESS = CONTRACT + "s.address = ?"


def _numbered(sql: str) -> str:
    count = iter(range(1, 100))
    return re.sub(r"\?", lambda _: f"${next(count)}", sql)


async def _no_reset(connection: Any) -> None:
    """No reset query when a connection goes back to the pool."""


class Database:
    """``fetch(sql, *args)`` → list of dicts, on asyncpg or on pooled aiosqlite connections."""

    def __init__(self) -> None:
        self.url = os.environ.get("DATABASE_URL", "").strip()
        self.pg = self.url.startswith(("postgres://", "postgresql://"))
        self.pool: Any = None
        self.sqlite: asyncio.Queue | None = None

    async def start(self) -> None:
        if self.pg:
            import asyncpg

            # asyncpg's defaults, as the notes' baselines; BENCH_BASELINE_POOL_RESET=skip gives it
            # the product's pool setting (no reset query on release, tables/db.py).
            skip = os.environ.get("BENCH_BASELINE_POOL_RESET") == "skip"
            self.pool = await asyncpg.create_pool(self.url, reset=_no_reset if skip else None)
            return
        import aiosqlite

        self.sqlite = asyncio.Queue()
        for _ in range(SQLITE_CONNECTIONS):
            conn = await aiosqlite.connect(os.environ["CENTRA_SQLITE_PATH"])
            conn.row_factory = aiosqlite.Row
            await self.sqlite.put(conn)

    async def stop(self) -> None:
        if self.pool:
            await self.pool.close()
        if self.sqlite:
            while not self.sqlite.empty():
                await (self.sqlite.get_nowait()).close()

    def time(self, moment: dt.datetime) -> Any:
        # Piccolo keeps aware datetimes on SQLite as str() of the UTC value.
        return moment if self.pg else str(moment.astimezone(dt.UTC))

    async def fetch(self, sql: str, *args: Any) -> list[dict[str, Any]]:
        if self.pg:
            rows = await self.pool.fetch(_numbered(sql), *args)
            return [dict(r) for r in rows]
        assert self.sqlite is not None
        conn = await self.sqlite.get()
        try:
            async with conn.execute(sql, args) as cursor:
                return [dict(r) for r in await cursor.fetchall()]
        finally:
            self.sqlite.put_nowait(conn)


DB = Database()


def _naive(value: Any) -> dt.datetime:
    return value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(value)


async def _subscriber(request: Request) -> dict[str, Any] | None:
    token = request.cookies.get("centra_session")
    if not token:
        return None
    rows = await DB.fetch(SESSION_SUBSCRIBER, token)
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    if not rows or _naive(rows[0]["expiry_date"]) <= now or _naive(rows[0]["max_expiry_date"]) <= now:
        return None
    return rows[0]


def _page(body: str) -> Response:
    return Response(content=f"<!doctype html><html lang=ru><body>{body}</body></html>",
                    media_type="text/html")


@get("/dashboard")
async def dashboard(request: Request) -> Response:
    sub = await _subscriber(request)
    if sub is None:
        return Response(content="login", status_code=303, headers={"Location": "/login"})
    now = dt.datetime.now(dt.UTC)
    tariff = await DB.fetch(TARIFF, sub["id"], sub["tariff"])
    requests = await DB.fetch(OPEN_REQUESTS, sub["id"])
    works = await DB.fetch(MAINTENANCE, sub["address"], DB.time(now + dt.timedelta(hours=24)),
                           DB.time(now), DB.time(now))
    news = await DB.fetch(NEWS, DB.time(now))
    local = now.astimezone(LOCAL_TZ)
    promised = await DB.fetch(PROMISED, sub["id"], f"{local.year:04d}-{local.month:02d}")
    return _page(f"<h1>Договор № {sub['contract_number']}</h1><p>Баланс: {sub['balance'] / 100:.2f}"
                 f"</p><p>Тариф {tariff[0]['name'] if tariff else ''}</p><p>Заявок: {len(requests)}, "
                 f"работ: {len(works)}, новостей: {len(news)}, обещанных: {len(promised)}</p>")


def _month_bounds(today: dt.date) -> tuple[dt.datetime, dt.datetime]:
    start = dt.datetime(today.year, today.month, 1, tzinfo=LOCAL_TZ)
    end = dt.datetime(today.year + today.month // 12, today.month % 12 + 1, 1, tzinfo=LOCAL_TZ)
    return start.astimezone(dt.UTC), end.astimezone(dt.UTC)


@get("/statement")
async def statement(request: Request) -> Response:
    sub = await _subscriber(request)
    if sub is None:
        return Response(content="login", status_code=303, headers={"Location": "/login"})
    start, end = _month_bounds(dt.datetime.now(LOCAL_TZ).date())
    summary = await DB.fetch(LEDGER_SUMMARY, DB.time(start), sub["id"])
    rows = await DB.fetch(MONTH_ROWS, sub["id"], DB.time(start), DB.time(end))
    opening = int(summary[0]["opening"] or 0)
    lines = "".join(f"<tr><td>{r['created_at']}</td><td>{r['amount']}</td></tr>" for r in rows)
    return _page(f"<h1>Выписка</h1><p>с {summary[0]['first']}</p><p>Входящий остаток {opening}</p>"
                 f"<table>{lines}</table>")


# The product keeps the directory as the quick-pay search reads it (tables/addresses.py:
# normalised street names per town, address ids per street, for 30 s, in maps of strings and
# ints); so does the baseline, so that both run the same SQL per search.
_streets: dict[int, tuple[float, dict[str, int]]] = {}
_places: dict[int, tuple[float, dict[str, int]]] = {}


async def _streets_in_town(town: int) -> dict[str, int]:
    if (cached := fresh(_streets, town)) is not None:
        return cached
    streets = unique_ids([(normalise(s["name"]), s["id"]) for s in await DB.fetch(STREETS_OF_TOWN, town)])
    _streets[town] = (time.monotonic(), streets)
    return streets


async def _addresses_on_street(street: int) -> dict[str, int]:
    if (cached := fresh(_places, street)) is not None:
        return cached
    places = unique_ids([(place_key(normalise(a["house"]), normalise(a["apartment"])), a["id"])
                         for a in await DB.fetch(ADDRESSES_OF_STREET, street)])
    _places[street] = (time.monotonic(), places)
    return places


async def _search(contract: str, town: int, street: str, house: str,
                  apartment: str) -> dict[str, Any] | None:
    """The quick-pay search (tables.payments.quick_pay.find_payable_contract) on the raw driver."""
    if contract:
        found = await DB.fetch(BY_CONTRACT, contract)
    else:
        wanted = normalise(street)
        ids = matching_streets(await _streets_in_town(town), wanted)
        found = []
        if len(ids) == 1 and ids[0] != AMBIGUOUS:
            place = (await _addresses_on_street(ids[0])).get(
                place_key(normalise(house), normalise(apartment)), AMBIGUOUS)
            if place != AMBIGUOUS:
                found = await DB.fetch(BY_ADDRESS, place)
    return found[0] if len(found) == 1 else None


@get("/lookup")
async def lookup(contract: str = "", town: int = 0, street: str = "", house: str = "",
                 apartment: str = "") -> Response:
    row = await _search(contract, town, street, house, apartment)
    if row is None:
        return _page("<p>Договор не найден</p>")
    return _page(f"<p>Найден договор: {row['full_name'].split()[0]}, {row['town']}, {row['street']}, "
                 f"д. {row['house']}</p>")


# --- the same search answered with the product's own page (a reference, not the target) ------
# A plain Jinja environment over the product's templates and filters, the layout's site data
# and the form's directory read once at startup by raw SQL: what rendering that page costs
# without the product's stack (CSRF check, middleware, session, limit, Litestar's template
# response). The CSRF field is a fixed string of the same length; nothing is checked.
SITE_HOTLINE = "SELECT value FROM site_setting WHERE key = ?"
SITE_FOOTER = ("SELECT slug, title FROM page WHERE published = true AND in_footer = true"
               " ORDER BY sort_order")
TOWNS = "SELECT id, name FROM town ORDER BY name"
STREET_NAMES = "SELECT DISTINCT name FROM street"
_templates: Any = None
_ROOT = Path(__file__).resolve().parent.parent
_page_context: dict[str, Any] = {}


async def _load_page_context() -> None:
    global _templates
    _templates = jinja2.Environment(
        loader=jinja2.FileSystemLoader([_ROOT / "web" / "templates", _ROOT / "cabinet" / "templates"]),
        autoescape=True, auto_reload=False)
    _templates.filters.update(FILTERS)
    hotline = await DB.fetch(SITE_HOTLINE, HOTLINE_KEY)
    info = SiteInfo(hotline=hotline[0]["value"] if hotline else DEFAULT_HOTLINE,
                    footer_pages=await DB.fetch(SITE_FOOTER), loaded_at=time.monotonic())
    _templates.globals["site"] = lambda: info
    names = sorted(r["name"] for r in await DB.fetch(STREET_NAMES))
    _page_context.update(
        towns=await DB.fetch(TOWNS), min_amount=MIN_AMOUNT, max_amount=MAX_AMOUNT,
        street_options=Markup("").join(Markup('<option value="{}">').format(escape(n)) for n in names),
        csrf_input=Markup(f'<input type="hidden" name="_csrf_token" value="{"x" * 128}" />'))


@get("/lookup-page")
async def lookup_page(request: Request, contract: str = "", town: int = 0, street: str = "",
                      house: str = "", apartment: str = "") -> Response:
    row = await _search(contract, town, street, house, apartment)
    found = PayableContract(id=row["id"], name=mask_name(row["full_name"]),
                            address=f"{row['town']}, {row['street']}, д. {row['house']}") if row else None
    periods = payable_periods()
    fields = {"contract_number": contract, "town": str(town or ""), "street": street, "house": house,
              "apartment": apartment, "by": "number" if contract else "address"}
    html = _templates.get_template("payments/quickpay.html").render(
        **_page_context, request=request, fields=fields, found=found, periods=periods,
        period=periods[-2], amount="", ticket=issue_ticket(found.id) if found else "",
        error=None if found else MESSAGES["not_found"])
    return Response(content=html, media_type="text/html")


@get("/healthz")
async def healthz() -> Response:
    return Response(content="ok", media_type="text/plain")


@asynccontextmanager
async def lifespan(app: Litestar) -> AsyncIterator[None]:
    await DB.start()
    await _load_page_context()
    try:
        yield
    finally:
        await DB.stop()


def create_app() -> Litestar:
    return Litestar(route_handlers=[dashboard, statement, lookup, lookup_page, healthz], lifespan=[lifespan])
