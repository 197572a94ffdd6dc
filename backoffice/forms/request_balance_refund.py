"""Balance refunds of terminated contracts: file one on the subscriber's behalf, and pay it out
through the ledger (a ``refund`` entry that takes the balance to zero, exactly once)."""

from __future__ import annotations

from piccolo_admin.endpoints import FormConfig
from pydantic import BaseModel, Field
from starlette.requests import Request

from backoffice.access import staff_actor
from backoffice.forms.request_common import REQUESTS_GROUP, number_field
from tables.money import format_plain
from tables.requests.balance_refund import complete_balance_refund, file_balance_refund
from tables.requests.queue import request_id_by_number
from tables.subscribers import require_subscriber


class FileRefundModel(BaseModel):
    contract_number: str = Field(title="Номер договора", min_length=1, max_length=12)
    details: str = Field(title="Куда вернуть", min_length=1, max_length=2000,
                         description="Реквизиты счёта или карты из заявления абонента, "
                                     "или «получит в кассе»")


async def file_refund(request: Request, data: FileRefundModel) -> str:
    subscriber = await require_subscriber(data.contract_number)
    created = await file_balance_refund(subscriber.id, data.details, actor=staff_actor(request))
    return (f"Заявка {created.number} на возврат остатка по договору № {subscriber.contract_number} "
            "подана. Выплата — формой «Выплатить остаток».")


FILE_FORM = FormConfig(
    name="Заявка на возврат остатка",
    pydantic_model=FileRefundModel,
    endpoint=file_refund,
    description="От имени абонента расторгнутого договора (по его заявлению в офисе).",
    form_group=REQUESTS_GROUP,
)


class CompleteRefundModel(BaseModel):
    number: str = number_field()


async def complete_refund(request: Request, data: CompleteRefundModel) -> str:
    request_id = await request_id_by_number(data.number)
    amount = await complete_balance_refund(request_id, actor=staff_actor(request))
    return (f"Заявка {data.number.strip()} выполнена: остаток {format_plain(amount)} ₽ выплачен, "
            "баланс договора — 0.")


FORM = FormConfig(
    name="Выплатить остаток",
    pydantic_model=CompleteRefundModel,
    endpoint=complete_refund,
    description=("Выплачивает весь остаток расторгнутого договора по заявке «Возврат остатка»: "
                 "проводка «Возврат» в журнале, баланс становится 0. Деньги перечислите по "
                 "реквизитам из заявки или выдайте в кассе."),
    form_group=REQUESTS_GROUP,
)
