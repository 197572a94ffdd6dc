"""The payment slip (квитанция) of a contract and month, with the GOST R 56042-2014 QR code.

Bank apps scan the code and fill in the transfer: the provider's details from settings, the
amount in kopecks, and the contract number both in the purpose and as ``PersAcc`` — which is
what the bank statement import (``tables.payments.bank``) looks for when the money arrives.

Three readers: the subscriber (cabinet), an anonymous visitor of quick pay (only what quick pay
shows: surname and initials, the address without the apartment, no balance, no fee — the sum is
the one the visitor typed, or left for the bank app to ask) and staff (the office card, and a
batch for a street or a building, :func:`street_slips`).

The payload is the standard's "ST00012" form: format ``ST0001``, ``2`` = UTF-8, fields
``Name=value`` separated by ``|`` (the separator may not occur in a value).
"""

from __future__ import annotations

import base64
import datetime as dt
import io
import re
from dataclasses import dataclass

import qrcode
import qrcode.image.svg
from markupsafe import Markup

from settings import Settings
from tables.addresses import format_address, normalise
from tables.billing.fee import monthly_fee, monthly_fee_for
from tables.calendar import utcnow
from tables.card import address_label
from tables.month import Month
from tables.payments.quick_pay import contract_to_pay
from tables.subscribers import Subscriber, SubscriberStatus, mask_name

HEADER = "ST00012"
SEPARATOR = "|"


@dataclass(frozen=True)
class Slip:
    contract: str
    name: str  # masked: surname and initials
    address: str
    month: Month
    balance: int | None  # None on a quick-pay slip: an anonymous visitor sees no money of the contract
    fee: int | None
    amount: int | None  # due: the next charge less what the balance covers, never below zero;
    # on a quick-pay slip the visitor's own sum, or None (the payer types it in the bank app)
    purpose: str
    payload: str
    payee: dict[str, str]

    def qr_svg(self) -> Markup:
        """The QR code as inline SVG (error correction M, as bank apps read printed codes)."""
        return qr_svg(self.payload)

    def qr_png_uri(self) -> str:
        """The QR code as a PNG data URI, one pixel a module (the PDF scales it without smoothing):
        WeasyPrint lays out an inline SVG of ~2,000 path segments in ~0.3 s, this in ~0.01 s."""
        return qr_png_uri(self.payload)


def _clean(value: str) -> str:
    return " ".join(str(value).replace(SEPARATOR, "/").split())


def st00012(fields: list[tuple[str, str]]) -> str:
    """``ST00012|Name=…|PersonalAcc=…|…`` from (name, value) pairs, empty values left out."""
    return SEPARATOR.join([HEADER, *(f"{k}={_clean(v)}" for k, v in fields if str(v).strip())])


def parse_st00012(payload: str) -> dict[str, str]:
    """The fields of an ST00012 payload (what a bank app reads back)."""
    head, *parts = payload.split(SEPARATOR)
    if head != HEADER:
        raise ValueError(f"not an ST00012 payload: {head!r}")
    return dict(part.split("=", 1) for part in parts)


def qr_svg(payload: str) -> Markup:
    image = qrcode.make(payload.encode("utf-8"), image_factory=qrcode.image.svg.SvgPathFillImage,
                        error_correction=qrcode.constants.ERROR_CORRECT_M, box_size=10, border=4)
    buffer = io.BytesIO()
    image.save(buffer)
    svg = buffer.getvalue().decode("utf-8")
    svg = svg[svg.index("<svg"):]
    return Markup(svg.replace("<svg", '<svg role="img" aria-label="QR-код для оплаты в приложении банка"', 1))


def slip_month(period: str | None, *, now: dt.datetime | None = None) -> Month:
    """The month a slip is asked for (``YYYY-MM``): from a year back to two months ahead; the
    current month when none is given.

    :raises ValueError: (Russian) another form or a month outside that range.
    """
    current = Month.current(now or utcnow())
    if not period:
        return current
    message = f"Месяц указывается как ГГГГ-ММ, с {(current - 12).dotted} по {(current + 2).dotted}"
    month = Month.parse(period[:20], message=message)
    if not current - 12 <= month <= current + 2:
        raise ValueError(message)
    return month


def build_slip(*, contract: str, name: str, address: str, month: Month, settings: Settings,
               balance: int | None, fee: int | None, amount: int | None) -> Slip:
    """The slip from what its reader may see (``name`` already masked); the one place the
    purpose and the QR payload are written."""
    purpose = f"Оплата услуг связи по договору № {contract} за {month.title}, без НДС"
    payee = {"Name": settings.payee_name, "PersonalAcc": settings.payee_account,
             "BankName": settings.payee_bank, "BIC": settings.payee_bic,
             "CorrespAcc": settings.payee_corr_account, "PayeeINN": settings.payee_inn,
             "KPP": settings.payee_kpp}
    payload = st00012([*payee.items(), ("Sum", "" if amount is None else str(amount)),
                       ("Purpose", purpose), ("PersAcc", contract),
                       ("PaymPeriod", f"{month.month:02d}{month.year}")])
    return Slip(contract=contract, name=name, address=address, month=month, balance=balance, fee=fee,
                amount=amount, purpose=purpose, payload=payload, payee=payee)


def qr_png_uri(payload: str) -> str:
    image = qrcode.make(payload.encode("utf-8"), error_correction=qrcode.constants.ERROR_CORRECT_M,
                        box_size=1, border=4)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


async def payment_slip(subscriber: Subscriber, month: Month, settings: Settings, *,
                       today: dt.date) -> Slip:
    """The slip of ``subscriber`` for ``month``: what is due and the QR code that pays it."""
    fee = (await monthly_fee(subscriber, today=today)).next
    address = await address_label(subscriber.address) if subscriber.address else None
    return build_slip(contract=subscriber.contract_number, name=mask_name(subscriber.full_name),
                      address=address or "", month=month, settings=settings,
                      balance=subscriber.balance, fee=fee, amount=max(0, fee - subscriber.balance))


async def quick_pay_slip(subscriber_id: int, month: Month, settings: Settings, *,
                         amount: int | None) -> Slip | None:
    """The slip quick pay hands an anonymous visitor who typed the contract number: what quick
    pay shows (:func:`tables.payments.quick_pay.contract_to_pay`) and nothing of the contract's
    money — the sum is the visitor's own, or none."""
    contract = await contract_to_pay(subscriber_id)
    rows = await Subscriber.raw("SELECT contract_number FROM subscriber WHERE id = {}", subscriber_id)
    if contract is None or not rows:
        return None
    return build_slip(contract=rows[0]["contract_number"], name=contract.name, address=contract.address,
                      month=month, settings=settings, balance=None, fee=None, amount=amount)


#: Contracts that get a slip in a batch for mailboxes: those in force (a suspended one owes and
#: needs it most); a terminated contract gets none.
BATCH_STATUSES = (SubscriberStatus.ACTIVE, SubscriberStatus.SUSPENDED)

#: A street or a building is printed as one PDF; more than this is refused (a mistake, not a street).
MAX_BATCH = 5000


def _natural(text: str) -> tuple:
    """«2», «10», «10а» in the order a postman walks them."""
    return tuple((0, int(part), "") if part.isdigit() else (1, 0, part)
                 for part in re.findall(r"\d+|\D+", (text or "").lower()))


async def street_slips(street_id: int, house: str, month: Month, settings: Settings, *,
                       today: dt.date) -> list[Slip]:
    """Slips of every contract in force (:data:`BATCH_STATUSES`) at a building — ``house`` on the
    street — or on the whole street when ``house`` is empty, one per contract, in the order of
    houses and apartments, as staff print them for mailboxes.

    :raises ValueError: (Russian) a batch longer than :data:`MAX_BATCH`.
    """
    rows = await Subscriber.raw(
        "SELECT s.id, s.contract_number, s.full_name, s.balance, s.tariff, s.router_rented,"
        " s.terminated_on, t.name AS town, st.name AS street, a.house, a.apartment"
        " FROM subscriber s JOIN address a ON a.id = s.address JOIN street st ON st.id = a.street"
        " JOIN town t ON t.id = st.town WHERE a.street = {} AND s.status IN ({}, {})",
        street_id, *(str(status) for status in BATCH_STATUSES))
    wanted = normalise(house)
    rows = [r for r in rows if not wanted or normalise(r["house"]) == wanted]
    if len(rows) > MAX_BATCH:
        raise ValueError(f"Слишком много квитанций в одном файле ({len(rows)}): выберите дом, "
                         f"не больше {MAX_BATCH}")
    rows.sort(key=lambda r: (_natural(r["house"]), _natural(r["apartment"]), r["contract_number"]))
    slips = []
    for r in rows:
        fee = (await monthly_fee_for(r["id"], r["tariff"], bool(r["router_rented"]), today=today,
                                     terminated_on=r["terminated_on"])).next
        slips.append(build_slip(
            contract=r["contract_number"], name=mask_name(r["full_name"]), month=month, settings=settings,
            address=format_address(r["town"], r["street"], r["house"], r["apartment"]),
            balance=r["balance"], fee=fee, amount=max(0, fee - r["balance"])))
    return slips


async def streets_by_town() -> list[dict]:
    """Towns and their streets (id, name) for the batch form, by name."""
    rows = await Subscriber.raw(
        "SELECT st.id, st.name, t.name AS town FROM street st JOIN town t ON t.id = st.town"
        " ORDER BY t.name, st.name")
    towns: dict[str, list[dict]] = {}
    for r in rows:
        towns.setdefault(r["town"], []).append({"id": r["id"], "name": r["name"]})
    return [{"town": town, "streets": streets} for town, streets in towns.items()]
