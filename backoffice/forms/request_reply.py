"""Answer the subscriber (or leave an internal note) on a request."""

from __future__ import annotations

from piccolo_admin.endpoints import FormConfig
from pydantic import BaseModel, Field
from starlette.requests import Request

from backoffice.access import staff_actor
from backoffice.forms.request_common import REQUESTS_GROUP, number_field
from tables.requests.queue import reply, request_id_by_number


class ReplyModel(BaseModel):
    number: str = number_field()
    message: str = Field(min_length=1, max_length=4000, title="Сообщение")
    internal: bool = Field(default=False, title="Внутренняя заметка",
                           description="Абонент её не увидит и уведомление не уйдёт")


async def answer(request: Request, data: ReplyModel) -> str:
    request_id = await request_id_by_number(data.number)
    await reply(request_id, data.message, actor=staff_actor(request), internal=data.internal)
    if data.internal:
        return f"Заметка к заявке {data.number.strip()} сохранена (абонент её не видит)."
    return f"Ответ по заявке {data.number.strip()} отправлен абоненту."


FORM = FormConfig(
    name="Ответить по заявке",
    pydantic_model=ReplyModel,
    endpoint=answer,
    description="Ответ виден абоненту в кабинете и уходит ему уведомлением.",
    form_group=REQUESTS_GROUP,
)
