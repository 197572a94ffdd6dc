"""Quick pay without a login: find a contract, pay for a month by card.

No page takes a contract or payment id from the visitor: the found contract
travels in a signed, expiring form field, and a started payment is reached
only by its unguessable access token.  Every step counts against a per-IP
limit, and "not found" and bad input give the same answer.

The payment slip (``/pay/slip``, bank QR code) is offered only to a visitor who typed the
contract number: the slip must carry the number (the bank statement import matches it), and a
visitor who found the contract by its address never learns it here. It shows what quick pay
shows — surname and initials, the address without the apartment — and no money of the contract:
the sum is the visitor's own, or left to the bank app.
"""

from __future__ import annotations

import hmac
import time

from litestar import Controller, Request, get, post
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.response import Redirect, Response, Template

from cabinet.forms import form_fields
from cabinet.limits import QUICK_PAY_PER_IP, client_ip, over_limit
from cabinet.payments import card_answer, card_page, provider_context, refreshed_for_page, result_page
from cabinet.signing import signature
from cabinet.site import address_directory
from settings import get_settings
from tables.payments.card_flow import start_payment
from tables.payments.payment import (
    MAX_AMOUNT,
    MIN_AMOUNT,
    Payment,
    PaymentChannel,
    PaymentStatus,
    parse_payment_amount,
    payable_periods,
)
from tables.payments.quick_pay import PayableContract, contract_to_pay, find_payable_contract
from tables.payments.slip import quick_pay_slip, slip_month
from web.slip_pdf import slips_pdf

TICKET_SECONDS = 30 * 60

MESSAGES = {
    "not_found": "Договор не найден. Проверьте номер договора (только цифры) или адрес: город, улицу, "
                 "дом и квартиру. Если не получается — позвоните на горячую линию.",
    "expired": "Время на оплату истекло. Найдите договор ещё раз.",
    "too_many": "Слишком много попыток с вашего адреса. Попробуйте через 10 минут.",
}


#: Tickets: paying the found contract by card, and its slip (only when the number was typed).
PAY, SLIP = "quickpay", "quickpay-slip"


def _sign(payload: str, purpose: str = PAY) -> str:
    return signature(purpose, payload, length=32)


def issue_ticket(subscriber_id: int, now: float | None = None, *, purpose: str = PAY) -> str:
    """A signed, expiring reference to the found contract (never a bare id in the form)."""
    payload = f"{subscriber_id}.{int(now if now is not None else time.time())}"
    return f"{payload}.{_sign(payload, purpose)}"


def read_ticket(ticket: str, now: float | None = None, *, purpose: str = PAY) -> int | None:
    parts = (ticket or "").split(".")
    if len(parts) != 3 or not parts[0].isdigit() or not parts[1].isdigit():
        return None
    payload = f"{parts[0]}.{parts[1]}"
    if not hmac.compare_digest(_sign(payload, purpose), parts[2]):
        return None
    age = (now if now is not None else time.time()) - int(parts[1])
    if age < 0 or age > TICKET_SECONDS:
        return None
    return int(parts[0])


async def search(fields: dict[str, str]) -> PayableContract | None:
    """The contract the search form names (by number, or by town, street, house, apartment)."""
    town = fields.get("town", "")
    return await find_payable_contract(
        contract_number=fields.get("contract_number", "")[:20],
        town_id=int(town) if town.isdigit() and len(town) < 10 else None,
        street=fields.get("street", "")[:150], house=fields.get("house", "")[:20],
        apartment=fields.get("apartment", "")[:20],
    )


class QuickPayController(Controller):
    path = "/pay"

    async def _page(self, *, fields: dict[str, str] | None = None, error: str | None = None,
                    found: PayableContract | None = None, ticket: str = "", amount: str = "",
                    period: str = "", slip_ticket: str = "", status_code: int = 200) -> Template:
        periods = payable_periods()
        directory = await address_directory()
        return Template("payments/quickpay.html", status_code=status_code, context={
            "fields": fields or {}, "error": error, "found": found, "ticket": ticket,
            "slip_ticket": slip_ticket,
            "periods": periods, "period": period or periods[-2], "amount": amount[:20],
            "min_amount": MIN_AMOUNT, "max_amount": MAX_AMOUNT,
            "towns": directory.towns, "street_options": directory.street_options,
            **provider_context(),
        })

    async def _limited(self, request: Request) -> Template | None:
        if await over_limit(QUICK_PAY_PER_IP, client_ip(request)):
            return await self._page(error=MESSAGES["too_many"], status_code=429)
        return None

    async def _payment(self, token: str) -> Payment:
        if not token or len(token) > 64:
            raise NotFoundException()
        payment = await Payment.objects().where(
            (Payment.access_token == token) & (Payment.channel == PaymentChannel.QUICK_PAY)
        ).first()
        if payment is None:
            raise NotFoundException()
        return payment

    @get("/", name="quick_pay")
    async def form(self) -> Template:
        return await self._page()

    @post("/find")
    async def find(self, request: Request) -> Response:
        if limited := await self._limited(request):
            return limited
        fields = await form_fields(request)
        found = await search(fields)
        shown = {k: fields.get(k, "")[:150] for k in ("contract_number", "town", "street", "house",
                                                       "apartment", "by")}
        if found is None:
            return await self._page(fields=shown, error=MESSAGES["not_found"])
        by_number = bool(fields.get("contract_number", "").strip())
        return await self._page(fields=shown, found=found, ticket=issue_ticket(found.id),
                                slip_ticket=issue_ticket(found.id, purpose=SLIP) if by_number else "")

    @post("/slip", status_code=200)
    async def slip(self, request: Request) -> Response:
        """The slip of the contract found by its number, as a page or (``format=pdf``) a PDF."""
        if limited := await self._limited(request):
            return limited
        fields = await form_fields(request)
        subscriber_id = read_ticket(fields.get("slip_ticket", ""), purpose=SLIP)
        contract = await contract_to_pay(subscriber_id) if subscriber_id is not None else None
        if contract is None:
            return await self._page(error=MESSAGES["expired"], status_code=400)
        text, period = fields.get("amount", "").strip()[:20], fields.get("period", "")[:20]
        try:
            month = slip_month(period or None)
            amount = parse_payment_amount(text) if text else None
        except ValueError as exc:
            return await self._page(found=contract, ticket=issue_ticket(contract.id),
                                    slip_ticket=fields["slip_ticket"], amount=text, period=period,
                                    error=str(exc), status_code=400)
        slip = await quick_pay_slip(contract.id, month, get_settings(), amount=amount)
        if slip is None:
            return await self._page(error=MESSAGES["expired"], status_code=400)
        if fields.get("format") == "pdf":
            return await slips_pdf([slip], title=f"Квитанция {slip.contract} за {slip.month.title}",
                                   filename=f"квитанция-{slip.contract}-{slip.month.iso}.pdf")
        return Template("payments/quickpay_slip.html", context={
            "slip": slip, "slip_ticket": fields["slip_ticket"], "period": month.iso, "amount": text})

    @post("/start")
    async def start(self, request: Request) -> Response:
        if limited := await self._limited(request):
            return limited
        fields = await form_fields(request)
        subscriber_id = read_ticket(fields.get("ticket", ""))
        contract = await contract_to_pay(subscriber_id) if subscriber_id is not None else None
        if contract is None:
            return await self._page(error=MESSAGES["expired"], status_code=400)
        text, period = fields.get("amount", ""), fields.get("period", "")
        try:
            payment = await start_payment(contract.id, parse_payment_amount(text),
                                          channel=PaymentChannel.QUICK_PAY, period=period or None)
        except ValueError as exc:
            return await self._page(found=contract, ticket=fields["ticket"],
                                    amount=text, period=period, error=str(exc), status_code=400)
        return Redirect(f"/pay/p/{payment.access_token}", status_code=303)

    @get("/p/{token:str}")
    async def card_form(self, token: FromPath[str]) -> Response:
        payment = await self._payment(token)
        if payment.status != PaymentStatus.CREATED or payment.submitted_at:
            return Redirect(f"/pay/p/{token}/result", status_code=303)
        return card_page(payment, submit_url=f"/pay/p/{token}/card", back_url="/pay")

    @post("/p/{token:str}/card")
    async def card_submit(self, request: Request, token: FromPath[str]) -> Response:
        payment = await self._payment(token)
        if limited := await self._limited(request):
            return limited
        fields = await form_fields(request)
        return await card_answer(payment, fields.get("token", ""), submit_url=f"/pay/p/{token}/card",
                                 back_url="/pay", result_url=f"/pay/p/{token}/result")

    @get("/p/{token:str}/result")
    async def result(self, request: Request, token: FromPath[str]) -> Template:
        # Anonymous and reloadable: the provider is asked through a short cache and limits.
        payment = await refreshed_for_page(request, await self._payment(token))
        return result_page(payment, again_url="/pay")
