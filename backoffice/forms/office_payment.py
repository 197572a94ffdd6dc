"""Book a cash payment taken at the office."""

from __future__ import annotations

from piccolo_admin.endpoints import FormConfig
from pydantic import BaseModel, Field
from starlette.requests import Request

from backoffice.access import staff_actor
from tables.money import parse_rubles
from tables.payments.office import book_office_payment
from tables.subscribers import require_subscriber
from web.formatting import rub


class OfficePaymentModel(BaseModel):
    contract_number: str = Field(title="Номер договора", min_length=1, max_length=12)
    amount: str = Field(title="Сумма, ₽", description="Сумма в рублях, например 650 или 650,50")
    period: str | None = Field(title="За месяц", default=None, pattern=r"^\d{4}-(0[1-9]|1[0-2])$",
                               description="За месяц (ГГГГ-ММ), необязательно")


async def office_payment(request: Request, data: OfficePaymentModel) -> str:
    subscriber = await require_subscriber(data.contract_number)
    amount = parse_rubles(data.amount)
    await book_office_payment(subscriber.id, amount, period=data.period, actor=staff_actor(request))
    return f"Платёж {rub(amount)} по договору № {subscriber.contract_number} зачислен."


FORM = FormConfig(
    name="Оплата в кассе",
    pydantic_model=OfficePaymentModel,
    endpoint=office_payment,
    description="Зачисляет наличный платёж на баланс договора.",
    form_group="Деньги",
)
