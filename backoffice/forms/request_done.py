"""Close a request as done (repairs, services, questions)."""

from __future__ import annotations

from piccolo_admin.endpoints import FormConfig
from pydantic import BaseModel, Field
from starlette.requests import Request

from backoffice.access import staff_actor
from backoffice.forms.request_common import REQUESTS_GROUP, number_field
from tables.requests.queue import close_request, request_id_by_number


class DoneModel(BaseModel):
    number: str = number_field()
    result: str = Field(default="", max_length=1000, title="Что сделано",
                        description="Увидит абонент")


async def done(request: Request, data: DoneModel) -> str:
    request_id = await request_id_by_number(data.number)
    await close_request(request_id, actor=staff_actor(request), done=True, reason=data.result)
    return f"Заявка {data.number.strip()} выполнена."


FORM = FormConfig(
    name="Закрыть заявку как выполненную",
    pydantic_model=DoneModel,
    endpoint=done,
    description="Для смены тарифа, расторжения и подключения — свои действия.",
    form_group=REQUESTS_GROUP,
)
