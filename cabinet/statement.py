"""The statement: month by month on screen, a range as CSV or as a printable page."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, get
from litestar.di import NamedDependency, Provide
from litestar.params import FromQuery, QueryParameter
from litestar.response import Response, Template

from cabinet.auth import current_subscriber
from cabinet.exports import statement_csv as render_csv
from tables.calendar import utcnow
from tables.ledger import ENTRY_KIND_LABELS
from tables.statements import (
    MAX_RANGE_MONTHS,
    MonthStatement,
    StatementMonths,
    monthly_statement,
    parse_range,
    statement_months,
    statement_range,
    statement_view,
)
from tables.subscribers import Subscriber, mask_name

# ``from`` is a Python keyword: the query parameter is mapped explicitly.
RangeStart = Annotated[str | None, QueryParameter(name="from")]
RangeEnd = Annotated[str | None, QueryParameter(name="to")]


def _statement_page(subscriber: Subscriber, months: StatementMonths, statement: MonthStatement, *,
                    error: str | None = None, range_from: str = "", range_to: str = "") -> Template:
    return Template("cabinet/statement.html", status_code=400 if error else 200, context={
        "subscriber": subscriber,
        "months": months,
        "statement": statement,
        "error": error,
        "range_from": range_from if range_from in months.choices else statement.period,
        "range_to": range_to if range_to in months.choices else statement.period,
        "kind_labels": ENTRY_KIND_LABELS,
        "max_months": MAX_RANGE_MONTHS,
        "nav": "statement",
    })


async def _range_error(subscriber: Subscriber, months: StatementMonths, error: str,
                       range_from: str | None, range_to: str | None) -> Template:
    statement = await monthly_statement(subscriber.id, months.default)
    return _statement_page(subscriber, months, statement, error=error,
                           range_from=range_from or "", range_to=range_to or "")


class StatementController(Controller):
    path = "/cabinet"
    dependencies = {"subscriber": Provide(current_subscriber)}

    @get("/statement", name="statement")
    async def statement(self, subscriber: NamedDependency[Subscriber],
                        period: FromQuery[str | None] = None) -> Template:
        view = await statement_view(subscriber, period, now=utcnow())
        return _statement_page(subscriber, view.months, view.statement, error=view.error)

    @get("/statement.csv", name="statement_csv")
    async def statement_csv(self, subscriber: NamedDependency[Subscriber], from_: RangeStart = None,
                            to: RangeEnd = None) -> Response:
        months = await statement_months(subscriber, now=utcnow())
        try:
            first, last = parse_range(from_, to, first=months.first, current=months.current)
        except ValueError as exc:
            return await _range_error(subscriber, months, str(exc), from_, to)
        data = render_csv(await statement_range(subscriber.id, first, last),
                             subscriber.contract_number)
        filename = f"statement-{subscriber.contract_number}-{first}-{last}.csv"
        return Response(content=data, media_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": f'attachment; filename="{filename}"',
                                 "Cache-Control": "no-store"})

    @get("/statement/print", name="statement_print")
    async def statement_print(self, subscriber: NamedDependency[Subscriber], from_: RangeStart = None,
                              to: RangeEnd = None) -> Template:
        months = await statement_months(subscriber, now=utcnow())
        try:
            first, last = parse_range(from_, to, first=months.first, current=months.current)
        except ValueError as exc:
            return await _range_error(subscriber, months, str(exc), from_, to)
        return Template("cabinet/statement_print.html", context={
            "subscriber": subscriber,
            "name": mask_name(subscriber.full_name),
            "statements": await statement_range(subscriber.id, first, last),
            "first": first,
            "last": last,
            "printed_at": utcnow(),
            "kind_labels": ENTRY_KIND_LABELS,
        })
