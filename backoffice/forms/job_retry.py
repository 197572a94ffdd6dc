"""Queue a failed background job again (an export, or a scheduled task that gave up)."""

from __future__ import annotations

from piccolo_admin.endpoints import FormConfig
from pydantic import BaseModel, Field
from starlette.requests import Request

from backoffice.access import staff_actor
from jobs.exports import retry


class JobRetryModel(BaseModel):
    job_id: int = Field(title="Номер задания", gt=0,
                        description="Из таблицы «Фоновые задания» (Система); только задание с ошибкой")


async def job_retry(request: Request, data: JobRetryModel) -> str:
    return await retry(data.job_id, actor=staff_actor(request))


FORM = FormConfig(
    name="Повторить фоновое задание",
    pydantic_model=JobRetryModel,
    endpoint=job_retry,
    description=("Ставит задание с ошибкой в очередь ещё раз: выгрузку — с теми же параметрами, "
                 "задачу по расписанию — за тот же срок. Всё, что задание уже успело сделать, "
                 "повтор не задвоит."),
    form_group="Система",
)
