"""Open a read-only view of a subscriber's cabinet (to help on the phone); audited."""

from __future__ import annotations

from piccolo_admin.endpoints import FormConfig
from pydantic import BaseModel, Field
from starlette.requests import Request

from backoffice.access import staff_actor
from tables.accounts import VIEW_LINK_TTL, start_staff_view
from tables.subscribers import require_subscriber


class ViewCabinetModel(BaseModel):
    contract_number: str = Field(title="Номер договора", min_length=1, max_length=12)


async def view_cabinet(request: Request, data: ViewCabinetModel) -> str:
    subscriber = await require_subscriber(data.contract_number)
    token = await start_staff_view(subscriber.id, actor=staff_actor(request))
    minutes = int(VIEW_LINK_TTL.total_seconds() // 60)
    return (f"Откройте ссылку в новой вкладке (действует {minutes} минут, один раз): "
            f"/staff-view/{token} — кабинет договора № {subscriber.contract_number} в режиме "
            "только для чтения. Просмотр записан в журнал и виден абоненту.")


FORM = FormConfig(
    name="Просмотр кабинета абонента",
    pydantic_model=ViewCabinetModel,
    endpoint=view_cabinet,
    description="Ссылка на кабинет абонента в режиме только для чтения.",
    form_group="Абоненты",
)
