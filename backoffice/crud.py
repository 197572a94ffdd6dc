"""piccolo_api's CRUD endpoints with two changes that keep the admin usable on a ledger of
millions of rows (bench/admin_api.py, docs/performance.md).

* The unfiltered row count of an append-only big table (ledger, payments, audit) is not a
  ``COUNT(*)``, which reads the whole table (0.6–2 s on 11M ledger rows on PostgreSQL)
  every time a clerk opens the list: it is the largest id (the count, or slightly more after
  rolled-back inserts, as these tables are never deleted from). The answer then carries
  ``"estimate": true``. Filtered counts stay exact,
  and so does everything below ``ESTIMATE_FROM`` rows.
* A "contains" filter on a month column (``period``) with a complete month ("2024-05") is
  the same as an exact match — periods are always ``YYYY-MM`` — and is run as one, so it
  uses the index instead of reading every row.
* A filter on a text column with choices (a kind, a status) matches the chosen value
  exactly, or excludes it when "Not Equal" is chosen. The admin's choice filter sends only
  the value and an operator, and piccolo_api applies "contains" to every text column and
  ignores the operator: ``ILIKE '%payment%'`` read and matched every ledger row (2.3 s on
  PostgreSQL, 1.4 s on SQLite instead of 0.5 s and 0.17 s), "tv" also found "internet_tv"
  tariffs, and "Not Equal" gave the rows it should have left out.

piccolo_admin builds its ``PiccoloCRUD`` objects inside ``create_admin`` with no way to pass
a subclass, so ``admin_crud_class()`` swaps the class for the duration of that call.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Iterator
from typing import Any

from piccolo.columns.column_types import Text, Varchar
from piccolo.columns.operators import NotEqual
from piccolo_api.crud.endpoints import MalformedQuery, ParamException, PiccoloCRUD
from piccolo_api.crud.validators import apply_validators
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from tables.audit import AuditEntry
from tables.db import write_transaction
from tables.phones import normalize_phone

#: Append-only tables that grow without bound.
ESTIMATED_COUNT_TABLES = frozenset({"ledger_entry", "payment", "audit_entry"})
#: Below this many rows (by the estimate) the exact count is cheap enough.
ESTIMATE_FROM = 200_000
_MONTH = re.compile(r"^[0-9]{4}-[0-9]{2}$")
MONTH_COLUMNS = frozenset({"period"})


#: Phones are stored as ``+7XXXXXXXXXX``; a clerk types them as people say them.
PHONE_COLUMNS = frozenset({"phone"})


def phone_search_text(typed: str) -> str:
    """«8 913 123-45-67» → «+79131234567»; a fragment («123-45») → its digits («12345»)."""
    full = normalize_phone(typed)
    if full:
        return full
    digits = "".join(c for c in typed if c.isdigit())
    return digits or typed


class LargeTableCRUD(PiccoloCRUD):
    """``PiccoloCRUD`` whose counts and month filters don't read a whole big table."""

    def _choice_columns(self) -> set[str]:
        return {c._meta.name for c in self.table._meta.columns
                if c._meta.choices and isinstance(c, (Varchar, Text))}

    def _split_params(self, params: dict[str, Any]) -> Any:
        split = super()._split_params(params)
        for name in self._choice_columns() & split.fields.keys():
            split.match_types[name] = "exact"
        for name in MONTH_COLUMNS & split.fields.keys():
            value = split.fields[name]
            if split.match_types[name] == "contains" and isinstance(value, str) and _MONTH.match(value):
                split.match_types[name] = "exact"
        for name in PHONE_COLUMNS & split.fields.keys():
            if isinstance(split.fields[name], str):
                split.fields[name] = phone_search_text(split.fields[name])
        return split

    def _apply_filters(self, query: Any, params: Any) -> Any:
        # piccolo_api ignores the operator on text columns; "Not Equal" on a choice is applied
        # here, after its checks of every other filter.
        excluded = {name: params.fields.pop(name) for name in self._choice_columns() & params.fields.keys()
                    if params.operators[name] is NotEqual and isinstance(params.fields[name], str)}
        query = super()._apply_filters(query, params)
        for name, value in excluded.items():
            query = query.where(getattr(self.table, name) != value)
        return query

    async def _estimated_rows(self) -> int | None:
        """The largest id: never below the row count, read from the end of the primary key.

        These tables are never deleted from and ids are never reused, so ``MAX(id)`` is the
        count on SQLite and at least the count on PostgreSQL (a rolled-back insert skips an
        id). Never less matters: Piccolo Admin's CSV export fetches ``ceil(count / 1000)``
        pages, and a smaller number (``pg_class.reltuples``, used before, can be) would cut it.
        """
        if self.table._meta.tablename not in ESTIMATED_COUNT_TABLES:
            return None
        rows = await self.table.raw(f"SELECT MAX(id) AS estimate FROM {self.table._meta.tablename}")
        estimate = int(rows[0]["estimate"] or 0) if rows else 0
        return estimate if estimate >= ESTIMATE_FROM else None

    @apply_validators
    async def get_count(self, request: Request) -> Response:
        """As piccolo_api's, except the unfiltered count of a big table (see module doc)."""
        params = self._parse_params(request.query_params)
        try:
            split_params = self._split_params(params)
        except ParamException as exception:
            return Response(str(exception), status_code=400)
        if not split_params.fields:
            estimate = await self._estimated_rows()
            if estimate is not None:
                return JSONResponse({"count": estimate, "page_size": self.page_size, "estimate": True})
        try:
            query = self._apply_filters(self.table.count(), split_params)
        except MalformedQuery as exception:
            return Response(str(exception), status_code=400)
        count = await query.run()
        return JSONResponse({"count": count, "page_size": self.page_size})


class _Refused(Exception):
    """Carries a refusal out of the transaction so that it rolls back."""

    def __init__(self, response: Response) -> None:
        super().__init__(response.status_code)
        self.response = response


class AtomicCRUD(LargeTableCRUD):
    """Each admin create, edit and delete and its audit entry in one transaction.

    piccolo_api runs the hooks (our audit entries) before the change and answers a refused
    change (a failed constraint) with an error response: without the transaction an entry
    would remain for a change that never happened. A created row's audit entry also gets
    the row's id.
    """

    async def _atomic(self, request: Request, call: Any, *args: Any) -> Response:
        try:
            async with write_transaction():
                response = await call(request, *args)
                if response.status_code >= 400:
                    raise _Refused(response)
                entry = getattr(request.state, "audit_entry", None)
                if entry is not None and response.status_code == 201:
                    created = json.loads(bytes(response.body))
                    row_id = created[0]["id"] if isinstance(created, list) else created.get("id")
                    await AuditEntry.update({AuditEntry.object_id: str(row_id)}).where(
                        AuditEntry.id == entry)
                return response
        except _Refused as refused:
            return refused.response

    async def post_single(self, request: Request, data: dict[str, Any]) -> Response:
        return await self._atomic(request, super().post_single, data)

    async def patch_single(self, request: Request, row_id: Any, data: dict[str, Any]) -> Response:
        return await self._atomic(request, super().patch_single, row_id, data)

    async def delete_single(self, request: Request, row_id: Any) -> Response:
        return await self._atomic(request, super().delete_single, row_id)


@contextlib.contextmanager
def admin_crud_class() -> Iterator[None]:
    """Make ``piccolo_admin.create_admin`` build ``LargeTableCRUD`` endpoints."""
    import piccolo_admin.endpoints as admin_endpoints

    original = admin_endpoints.PiccoloCRUD
    admin_endpoints.PiccoloCRUD = AtomicCRUD  # type: ignore[misc]
    try:
        yield
    finally:
        admin_endpoints.PiccoloCRUD = original  # type: ignore[misc]
