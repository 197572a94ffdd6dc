"""Staff pages beside Piccolo Admin at ``/office/``: the landing page, the subscriber card and
the actions a clerk takes from it, each shown before it is done ("договор 100004, Смирнов Д. И.,
+1 400,50 ₽") and confirmed.

Authentication is the admin's own: a valid piccolo_api session (cookie ``id``) of an active
staff user with a role, the same second-factor rule as in the admin. Who may do what comes from
the office's line of the role matrix (``backoffice.roles.OFFICE_MATRIX``), so a role sees on the
card only the actions it may take and the server refuses the others. Every write is one domain function from
``tables/`` (which writes the audit entry); forms carry Litestar's CSRF token.
"""

from __future__ import annotations

import datetime as dt
import secrets
from types import SimpleNamespace
from typing import Any
from urllib.parse import quote, urlencode

from litestar import Controller, Request, Response, get, post
from litestar.datastructures import CacheControlHeader
from litestar.exceptions import NotAuthorizedException, NotFoundException
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template

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
    rubles_text,
    signed_rubles,
    staff_of,
)
from backoffice.roles import MFA_MESSAGE, mfa_missing
from db.engine import MAX_ROW_ID, write_transaction
from settings import get_settings
from tables.accounts import VIEW_LINK_TTL, reset_password, start_staff_view
from tables.billing.charge_run import check_chargeable, preview_charges, run_charges
from tables.billing.pauses import end_pause
from tables.calendar import local_date, utcnow
from tables.card import (
    active_tariffs,
    address_label,
    contract_label,
    dry_run,
    office_today,
    payment_for_refund,
    receipt,
    search_addresses,
    search_subscribers,
    subscriber_card,
    waiting_text,
)
from tables.ledger import post_adjustment
from tables.money import format_plain, parse_rubles, parse_signed_rubles
from tables.month import Month
from tables.payments.agents import agent_daily_totals
from tables.payments.office import book_office_payment
from tables.payments.refunds import refund_payment
from tables.payments.slip import Slip, payment_slip, slip_month, street_slips, streets_by_town
from tables.phones import normalize_phone
from tables.radius import connection_summary, disconnect_by_staff
from tables.requests.balance_refund import complete_balance_refund, file_balance_refund
from tables.requests.filing import KIND_TOPICS, SUBSCRIBER_KINDS, file_request
from tables.requests.queue import REQUEST_KIND_LABELS, REQUEST_TOPIC_LABELS, RequestKind, open_request
from tables.requests.termination import complete_termination
from tables.subscribers import Subscriber, create_subscriber, find_by_contract
from web.slip_pdf import slips_pdf as pdf_of
from web.traffic import traffic_view


async def _contract(number: str) -> Subscriber:
    subscriber = await find_by_contract(number)
    if subscriber is None:
        raise NotFoundException()
    return subscriber


def _card_url(number: str, done: str = "") -> str:
    return f"/office/subscribers/{quote(number)}" + (f"?done={done}" if done else "")


DONE_MESSAGES = {
    "adjustment": "Корректировка проведена.",
    "refund": "Возврат отправлен в платёжную систему; сумма списана с баланса договора.",
    "refund_pending": ("Возврат отправлен, но платёжная система пока не ответила. Сумма "
                       "зарезервирована; сверка платежей завершит возврат."),
    "request": "Заявка подана от имени абонента.",
    "terminated": "Расторжение оформлено.",
    "disconnect": "Команда разрыва сессии отправлена NAS: абонент переподключится в течение минуты.",
    "disconnect_none": "Открытых сессий нет: разрывать нечего.",
    "pause_ended": "Блокировка окончена: услуги подключены, абоненту отправлено сообщение.",
    "pause_cancelled": "Запланированная блокировка отменена.",
    "balance_refund": "Заявка на возврат остатка подана: выплата — на этой же странице «Возврат остатка».",
    "balance_paid": "Остаток выплачен: проводка «Возврат» в журнале, баланс договора — 0.",
}


def _one_of(value: str, options: dict[str, str] | tuple[str, ...], message: str) -> str:
    if value not in options:
        raise ValueError(message)
    return value


def _date(text: str) -> dt.date | None:
    if not text:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError as exc:
        raise ValueError("Дата указывается как ДД.ММ.ГГГГ") from exc


async def _card_slip(request: Request, number: str, period: str) -> tuple[Subscriber, Slip, str]:
    require_action(request, "slip")
    s = await _contract(number)
    error, month = "", Month.current()
    try:
        month = slip_month(period or None)
    except ValueError as exc:
        error = str(exc)
    return s, await payment_slip(s, month, get_settings(), today=local_date(utcnow())), error


async def _batch(request: Request, street: str, house: str, period: str) -> dict[str, Any]:
    """The batch form's fields and, once a street is chosen, its slips (or a Russian refusal)."""
    require_action(request, "slip")
    staff = staff_of(request)
    # Names, addresses and debts of a whole street: a second factor for every role, as reports.
    if await mfa_missing(staff["role"], SimpleNamespace(id=staff["id"]), personal_data=True):
        raise OfficeDenied(detail=MFA_MESSAGE)
    towns = await streets_by_town()
    names = {str(st["id"]): f"{st['name']} ({t['town']})" for t in towns for st in t["streets"]}
    fields = {"street": street[:12], "house": house.strip()[:20], "period": period[:20]}
    error, slips, month = "", None, Month.current()
    if fields["street"]:
        try:
            month = slip_month(fields["period"] or None)
            if fields["street"] not in names:
                raise ValueError("Выберите улицу из списка")
            slips = await street_slips(int(fields["street"]), fields["house"], month, get_settings(),
                                       today=local_date(utcnow()))
        except ValueError as exc:
            error, slips = str(exc), None
    place = names.get(fields["street"], "") + (f", д. {fields['house']}" if fields["house"] else "")
    return {"towns": towns, "fields": {**fields, "period": fields["period"] or month.iso}, "slips": slips,
            "error": error, "month": month, "place": place,
            "pdf_query": urlencode({**fields, "period": month.iso})}


class OfficeController(Controller):
    path = "/office"
    guards = [office_guard]
    cache_control = CacheControlHeader(no_store=True)  # contacts and money: never cached
    exception_handlers = {NotAuthorizedException: login_required, OfficeDenied: denied}

    # --- landing and search -------------------------------------------------------------

    @get("/", name="office:home")
    async def home(self, request: Request) -> Template:
        today = await office_today()
        since = quote(today.day_start.isoformat(), safe="")
        return office_page(request, "home", today=today, waiting_text=waiting_text, day=local_date(utcnow()),
                           payments_link=f"/admin/#/payment?created_at__operator=gte&created_at={since}"
                                         "&__order=-id")

    @get("/search", name="office:search")
    async def search(self, request: Request, q: FromQuery[str] = "") -> Response:
        require_action(request, "card")
        rows = await search_subscribers(q[:100])
        if len(rows) == 1 and q.strip():
            return Redirect(_card_url(rows[0]["contract_number"]))
        return office_page(request, "search", q=q[:100], rows=rows)

    # --- the card ----------------------------------------------------------------------

    @get("/subscribers/{number:str}", name="office:card")
    async def card(self, request: Request, number: FromPath[str], done: FromQuery[str] = "",
                   month: FromQuery[str | None] = None) -> Template:
        """``?month=2026-11``: the month whose traffic is shown by day (one of the last twelve)."""
        require_action(request, "card")
        card = await subscriber_card(number)
        if card is None:
            raise NotFoundException()
        traffic = await traffic_view(card.subscriber["id"], month, utcnow())
        return office_page(request, "card", status_code=400 if traffic.error else 200, card=card,
                           s=card.subscriber, done=DONE_MESSAGES.get(done, ""),
                           kind_labels=REQUEST_KIND_LABELS,
                           network=await connection_summary(card.subscriber["id"]), traffic=traffic,
                           traffic_action=_card_url(card.subscriber["contract_number"]))

    @post("/subscribers/{number:str}/disconnect")
    async def disconnect(self, request: Request, number: FromPath[str]) -> Response:
        require_action(request, "disconnect")
        s = await _contract(number)
        queued = await disconnect_by_staff(s.id, s.contract_number, actor=actor_of(request))
        return Redirect(_card_url(s.contract_number, "disconnect" if queued else "disconnect_none"))

    # --- cash payment ------------------------------------------------------------------

    @post("/subscribers/{number:str}/pause/end")
    async def pause_end(self, request: Request, number: FromPath[str]) -> Response:
        """End the subscriber's running pause today, or cancel a booked one (audited)."""
        require_action(request, "pause")
        s = await _contract(number)
        try:
            pause = await end_pause(s.id, actor=actor_of(request))
        except ValueError as exc:
            raise OfficeDenied(detail=str(exc)) from exc
        return Redirect(_card_url(s.contract_number, "pause_cancelled" if pause.status == "cancelled"
                                  else "pause_ended"))

    @get("/subscribers/{number:str}/payment", name="office:payment")
    async def payment_form(self, request: Request, number: FromPath[str]) -> Template:
        require_action(request, "payment")
        s = await _contract(number)
        return office_page(request, "payment", s=s, label=contract_label(s.contract_number, s.full_name),
                           fields={}, error="", periods=_periods())

    @post("/subscribers/{number:str}/payment")
    async def payment_check(self, request: Request, number: FromPath[str]) -> Template:
        require_action(request, "payment")
        s = await _contract(number)
        fields = await form_fields(request)
        label = contract_label(s.contract_number, s.full_name)
        try:
            amount = parse_rubles(fields.get("amount"))
            period = _one_of(fields.get("period", ""), ("", *_periods()), "Выберите месяц из списка") or None
        except ValueError as exc:
            return office_page(request, "payment", status_code=422, s=s, label=label, fields=fields,
                               error=str(exc), periods=_periods())
        return office_page(request, "confirm", title="Оплата в кассе", s=s,
                           summary=f"{label}, {signed_rubles(amount)}",
                           details=[("Наличными", rubles_text(amount)),
                                    ("Баланс после оплаты", rubles_text(s.balance + amount)),
                                    ("За месяц", period or "—")],
                           action=f"{_card_url(s.contract_number)}/payment/confirm",
                           hidden={"amount": str(amount), "period": period or "",
                                   "key": secrets.token_urlsafe(24)},
                           back=f"{_card_url(s.contract_number)}/payment", button="Принять оплату")

    @post("/subscribers/{number:str}/payment/confirm")
    async def payment_book(self, request: Request, number: FromPath[str]) -> Response:
        require_action(request, "payment")
        s = await _contract(number)
        fields = await form_fields(request)
        try:
            amount = _kopecks(fields.get("amount", ""))
            period = _one_of(fields.get("period", ""), ("", *_periods()), "Выберите месяц из списка") or None
            payment = await book_office_payment(s.id, amount, period=period, actor=actor_of(request),
                                                key=fields.get("key") or None)
        except ValueError as exc:
            return office_page(request, "payment", status_code=422, s=s,
                               label=contract_label(s.contract_number, s.full_name), fields=fields,
                               error=str(exc), periods=_periods())
        return Redirect(f"/office/receipts/{payment.id}")

    @get("/receipts/{payment_id:int}", name="office:receipt")
    async def receipt_page(self, request: Request, payment_id: FromPath[int]) -> Template:
        require_action(request, "payment")
        row = await receipt(row_id(payment_id))
        if row is None:
            raise NotFoundException()
        return office_page(request, "receipt", r=row)

    # --- adjustment --------------------------------------------------------------------

    @get("/subscribers/{number:str}/adjustment", name="office:adjustment")
    async def adjustment_form(self, request: Request, number: FromPath[str]) -> Template:
        require_action(request, "adjustment")
        s = await _contract(number)
        return office_page(request, "adjustment", s=s, label=contract_label(s.contract_number, s.full_name),
                           fields={}, error="")

    @post("/subscribers/{number:str}/adjustment")
    async def adjustment_check(self, request: Request, number: FromPath[str]) -> Template:
        require_action(request, "adjustment")
        s = await _contract(number)
        fields = await form_fields(request)
        label = contract_label(s.contract_number, s.full_name)
        try:
            amount = parse_signed_rubles(fields.get("amount", ""))
            reason = _reason(fields.get("reason", ""))
        except ValueError as exc:
            return office_page(request, "adjustment", status_code=422, s=s, label=label, fields=fields,
                               error=str(exc))
        return office_page(request, "confirm", title="Корректировка баланса", s=s,
                           summary=f"{label}, {signed_rubles(amount)}",
                           details=[("Причина", reason),
                                    ("Баланс после корректировки", rubles_text(s.balance + amount))],
                           action=f"{_card_url(s.contract_number)}/adjustment/confirm",
                           hidden={"amount": str(amount), "reason": reason},
                           back=f"{_card_url(s.contract_number)}/adjustment", button="Провести корректировку")

    @post("/subscribers/{number:str}/adjustment/confirm")
    async def adjustment_post(self, request: Request, number: FromPath[str]) -> Response:
        require_action(request, "adjustment")
        s = await _contract(number)
        fields = await form_fields(request)
        try:
            amount = _kopecks(fields.get("amount", ""), signed=True)
            await post_adjustment(s.id, amount, _reason(fields.get("reason", "")), actor=actor_of(request))
        except ValueError as exc:
            return office_page(request, "adjustment", status_code=422, s=s,
                               label=contract_label(s.contract_number, s.full_name), fields=fields,
                               error=str(exc))
        return Redirect(_card_url(s.contract_number, "adjustment"))

    # --- card refund -------------------------------------------------------------------

    @get("/payments/{payment_id:int}/refund", name="office:refund")
    async def refund_form(self, request: Request, payment_id: FromPath[int]) -> Template:
        require_action(request, "refund")
        p = await _refundable(payment_id)
        return office_page(request, "refund", p=p, fields={"amount": format_plain(p["refundable"])}, error="")

    @post("/payments/{payment_id:int}/refund")
    async def refund_check(self, request: Request, payment_id: FromPath[int]) -> Template:
        require_action(request, "refund")
        p = await _refundable(payment_id)
        fields = await form_fields(request)
        try:
            amount = parse_rubles(fields.get("amount"), max_kopecks=p["refundable"])
            reason = _reason(fields.get("reason", ""))
        except ValueError as exc:
            return office_page(request, "refund", status_code=422, p=p, fields=fields, error=str(exc))
        return office_page(request, "confirm", title="Возврат платежа на карту", s=None,
                           summary=f"{p['label']}, {signed_rubles(-amount)} (возврат на карту)",
                           details=[("Платёж", f"№ {p['id']} на {rubles_text(p['amount'])}"),
                                    ("Карта", f"{p['card_brand']} •••• {p['card_last4']}".strip()),
                                    ("Причина", reason)],
                           action=f"/office/payments/{p['id']}/refund/confirm",
                           hidden={"amount": str(amount), "reason": reason},
                           back=f"/office/payments/{p['id']}/refund", button="Вернуть на карту")

    @post("/payments/{payment_id:int}/refund/confirm")
    async def refund_post(self, request: Request, payment_id: FromPath[int]) -> Response:
        require_action(request, "refund")
        p = await _refundable(payment_id)
        fields = await form_fields(request)
        try:
            amount = _kopecks(fields.get("amount", ""))
            result = await refund_payment(p["id"], amount, _reason(fields.get("reason", "")),
                                          actor=actor_of(request))
        except ValueError as exc:
            return office_page(request, "refund", status_code=422, p=p, fields=fields, error=str(exc))
        return Redirect(_card_url(p["contract_number"],
                                  "refund_pending" if result.status == "pending" else "refund"))

    # --- a request on the subscriber's behalf ------------------------------------------

    @get("/subscribers/{number:str}/request", name="office:request")
    async def request_form(self, request: Request, number: FromPath[str]) -> Template:
        require_action(request, "request")
        s = await _contract(number)
        return self._request_page(request, s, {}, "")

    def _request_page(self, request: Request, s: Subscriber, fields: dict[str, str], error: str,
                      status_code: int = 200) -> Template:
        kinds = {k: REQUEST_KIND_LABELS[k] for k in SUBSCRIBER_KINDS
                 if k not in ("termination", "tariff_change")}
        topics = {k: [(t, REQUEST_TOPIC_LABELS[t]) for t in KIND_TOPICS.get(k, ())] for k in kinds}
        return office_page(request, "request", status_code=status_code, s=s,
                           label=contract_label(s.contract_number, s.full_name), kinds=kinds, topics=topics,
                           fields=fields, error=error)

    @post("/subscribers/{number:str}/request")
    async def request_post(self, request: Request, number: FromPath[str]) -> Response:
        require_action(request, "request")
        s = await _contract(number)
        fields = await form_fields(request)
        kind = fields.get("kind", "")
        topic = fields.get(f"topic_{kind}", "") if kind in KIND_TOPICS else ""
        try:
            if kind not in SUBSCRIBER_KINDS or kind in ("termination", "tariff_change"):
                raise ValueError("Выберите вид заявки")
            await file_request(s.id, kind, topic=topic, text=fields.get("text", ""),
                               contact_time=fields.get("contact_time", ""))
        except ValueError as exc:
            return self._request_page(request, s, fields, str(exc), status_code=422)
        return Redirect(_card_url(s.contract_number, "request"))

    # --- a terminated contract's leftover balance: the request, then the payout -------------

    @get("/subscribers/{number:str}/balance-refund", name="office:balance_refund")
    async def balance_refund_form(self, request: Request, number: FromPath[str]) -> Template:
        require_action(request, "card")
        s = await _contract(number)
        return await self._balance_refund_page(request, s, {}, "")

    async def _balance_refund_page(self, request: Request, s: Subscriber, fields: dict[str, str],
                                   error: str, status_code: int = 200) -> Template:
        return office_page(request, "balance_refund", status_code=status_code, s=s,
                           label=contract_label(s.contract_number, s.full_name),
                           open_refund=await open_request(s.id, RequestKind.BALANCE_REFUND),
                           fields=fields, error=error)

    @post("/subscribers/{number:str}/balance-refund")
    async def balance_refund_post(self, request: Request, number: FromPath[str]) -> Response:
        require_action(request, "balance_refund")
        s = await _contract(number)
        fields = await form_fields(request)
        try:
            await file_balance_refund(s.id, fields.get("details", ""), actor=actor_of(request))
        except ValueError as exc:
            return await self._balance_refund_page(request, s, fields, str(exc), status_code=422)
        return Redirect(_card_url(s.contract_number, "balance_refund"))

    @post("/subscribers/{number:str}/balance-refund/pay")
    async def balance_refund_pay(self, request: Request, number: FromPath[str]) -> Response:
        require_action(request, "balance_payout")
        s = await _contract(number)
        fields = await form_fields(request)
        open_refund = await open_request(s.id, RequestKind.BALANCE_REFUND)
        try:
            if open_refund is None or str(open_refund["id"]) != fields.get("request", ""):
                raise ValueError("Заявка на возврат уже закрыта или изменилась: откройте страницу заново")
            await complete_balance_refund(open_refund["id"], actor=actor_of(request))
        except ValueError as exc:
            return await self._balance_refund_page(request, await _contract(number), fields, str(exc),
                                                   status_code=422)
        return Redirect(_card_url(s.contract_number, "balance_paid"))

    # --- password reset and staff view (no money: one confirmation step) --------------

    @get("/subscribers/{number:str}/password", name="office:password")
    async def password_form(self, request: Request, number: FromPath[str]) -> Template:
        require_action(request, "password")
        s = await _contract(number)
        label = contract_label(s.contract_number, s.full_name)
        return office_page(request, "confirm", title="Сброс пароля абонента", s=s,
                           summary=f"{label}: выдать новый одноразовый пароль",
                           details=[("Что будет", "Прежний пароль перестанет действовать, открытые "
                                     "сеансы кабинета закроются; при входе абонент задаст свой пароль.")],
                           action=f"{_card_url(s.contract_number)}/password", hidden={},
                           back=_card_url(s.contract_number), button="Выдать новый пароль")

    @post("/subscribers/{number:str}/password")
    async def password_post(self, request: Request, number: FromPath[str]) -> Template:
        require_action(request, "password")
        s = await _contract(number)
        one_time = await reset_password(s.id, actor=actor_of(request))
        return office_page(request, "message", title="Новый одноразовый пароль", s=s,
                           message=f"Договор № {s.contract_number}: одноразовый пароль",
                           secret=one_time, back=_card_url(s.contract_number))

    @post("/subscribers/{number:str}/view")
    async def view_post(self, request: Request, number: FromPath[str]) -> Template:
        require_action(request, "view")
        s = await _contract(number)
        token = await start_staff_view(s.id, actor=actor_of(request))
        minutes = int(VIEW_LINK_TTL.total_seconds() // 60)
        return office_page(request, "message", title="Просмотр кабинета абонента", s=s,
                           message=(f"Ссылка действует {minutes} минут и открывается один раз; кабинет "
                                    "покажется только для чтения. Просмотр записан в журнал и виден "
                                    "абоненту. Закончив, нажмите в кабинете «Выйти»: пока просмотр открыт, "
                                    "действия в офисе из этого браузера недоступны."),
                           link=f"/staff-view/{token}", back=_card_url(s.contract_number))

    # --- termination ---------------------------------------------------------------------

    @get("/subscribers/{number:str}/terminate", name="office:terminate")
    async def terminate_form(self, request: Request, number: FromPath[str]) -> Template:
        require_action(request, "terminate")
        s = await _contract(number)
        return self._terminate_page(request, s, {"terminated_on": local_date(utcnow()).isoformat()}, "")

    def _terminate_page(self, request: Request, s: Subscriber, fields: dict[str, str], error: str,
                        status_code: int = 200) -> Template:
        reasons = [(t, REQUEST_TOPIC_LABELS[t]) for t in KIND_TOPICS["termination"]]
        return office_page(request, "terminate", status_code=status_code, s=s,
                           label=contract_label(s.contract_number, s.full_name), reasons=reasons,
                           fields=fields, error=error)

    async def _terminate(self, request: Request, s: Subscriber, fields: dict[str, str]) -> dict[str, Any]:
        """File the termination on the subscriber's behalf and complete it (two domain calls,
        one transaction); returns the date and the settlement."""
        day = _date(fields.get("terminated_on", ""))
        async with write_transaction():
            filed = await file_request(s.id, "termination", topic=fields.get("reason", ""),
                                       text=fields.get("text", ""), desired_date=day, confirmed=True)
            ended = await complete_termination(filed.id, actor=actor_of(request), terminated_on=day)
            after = await Subscriber.select(Subscriber.balance).where(Subscriber.id == s.id).first()
        return {"day": ended, "balance": after["balance"], "settled": after["balance"] - s.balance}

    @post("/subscribers/{number:str}/terminate")
    async def terminate_check(self, request: Request, number: FromPath[str]) -> Template:
        require_action(request, "terminate")
        s = await _contract(number)
        fields = await form_fields(request)
        label = contract_label(s.contract_number, s.full_name)
        try:
            outcome = await dry_run(lambda: self._terminate(request, s, fields))
        except ValueError as exc:
            return self._terminate_page(request, s, fields, str(exc), status_code=422)
        return office_page(request, "confirm", title="Расторжение договора", s=s,
                           summary=f"{label}, расторжение с {outcome['day']:%d.%m.%Y}, "
                                   f"перерасчёт {signed_rubles(outcome['settled'])}",
                           details=[("Баланс сейчас", rubles_text(s.balance)),
                                    ("Возврат за дни после даты", signed_rubles(outcome["settled"])),
                                    ("Итоговый баланс", rubles_text(outcome["balance"])),
                                    ("Причина", REQUEST_TOPIC_LABELS.get(fields.get("reason", ""), "—"))],
                           action=f"{_card_url(s.contract_number)}/terminate/confirm",
                           hidden={k: fields.get(k, "") for k in ("terminated_on", "reason", "text")},
                           back=f"{_card_url(s.contract_number)}/terminate", button="Расторгнуть договор")

    @post("/subscribers/{number:str}/terminate/confirm")
    async def terminate_post(self, request: Request, number: FromPath[str]) -> Response:
        require_action(request, "terminate")
        s = await _contract(number)
        fields = await form_fields(request)
        try:
            await self._terminate(request, s, fields)
        except ValueError as exc:
            return self._terminate_page(request, s, fields, str(exc), status_code=422)
        return Redirect(_card_url(s.contract_number, "terminated"))

    # --- a new contract: address and tariff chosen by search, never by id -------------------

    @get("/contracts/new", name="office:contract")
    async def contract_form(self, request: Request) -> Template:
        require_action(request, "contract")
        return await self._contract_page(request, {}, "", [])

    async def _contract_page(self, request: Request, fields: dict[str, str], error: str,
                             addresses: list[dict[str, Any]], status_code: int = 200) -> Template:
        return office_page(request, "contract", status_code=status_code, fields=fields, error=error,
                           addresses=addresses, tariffs=await active_tariffs())

    async def _contract_values(self, fields: dict[str, str]) -> dict[str, Any]:
        name = " ".join(fields.get("full_name", "").split())
        if not 3 <= len(name) <= 200:
            raise ValueError("Укажите ФИО абонента полностью (от 3 до 200 символов)")
        address_id = _int(fields.get("address_id", ""), "Найдите адрес и выберите его из списка")
        address = await address_label(address_id)
        if address is None:
            raise ValueError("Найдите адрес и выберите его из списка")
        tariffs = {t["id"]: t for t in await active_tariffs()}
        tariff_id = _int(fields.get("tariff_id", ""), "Выберите тариф из списка")
        if tariff_id not in tariffs:
            raise ValueError("Выберите тариф из списка")
        phone = ""
        if fields.get("phone"):
            phone = normalize_phone(fields["phone"]) or ""
            if not phone:
                raise ValueError("Телефон указывается полностью, например +7 913 123-45-67")
        return {"full_name": name, "address_id": address_id, "address": address, "tariff_id": tariff_id,
                "tariff": tariffs[tariff_id], "phone": phone,
                "email": fields.get("email", "")[:200], "connected_on": _date(fields.get("connected_on", "")),
                "router_rented": fields.get("router_rented") == "1"}

    @post("/contracts/new")
    async def contract_check(self, request: Request) -> Template:
        require_action(request, "contract")
        fields = await form_fields(request)
        addresses = await search_addresses(fields.get("address_q", ""))
        if fields.get("step") == "find":
            error = "" if addresses else "Адрес не найден: введите улицу и дом, например «Ленина 10 5»"
            return await self._contract_page(request, fields, error, addresses)
        try:
            values = await self._contract_values(fields)
        except ValueError as exc:
            return await self._contract_page(request, fields, str(exc), addresses, status_code=422)
        tariff = values["tariff"]
        connected = values["connected_on"] or local_date(utcnow())
        return office_page(request, "confirm", title="Новый договор", s=None,
                           summary=f"{values['full_name']}, {values['address']}, тариф «{tariff['name']}»",
                           details=[("Абонентская плата", rubles_text(tariff["monthly_fee"]) + " в месяц"),
                                    ("Телефон", values["phone"] or "—"),
                                    ("Эл. почта", values["email"] or "—"),
                                    ("Дата подключения", f"{connected:%d.%m.%Y}"),
                                    ("Аренда роутера", "да" if values["router_rented"] else "нет")],
                           action="/office/contracts/new/confirm",
                           hidden={k: fields.get(k, "") for k in (
                               "full_name", "address_id", "tariff_id", "phone", "email", "connected_on",
                               "router_rented")},
                           back="/office/contracts/new", button="Оформить договор")

    @post("/contracts/new/confirm")
    async def contract_create(self, request: Request) -> Template:
        require_action(request, "contract")
        fields = await form_fields(request)
        try:
            values = await self._contract_values(fields)
            subscriber, one_time = await create_subscriber(
                full_name=values["full_name"], address_id=values["address_id"],
                tariff_id=values["tariff_id"], phone=values["phone"], email=values["email"],
                connected_on=values["connected_on"] or local_date(utcnow()),
                router_rented=values["router_rented"], actor=actor_of(request))
        except ValueError as exc:
            return await self._contract_page(request, fields, str(exc), [], status_code=422)
        label = contract_label(subscriber.contract_number, subscriber.full_name)
        return office_page(request, "message", title=f"Договор № {subscriber.contract_number} оформлен",
                           s=subscriber, message=f"{label[0].upper()}{label[1:]}: одноразовый пароль для "
                                                 "первого входа",
                           secret=one_time, back=_card_url(subscriber.contract_number))

    # --- payment slips: one from the card, a batch for a street or a building --------------

    @get("/subscribers/{number:str}/slip", name="office:slip")
    async def slip(self, request: Request, number: FromPath[str], period: FromQuery[str] = "") -> Template:
        """The contract's slip with the bank QR code, as the cabinet shows it."""
        s, slip, error = await _card_slip(request, number, period)
        return office_page(request, "slip", status_code=400 if error else 200, s=s, slip=slip, error=error)

    @get("/subscribers/{number:str}/slip.pdf", name="office:slip_pdf")
    async def slip_pdf(self, request: Request, number: FromPath[str],
                       period: FromQuery[str] = "") -> Response:
        s, slip, error = await _card_slip(request, number, period)
        if error:
            return office_page(request, "slip", status_code=400, s=s, slip=slip, error=error)
        return await pdf_of([slip], title=f"Квитанция {slip.contract} за {slip.month.title}",
                               filename=f"квитанция-{slip.contract}-{slip.month.iso}.pdf")

    @get("/slips", name="office:slips")
    async def slips(self, request: Request, street: FromQuery[str] = "", house: FromQuery[str] = "",
                    period: FromQuery[str] = "") -> Template:
        """Slips of every contract in force at a building (or on a whole street) for a month, one
        per page, for mailboxes: the list to check before the PDF is printed."""
        batch = await _batch(request, street, house, period)
        return office_page(request, "slips", status_code=422 if batch["error"] else 200, nav="slips", **batch)

    @get("/slips.pdf", name="office:slips_pdf")
    async def slips_pdf(self, request: Request, street: FromQuery[str] = "", house: FromQuery[str] = "",
                        period: FromQuery[str] = "") -> Response:
        batch = await _batch(request, street, house, period)
        if batch["error"] or not batch["slips"]:
            return office_page(request, "slips", status_code=422 if batch["error"] else 200, nav="slips",
                               **batch)
        return await pdf_of(batch["slips"], title=f"Квитанции за {batch['month'].title}: {batch['place']}",
                               filename=f"квитанции-{batch['month'].iso}-{batch['place']}.pdf")

    # --- payment agents: the daily reconciliation ------------------------------------------

    @get("/agents", name="office:agents")
    async def agents_report(self, request: Request, agent: FromQuery[str] = "",
                            date_from: FromQuery[str] = "", date_to: FromQuery[str] = "") -> Template:
        """Count and sum of an agent's payments per day (the agent's own date), to compare
        with the registry the agent sends the accountant."""
        require_action(request, "agents")
        agents = {code: a.name for code, a in get_settings().payment_agents.items()}
        today = local_date(utcnow())
        fields = {"agent": agent[:40] or next(iter(agents), ""),
                  "date_from": date_from[:10] or today.replace(day=1).isoformat(),
                  "date_to": date_to[:10] or today.isoformat()}
        days, error = [], ""
        if fields["agent"] in agents:
            try:
                first, last = _date(fields["date_from"]), _date(fields["date_to"])
                assert first is not None and last is not None
                if last < first:
                    raise ValueError("Дата «по» раньше даты «с»")
                if (last - first).days >= AGENT_REPORT_DAYS:
                    raise ValueError("Отчёт строится не больше чем за год")
                days = await agent_daily_totals(fields["agent"], first, last)
            except ValueError as exc:
                error = str(exc)
        elif agents:
            error = "Выберите агента из списка"
        return office_page(request, "agents", status_code=422 if error else 200, agents=agents,
                           fields=fields, days=days, error=error,
                           total_count=sum(d.count for d in days), total_amount=sum(d.amount for d in days))

    # --- the charge run --------------------------------------------------------------------

    @get("/charge", name="office:charge")
    async def charge_form(self, request: Request) -> Template:
        require_action(request, "charge")
        return office_page(request, "charge", fields={"period": Month.current().iso}, error="",
                           preview=None)

    @post("/charge")
    async def charge_check(self, request: Request) -> Template:
        require_action(request, "charge")
        fields = await form_fields(request)
        try:
            preview = await preview_charges(fields.get("period", ""))
        except ValueError as exc:
            return office_page(request, "charge", status_code=422, fields=fields, error=str(exc),
                               preview=None)
        return office_page(request, "charge", fields={"period": preview.period.iso}, error="",
                           preview=preview)

    @post("/charge/confirm")
    async def charge_run(self, request: Request) -> Template:
        require_action(request, "charge")
        fields = await form_fields(request)
        try:
            period = check_chargeable(fields.get("period", ""))
            run = await run_charges(period, actor=actor_of(request))
        except ValueError as exc:
            return office_page(request, "charge", status_code=422, fields=fields, error=str(exc),
                               preview=None)
        return office_page(request, "charge", fields={"period": run.period}, error="", preview=None, run=run)


#: The longest reconciliation range one page shows (a year of days).
AGENT_REPORT_DAYS = 366


def _periods() -> tuple[str, ...]:
    """Months a cash payment may be marked for: the current one and the next."""
    current = Month.current()
    return (current.iso, current.next.iso)


def _reason(text: str) -> str:
    text = " ".join(text.split())
    if len(text) < 3:
        raise ValueError("Укажите причину (не короче 3 символов)")
    if len(text) > 500:
        raise ValueError("Причина — не длиннее 500 символов")
    return text


def _kopecks(text: str, *, signed: bool = False) -> int:
    """The amount carried by a confirmation form (kopecks, as shown on the confirmation)."""
    try:
        value = int(text)
    except ValueError as exc:
        raise ValueError("Сумма не распознана: начните заново") from exc
    if not signed and value <= 0:
        raise ValueError("Сумма должна быть больше нуля")
    return value


def _int(text: str, message: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= MAX_ROW_ID:
        raise ValueError(message)
    return int(text)


async def _refundable(payment_id: int) -> dict[str, Any]:
    p = await payment_for_refund(row_id(payment_id))
    if p is None:
        raise NotFoundException()
    if not p["refundable"]:
        raise OfficeDenied(detail="Этот платёж нельзя вернуть на карту: возвращаются только "
                                  "зачисленные платежи картой, не больше остатка.")
    return p
