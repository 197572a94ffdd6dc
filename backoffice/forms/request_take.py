"""Take a request into work, or assign it to another clerk."""

from __future__ import annotations

from piccolo_admin.endpoints import FormConfig
from pydantic import BaseModel, Field
from starlette.requests import Request

from backoffice.access import staff_actor
from backoffice.forms.request_common import REQUESTS_GROUP, number_field
from tables.requests.queue import request_id_by_number, staff_id_by_username, take_request


class TakeModel(BaseModel):
    number: str = number_field()
    assignee: str = Field(default="", max_length=150, title="Исполнитель (логин)",
                          description="Пусто — взять себе")


async def take(request: Request, data: TakeModel) -> str:
    request_id = await request_id_by_number(data.number)
    assignee_id = None
    if data.assignee.strip():
        assignee_id = await staff_id_by_username(data.assignee)
        if assignee_id is None:
            raise ValueError(f"Сотрудник «{data.assignee.strip()}» не найден.")
    await take_request(request_id, actor=staff_actor(request), assignee_id=assignee_id)
    return f"Заявка {data.number.strip()} в работе."


FORM = FormConfig(
    name="Взять заявку в работу",
    pydantic_model=TakeModel,
    endpoint=take,
    description="Новая заявка переходит «В работу»; можно назначить другого исполнителя.",
    form_group=REQUESTS_GROUP,
)
