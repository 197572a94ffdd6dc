"""The payment slip as PDF (WeasyPrint): the cabinet's, and quick pay's for an anonymous visitor
who typed the contract number — read back page by page (PDFium renders, zbar decodes the QR code,
every GOST R 56042-2014 field checked, Cyrillic included)."""

from __future__ import annotations

import re

import httpx
import pytest

from settings import get_settings
from tables.calendar import utcnow
from tables.month import Month
from tables.payments.slip import parse_st00012
from tables.subscribers import Subscriber
from tests.support.factories import make_address, make_subscriber
from tests.support.helpers import csrf_from, sign_in
from tests.support.pdf import read_pdf, require_pdf_tools


@pytest.fixture(autouse=True)
def _pdf_tools():
    require_pdf_tools()


def payee_fields_ok(fields: dict[str, str]) -> None:
    settings = get_settings()
    assert fields["Name"] == settings.payee_name and fields["PersonalAcc"] == settings.payee_account
    assert fields["BankName"] == settings.payee_bank and fields["BIC"] == settings.payee_bic
    assert fields["CorrespAcc"] == settings.payee_corr_account
    assert fields["PayeeINN"] == settings.payee_inn


async def shchukina() -> Subscriber:
    s = await make_subscriber(full_name="Щукина Юлия Эдуардовна", fee=750_00, address=await make_address(
        street="проспект Металлургов", house="12", apartment="45"))
    await Subscriber.update({Subscriber.balance: -123_45}).where(Subscriber.id == s.id)
    return s


async def test_the_cabinet_slip_as_pdf(client):
    s = await shchukina()
    await sign_in(client, s.id)
    response = await client.get("/cabinet/slip.pdf?period=2026-12")
    assert response.status_code == 200 and response.headers["content-type"] == "application/pdf"
    assert "no-store" in response.headers["cache-control"]
    [page] = read_pdf(response.content)
    [payload] = page.codes
    fields = parse_st00012(payload)
    payee_fields_ok(fields)
    assert payload.startswith("ST00012|")
    assert fields["Sum"] == "87345" and fields["PersAcc"] == s.contract_number
    assert fields["PaymPeriod"] == "122026"
    assert fields["Purpose"] == (f"Оплата услуг связи по договору № {s.contract_number} "
                                 "за декабрь 2026, без НДС")
    text = " ".join(page.text.split())
    assert "Квитанция на оплату за декабрь 2026" in text and "Щукина Ю. Э." in text
    assert "Юлия" not in text and "проспект Металлургов, д. 12, кв. 45" in text
    assert "873,45" in text and get_settings().payee_name in text
    # A bad month: the page with the refusal, not a PDF.
    bad = await client.get("/cabinet/slip.pdf?period=1999-01")
    assert bad.status_code == 400 and "ГГГГ-ММ" in bad.text


async def find(client: httpx.AsyncClient, data: dict) -> httpx.Response:
    page = await client.get("/pay/")
    return await client.post("/pay/find", data={**data, "_csrf_token": csrf_from(page.text)})


def slip_ticket(html: str) -> str:
    return re.search(r'name="slip_ticket" value="([^"]+)"', html).group(1)


async def test_quick_pay_slip_shows_nothing_beyond_quick_pay(client):
    s = await shchukina()
    found = await find(client, {"contract_number": s.contract_number, "by": "number"})
    token = csrf_from(found.text)
    month = Month.current(utcnow())
    form = {"slip_ticket": slip_ticket(found.text), "period": month.iso, "_csrf_token": token}
    page = await client.post("/pay/slip", data={**form, "format": "page"})
    assert page.status_code == 200 and "<svg" in page.text
    html = " ".join(page.text.split())
    assert "Щукина Ю. Э." in html and "проспект Металлургов, д. 12" in html
    assert "Юлия" not in html and "кв. 45" not in html
    # No money of the contract: neither balance nor fee nor the amount due.
    for secret in ("123,45", "750,00", "873,45", "баланс", "Абонентская плата"):
        assert secret not in html, secret
    assert "сумму укажите в приложении банка" in html

    pdf = await client.post("/pay/slip", data={**form, "format": "pdf"})
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    [sheet] = read_pdf(pdf.content)
    fields = parse_st00012(sheet.codes[0])
    payee_fields_ok(fields)
    assert "Sum" not in fields and fields["PersAcc"] == s.contract_number
    assert fields["PaymPeriod"] == f"{month.month:02d}{month.year}"
    text = " ".join(sheet.text.split())
    assert "Щукина Ю. Э." in text and "Юлия" not in text and "кв. 45" not in text
    for secret in ("123,45", "750,00", "873,45"):
        assert secret not in text, secret

    # The visitor's own sum goes into the code; a bad one is refused in Russian.
    own = await client.post("/pay/slip", data={**form, "amount": "500", "format": "pdf"})
    assert parse_st00012(read_pdf(own.content)[0].codes[0])["Sum"] == "50000"
    bad = await client.post("/pay/slip", data={**form, "amount": "abc", "format": "pdf"})
    assert bad.status_code == 400 and "application/pdf" not in bad.headers["content-type"]


async def test_quick_pay_slip_needs_the_number_typed_and_a_signed_ticket(client):
    s = await shchukina()
    town = (await Subscriber.select(Subscriber.address._.street._.town.as_alias("t")).where(
        Subscriber.id == s.id).first())["t"]
    by_address = await find(client, {"by": "address", "town": str(town), "street": "металлургов",
                                     "house": "12", "apartment": "45"})
    assert "Щукина Ю. Э." in by_address.text
    # Found by address: no slip (it would tell the contract number), the number is not on the page.
    assert 'name="slip_ticket"' not in by_address.text and s.contract_number not in by_address.text
    assert "если найти договор по номеру" in by_address.text
    # The card-payment ticket is not a slip ticket, and a forged one is refused.
    pay_ticket = re.search(r'name="ticket" value="([^"]+)"', by_address.text).group(1)
    token = csrf_from(by_address.text)
    for ticket in (pay_ticket, f"{s.id}.9999999999.forged", ""):
        refused = await client.post("/pay/slip", data={"slip_ticket": ticket, "_csrf_token": token,
                                                        "format": "pdf"})
        assert refused.status_code == 400 and s.contract_number not in refused.text
        assert "Время на оплату истекло" in refused.text
