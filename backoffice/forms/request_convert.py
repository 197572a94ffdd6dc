"""Sign a contract for a connection application (number + one-time password)."""

from __future__ import annotations

import datetime as dt

from piccolo_admin.endpoints import FormConfig
from pydantic import BaseModel, Field
from starlette.requests import Request

from backoffice.access import staff_actor
from backoffice.forms.request_common import REQUESTS_GROUP, number_field
from tables.requests.connection import convert_application
from tables.requests.queue import request_id_by_number


class ConvertModel(BaseModel):
    number: str = number_field()
    full_name: str = Field(default="", max_length=200, title="ФИО абонента",
                           description="Пусто — имя из заявки")
    connected_on: dt.date | None = Field(default=None, title="Дата подключения",
                                         description="Пусто — сегодня")


async def convert(request: Request, data: ConvertModel) -> str:
    request_id = await request_id_by_number(data.number)
    subscriber, one_time = await convert_application(
        request_id, actor=staff_actor(request), full_name=data.full_name,
        connected_on=data.connected_on,
    )
    return (f"По заявке {data.number.strip()} оформлен договор № {subscriber.contract_number}. "
            f"Одноразовый пароль для входа: {one_time} — распечатайте его для абонента, "
            "повторно он не показывается.")


FORM = FormConfig(
    name="Оформить договор по заявке",
    pydantic_model=ConvertModel,
    endpoint=convert,
    description=("Создаёт договор по заявке на подключение: номер и одноразовый пароль. Тариф, "
                 "роутер и адрес — из заявки (адрес добавится в справочник); другой тариф — после "
                 "оформления, сменой тарифа на карточке абонента."),
    form_group=REQUESTS_GROUP,
)
