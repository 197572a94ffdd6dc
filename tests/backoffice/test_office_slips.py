"""Payment slips in the office: from the subscriber card, and a batch for a street or a building
(one per page, for mailboxes) — read back from the PDF (PDFium renders, zbar decodes), and who may."""

from __future__ import annotations

import httpx
import pytest

from settings import get_settings
from tables.month import Month
from tables.payments.slip import parse_st00012, street_slips
from tables.subscribers import Subscriber, SubscriberStatus
from tests.support.factories import make_address, make_subscriber
from tests.support.helpers import admin_login, make_staff
from tests.support.pdf import read_pdf, require_pdf_tools

STREET = "улица Строителей"


async def office(client: httpx.AsyncClient, role: str = "administrator", name: str = "clerk") -> None:
    await make_staff(name, role=role)
    await admin_login(client, name)


async def resident(house: str, apartment: str, name: str, *, street: str = STREET,
                   status: SubscriberStatus = SubscriberStatus.ACTIVE, balance: int = 0) -> Subscriber:
    s = await make_subscriber(full_name=name, fee=600_00, address=await make_address(
        street=street, house=house, apartment=apartment))
    await Subscriber.update({Subscriber.status: status, Subscriber.balance: balance}).where(
        Subscriber.id == s.id)
    return s


async def building() -> dict:
    """House 12: three active contracts, one suspended for debt, one terminated; house 12а and
    another street beside it."""
    in_force = [await resident("12", "10", "Ёлкина Анна Петровна"),
                await resident("12", "2", "Жуков Борис Ильич", balance=100_00),
                await resident("12", "1", "Щербаков Эдуард Юрьевич", balance=700_00),
                await resident("12", "3", "Фёдорова Ия Львовна", status=SubscriberStatus.SUSPENDED,
                               balance=-250_50)]
    gone = await resident("12", "4", "Карпов Олег Олегович", status=SubscriberStatus.TERMINATED)
    next_door = await resident("12а", "1", "Ли Ян")
    elsewhere = await resident("12", "5", "Орлов Пётр Ильич", street="улица Мира")
    street_id = (await Subscriber.select(Subscriber.address._.street.as_alias("st")).where(
        Subscriber.id == in_force[0].id).first())["st"]
    return {"in_force": in_force, "gone": gone, "next_door": next_door, "elsewhere": elsewhere,
            "street": street_id}


async def test_batch_holds_every_contract_in_force_at_the_building_in_mailbox_order():
    b = await building()
    month = Month(2026, 12)
    import datetime as dt

    slips = await street_slips(b["street"], " 12 ", month, get_settings(), today=dt.date(2026, 12, 7))
    # Apartments 1, 2, 3, 10 (not 1, 10, 2, 3); the terminated one, house 12а and the other street left out.
    assert [x.contract for x in slips] == [b["in_force"][i].contract_number for i in (2, 1, 3, 0)]
    assert [x.amount for x in slips] == [0, 500_00, 850_50, 600_00]
    whole_street = await street_slips(b["street"], "", month, get_settings(), today=dt.date(2026, 12, 7))
    assert len(whole_street) == 5 and whole_street[-1].contract == b["next_door"].contract_number


async def test_batch_pdf_one_slip_a_page_each_code_read_back(client):
    require_pdf_tools()
    b = await building()
    await office(client)
    page = await client.get(f"/office/slips?street={b['street']}&house=12&period=2026-12")
    assert page.status_code == 200 and "Квитанций: 4" in page.text
    assert "Карпов" not in page.text and "Ли Я." not in page.text and "Орлов" not in page.text
    assert "Ёлкина А. П." in page.text and "Анна" not in page.text
    pdf = await client.get(f"/office/slips.pdf?street={b['street']}&house=12&period=2026-12")
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    pages = read_pdf(pdf.content)
    assert len(pages) == 4 == len([s for s in b["in_force"]])
    expected = {s.contract_number: s for s in b["in_force"]}
    seen = []
    for sheet in pages:
        [payload] = sheet.codes
        fields = parse_st00012(payload)
        assert fields["Name"] == get_settings().payee_name and fields["PaymPeriod"] == "122026"
        number = fields["PersAcc"]
        assert f"договору № {number} за декабрь 2026" in fields["Purpose"]
        assert number in " ".join(sheet.text.split())
        seen.append(number)
    assert sorted(seen) == sorted(expected)
    text = " ".join(" ".join(p.text.split()) for p in pages)
    assert "Фёдорова И. Л." in text and "Щербаков Э. Ю." in text and "улица Строителей, д. 12, кв. 3" in text


async def test_batch_refuses_bad_input_in_russian(client):
    b = await building()
    await office(client)
    for query, message in ((f"street={b['street']}&period=1999-01", "ГГГГ-ММ"),
                           ("street=999999&period=2026-12", "Выберите улицу из списка"),
                           ("street=abc&period=2026-12", "Выберите улицу из списка")):
        for path in ("/office/slips", "/office/slips.pdf"):
            response = await client.get(f"{path}?{query}")
            assert response.status_code == 422 and message in response.text, (path, query)
    empty = await client.get(f"/office/slips?street={b['street']}&house=99")
    assert empty.status_code == 200 and "Квитанций: 0" in empty.text


async def test_card_slip_page_and_pdf(client):
    require_pdf_tools()
    s = await resident("7", "70", "Щукина Юлия Эдуардовна", balance=-123_45)
    await office(client)
    card = await client.get(f"/office/subscribers/{s.contract_number}")
    assert f"/office/subscribers/{s.contract_number}/slip" in card.text
    page = await client.get(f"/office/subscribers/{s.contract_number}/slip?period=2026-12")
    assert page.status_code == 200 and "<svg" in page.text and "723,45" in page.text
    pdf = await client.get(f"/office/subscribers/{s.contract_number}/slip.pdf?period=2026-12")
    [sheet] = read_pdf(pdf.content)
    fields = parse_st00012(sheet.codes[0])
    assert fields["Sum"] == "72345" and fields["PersAcc"] == s.contract_number
    assert fields["BIC"] == get_settings().payee_bic and fields["PayeeINN"] == get_settings().payee_inn
    assert "Щукина Ю. Э." in sheet.text and "проспект" not in sheet.text


@pytest.mark.parametrize("role,allowed", [("operator", True), ("cashier", True), ("manager", False),
                                          ("administrator", True)])
async def test_who_prints_slips(client, role, allowed):
    b = await building()
    s = b["in_force"][0]
    await office(client, role, f"slip-{role}")
    card = await client.get(f"/office/subscribers/{s.contract_number}")
    assert (f"/office/subscribers/{s.contract_number}/slip" in card.text) is allowed
    for path in (f"/office/subscribers/{s.contract_number}/slip",
                 f"/office/slips?street={b['street']}&house=12&period=2026-12",
                 f"/office/slips.pdf?street={b['street']}&house=12&period=2026-12"):
        response = await client.get(path)
        assert (response.status_code == 200) is allowed, (role, path, response.status_code)
        if not allowed:
            assert response.status_code == 403 and "Вашей роли это действие недоступно" in response.text
            assert "Ёлкина" not in response.text


async def test_slips_need_a_staff_login(client):
    b = await building()
    for path in (f"/office/subscribers/{b['in_force'][0].contract_number}/slip.pdf",
                 f"/office/slips.pdf?street={b['street']}&house=12"):
        response = await client.get(path)
        assert response.status_code == 401 and "Ёлкина" not in response.text


async def test_a_long_batch_is_laid_out_in_a_worker_process(client):
    require_pdf_tools()
    from web.slip_pdf import PROCESS_FROM

    b = await building()
    for apartment in range(20, 20 + PROCESS_FROM):
        await resident("12", str(apartment), f"Жильцов Дом{apartment} Иванович")
    await office(client)
    pdf = await client.get(f"/office/slips.pdf?street={b['street']}&house=12&period=2026-12")
    pages = read_pdf(pdf.content, scale=2.5)
    assert len(pages) == 4 + PROCESS_FROM
    assert all(len(p.codes) == 1 for p in pages)
    assert "Жильцов Д. И." in pages[-1].text
