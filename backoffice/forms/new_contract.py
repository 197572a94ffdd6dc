"""Sign a new contract: issues a contract number and a one-time password to print."""

from __future__ import annotations

import datetime as dt

from piccolo_admin.endpoints import FormConfig
from pydantic import BaseModel, Field
from starlette.requests import Request

from backoffice.access import staff_actor
from db.engine import MAX_ROW_ID
from tables.subscribers import create_subscriber


class NewContractModel(BaseModel):
    full_name: str = Field(title="ФИО абонента", min_length=3, max_length=200)
    address_id: int = Field(title="ID адреса", ge=1, le=MAX_ROW_ID,
                            description="ID адреса из справочника «Address»")
    tariff_id: int = Field(title="ID тарифа", ge=1, le=MAX_ROW_ID)
    phone: str = Field(title="Телефон", default="", max_length=20)
    email: str = Field(title="Эл. почта", default="", max_length=200, description="E-mail")
    connected_on: dt.date | None = Field(title="Дата подключения", default=None)


async def new_contract(request: Request, data: NewContractModel) -> str:
    subscriber, one_time = await create_subscriber(
        full_name=data.full_name, address_id=data.address_id, tariff_id=data.tariff_id,
        phone=data.phone, email=data.email, connected_on=data.connected_on,
        actor=staff_actor(request),
    )
    return (f"Договор № {subscriber.contract_number} создан. Одноразовый пароль для входа: "
            f"{one_time} — распечатайте его для абонента, повторно он не показывается.")


FORM = FormConfig(
    name="Новый договор",
    pydantic_model=NewContractModel,
    endpoint=new_contract,
    description="Создаёт договор с новым номером и одноразовым паролем для первого входа.",
    form_group="Абоненты",
)
