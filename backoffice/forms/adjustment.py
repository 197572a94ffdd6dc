"""Correct a balance with an adjustment entry (ledger rows are never edited)."""

from __future__ import annotations

from piccolo_admin.endpoints import FormConfig
from pydantic import BaseModel, Field
from starlette.requests import Request

from backoffice.access import staff_actor
from tables.ledger import post_adjustment
from tables.money import parse_signed_rubles
from tables.subscribers import require_subscriber
from web.formatting import rub


class AdjustmentModel(BaseModel):
    contract_number: str = Field(title="Номер договора", min_length=1, max_length=12)
    amount: str = Field(title="Сумма, ₽", description="Сумма в рублях; со знаком минус — списание")
    reason: str = Field(title="Причина", min_length=3, max_length=500, description="Причина корректировки")


async def adjust(request: Request, data: AdjustmentModel) -> str:
    subscriber = await require_subscriber(data.contract_number)
    amount = parse_signed_rubles(data.amount)
    balance = await post_adjustment(subscriber.id, amount, data.reason, actor=staff_actor(request))
    return f"Корректировка проведена. Баланс договора № {subscriber.contract_number}: {rub(balance)}."


FORM = FormConfig(
    name="Корректировка баланса",
    pydantic_model=AdjustmentModel,
    endpoint=adjust,
    description="Новая проводка с причиной; старые проводки не редактируются.",
    form_group="Деньги",
)
