"""The payment slip page and its ST00012 payload (the QR code itself is decoded from the rendered
page by tests/e2e/test_e2e_payment_slip.py)."""

from __future__ import annotations

import datetime as dt

from settings import get_settings
from tables.month import Month
from tables.payments.slip import parse_st00012, payment_slip, st00012
from tables.subscribers import Subscriber
from tests.support.factories import make_subscriber
from tests.support.helpers import sign_in


def test_the_separator_never_reaches_a_value():
    payload = st00012([("Name", "ООО «Центра» | филиал"), ("Purpose", "a\nb"), ("KPP", "")])
    assert payload == "ST00012|Name=ООО «Центра» / филиал|Purpose=a b"
    assert parse_st00012(payload) == {"Name": "ООО «Центра» / филиал", "Purpose": "a b"}


async def test_amount_due_is_the_next_charge_less_the_balance():
    s = await make_subscriber(fee=750_00)
    month = Month(2026, 12)
    slip = await payment_slip(s, month, get_settings(), today=dt.date(2026, 12, 7))
    assert slip.amount == 750_00 and parse_st00012(slip.payload)["Sum"] == "75000"
    s.balance = 1000_00  # paid ahead: nothing due, the slip still prints (Sum 0 is left to the payer)
    slip = await payment_slip(s, month, get_settings(), today=dt.date(2026, 12, 7))
    assert slip.amount == 0
    assert parse_st00012(slip.payload)["PersAcc"] == s.contract_number


async def test_the_slip_page(client):
    s = await make_subscriber()
    await Subscriber.update({Subscriber.balance: -100_00}).where(Subscriber.id == s.id)
    assert (await client.get("/cabinet/slip")).status_code in (302, 303, 401)
    await sign_in(client, s.id)
    page = await client.get("/cabinet/slip?period=2026-12")
    assert page.status_code == 200
    assert "<svg" in page.text and "QR-код для оплаты" in page.text
    assert f"договор № {s.contract_number}" in page.text and "850,00" in page.text
    assert "Петров П. П." in page.text and "Петрович" not in page.text
    bad = await client.get("/cabinet/slip?period=0000-01")
    assert bad.status_code == 400 and "ГГГГ-ММ" in bad.text


async def test_a_host_without_pango_answers_the_pdf_with_a_message_not_a_500(client, monkeypatch):
    """WeasyPrint loads Debian's Pango on the first PDF (``make pdf-deps``); where it cannot
    (here: the import refused, as on a host without the library), the subscriber is told to
    print the page instead."""
    import sys

    from web.slip_pdf import PDF_UNAVAILABLE

    s = await make_subscriber()
    await sign_in(client, s.id)
    monkeypatch.setitem(sys.modules, "weasyprint", None)
    response = await client.get("/cabinet/slip.pdf")
    assert response.status_code == 503
    assert PDF_UNAVAILABLE.split(".")[0] in response.text
    assert (await client.get("/cabinet/slip")).status_code == 200
