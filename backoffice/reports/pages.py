"""Manager reports at ``/reports/``: pages with a table and an SVG chart, CSV and XLSX exports.

Only a valid Piccolo Admin session of an active staff user (``backoffice.sessions``) gets
past the login page (401, no data); of those, managers and administrators with a second
factor see the reports, everyone else a 403 page saying why.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any
from urllib.parse import urlencode

from litestar import Controller, Request, Response, get, post
from litestar.connection import ASGIConnection
from litestar.datastructures import CacheControlHeader
from litestar.exceptions import (
    NotAuthorizedException,
    NotFoundException,
)
from litestar.handlers.base import BaseRouteHandler
from litestar.params import FromPath
from litestar.response import Redirect, Stream, Template

from backoffice.jobs import job_progress
from backoffice.office_pages import form_fields
from backoffice.roles import MFA_MESSAGE, mfa_missing
from backoffice.sessions import staff_account
from jobs.exports import start_export
from settings import get_settings
from tables.audit import Actor
from tables.background import JobStatus, file_chunks, get_job
from tables.calendar import utcnow
from tables.csvfile import CSV_MEDIA_TYPE
from tables.reports import REPORTS, Filters, ReportSpec, build_report, filter_choices, local_today
from tables.reports.accounting import ACCOUNTING, ONEC_ENCODING_NAME, accounting_onec, onec_filename
from tables.reports.exports import XLSX_MEDIA_TYPE, export_filename, report_csv, report_xlsx
from tables.reports.filters import CHANNEL_FILTERS
from tables.reports.raw import RAW_EXPORTS, raw_csv, raw_xlsx
from tables.staff import Role, role_of
from web.charts import draw
from web.errors import UserFacingError


class ReportsDenied(UserFacingError):
    """Refused with the reason shown on the page (role, or the missing second factor)."""

    status_code = 403


# Reports are the managers' tool (docs/roles.md); administrators see everything.
REPORT_ROLES = {Role.MANAGER, Role.ADMINISTRATOR}


async def staff_guard(connection: ASGIConnection, _handler: BaseRouteHandler) -> None:
    account = await staff_account(connection)
    if account is None:
        raise NotAuthorizedException("Войдите в офис под учётной записью сотрудника")
    role = await role_of(account)
    if role not in REPORT_ROLES:
        raise ReportsDenied(detail="Отчёты доступны руководителям и администраторам")
    # Reports and exports hold debtors' names, addresses and phones: a second factor for everyone.
    if await mfa_missing(role, account, personal_data=True):
        raise ReportsDenied(detail=MFA_MESSAGE)
    connection.state["staff"] = {"id": account.id, "username": account.username, "role": role}


def login_required(request: Request, exc: NotAuthorizedException) -> Response:
    return Template("reports/login.html", status_code=401, context={"next": request.url.path})


def _filters(request: Request, spec: ReportSpec | None) -> Filters:
    try:
        return Filters.parse(dict(request.query_params), today=local_today(utcnow()), spec=spec)
    except ValueError as exc:
        # shown on the error page (a plain HTTPException's detail is not)
        raise UserFacingError(detail=str(exc)) from None


def _parameters(spec_title: str, filters: Filters, uses: frozenset[str],
                choices: dict[str, list[dict[str, Any]]]) -> list[tuple[str, str]]:
    """Human-readable selection for the XLSX "Отбор" sheet."""
    names = {key: {r["id"]: r["name"] for r in rows} for key, rows in choices.items()}
    out = [("Отчёт", spec_title)]
    if "period" in uses:
        out.append(("Период", f"{filters.month_from} — {filters.month_to}"))
    if "on" in uses and filters.on:
        out.append(("На дату", filters.on.strftime("%d.%m.%Y")))
    if "town" in uses:
        out.append(("Город", names["towns"].get(filters.town, "все") if filters.town else "все"))
    if "tariff" in uses:
        out.append(("Тариф", names["tariffs"].get(filters.tariff, "все") if filters.tariff else "все"))
    if "channel" in uses:
        out.append(("Канал оплаты", CHANNEL_FILTERS.get(filters.channel, "все")))
    out.append(("Сформирован", utcnow().strftime("%d.%m.%Y %H:%M UTC")))
    return out


def _download(content: Any, media_type: str, filename: str) -> Stream:
    return Stream(content=content, media_type=media_type,
                  headers={"Content-Disposition": f'attachment; filename="{filename}"'})


#: Filter fields an export form may carry (everything else is ignored).
EXPORT_FIELDS = ("from", "to", "town", "tariff", "group", "on", "channel")


async def _job_for(request: Request, job_id: int) -> dict[str, Any]:
    """The job, if this staff member may see it: its author, or an administrator."""
    job = await get_job(job_id)
    staff = request.state["staff"]
    if job is None or job["task_name"] != "exports.run" or (
            job["created_by_id"] != staff["id"] and staff.get("role") != Role.ADMINISTRATOR):
        raise NotFoundException()
    return job


def _spec(slug: str) -> ReportSpec:
    spec = REPORTS.get(slug)
    if spec is None:
        raise NotFoundException()
    return spec


class ReportsController(Controller):
    path = "/reports"
    guards = [staff_guard]
    # debtors' contacts and money figures must not stay in shared caches or the browser's
    cache_control = CacheControlHeader(no_store=True)
    exception_handlers = {NotAuthorizedException: login_required}

    @get("/", name="reports:index")
    async def index(self, request: Request) -> Template:
        today = local_today(utcnow())
        filters = Filters.parse({}, today=today)
        return Template("reports/index.html", context={
            "reports": REPORTS.values(), "raw_exports": RAW_EXPORTS.values(), "filters": filters,
            "staff": request.state.get("staff"), "choices": await filter_choices(),
        })

    @get("/{slug:str}", name="reports:page")
    async def page(self, request: Request, slug: FromPath[str]) -> Template:
        spec = _spec(slug)
        choices = await filter_choices()
        context: dict[str, Any] = {"spec": spec, "reports": REPORTS.values(), "choices": choices,
                                   "channels": CHANNEL_FILTERS, "staff": request.state.get("staff")}
        try:
            filters = Filters.parse(dict(request.query_params), today=local_today(utcnow()), spec=spec)
        except ValueError as exc:
            context.update(error=str(exc), filters=Filters.parse({}, today=local_today(utcnow()),
                                                                 spec=spec))
            return Template("reports/report.html", context=context, status_code=400)
        if "on" in spec.uses and filters.on is None:
            filters = replace(filters, on=local_today(utcnow()))
        report = await build_report(slug, filters)
        query = urlencode(filters.query(spec))
        charts = [draw(chart) for chart in spec.charts(report, filters)]
        context.update(filters=filters, report=report, charts=charts, query=query)
        return Template("reports/report.html", context=context)

    @get("/{slug:str}/export.csv", name="reports:csv")
    async def export_csv(self, request: Request, slug: FromPath[str]) -> Stream:
        spec = _spec(slug)
        filters = _filters(request, spec)
        report = await build_report(slug, filters)
        return _download(report_csv(report), CSV_MEDIA_TYPE,
                         export_filename(slug, filters, "csv", period="period" in spec.uses))

    @get("/{slug:str}/export.xlsx", name="reports:xlsx")
    async def export_xlsx(self, request: Request, slug: FromPath[str]) -> Stream:
        spec = _spec(slug)
        filters = _filters(request, spec)
        report = await build_report(slug, filters)
        parameters = _parameters(spec.title, filters, spec.uses, await filter_choices())
        return _download(report_xlsx(report, parameters), XLSX_MEDIA_TYPE,
                         export_filename(slug, filters, "xlsx", period="period" in spec.uses))

    @get("/{slug:str}/export.1c.txt", name="reports:onec")
    async def export_onec(self, request: Request, slug: FromPath[str]) -> Response:
        """The accounting export as a 1CClientBankExchange file (windows-1251)."""
        if slug != ACCOUNTING:
            raise NotFoundException()
        filters = _filters(request, _spec(slug))
        content = await accounting_onec(filters, get_settings(), utcnow())
        return Response(content, media_type="text/plain", encoding=ONEC_ENCODING_NAME,
                        headers={"Content-Disposition": f'attachment; filename="{onec_filename(filters)}"'})

    @post("/jobs", name="reports:start_job")
    async def start_job(self, request: Request) -> Response:
        """Start an export in the background and go to its page (which returns at once)."""
        fields = await form_fields(request)
        kind, slug, fmt = fields.get("kind", ""), fields.get("slug", ""), fields.get("fmt", "")
        params = {k: fields[k] for k in EXPORT_FIELDS if fields.get(k)}
        spec = REPORTS.get(slug) if kind == "report" else None
        if kind == "report" and spec is None:
            raise NotFoundException()
        try:
            filters = Filters.parse(params, today=local_today(utcnow()), spec=spec)
            if kind == "raw":
                title, uses = (RAW_EXPORTS[slug].title if slug in RAW_EXPORTS else ""), frozenset(
                    {"period", "town", "tariff"})
            else:
                title, uses = spec.title, spec.uses  # type: ignore[union-attr]
            parameters = _parameters(title, filters, uses, await filter_choices())
            staff = request.state["staff"]
            job_id = await start_export(kind, slug, fmt, params, parameters=parameters,
                                        actor=Actor(name=staff["username"], staff_id=staff["id"]))
        except ValueError as exc:
            raise UserFacingError(detail=str(exc)) from None
        return Redirect(f"/reports/jobs/{job_id}", status_code=303)

    @get("/jobs/{job_id:int}", name="reports:job")
    async def job_page(self, request: Request, job_id: FromPath[int]) -> Template:
        """The export's progress; the page reloads itself every 2 s until the job is over."""
        job = await _job_for(request, job_id)
        return Template("reports/job.html", context={
            **job_progress(job), "reports": REPORTS.values(), "staff": request.state.get("staff"),
        })

    @get("/jobs/{job_id:int}/file", name="reports:job_file")
    async def job_file(self, request: Request, job_id: FromPath[int]) -> Stream:
        job = await _job_for(request, job_id)
        if job["status"] != JobStatus.DONE:
            raise NotFoundException(detail="Файла нет: выгрузка не готова или срок хранения истёк")
        return _download(file_chunks(job_id), job["media_type"] or "application/octet-stream",
                         job["file_name"])

    @get("/data/{slug:str}/export.csv", name="reports:raw_csv")
    async def export_raw_csv(self, request: Request, slug: FromPath[str]) -> Stream:
        if slug not in RAW_EXPORTS:
            raise NotFoundException()
        filters = _filters(request, None)
        return _download(raw_csv(slug, filters), CSV_MEDIA_TYPE, export_filename(slug, filters, "csv"))

    @get("/data/{slug:str}/export.xlsx", name="reports:raw_xlsx")
    async def export_raw_xlsx(self, request: Request, slug: FromPath[str]) -> Stream:
        if slug not in RAW_EXPORTS:
            raise NotFoundException()
        filters = _filters(request, None)
        uses = frozenset({"period", "town", "tariff"})
        parameters = _parameters(RAW_EXPORTS[slug].title, filters, uses, await filter_choices())
        return _download(raw_xlsx(slug, filters, parameters), XLSX_MEDIA_TYPE,
                         export_filename(slug, filters, "xlsx"))
