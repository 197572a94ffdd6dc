"""Reject a request, with the reason the subscriber reads."""

from __future__ import annotations

from piccolo_admin.endpoints import FormConfig
from pydantic import BaseModel, Field
from starlette.requests import Request

from backoffice.access import staff_actor
from backoffice.forms.request_common import REQUESTS_GROUP, number_field
from tables.requests.queue import close_request, request_id_by_number


class RejectModel(BaseModel):
    number: str = number_field()
    reason: str = Field(min_length=1, max_length=1000, title="Причина отказа",
                        description="Увидит абонент")


async def reject(request: Request, data: RejectModel) -> str:
    request_id = await request_id_by_number(data.number)
    await close_request(request_id, actor=staff_actor(request), done=False, reason=data.reason)
    return f"Заявка {data.number.strip()} отклонена."


FORM = FormConfig(
    name="Отклонить заявку",
    pydantic_model=RejectModel,
    endpoint=reject,
    description="Закрывает заявку любого вида с указанной причиной.",
    form_group=REQUESTS_GROUP,
)
