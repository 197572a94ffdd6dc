"""Staff read the cabinet's ratings: distribution per month and the comments."""

from __future__ import annotations

import io

from piccolo_admin.endpoints import FileResponse, FormConfig
from pydantic import BaseModel, Field
from starlette.requests import Request

from tables.csvfile import csv_bytes
from tables.ratings import RATING_LABELS, MonthSummary, rating_summary
from web.formatting import month_ru

COMMENTS_IN_MESSAGE = 5


class RatingsReportModel(BaseModel):
    period: str = Field(title="Месяц", default="", max_length=7,
                        description="Месяц ГГГГ-ММ; пусто — последние 12 месяцев")
    download: bool = Field(title="Скачать CSV", default=False,
                           description="Скачать CSV со всеми комментариями")


def _month_text(month: MonthSummary) -> str:
    levels = ", ".join(f"{RATING_LABELS[s]} — {month.counts[s]}" for s in sorted(RATING_LABELS, reverse=True))
    average = f"{month.average:.1f}".replace(".", ",")
    text = f"{month_ru(month.period).capitalize()}: оценок {month.total}, средняя {average}. {levels}."
    if month.comments:
        shown = [f"«{c['comment'][:200]}» ({c['score']})" for c in month.comments[:COMMENTS_IN_MESSAGE]]
        more = len(month.comments) - len(shown)
        text += " Комментарии: " + "; ".join(shown) + (f"; и ещё {more} (в CSV)" if more else "") + "."
    return text


def _csv(months: list[MonthSummary]) -> FileResponse:
    rows: list[list[object]] = [["Месяц", *RATING_LABELS.values(), "Всего", "Средняя"]]
    for m in months:
        rows.append([m.period, *(m.counts[s] for s in RATING_LABELS), m.total,
                     f"{m.average:.2f}".replace(".", ",")])
    rows.append([])
    rows.append(["Месяц", "Время (UTC)", "Оценка", "Абонент (id)", "Комментарий"])
    for m in months:
        for c in m.comments:
            rows.append([m.period, c["created_at"].strftime("%Y-%m-%d %H:%M"),
                         RATING_LABELS[c["score"]], c["subscriber"] or "аноним", c["comment"] or ""])
    return FileResponse(contents=io.BytesIO(csv_bytes(rows)), file_name="cabinet-ratings.csv",
                        media_type="text/csv")


async def ratings_report(request: Request, data: RatingsReportModel) -> str | FileResponse:
    months = await rating_summary(data.period.strip() or None)
    if data.download:
        return _csv(months)
    if not months:
        return "Оценок за этот период нет."
    return " ".join(_month_text(m) for m in months)


FORM = FormConfig(
    name="Оценки кабинета",
    pydantic_model=RatingsReportModel,
    endpoint=ratings_report,
    description="Распределение оценок личного кабинета по месяцам и комментарии абонентов. "
                "Все оценки — в таблице «Оценки кабинета».",
    form_group="Сайт",
)
