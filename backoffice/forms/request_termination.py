"""Complete a termination request: the contract ends (today, or is scheduled to) and is no
longer charged after the date."""

from __future__ import annotations

import datetime as dt

from piccolo_admin.endpoints import FormConfig
from pydantic import BaseModel, Field
from starlette.requests import Request

from backoffice.access import staff_actor
from backoffice.forms.request_common import REQUESTS_GROUP, number_field
from tables.calendar import local_date, utcnow
from tables.requests.queue import request_id_by_number
from tables.requests.termination import complete_termination


class TerminationModel(BaseModel):
    number: str = number_field()
    terminated_on: dt.date | None = Field(default=None, title="Дата расторжения",
                                          description="Пусто — желаемая дата из заявки или сегодня")


async def complete(request: Request, data: TerminationModel) -> str:
    request_id = await request_id_by_number(data.number)
    day = await complete_termination(request_id, actor=staff_actor(request),
                                     terminated_on=data.terminated_on)
    if day > local_date(utcnow()):
        return (f"Заявка {data.number.strip()} выполнена: договор будет расторгнут с {day:%d.%m.%Y}. "
                "До этой даты услуги предоставляются и кабинет работает как обычно.")
    return (f"Заявка {data.number.strip()} выполнена: договор расторгнут с {day:%d.%m.%Y}. "
            "Итоговая выписка доступна абоненту в кабинете.")


FORM = FormConfig(
    name="Выполнить расторжение",
    pydantic_model=TerminationModel,
    endpoint=complete,
    description=("Договор расторгается с указанной даты: дата сегодня или раньше — сразу, "
                 "будущая — в начале этого дня. После даты плата не начисляется."),
    form_group=REQUESTS_GROUP,
)
