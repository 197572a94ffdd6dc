"""Refund a card payment fully or partly to the card it came from."""

from __future__ import annotations

from piccolo_admin.endpoints import FormConfig
from pydantic import BaseModel, Field
from starlette.requests import Request

from backoffice.access import staff_actor
from db.engine import MAX_ROW_ID
from tables.money import parse_rubles
from tables.payments.refunds import refund_payment
from web.formatting import rub


class RefundModel(BaseModel):
    payment_id: int = Field(title="Номер платежа", gt=0, le=MAX_ROW_ID,
                            description="Номер платежа (ID в таблице «Payment»)")
    amount: str = Field(title="Сумма возврата, ₽",
                        description="Сумма возврата в рублях, например 650 или 650,50")
    reason: str = Field(title="Причина возврата", min_length=3, max_length=500)


async def refund(request: Request, data: RefundModel) -> str:
    amount = parse_rubles(data.amount)
    result = await refund_payment(data.payment_id, amount, data.reason, actor=staff_actor(request))
    if result.status == "pending":
        return (f"Возврат {rub(amount)} по платежу № {data.payment_id} отправлен, но платёжная система "
                "пока не ответила. Сумма зарезервирована; сверка платежей завершит возврат.")
    return (f"Возврат {rub(amount)} по платежу № {data.payment_id} выполнен "
            f"({result.provider_refund_id}); сумма списана с баланса договора.")


FORM = FormConfig(
    name="Возврат платежа",
    pydantic_model=RefundModel,
    endpoint=refund,
    description="Возвращает оплату картой полностью или частично; не больше остатка платежа.",
    form_group="Деньги",
)
