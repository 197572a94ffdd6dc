"""Totals of payments by status, channel, dates and town (the payment list's sums)."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from piccolo_admin.endpoints import FormConfig
from pydantic import BaseModel, Field
from starlette.requests import Request

from tables.addresses import Town
from tables.payments.payment import PAYMENT_STATUS_LABELS, payment_totals
from web.formatting import rub


class PaymentReportModel(BaseModel):
    status: Literal["", "created", "requires_action", "succeeded", "failed", "refunded"] = Field(
        title="Состояние", default="", description="Состояние (пусто — все)")
    channel: Literal["", "cabinet", "quick_pay", "office", "agent", "bank"] = Field(
        title="Канал", default="",
        description="Канал: cabinet — кабинет, quick_pay — без входа, office — касса, "
                    "agent — агенты и терминалы, bank — банковский перевод")
    date_from: dt.date | None = Field(title="С даты", default=None, description="С даты (включительно)")
    date_to: dt.date | None = Field(title="По дату", default=None, description="По дату (включительно)")
    town: str = Field(title="Город", default="", max_length=100, description="Город (пусто — все)")


async def payment_report(request: Request, data: PaymentReportModel) -> str:
    town_id = None
    if data.town.strip():
        town = await Town.objects().where(Town.name == data.town.strip()).first()
        if town is None:
            raise ValueError(f"Город «{data.town.strip()}» не найден в справочнике")
        town_id = town.id
    totals = await payment_totals(status=data.status or None, channel=data.channel or None,
                                  date_from=data.date_from, date_to=data.date_to, town_id=town_id)
    parts = [f"{PAYMENT_STATUS_LABELS[s]} — {v['count']} на {rub(v['amount'])}"
             for s, v in totals["by_status"].items()]
    return (f"Платежей: {totals['count']} на {rub(totals['amount'])}; зачислено {rub(totals['credited'])}, "
            f"возвращено {rub(totals['refunded'])}. " + ("; ".join(parts) or "Ничего не найдено."))


FORM = FormConfig(
    name="Итоги по платежам",
    pydantic_model=PaymentReportModel,
    endpoint=payment_report,
    description="Количество и суммы платежей с фильтрами по состоянию, каналу, датам и городу.",
    form_group="Деньги",
)
