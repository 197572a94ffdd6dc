"""The payment slip's QR code as a bank app reads it: Chromium renders /cabinet/slip, the code is
cut out of the screenshot, zbar (Debian's libzbar0 through pyzbar) decodes it, and every
GOST R 56042-2014 field is checked — Cyrillic included."""

from __future__ import annotations

import struct
import zlib

import pytest
from playwright.async_api import expect

from tables.payments.slip import parse_st00012
from tables.subscribers import Subscriber
from tests.support.browser import (
    SERIOUS_IMPACTS,
    add_subscriber_session,
    axe_violations,
    check_layout,
    unavailable,
)
from tests.support.factories import make_address, make_subscriber


def png_to_gray(data: bytes) -> tuple[bytes, int, int]:
    """8-bit RGB(A) non-interlaced PNG (what Chromium writes) → grayscale pixels, width, height."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, width = 8, b"", 0
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        chunk = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, color, _, _, interlace = struct.unpack(">IIBBBBB", chunk)
            assert depth == 8 and color in (2, 6) and interlace == 0, (depth, color, interlace)
            channels = 3 if color == 2 else 4
        elif kind == b"IDAT":
            idat += chunk
        pos += 12 + length
    raw = zlib.decompress(idat)
    stride = width * channels
    previous = bytearray(stride)
    gray = bytearray()
    for y in range(height):
        kind, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - channels] if i >= channels else 0
            b = previous[i]
            c = previous[i - channels] if i >= channels else 0
            if kind == 1:
                line[i] = (line[i] + a) & 255
            elif kind == 2:
                line[i] = (line[i] + b) & 255
            elif kind == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif kind == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        gray += bytes((line[x] * 299 + line[x + 1] * 587 + line[x + 2] * 114) // 1000
                      for x in range(0, stride, channels))
        previous = line
    return bytes(gray), width, height


async def test_the_slip_qr_decodes_to_every_field(new_context, live_server):
    try:
        from pyzbar.pyzbar import decode
    except (ImportError, OSError):
        unavailable("zbar is missing: `make e2e-deps` installs Debian's libzbar0 (pyzbar is in .[dev])")
    s = await make_subscriber(full_name="Щукина Юлия Эдуардовна", address=await make_address(
        street="проспект Металлургов", house="12", apartment="45"))
    await Subscriber.update({Subscriber.balance: -123_45}).where(Subscriber.id == s.id)
    context = await new_context()
    await add_subscriber_session(context, live_server, s.id)
    page = await context.new_page()
    response = await page.goto("/cabinet/slip?period=2026-12")
    assert response is not None and response.status == 200
    amount_text = await page.inner_text("#slip-amount")
    png = await page.locator("#slip-qr svg").screenshot()
    pixels, width, height = png_to_gray(png)
    found = decode((pixels, width, height))
    if not found:
        pytest.fail("zbar found no QR code in the rendered slip")
    payload = found[0].data.decode("utf-8")
    fields = parse_st00012(payload)
    assert payload.startswith("ST00012|")
    amount = int(fields["Sum"])
    assert amount_text.replace("\u00a0", " ").endswith(
        f"{amount // 100:,}".replace(",", " ") + f",{amount % 100:02d} ₽")
    assert amount == 750_00 + 123_45  # the next charge (the factory's 750 ₽ tariff) and the debt
    assert fields == {
        "Name": "ООО «Центра»", "PersonalAcc": "40702810900000012345",
        "BankName": "Кемеровское отделение № 8615 ПАО Сбербанк", "BIC": "043207612",
        "CorrespAcc": "30101810200000000612", "PayeeINN": "4217000000", "KPP": "421701001",
        "Sum": str(amount),
        "Purpose": f"Оплата услуг связи по договору № {s.contract_number} за декабрь 2026, без НДС",
        "PersAcc": s.contract_number, "PaymPeriod": "122026",
    }


async def test_quick_pay_slip_without_login(new_context, viewport):
    """A visitor types the contract number on /pay, opens the slip: the code reads back with
    every payee field and the number, no sum (the bank app asks), nothing of the contract's money
    on the page, which passes axe-core and the layout checks at both viewports."""
    try:
        from pyzbar.pyzbar import decode
    except (ImportError, OSError):
        unavailable("zbar is missing: `make qr-deps` installs Debian's libzbar0 (pyzbar is in .[dev])")
    s = await make_subscriber(full_name="Щукина Юлия Эдуардовна", fee=750_00, address=await make_address(
        street="проспект Металлургов", house="12", apartment="45"))
    await Subscriber.update({Subscriber.balance: -123_45}).where(Subscriber.id == s.id)
    context = await new_context(viewport, bypass_csp=True)
    page = await context.new_page()
    await page.goto("/pay")
    await page.get_by_label("Номер договора").fill(s.contract_number)
    await page.get_by_role("button", name="Найти по номеру").click()
    await page.get_by_role("button", name="Показать квитанцию").click()
    await expect(page.get_by_role("heading", level=1)).to_contain_text("Квитанция на оплату")
    text = await page.inner_text("main")
    assert "Щукина Ю. Э." in text and "Юлия" not in text and "кв. 45" not in text
    assert "873,45" not in text and "123,45" not in text and "750,00" not in text
    await check_layout(page)
    serious = [v for v in await axe_violations(page) if v["impact"] in SERIOUS_IMPACTS]
    assert not serious, serious
    png = await page.locator("#slip-qr svg").screenshot()
    found = decode(png_to_gray(png))
    if not found:
        pytest.fail("zbar found no QR code on the quick-pay slip")
    fields = parse_st00012(found[0].data.decode("utf-8"))
    assert fields["PersAcc"] == s.contract_number and "Sum" not in fields
    assert fields["Name"] == "ООО «Центра»" and fields["BIC"] == "043207612"
