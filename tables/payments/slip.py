"""The payment slip (квитанция) of a contract and month, with the GOST R 56042-2014 QR code.

Bank apps scan the code and fill in the transfer: the provider's details from settings, the
amount in kopecks, and the contract number both in the purpose and as ``PersAcc`` — which is
what the bank statement import (``tables.payments.bank``) looks for when the money arrives.

The payload is the standard's "ST00012" form: format ``ST0001``, ``2`` = UTF-8, fields
``Name=value`` separated by ``|`` (the separator may not occur in a value).
"""

from __future__ import annotations

import datetime as dt
import io
from dataclasses import dataclass

import qrcode
import qrcode.image.svg
from markupsafe import Markup

from settings import Settings
from tables.billing.fee import monthly_fee
from tables.card import address_label
from tables.month import Month
from tables.subscribers import Subscriber, mask_name

HEADER = "ST00012"
SEPARATOR = "|"


@dataclass(frozen=True)
class Slip:
    contract: str
    name: str  # masked: surname and initials
    address: str
    month: Month
    balance: int
    fee: int
    amount: int  # due: the next charge less what the balance covers, never below zero
    purpose: str
    payload: str
    payee: dict[str, str]

    def qr_svg(self) -> Markup:
        """The QR code as inline SVG (error correction M, as bank apps read printed codes)."""
        return qr_svg(self.payload)


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


async def payment_slip(subscriber: Subscriber, month: Month, settings: Settings, *,
                       today: dt.date) -> Slip:
    """The slip of ``subscriber`` for ``month``: what is due and the QR code that pays it."""
    fee = (await monthly_fee(subscriber, today=today)).next
    amount = max(0, fee - subscriber.balance)
    purpose = (f"Оплата услуг связи по договору № {subscriber.contract_number} "
               f"за {month.title}, без НДС")
    payee = {"Name": settings.payee_name, "PersonalAcc": settings.payee_account,
             "BankName": settings.payee_bank, "BIC": settings.payee_bic,
             "CorrespAcc": settings.payee_corr_account, "PayeeINN": settings.payee_inn,
             "KPP": settings.payee_kpp}
    payload = st00012([*payee.items(), ("Sum", str(amount)), ("Purpose", purpose),
                       ("PersAcc", subscriber.contract_number),
                       ("PaymPeriod", f"{month.month:02d}{month.year}")])
    address = await address_label(subscriber.address) if subscriber.address else None
    return Slip(contract=subscriber.contract_number, name=mask_name(subscriber.full_name),
                address=address or "", month=month, balance=subscriber.balance, fee=fee,
                amount=amount, purpose=purpose, payload=payload, payee=payee)
