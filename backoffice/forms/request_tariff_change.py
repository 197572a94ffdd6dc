"""Complete a tariff change request: the new tariff applies from the next period."""

from __future__ import annotations

from piccolo_admin.endpoints import FormConfig
from pydantic import BaseModel
from starlette.requests import Request

from backoffice.access import staff_actor
from backoffice.forms.request_common import REQUESTS_GROUP, number_field
from tables.requests.queue import request_id_by_number
from tables.requests.tariff_change import complete_tariff_change


class TariffChangeModel(BaseModel):
    number: str = number_field()


async def complete(request: Request, data: TariffChangeModel) -> str:
    request_id = await request_id_by_number(data.number)
    effective = await complete_tariff_change(request_id, actor=staff_actor(request))
    return (f"Заявка {data.number.strip()} выполнена: новый тариф действует с "
            f"{effective:%d.%m.%Y}, текущий месяц — по прежнему тарифу.")


FORM = FormConfig(
    name="Выполнить смену тарифа",
    pydantic_model=TariffChangeModel,
    endpoint=complete,
    description="Новый тариф записывается в договор с 1-го числа следующего месяца.",
    form_group=REQUESTS_GROUP,
)
