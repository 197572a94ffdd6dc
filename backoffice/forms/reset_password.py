"""Reset a subscriber's password to a new one-time password."""

from __future__ import annotations

from piccolo_admin.endpoints import FormConfig
from pydantic import BaseModel, Field
from starlette.requests import Request

from backoffice.access import staff_actor
from tables.accounts import reset_password
from tables.subscribers import require_subscriber


class ResetPasswordModel(BaseModel):
    contract_number: str = Field(title="Номер договора", min_length=1, max_length=12)


async def reset(request: Request, data: ResetPasswordModel) -> str:
    subscriber = await require_subscriber(data.contract_number)
    one_time = await reset_password(subscriber.id, actor=staff_actor(request))
    return (f"Новый одноразовый пароль для договора № {subscriber.contract_number}: {one_time}. "
            "При входе абонент задаст свой пароль.")


FORM = FormConfig(
    name="Сброс пароля абонента",
    pydantic_model=ResetPasswordModel,
    endpoint=reset,
    description="Выдаёт новый одноразовый пароль; прежний перестаёт действовать.",
    form_group="Абоненты",
)
