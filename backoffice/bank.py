"""Office pages for bank statements (``/office/bank``): upload a 1CClientBankExchange file, see
each incoming document matched, ambiguous or unmatched with the reason, confirm; then resolve
the queue of what was not matched (pick the contract, or mark as not ours).

The same guard, layout and role rule as the rest of the office (``backoffice.office``): the
action ``bank`` follows the form «Оплата в кассе» (cashiers and administrators). Every write is
one domain function of ``tables.payments.bank``.
"""

from __future__ import annotations

import secrets
from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.datastructures import CacheControlHeader, UploadFile
from litestar.exceptions import NotAuthorizedException, NotFoundException
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template

from backoffice.jobs import job_progress
from backoffice.office_pages import (
    OfficeDenied,
    actor_of,
    denied,
    form_fields,
    login_required,
    office_guard,
    office_page,
    require_action,
    row_id,
    signed_rubles,
)
from jobs.bank import start_booking, start_import
from settings import get_settings
from tables.background import CHUNK, get_job
from tables.card import contract_label
from tables.payments.bank import (
    LINE_STATE_LABELS,
    MAX_STATEMENT_BYTES,
    STATEMENT_STATUS_LABELS,
    BankLine,
    BankStatement,
    StatementStatus,
    assign_line,
    queued_count,
    queued_lines,
    reject_line,
    statement_lines,
    statement_summary,
)
from tables.subscribers import find_by_contract

#: Where the upload is posted; the body cap there is the statement's (cabinet.security).
UPLOAD_PATH = "/office/bank"

#: Lines listed on a statement's page (the counts above them cover every line).
LINES_SHOWN = 500

DONE = {
    "confirmed": "Выписка проведена: найденные платежи зачислены, остальные ждут разбора в очереди.",
    "assigned": "Платёж зачислен на выбранный договор.",
    "rejected": "Платёж отмечен как не наш.",
}


class BankController(Controller):
    path = "/office/bank"
    guards = [office_guard]
    cache_control = CacheControlHeader(no_store=True)
    exception_handlers = {NotAuthorizedException: login_required, OfficeDenied: denied}

    async def _upload_page(self, request: Request, error: str = "", status_code: int = 200) -> Template:
        statements = await BankStatement.select().order_by(BankStatement.id, ascending=False).limit(20)
        return office_page(request, "bank", status_code=status_code, error=error, statements=statements,
                           queued=await queued_count(), status_labels=STATEMENT_STATUS_LABELS,
                           account=get_settings().payee_account)

    @get("/", name="office:bank")
    async def upload_form(self, request: Request) -> Template:
        require_action(request, "bank")
        return await self._upload_page(request)

    @post("/", request_max_body_size=MAX_STATEMENT_BYTES + 64 * 1024)
    async def upload(self, request: Request) -> Response:
        require_action(request, "bank")
        form = await request.form()
        upload = form.get("file")
        if not isinstance(upload, UploadFile) or not upload.filename:
            return await self._upload_page(request, "Выберите файл выписки", status_code=422)
        first = await upload.read(CHUNK)
        if not first:
            return await self._upload_page(request, "Файл пуст", status_code=422)
        pieces = [first]

        async def read(size: int) -> bytes:
            return pieces.pop() if pieces else await upload.read(size)

        # The file is read, matched and stored by a job: the page answers at once and the
        # statement's page shows the progress (and a malformed file's message, naming the line).
        statement_id = await start_import(upload.filename, read, actor=actor_of(request))
        return Redirect(f"/office/bank/statements/{statement_id}")

    @get("/statements/{statement_id:int}", name="office:bank-statement")
    async def statement(self, request: Request, statement_id: FromPath[int],
                        done: FromQuery[str] = "") -> Template:
        require_action(request, "bank")
        st = await BankStatement.objects().where(BankStatement.id == row_id(statement_id)).first()
        if st is None:
            raise NotFoundException()
        working = st.status in (StatementStatus.IMPORTING, StatementStatus.CONFIRMING)
        job = await get_job(st.job) if st.job else None
        # While the statement loads (tens of thousands of lines) only its progress is shown.
        lines = [] if st.status in (StatementStatus.IMPORTING, StatementStatus.FAILED) else (
            await statement_lines(st.id, limit=LINES_SHOWN))
        progress = job_progress(job if working or (job and job["status"] != "done") else None,
                                unit="документов", label="Ход обработки выписки")
        return office_page(request, "bank_statement", st=st, lines=lines,
                           summary=await statement_summary(st.id),
                           labels=LINE_STATE_LABELS, status_labels=STATEMENT_STATUS_LABELS,
                           done=DONE.get(done, "") if not working else "", working=working,
                           lines_cut=len(lines) == LINES_SHOWN, **progress)

    @post("/statements/{statement_id:int}/confirm")
    async def confirm(self, request: Request, statement_id: FromPath[int]) -> Response:
        require_action(request, "bank")
        try:
            await start_booking(row_id(statement_id), actor=actor_of(request))
        except ValueError as exc:
            raise NotFoundException() from exc
        return Redirect(f"/office/bank/statements/{statement_id}?done=confirmed")

    @get("/queue", name="office:bank-queue")
    async def queue(self, request: Request, done: FromQuery[str] = "") -> Template:
        require_action(request, "bank")
        return office_page(request, "bank_queue", lines=await queued_lines(), total=await queued_count(),
                           done=DONE.get(done, ""), error="")

    async def _queued(self, line_id: int) -> dict[str, Any]:
        line = await BankLine.select().where(BankLine.id == row_id(line_id)).first()
        if line is None:
            raise NotFoundException()
        return line

    @post("/lines/{line_id:int}/assign")
    async def assign_check(self, request: Request, line_id: FromPath[int]) -> Template:
        require_action(request, "bank")
        line = await self._queued(line_id)
        fields = await form_fields(request)
        s = await find_by_contract(fields.get("contract", ""))
        if s is None:
            return office_page(request, "bank_queue", status_code=422, lines=await queued_lines(),
                               total=await queued_count(), done="",
                               error=f"Договор № {fields.get('contract', '')[:20]} не найден")
        label = contract_label(s.contract_number, s.full_name)
        return office_page(request, "confirm", title="Зачисление банковского платежа",
                           summary=f"{label}, {signed_rubles(line['amount'])}",
                           details=[("Платёжное поручение",
                                     f"№ {line['number']} от {line['doc_date']:%d.%m.%Y}"),
                                    ("Плательщик", line["payer"] or "—"),
                                    ("Назначение платежа", line["purpose"] or "—")],
                           action=f"/office/bank/lines/{line['id']}/assign/confirm",
                           hidden={"contract": s.contract_number, "key": secrets.token_urlsafe(8)},
                           back="/office/bank/queue", button="Зачислить")

    @post("/lines/{line_id:int}/assign/confirm")
    async def assign(self, request: Request, line_id: FromPath[int]) -> Response:
        require_action(request, "bank")
        fields = await form_fields(request)
        try:
            await assign_line(row_id(line_id), fields.get("contract", ""), actor=actor_of(request))
        except ValueError as exc:
            return office_page(request, "bank_queue", status_code=422, lines=await queued_lines(),
                               total=await queued_count(), done="", error=str(exc))
        return Redirect("/office/bank/queue?done=assigned")

    @post("/lines/{line_id:int}/reject")
    async def reject(self, request: Request, line_id: FromPath[int]) -> Response:
        require_action(request, "bank")
        fields = await form_fields(request)
        try:
            await reject_line(row_id(line_id), fields.get("reason", ""), actor=actor_of(request))
        except ValueError as exc:
            return office_page(request, "bank_queue", status_code=422, lines=await queued_lines(),
                               total=await queued_count(), done="", error=str(exc))
        return Redirect("/office/bank/queue?done=rejected")
