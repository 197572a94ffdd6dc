"""Run the monthly charge for a period (the same run as ``piccolo tables charge``)."""

from __future__ import annotations

from typing import Any

from piccolo_admin.endpoints import FormConfig
from pydantic import BaseModel, ConfigDict, Field
from starlette.requests import Request

from backoffice.access import staff_actor
from cabinet.formatting import rub
from tables.billing import current_period, run_charges


def _current_month_default(schema: dict[str, Any]) -> None:
    # The schema is built on every form load, so the default follows the calendar.
    schema["properties"]["period"]["default"] = current_period().label


class ChargeRunModel(BaseModel):
    model_config = ConfigDict(json_schema_extra=_current_month_default)

    period: str = Field(title="Период", default="", pattern=r"^(\d{4}-(0[1-9]|1[0-2]))?$",
                        description="Период ГГГГ-ММ; пусто — текущий месяц")


async def charge_run(request: Request, data: ChargeRunModel) -> str:
    run = await run_charges(data.period or None, actor=staff_actor(request))
    return (f"Начисление за {run.period} выполнено: договоров — {run.contracts_charged}, "
            f"сумма — {rub(run.total)}, приостановлено за долг — {run.contracts_suspended}. "
            "Повторный запуск за тот же период начисляет только новые договоры.")


FORM = FormConfig(
    name="Начисление абонентской платы",
    pydantic_model=ChargeRunModel,
    endpoint=charge_run,
    description=("Списывает абонентскую плату за месяц со всех действующих договоров "
                 "(пропорционально дням при подключении или расторжении в этом месяце). "
                 "Уже начисленные за период договоры пропускаются."),
    form_group="Деньги",
)
