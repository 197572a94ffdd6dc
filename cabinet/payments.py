"""Card top-up in the cabinet, the payment history, and the pieces the quick-pay pages share.

The card is typed into the provider's element (Stripe.js); the page posts back
only the token id.  The result page trusts nothing from the browser: it
re-reads the intent from the provider before showing the outcome.
"""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post
from litestar.di import NamedDependency, Provide
from litestar.exceptions import NotFoundException
from litestar.response import Redirect, Response, Template

from cabinet.auth import current_subscriber
from cabinet.forms import form_fields
from cabinet.limits import Limit, client_ip, over_limit
from settings import get_settings
from tables.billing.fee import monthly_fee
from tables.calendar import local_date, utcnow
from tables.money import format_amount
from tables.payments.card_flow import CardOutcome, start_payment, submit_card
from tables.payments.payment import (
    CARD_CHANNELS,
    MAX_AMOUNT,
    MIN_AMOUNT,
    PAYMENT_CHANNEL_LABELS,
    PAYMENT_STATUS_LABELS,
    Payment,
    PaymentChannel,
    PaymentStatus,
    parse_payment_amount,
    subscriber_payments,
    suggested_amount,
)
from tables.payments.receipts import (
    OPERATION_LABELS,
    PAYMENT_TYPE_LABELS,
    RECEIPT_STATUS_LABELS,
    TAX_SYSTEM_LABELS,
    VAT_LABELS,
    receipts_by_payment,
    subscriber_receipt,
)
from tables.payments.refresh import refresh_payment
from tables.subscribers import Subscriber
from web.errors import RowId

MESSAGES = {
    "processing": "Платёж обрабатывается. Обновите страницу через минуту — результат появится здесь.",
    "waiting_code": "Платёж ждёт подтверждения кодом из SMS банка. Если окно подтверждения закрылось, "
                    "начните оплату заново — этот платёж отменится сам и деньги по нему не спишутся.",
    "not_configured": "Оплата картой временно недоступна. Оплатите в офисе или попробуйте позже.",
}


def provider_context() -> dict[str, Any]:
    """Stripe.js location and publishable key, read from settings on every page."""
    settings = get_settings()
    return {"stripe_js_url": settings.stripe_js_url, "stripe_pk": settings.stripe_publishable_key,
            "payments_enabled": bool(settings.stripe_publishable_key
                                     and settings.stripe_secret_key.get_secret_value())}


def offered_amount(text: str | None) -> int | None:
    """An amount a link suggests (``?amount=800``) in kopecks, or ``None`` when it is not a
    payable amount: a bad one is ignored, the form then offers its own."""
    if not text or len(text) > 20:
        return None
    try:
        return parse_payment_amount(text)
    except ValueError:
        return None


def card_page(payment: Payment, *, submit_url: str, back_url: str, error: str | None = None,
              status_code: int = 200) -> Template:
    return Template("payments/card.html", status_code=status_code, context={
        "payment": payment, "submit_url": submit_url, "back_url": back_url, "error": error,
        "can_save_card": payment.channel == PaymentChannel.CABINET,
        **provider_context(),
    })


async def card_answer(payment: Payment, token: str, *, submit_url: str, back_url: str,
                      result_url: str, save_card: bool = False) -> Response:
    """Submit the token; show the confirmation-code step when due, else go to the result page."""
    try:
        outcome: CardOutcome = await submit_card(payment.id, token, save_card=save_card)
    except ValueError as exc:
        return card_page(payment, submit_url=submit_url, back_url=back_url, error=str(exc),
                         status_code=400)
    if outcome.status == PaymentStatus.REQUIRES_ACTION and outcome.client_secret:
        return Template("payments/confirm.html", context={
            "payment": payment, "client_secret": outcome.client_secret, "result_url": result_url,
            **provider_context(),
        })
    return Redirect(result_url, status_code=303)


# Provider re-reads from result pages (a cache of a few seconds comes first, tables.payments.refresh):
# per payment across every process sharing the limiter, and per client address.
PROVIDER_REFRESH_PER_PAYMENT = Limit("provider-refresh-payment", 20, 10 * 60)
PROVIDER_REFRESH_PER_IP = Limit("provider-refresh-ip", 60, 10 * 60)
# A result page waits this long for the provider, then shows what the database holds
# ("processing"); the re-read goes on and settles the payment when the provider answers.
REFRESH_WAIT_SECONDS = 3.0


async def refreshed_for_page(request: Request, payment: Payment, *, cached: bool = True) -> Payment:
    """The payment re-read from the provider for a result page, within the limits.

    :param cached: reuse an answer of the last few seconds (the anonymous quick-pay page);
        the owner's cabinet page asks afresh, so a reload right after the bank's
        confirmation code shows the outcome.
    """
    async def allow() -> bool:
        if await over_limit(PROVIDER_REFRESH_PER_PAYMENT, str(payment.id)):
            return False
        return not await over_limit(PROVIDER_REFRESH_PER_IP, client_ip(request))

    return await refresh_payment(payment.id, wait=REFRESH_WAIT_SECONDS, allow=allow,
                                 max_age=None if cached else 0) or payment


def result_page(payment: Payment, *, again_url: str) -> Template:
    return Template("payments/result.html", context={
        "payment": payment, "status_label": PAYMENT_STATUS_LABELS[payment.status],
        "channel_label": PAYMENT_CHANNEL_LABELS[payment.channel], "again_url": again_url,
        "messages": MESSAGES,
    })


class CabinetPaymentsController(Controller):
    path = "/cabinet"
    dependencies = {"subscriber": Provide(current_subscriber)}

    async def _own(self, subscriber: Subscriber, payment_id: int) -> Payment:
        payment = await Payment.objects().where(
            (Payment.id == payment_id) & (Payment.subscriber == subscriber.id)
            & Payment.channel.is_in(list(CARD_CHANNELS))
        ).first()
        if payment is None:
            raise NotFoundException()
        return payment

    async def _topup_page(self, subscriber: Subscriber, *, amount: str | None = None,
                          error: str | None = None, status_code: int = 200) -> Template:
        fee = await monthly_fee(subscriber, today=local_date(utcnow()))
        suggested = suggested_amount(subscriber.balance, fee.next)
        if amount is None:
            amount = format_amount(suggested, group="") if suggested else ""
        return Template("payments/topup.html", status_code=status_code, context={
            "subscriber": subscriber, "fee": fee, "amount": amount[:20], "error": error,
            "min_amount": MIN_AMOUNT, "max_amount": MAX_AMOUNT, "suggested": suggested,
            **provider_context(),
        })

    @get("/pay", name="topup")
    async def topup_form(self, request: Request, subscriber: NamedDependency[Subscriber]) -> Template:
        """The top-up form; ``?amount=800`` (the dashboard's advice) pre-fills a valid amount."""
        asked = offered_amount(request.query_params.get("amount"))
        amount = None if asked is None else format_amount(asked, group="")
        return await self._topup_page(subscriber, amount=amount)

    @post("/pay")
    async def topup(self, request: Request, subscriber: NamedDependency[Subscriber]) -> Response:
        fields = await form_fields(request)
        text = fields.get("amount", "")
        try:
            payment = await start_payment(subscriber.id, parse_payment_amount(text),
                                          channel=PaymentChannel.CABINET)
        except ValueError as exc:
            return await self._topup_page(subscriber, amount=text, error=str(exc), status_code=400)
        return Redirect(f"/cabinet/pay/{payment.id}", status_code=303)

    @get("/pay/{payment_id:int}")
    async def card_form(self, subscriber: NamedDependency[Subscriber], payment_id: RowId) -> Response:
        payment = await self._own(subscriber, payment_id)
        if payment.status != PaymentStatus.CREATED or payment.submitted_at:
            return Redirect(f"/cabinet/pay/result/{payment.id}", status_code=303)
        return card_page(payment, submit_url=f"/cabinet/pay/{payment.id}/card", back_url="/cabinet/pay")

    @post("/pay/{payment_id:int}/card")
    async def card_submit(self, request: Request, subscriber: NamedDependency[Subscriber],
                          payment_id: RowId) -> Response:
        payment = await self._own(subscriber, payment_id)
        fields = await form_fields(request)
        return await card_answer(payment, fields.get("token", ""),
                                 submit_url=f"/cabinet/pay/{payment.id}/card", back_url="/cabinet/pay",
                                 result_url=f"/cabinet/pay/result/{payment.id}",
                                 save_card=bool(fields.get("save_card")))

    @get("/pay/result/{payment_id:int}")
    async def result(self, request: Request, subscriber: NamedDependency[Subscriber],
                     payment_id: RowId) -> Template:
        payment = await refreshed_for_page(request, await self._own(subscriber, payment_id),
                                           cached=False)
        return result_page(payment, again_url="/cabinet/pay")

    @get("/payments", name="payment_history")
    async def history(self, subscriber: NamedDependency[Subscriber]) -> Template:
        return Template("payments/history.html", context={
            "subscriber": subscriber, "payments": await subscriber_payments(subscriber.id),
            "status_labels": PAYMENT_STATUS_LABELS, "channel_labels": PAYMENT_CHANNEL_LABELS,
            "receipts": await receipts_by_payment(subscriber.id),
        })

    @get("/receipts/{receipt_id:int}", name="receipt")
    async def receipt(self, subscriber: NamedDependency[Subscriber], receipt_id: RowId) -> Template:
        """A payment's (or refund's) fiscal receipt, with the fiscal data once the register gave it."""
        row = await subscriber_receipt(subscriber.id, receipt_id)
        if row is None:
            raise NotFoundException()
        return Template("payments/receipt.html", context={
            "subscriber": subscriber, "r": row, "operation_labels": OPERATION_LABELS,
            "status_labels": RECEIPT_STATUS_LABELS, "payment_type_labels": PAYMENT_TYPE_LABELS,
            "tax_labels": TAX_SYSTEM_LABELS, "vat_labels": VAT_LABELS,
        })
