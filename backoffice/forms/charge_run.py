"""Run the monthly charge for a period (the same run as ``piccolo tables charge``).

Two steps: without «Подтверждаю» the form only shows the preview (contracts, sum,
suspensions, tariff changes) computed by :func:`tables.billing.charge_run.preview_charges`;
with it ticked the run is made.  A period after the current local month is refused
by the domain in both steps.
"""

from __future__ import annotations

from typing import Any

from piccolo_admin.endpoints import FormConfig
from pydantic import BaseModel, ConfigDict, Field
from starlette.requests import Request

from backoffice.access import staff_actor
from tables.billing.charge_run import ChargePreview, preview_charges, run_charges
from tables.month import Month
from web.formatting import rub


def _current_month_default(schema: dict[str, Any]) -> None:
    # The schema is built on every form load, so the default follows the calendar.
    schema["properties"]["period"]["default"] = Month.current().iso


class ChargeRunModel(BaseModel):
    model_config = ConfigDict(json_schema_extra=_current_month_default)

    period: str = Field(title="Период", default="", pattern=r"^(\d{4}-(0[1-9]|1[0-2]))?$",
                        description="Период ГГГГ-ММ; пусто — текущий месяц")
    confirm: bool = Field(title="Подтверждаю начисление", default=False,
                          description="Без отметки форма только покажет, что будет сделано")


def preview_text(preview: ChargePreview) -> str:
    """The preview as the clerk reads it (also used by the staff page)."""
    return (f"Будет начислено за {preview.period.title}: договоров — {preview.contracts}, "
            f"сумма — {rub(preview.total)}, будет приостановлено за долг — {preview.suspensions}, "
            f"вступит в силу смен тарифа — {preview.tariff_changes}"
            + (f"; уже начислено ранее — {preview.already_charged}" if preview.already_charged else "")
            + ".")


async def charge_run(request: Request, data: ChargeRunModel) -> str:
    if not data.confirm:
        preview = await preview_charges(data.period or None)
        return (preview_text(preview) + " Ничего не начислено: отметьте «Подтверждаю начисление» "
                "и отправьте форму ещё раз.")
    run = await run_charges(data.period or None, actor=staff_actor(request))
    return (f"Начисление за {run.period} выполнено: договоров — {run.contracts_charged}, "
            f"сумма — {rub(run.total)}, приостановлено за долг — {run.contracts_suspended}. "
            "Повторный запуск за тот же период начисляет только новые договоры.")


FORM = FormConfig(
    name="Начисление абонентской платы",
    pydantic_model=ChargeRunModel,
    endpoint=charge_run,
    description=("Сначала показывает, что будет сделано (договоры, сумма, приостановки, смены тарифа), "
                 "и начисляет только с отметкой «Подтверждаю начисление». Будущий месяц не принимается. "
                 "Уже начисленные за период договоры пропускаются."),
    form_group="Деньги",
)
