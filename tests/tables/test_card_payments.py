"""Card payments against the real Stripe sandbox process: credit exactly once, refunds, failures."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest

from providers.stripe_client import InvalidWebhook
from tables.audit import Actor
from tables.ledger import LedgerEntry
from tables.payments.card_flow import start_payment, submit_card
from tables.payments.events import ProviderEvent
from tables.payments.payment import (
    MAX_AMOUNT,
    MIN_AMOUNT,
    Payment,
    PaymentStatus,
    parse_payment_amount,
    payable_periods,
    suggested_amount,
)
from tables.payments.refresh import refresh_payment
from tables.payments.refunds import PaymentRefund, complete_refund, refund_payment
from tables.payments.settlement import settle_payment
from tables.payments.webhook import handle_webhook
from tables.subscribers import Subscriber, SubscriberStatus
from tests.support.factories import make_subscriber
from tests.support.payments import (
    CARD_3DS,
    CARD_DECLINED,
    authenticate,
    card_token,
    fetch_intent,
    signed_event,
)

pytestmark = pytest.mark.usefixtures("stripe_sandbox")
CLERK = Actor("clerk", None)


async def balance(subscriber_id: int) -> int:
    row = await Subscriber.select(Subscriber.balance).where(Subscriber.id == subscriber_id).first()
    return row["balance"]


async def entries(kind: str | None = None) -> list[dict]:
    query = LedgerEntry.select()
    if kind:
        query = query.where(LedgerEntry.kind == kind)
    return await query


async def paid(stripe_sandbox, amount: int = 50000) -> tuple[Subscriber, Payment]:
    subscriber = await make_subscriber()
    payment = await start_payment(subscriber.id, amount, channel="cabinet")
    outcome = await submit_card(payment.id, await card_token(stripe_sandbox))
    assert outcome.status == PaymentStatus.SUCCEEDED
    return subscriber, await Payment.objects().where(Payment.id == payment.id).first()


async def test_successful_top_up_credits_once(stripe_sandbox):
    subscriber, payment = await paid(stripe_sandbox)
    assert payment.card_brand == "visa" and payment.card_last4 == "4242"
    assert payment.provider_intent_id.startswith("pi_") and payment.provider_charge_id.startswith("ch_")
    assert await balance(subscriber.id) == 50000
    # The return page's re-read and a late settle with the same intent change nothing.
    await refresh_payment(payment.id)
    intent = await fetch_intent(stripe_sandbox, payment.provider_intent_id)
    again = await settle_payment(intent)
    assert not again.credited
    rows = await entries("payment")
    assert [(r["amount"], r["reference"]) for r in rows] == [(50000, payment.provider_intent_id)]
    assert await balance(subscriber.id) == 50000


async def test_submitting_the_card_twice_charges_once(stripe_sandbox):
    subscriber = await make_subscriber()
    payment = await start_payment(subscriber.id, 30000, channel="cabinet")
    first = await submit_card(payment.id, await card_token(stripe_sandbox))
    second = await submit_card(payment.id, await card_token(stripe_sandbox))
    assert first.status == second.status == PaymentStatus.SUCCEEDED
    assert await balance(subscriber.id) == 30000 and len(await entries()) == 1


async def test_declined_card_credits_nothing_and_says_why_in_russian(stripe_sandbox):
    subscriber = await make_subscriber()
    payment = await start_payment(subscriber.id, 50000, channel="cabinet")
    outcome = await submit_card(payment.id, await card_token(stripe_sandbox, CARD_DECLINED))
    assert outcome.status == PaymentStatus.FAILED
    assert "Банк отклонил" in outcome.message
    row = await Payment.objects().where(Payment.id == payment.id).first()
    assert row.status == "failed" and row.failure_code == "card_declined" and "отклонил" in row.failure_reason
    assert await entries() == [] and await balance(subscriber.id) == 0


@pytest.mark.parametrize("confirmed", [True, False])
async def test_three_d_secure_needs_the_confirmation_step(stripe_sandbox, confirmed):
    subscriber = await make_subscriber()
    payment = await start_payment(subscriber.id, 40000, channel="cabinet")
    outcome = await submit_card(payment.id, await card_token(stripe_sandbox, CARD_3DS))
    assert outcome.status == PaymentStatus.REQUIRES_ACTION and outcome.client_secret
    row = await Payment.objects().where(Payment.id == payment.id).first()
    assert row.status == "requires_action" and await balance(subscriber.id) == 0
    await authenticate(stripe_sandbox, row.provider_intent_id, outcome.client_secret, success=confirmed)
    row = await refresh_payment(payment.id)
    if confirmed:
        assert row.status == "succeeded" and await balance(subscriber.id) == 40000
        assert len(await entries("payment")) == 1
    else:
        assert row.status == "failed" and "код подтверждения" in row.failure_reason
        assert await entries() == [] and await balance(subscriber.id) == 0


async def test_refunds_partial_then_rest_and_never_more_than_paid(stripe_sandbox):
    subscriber, payment = await paid(stripe_sandbox, 50000)
    refund = await refund_payment(payment.id, 20000, "ошибочная сумма", actor=CLERK)
    assert refund.status == "succeeded" and refund.provider_refund_id.startswith("re_")
    with pytest.raises(ValueError, match="не больше 300"):
        await refund_payment(payment.id, 40000, "ещё", actor=CLERK)
    await refund_payment(payment.id, 30000, "остаток", actor=CLERK)
    with pytest.raises(ValueError):
        await refund_payment(payment.id, 100, "лишнее", actor=CLERK)
    row = await Payment.objects().where(Payment.id == payment.id).first()
    assert row.status == "refunded" and row.refunded_amount == 50000
    refunds = await entries("refund")
    assert sorted(r["amount"] for r in refunds) == [-30000, -20000]
    assert await balance(subscriber.id) == 0
    # Completing the same refund again posts nothing.
    first = await PaymentRefund.objects().order_by(PaymentRefund.id).first()
    assert not await complete_refund(first.id, first.provider_refund_id)
    assert len(await entries("refund")) == 2


async def test_refund_bounced_after_acceptance_goes_back_on_the_balance_once(stripe_sandbox):
    """The card network returns a refund days later (closed card): the provider says so by
    webhook; the money taken off the balance at acceptance comes back, once."""
    subscriber, payment = await paid(stripe_sandbox, 50000)
    refund = await refund_payment(payment.id, 20000, "ошибочная сумма", actor=CLERK)
    assert await balance(subscriber.id) == 30000
    bounced = {"id": refund.provider_refund_id, "object": "refund", "status": "failed",
               "failure_reason": "expired_or_canceled_card", "amount": 20000}
    body, headers = signed_event(bounced, "refund.failed", event_id="evt_refund_failed")
    assert await handle_webhook(body, headers["Stripe-Signature"]) == "processed"
    assert await balance(subscriber.id) == 50000
    assert sorted(r["amount"] for r in await entries("refund")) == [-20000, 20000]
    row = await Payment.objects().where(Payment.id == payment.id).first()
    assert row.refunded_amount == 0 and row.status == "succeeded"
    assert (await PaymentRefund.objects().where(PaymentRefund.id == refund.id).first()).status == "failed"
    # The same event again, or another event about the same refund, changes nothing.
    assert await handle_webhook(body, headers["Stripe-Signature"]) != "processed"
    again = signed_event(bounced, "charge.refund.updated", event_id="evt_refund_failed_2")
    assert await handle_webhook(again[0], again[1]["Stripe-Signature"]) == "ignored"
    assert await balance(subscriber.id) == 50000 and len(await entries("refund")) == 2
    # The «возврат прихода» issued at acceptance is answered by a «приход» of the same amount:
    # the money is an advance on the balance again (54-FZ), once.
    from tables.payments.receipts import Receipt

    receipts = await Receipt.select(Receipt.operation, Receipt.amount, Receipt.source).where(
        Receipt.payment == payment.id).order_by(Receipt.id)
    assert [(r["operation"], r["amount"], r["source"]) for r in receipts] == [
        ("sell", 50000, f"payment:{payment.id}"), ("sell_refund", 20000, f"refund:{refund.id}"),
        ("sell", 20000, f"refund-failed:{refund.id}")]
    # The amount can be refunded again (to another card, say).
    await refund_payment(payment.id, 50000, "полный возврат", actor=CLERK)
    assert await balance(subscriber.id) == 0


async def test_concurrent_refunds_cannot_exceed_the_payment(stripe_sandbox):
    _, payment = await paid(stripe_sandbox, 50000)
    results = await asyncio.gather(
        *[refund_payment(payment.id, 20000, f"r{i}", actor=CLERK) for i in range(4)],
        return_exceptions=True,
    )
    done = [r for r in results if not isinstance(r, Exception)]
    assert len(done) == 2
    assert sum(r["amount"] for r in await entries("refund")) == -40000
    row = await Payment.objects().where(Payment.id == payment.id).first()
    assert row.refunded_amount == 40000


async def test_office_payment_cannot_be_refunded_to_a_card(stripe_sandbox):
    from tables.payments.office import book_office_payment

    subscriber = await make_subscriber()
    payment = await book_office_payment(subscriber.id, 10000, actor=CLERK)
    with pytest.raises(ValueError, match="касса"):
        await refund_payment(payment.id, 100, "x", actor=CLERK)


# --- webhooks -------------------------------------------------------------------------------


async def confirmed_but_unsettled(stripe_sandbox, amount: int = 50000) -> tuple[Subscriber, Payment, dict]:
    """A payment the provider has charged while our side has not heard yet (the race window)."""
    from providers.stripe_client import provider
    from tables.payments.card_flow import bind_intent, claim_for_card, idempotency_key

    subscriber = await make_subscriber()
    payment = await start_payment(subscriber.id, amount, channel="cabinet")
    payment = await claim_for_card(payment.id)
    p = provider()
    customer = await p.create_customer({}, key=idempotency_key(payment, "customer"))
    card = await p.attach_card(customer["id"], await card_token(stripe_sandbox), key="k1")
    intent = await p.create_intent(amount=amount, currency="rub", customer=customer["id"],
                                   payment_method=card["id"], metadata={}, key="k2")
    await bind_intent(payment.id, intent["id"])
    intent = await p.confirm_intent(intent["id"], key="k3")
    assert intent["status"] == "succeeded"
    return subscriber, payment, intent


async def test_webhook_with_bad_signature_is_refused_and_changes_nothing(stripe_sandbox):
    _subscriber, payment, intent = await confirmed_but_unsettled(stripe_sandbox)
    body, headers = signed_event(intent, secret="whsec_wrong")
    with pytest.raises(InvalidWebhook):
        await handle_webhook(body, headers["Stripe-Signature"])
    body, headers = signed_event(intent)
    with pytest.raises(InvalidWebhook):  # signed, then altered
        await handle_webhook(body.replace(b"50000", b"90000"), headers["Stripe-Signature"])
    with pytest.raises(InvalidWebhook):
        await handle_webhook(body, None)
    old = signed_event(intent, timestamp=1_600_000_000)
    with pytest.raises(InvalidWebhook):  # replayed long after
        await handle_webhook(old[0], old[1]["Stripe-Signature"])
    assert await ProviderEvent.count() == 0 and await entries() == []
    assert (await Payment.objects().where(Payment.id == payment.id).first()).status == "created"


async def test_same_event_twice_and_ten_times_concurrently_credit_once(stripe_sandbox):
    subscriber, _payment, intent = await confirmed_but_unsettled(stripe_sandbox)
    body, headers = signed_event(intent, event_id="evt_dup")
    assert await handle_webhook(body, headers["Stripe-Signature"]) == "processed"
    assert await handle_webhook(body, headers["Stripe-Signature"]) == "duplicate"
    # Other events for the same intent, delivered concurrently, find the payment settled.
    others = [signed_event(intent, event_id=f"evt_{i}") for i in range(10)]
    results = await asyncio.gather(*[handle_webhook(b, h["Stripe-Signature"]) for b, h in others])
    assert results == ["processed"] * 10
    assert len(await entries("payment")) == 1 and await balance(subscriber.id) == 50000
    assert await ProviderEvent.count() == 11


async def test_webhook_and_return_page_at_the_same_moment_credit_once(stripe_sandbox):
    subscriber, payment, intent = await confirmed_but_unsettled(stripe_sandbox)
    copies = [signed_event(intent, event_id=f"evt_race_{i}") for i in range(5)]
    await asyncio.gather(
        *[handle_webhook(b, h["Stripe-Signature"]) for b, h in copies],
        *[refresh_payment(payment.id) for _ in range(5)],
    )
    assert len(await entries("payment")) == 1 and await balance(subscriber.id) == 50000
    assert (await Payment.objects().where(Payment.id == payment.id).first()).status == "succeeded"


async def test_failed_event_after_success_does_not_undo_it(stripe_sandbox):
    subscriber, payment = await paid(stripe_sandbox)
    intent = await fetch_intent(stripe_sandbox, payment.provider_intent_id)
    stale = {**intent, "status": "requires_payment_method",
             "last_payment_error": {"code": "card_declined"}}
    body, headers = signed_event(stale, "payment_intent.payment_failed", event_id="evt_stale")
    await handle_webhook(body, headers["Stripe-Signature"])
    assert (await Payment.objects().where(Payment.id == payment.id).first()).status == "succeeded"
    assert await balance(subscriber.id) == 50000


async def test_success_with_another_amount_is_not_credited(stripe_sandbox):
    _subscriber, _payment, intent = await confirmed_but_unsettled(stripe_sandbox)
    body, headers = signed_event({**intent, "amount": 10**7}, event_id="evt_amount")
    await handle_webhook(body, headers["Stripe-Signature"])
    assert await entries() == []


async def _intent_named(stripe_sandbox, payment: Payment, metadata: dict[str, str]) -> dict:
    """A succeeded intent whose id our side never stored (the answer to the create call was lost)."""
    from providers.stripe_client import provider
    from tables.payments.card_flow import claim_for_card

    await claim_for_card(payment.id)
    p = provider()
    customer = await p.create_customer({}, key=f"lost-{payment.id}-{metadata}-c")
    card = await p.attach_card(customer["id"], await card_token(stripe_sandbox), key=f"lost-{metadata}-k")
    intent = await p.create_intent(amount=payment.amount, currency="rub", customer=customer["id"],
                                   payment_method=card["id"], metadata=metadata, key=f"lost-{metadata}-i")
    return await p.confirm_intent(intent["id"], key=f"lost-{metadata}-confirm")


async def test_lost_intent_id_is_found_by_our_reference_only(stripe_sandbox):
    from tables.payments.payment import payment_reference

    subscriber = await make_subscriber()
    payment = await start_payment(subscriber.id, 40000, channel="cabinet")
    payment = await Payment.objects().where(Payment.id == payment.id).first()
    # Another database on the same provider account has a payment with our id (a test run,
    # staging, a restored backup): its events must not be booked on ours.
    foreign = await _intent_named(stripe_sandbox, payment, {"centra_payment": str(payment.id),
                                                            "centra_ref": f"{payment.id}-1"})
    body, headers = signed_event(foreign, event_id="evt_foreign")
    await handle_webhook(body, headers["Stripe-Signature"])
    row = await Payment.objects().where(Payment.id == payment.id).first()
    assert row.provider_intent_id is None and row.status != "succeeded"
    assert await entries() == [] and await balance(subscriber.id) == 0
    assert (await ProviderEvent.select(ProviderEvent.outcome).first())["outcome"] == "unknown_intent"

    ours = await _intent_named(stripe_sandbox, payment, {"centra_payment": str(payment.id),
                                                         "centra_ref": payment_reference(payment)})
    body, headers = signed_event(ours, event_id="evt_ours")
    await handle_webhook(body, headers["Stripe-Signature"])
    row = await Payment.objects().where(Payment.id == payment.id).first()
    assert row.provider_intent_id == ours["id"] and row.status == "succeeded"
    assert await balance(subscriber.id) == 40000


async def test_events_for_unknown_intents_are_recorded_and_ignored(stripe_sandbox):
    body, headers = signed_event({"id": "pi_not_ours", "object": "payment_intent", "status": "succeeded",
                                  "amount": 100, "currency": "rub"}, event_id="evt_other")
    assert await handle_webhook(body, headers["Stripe-Signature"]) == "processed"
    assert await entries() == []
    body, headers = signed_event({"id": "cus_1", "object": "customer"}, "customer.created",
                                 event_id="evt_customer")
    assert await handle_webhook(body, headers["Stripe-Signature"]) == "ignored"
    assert await ProviderEvent.count() == 2


# --- amounts and limits ----------------------------------------------------------------------


@pytest.mark.parametrize("text,message", [
    ("0", "больше нуля"), ("-5", "больше нуля"), ("abc", "числом"), ("", "Укажите сумму"),
    ("1,234", "двух знаков"), ("9", "Минимальная"), ("15000,01", "Максимальная"), ("1e5", "числом"),
    ("١٠٠", "числом"), ("１００", "числом"),
])
async def test_bad_amounts_get_a_clear_message(text, message):
    with pytest.raises(ValueError, match=message):
        parse_payment_amount(text)


async def test_amount_limits_hold_in_the_domain_too():
    subscriber = await make_subscriber()
    for amount in (0, -100, MIN_AMOUNT - 1, MAX_AMOUNT + 1):
        with pytest.raises(ValueError):
            await start_payment(subscriber.id, amount, channel="cabinet")
    assert await Payment.count() == 0
    assert parse_payment_amount("10") == MIN_AMOUNT and parse_payment_amount("15 000") == MAX_AMOUNT


async def test_terminated_contract_may_only_pay_its_debt():
    subscriber = await make_subscriber()
    await Subscriber.update({Subscriber.status: SubscriberStatus.TERMINATED,
                             Subscriber.balance: -30000}).where(Subscriber.id == subscriber.id)
    with pytest.raises(ValueError, match="только долг"):
        await start_payment(subscriber.id, 30100, channel="cabinet")
    assert (await start_payment(subscriber.id, 30000, channel="cabinet")).amount == 30000
    await Subscriber.update({Subscriber.balance: 0}).where(Subscriber.id == subscriber.id)
    with pytest.raises(ValueError, match="долга нет"):
        await start_payment(subscriber.id, 30000, channel="cabinet")


def test_suggested_amount_and_periods():
    assert suggested_amount(-12345, 75000) == 87400  # debt + month, rounded up to roubles
    assert suggested_amount(100000, 75000) == 0
    assert suggested_amount(74950, 75000) == MIN_AMOUNT
    assert payable_periods(dt.date(2026, 1, 15)) == ["2025-11", "2025-12", "2026-01", "2026-02"]


async def test_quick_pay_period_must_be_offered():
    subscriber = await make_subscriber()
    with pytest.raises(ValueError, match="месяц"):
        await start_payment(subscriber.id, 50000, channel="quick_pay", period="2020-01",
                            today=dt.date(2026, 11, 25))
    payment = await start_payment(subscriber.id, 50000, channel="quick_pay", period="2026-11",
                                  today=dt.date(2026, 11, 25))
    assert payment.access_token and len(payment.access_token) >= 40
