"""Provider timeouts and 5xx (faked at the HTTP layer with respx) and the reconciliation command."""

from __future__ import annotations

import datetime as dt
import urllib.request

import httpx
import pytest
import respx

from tables.audit import Actor
from tables.calendar import utcnow
from tables.ledger import LedgerEntry
from tables.payments.card_flow import start_payment, submit_card
from tables.payments.payment import Payment
from tables.payments.reconcile import reconcile
from tables.payments.refresh import refresh_payment
from tables.payments.refunds import PaymentRefund, refund_payment
from tables.subscribers import Subscriber
from tests.support.factories import make_subscriber
from tests.support.payments import CARD_3DS, card_token

pytestmark = pytest.mark.usefixtures("stripe_sandbox")
LATER = dt.timedelta(hours=1)


def answer_lost(request: httpx.Request) -> httpx.Response:
    """The provider does the work, then the answer never arrives (stdlib HTTP: respx passes it by)."""
    forwarded = urllib.request.Request(str(request.url), data=request.content or None,
                                       method=request.method,
                                       headers={k: v for k, v in request.headers.items()
                                                if k.lower() not in ("content-length", "host")})
    with urllib.request.urlopen(forwarded, timeout=10) as response:
        response.read()
    raise httpx.ReadTimeout("answer lost", request=request)


def faults(sandbox, **routes):
    """respx routes for the sandbox's host; everything else passes through."""
    mock = respx.mock(assert_all_called=False)
    for path, effect in routes.items():
        route = mock.route(host="127.0.0.1", port=sandbox.port, path__regex=path)
        if isinstance(effect, httpx.Response):
            route.mock(return_value=effect)
        else:
            route.mock(side_effect=effect)
    mock.route().pass_through()
    return mock


async def payment_row(payment_id: int) -> Payment:
    return await Payment.objects().where(Payment.id == payment_id).first()


async def ledger(kind: str) -> list[dict]:
    return await LedgerEntry.select().where(LedgerEntry.kind == kind)


async def balance(subscriber_id: int) -> int:
    return (await Subscriber.select(Subscriber.balance).where(Subscriber.id == subscriber_id).first())[
        "balance"]


async def test_confirm_answer_lost_leaves_payment_open_and_reconcile_credits_once(stripe_sandbox):
    subscriber = await make_subscriber()
    payment = await start_payment(subscriber.id, 50000, channel="cabinet")
    token = await card_token(stripe_sandbox)
    with faults(stripe_sandbox, **{r"/v1/payment_intents/\w+/confirm$": answer_lost}):
        outcome = await submit_card(payment.id, token)
    assert outcome.status == "created"
    row = await payment_row(payment.id)
    assert row.provider_intent_id and await balance(subscriber.id) == 0
    report = await reconcile()
    assert (report.checked, report.succeeded) == (1, 1) and report.mismatches == []
    again = await reconcile(now=utcnow() + LATER)
    assert again.checked == 0
    assert len(await ledger("payment")) == 1 and await balance(subscriber.id) == 50000


async def test_provider_5xx_before_confirming_fails_cleanly(stripe_sandbox):
    subscriber = await make_subscriber()
    payment = await start_payment(subscriber.id, 50000, channel="cabinet")
    token = await card_token(stripe_sandbox)
    with faults(stripe_sandbox, **{r"/v1/customers": httpx.Response(503, json={"error": {}})}):
        outcome = await submit_card(payment.id, token)
    assert outcome.status == "failed" and "не ответила" in outcome.message
    assert (await payment_row(payment.id)).failure_code == "provider_unavailable"
    retry = await start_payment(subscriber.id, 50000, channel="cabinet")
    assert (await submit_card(retry.id, await card_token(stripe_sandbox))).status == "succeeded"
    assert await balance(subscriber.id) == 50000


async def test_outage_on_the_return_page_keeps_it_open_then_reconcile_abandons(stripe_sandbox):
    subscriber = await make_subscriber()
    payment = await start_payment(subscriber.id, 50000, channel="cabinet")
    token = await card_token(stripe_sandbox)
    with faults(stripe_sandbox, **{r"/v1/payment_intents/\w+/confirm$": httpx.ConnectTimeout,
                                   r"/v1/payment_intents/\w+$": httpx.Response(500, json={})}):
        assert (await submit_card(payment.id, token)).status == "created"
        assert (await refresh_payment(payment.id)).status == "created"
        down = await reconcile(now=utcnow() + LATER)
    assert down.unreachable == 1 and (await payment_row(payment.id)).status == "created"
    # The confirm never reached the provider; after the waiting time the intent is cancelled.
    report = await reconcile(now=utcnow() + LATER)
    row = await payment_row(payment.id)
    assert report.abandoned == 1 and row.status == "failed" and row.failure_code == "abandoned"
    assert "не был завершён" in row.failure_reason and await ledger("payment") == []


async def test_reconcile_settles_every_open_payment(stripe_sandbox):
    subscriber = await make_subscriber()
    waiting = await start_payment(subscriber.id, 10000, channel="cabinet")
    outcome = await submit_card(waiting.id, await card_token(stripe_sandbox, CARD_3DS))
    assert outcome.status == "requires_action"
    never_submitted = await start_payment(subscriber.id, 20000, channel="cabinet")
    lost = await start_payment(subscriber.id, 30000, channel="cabinet")
    with faults(stripe_sandbox, **{r"/v1/payment_intents/\w+/confirm$": answer_lost}):
        await submit_card(lost.id, await card_token(stripe_sandbox))

    now = await reconcile()
    assert (now.checked, now.succeeded, now.still_open) == (3, 1, 2)
    later = await reconcile(now=utcnow() + LATER)
    assert (later.checked, later.abandoned) == (2, 2)
    statuses = {p.id: (await payment_row(p.id)).status for p in (waiting, never_submitted, lost)}
    assert statuses == {waiting.id: "failed", never_submitted.id: "failed", lost.id: "succeeded"}
    assert await balance(subscriber.id) == 30000 and len(await ledger("payment")) == 1


async def test_refund_answer_lost_completes_once_on_reconcile(stripe_sandbox):
    subscriber = await make_subscriber()
    payment = await start_payment(subscriber.id, 50000, channel="cabinet")
    await submit_card(payment.id, await card_token(stripe_sandbox))
    with faults(stripe_sandbox, **{r"/v1/refunds$": answer_lost}):
        refund = await refund_payment(payment.id, 20000, "ошибка", actor=Actor("clerk"))
    assert refund.status == "pending" and await ledger("refund") == []
    assert (await payment_row(payment.id)).refunded_amount == 20000  # reserved meanwhile
    report = await reconcile()
    assert report.refunds_completed == 1
    await reconcile()
    assert [r["amount"] for r in await ledger("refund")] == [-20000]
    assert await balance(subscriber.id) == 30000


async def test_refund_that_never_reached_the_provider_is_released(stripe_sandbox):
    subscriber = await make_subscriber()
    payment = await start_payment(subscriber.id, 50000, channel="cabinet")
    await submit_card(payment.id, await card_token(stripe_sandbox))
    with faults(stripe_sandbox, **{r"/v1/refunds$": httpx.Response(502, json={})}):
        refund = await refund_payment(payment.id, 50000, "ошибка", actor=Actor("clerk"))
    assert refund.status == "pending"
    report = await reconcile(now=utcnow() + LATER)
    assert report.refunds_failed == 1
    assert (await PaymentRefund.objects().first()).status == "failed"
    row = await payment_row(payment.id)
    assert row.refunded_amount == 0 and row.status == "succeeded"
    assert await ledger("refund") == [] and await balance(subscriber.id) == 50000


async def test_reconcile_command_prints_a_report(stripe_sandbox, capsys):
    from tables.commands.reconcile import reconcile_payments

    subscriber = await make_subscriber()
    lost = await start_payment(subscriber.id, 30000, channel="cabinet")
    with faults(stripe_sandbox, **{r"/v1/payment_intents/\w+/confirm$": answer_lost}):
        await submit_card(lost.id, await card_token(stripe_sandbox))
    await reconcile_payments()
    out = capsys.readouterr().out
    assert "open card payments checked: 1" in out and "succeeded: 1" in out
    assert "ledger matches credited payments" in out and await balance(subscriber.id) == 30000
