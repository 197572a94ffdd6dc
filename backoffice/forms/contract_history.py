"""What happened to a contract: its audit trail, newest first."""

from __future__ import annotations

from piccolo_admin.endpoints import FormConfig
from pydantic import BaseModel, Field
from starlette.requests import Request

from tables.audit import contract_history as audit_trail
from tables.subscribers import require_subscriber
from web.formatting import datetime_ru


class HistoryModel(BaseModel):
    contract_number: str = Field(title="Номер договора", min_length=1, max_length=12)


async def contract_history(request: Request, data: HistoryModel) -> str:
    subscriber = await require_subscriber(data.contract_number)
    rows = await audit_trail(subscriber.id)
    if not rows:
        return f"По договору № {subscriber.contract_number} записей нет."
    lines = [f"{datetime_ru(r['created_at'])} — {r['actor_name']}: {r['action']}"
             + (f" ({r['message']})" if r["message"] else "") for r in rows]
    return f"История договора № {subscriber.contract_number}:\n" + "\n".join(lines)


FORM = FormConfig(
    name="История договора",
    pydantic_model=HistoryModel,
    endpoint=contract_history,
    description="Журнал действий по договору: входы, платежи, заявки, изменения, просмотры сотрудниками.",
    form_group="Абоненты",
)
