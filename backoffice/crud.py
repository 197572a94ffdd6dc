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
import datetime as dt
import inspect
import json
from collections.abc import Iterator
from typing import Any

import pydantic
from piccolo.apps.user.tables import BaseUser
from piccolo.columns import Column
from piccolo.columns.column_types import (
    BigInt,
    BigSerial,
    Date,
    ForeignKey,
    Integer,
    Serial,
    SmallInt,
    Text,
    Timestamptz,
    Varchar,
)
from piccolo.columns.operators import NotEqual
from piccolo.table import Table
from piccolo_api.crud.endpoints import MalformedQuery, ParamException, PiccoloCRUD
from piccolo_api.crud.validators import apply_validators
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response

from backoffice.access import refuse_write
from backoffice.labels import (
    column_title,
    has_cyrillic,
    local_date,
    local_time,
    parse_rubles_field,
    rubles,
    table_title,
)
from backoffice.roles import C, table_allows
from backoffice.validation import russian_message
from db.engine import MAX_ROW_ID, write_transaction
from tables.audit import AuditEntry, action_label
from tables.money import is_kopecks
from tables.month import Month
from tables.phones import normalize_phone
from tables.staff import role_of
from tables.subscribers import Subscriber, mask_name

#: Append-only tables that grow without bound.
ESTIMATED_COUNT_TABLES = frozenset({"ledger_entry", "payment", "audit_entry"})
#: Below this many rows (by the estimate) the exact count is cheap enough.
ESTIMATE_FROM = 200_000
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


#: The integers each column type holds (Serial and ForeignKey are 4-byte integers here).
_INT_RANGES = ((SmallInt, 2**15 - 1), (BigInt, 2**63 - 1), (BigSerial, 2**63 - 1),
               (Integer, 2**31 - 1), (Serial, 2**31 - 1), (ForeignKey, 2**31 - 1))
#: The last page a list may ask for: its offset (page × at most 1000 rows) stays a small integer.
MAX_PAGE = 10**9


def _int_limit(column: Any) -> int | None:
    for kind, limit in _INT_RANGES:
        if isinstance(column, kind):
            return limit
    return None


def _out_of_range(column: Any, value: Any) -> bool:
    """Whether a typed integer filter or id cannot be an integer of this column."""
    limit = _int_limit(column)
    if limit is None:
        return False
    try:
        return abs(int(str(value).strip())) > limit
    except ValueError:
        return True


class LargeTableCRUD(PiccoloCRUD):
    """``PiccoloCRUD`` whose counts and month filters don't read a whole big table, and whose
    numbers beyond a column's range and secret columns are bad requests (400/404), not a
    database error (500)."""

    async def detail(self, request: Request) -> Response:
        row_id = request.path_params.get("row_id")
        if row_id is not None and _out_of_range(self.table._meta.primary_key, row_id):
            return Response("The resource doesn't exist", status_code=404)
        return await super().detail(request)

    def _check_bounds(self, split: Any) -> None:
        if not -MAX_PAGE <= split.page <= MAX_PAGE or not 0 <= (split.page_size or 0) <= 10**6:
            raise ParamException("Unrecognised __page or __page_size argument")
        for column in split.visible_fields or ():
            if column._meta.secret:
                raise ParamException(f"{column._meta.name} is not visible")
        for name, value in split.fields.items():
            try:
                column = self.table._meta.get_column_by_name(name)
            except ValueError:
                continue  # not a column: piccolo_api's filters leave it alone
            values = value if isinstance(value, list) else [value]
            if column is not None and any(v not in ("", None) and _out_of_range(column, v)
                                          for v in values):
                raise ParamException(f"{name}: not a number this column holds")

    def _choice_columns(self) -> set[str]:
        return {c._meta.name for c in self.table._meta.columns
                if c._meta.choices and isinstance(c, (Varchar, Text))}

    def _split_params(self, params: dict[str, Any]) -> Any:
        split = super()._split_params(params)
        for name in self._choice_columns() & split.fields.keys():
            split.match_types[name] = "exact"
        for name in MONTH_COLUMNS & split.fields.keys():
            value = split.fields[name]
            if split.match_types[name] == "contains" and isinstance(value, str):
                with contextlib.suppress(ValueError):  # a whole month: that month only
                    split.fields[name] = Month.parse(value).iso
                    split.match_types[name] = "exact"
        for name in PHONE_COLUMNS & split.fields.keys():
            if isinstance(split.fields[name], str):
                split.fields[name] = phone_search_text(split.fields[name])
        self._typed_filters(split)
        self._check_bounds(split)
        return split

    def _typed_filters(self, split: Any) -> None:
        """Filters as clerks type them turned into stored values, before the bounds check."""

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
    admin_endpoints.PiccoloCRUD = AdminCRUD  # type: ignore[misc]
    try:
        yield
    finally:
        admin_endpoints.PiccoloCRUD = original  # type: ignore[misc]


#: Answers of piccolo_api that reach a clerk, in Russian.
_ENGLISH_ANSWERS = {
    "The resource doesn't exist": "Запись не найдена (возможно, её уже удалили).",
    "Unable to find a resource with that ID.": "Запись не найдена (возможно, её уже удалили).",
    "The ID is invalid": "Неверный номер записи.",
    "The resource ID must be greater than 0": "Неверный номер записи.",
    "Unable to save the resource.": "Не удалось сохранить запись.",
    "Validation error": "Проверка не пройдена.",
}


def _db_error_message(text: str) -> str:
    lowered = text.lower()
    if "unique" in lowered or "duplicate" in lowered:
        return "Такое значение уже есть: оно должно быть уникальным."
    if "foreign key" in lowered or "violates foreign" in lowered:
        return ("Запись связана с другими записями (например, с договорами): так изменить или "
                "удалить её нельзя.")
    if "not null" in lowered or "null value" in lowered:
        return "Заполните обязательные поля."
    if "check" in lowered:
        return "Значение не проходит проверку (например, сумма или дата вне допустимого)."
    return "База данных отказалась сохранить запись."


def russian_answer(response: Response) -> Response:
    """A refusal as plain Russian text: Piccolo Admin shows a text body as it is, and JSON raw."""
    if response.status_code < 400:
        return response
    body = bytes(response.body or b"").decode(errors="replace")
    text = body
    try:
        data = json.loads(body)
    except ValueError:
        data = None
    if isinstance(data, dict):
        if "db_error" in data:
            text = _db_error_message(str(data["db_error"]))
        elif isinstance(data.get("detail"), str):
            text = data["detail"]
        elif "error" in data:
            text = "Слишком много строк на странице." if "page size" in str(data["error"]) else str(
                data["error"])
    text = _ENGLISH_ANSWERS.get(text.strip(), text)
    if not has_cyrillic(text):
        text = f"Не удалось выполнить действие (код {response.status_code})."
    return PlainTextResponse(text, status_code=response.status_code)


def _same(stored: Any, given: Any) -> bool:
    if isinstance(stored, dt.datetime) and isinstance(given, dt.datetime):
        # The admin's time widget sends whole seconds back.
        stored, given = (v.replace(microsecond=0, tzinfo=v.tzinfo or dt.UTC) for v in (stored, given))
    return bool(stored == given)


class AdminCRUD(AtomicCRUD):
    """What a clerk sees through Piccolo Admin (backoffice/labels.py): Russian column titles,
    money in roubles («1 500,00» shown and typed), times in the provider's zone, readable
    links, Russian refusals as text, and an edit form that saves only what the clerk changed.

    Piccolo Admin's edit page sends the whole row back (balance, status, an empty password
    hash): piccolo_api would write all of it, and our protected-column checks refused every
    save. Unchanged values are dropped here, before the role and column checks see them.
    """

    # --- what the table is made of -----------------------------------------------------------
    def _column(self, name: str) -> Column | None:
        return next((c for c in self.table._meta.columns if c._meta.name == name), None)

    def _money(self) -> dict[str, Column]:
        return {c._meta.name: c for c in self.table._meta.columns if is_kopecks(c)}

    def _kinds(self, kind: type) -> set[str]:
        return {c._meta.name for c in self.table._meta.columns if isinstance(c, kind)}

    def _hidden_secrets(self) -> set[str]:
        # The staff accounts' password field is how a superuser sets one; other secrets
        # (a subscriber's password hash) are never typed in the admin.
        if issubclass(self.table, BaseUser):
            return set()
        return {c._meta.name for c in self.table._meta.secret_columns}

    # --- the models FastAPI checks request bodies with -----------------------------------------
    def _typed_money(self, model: type[pydantic.BaseModel]) -> type[pydantic.BaseModel]:
        """``model`` whose money fields also take the typed roubles («1 500,50»): they reach
        ``_typed`` as text and are kopecks (int) by the time piccolo_api validates them."""
        money = self._money()
        if not money:
            return model
        return pydantic.create_model(  # type: ignore[call-overload, no-any-return]
            model.__name__, __base__=model,
            **{name: (int | str | None, pydantic.Field(
                default=None, json_schema_extra=model.model_fields[name].json_schema_extra))
               for name in money if name in model.model_fields})

    @property
    def pydantic_model(self) -> type[pydantic.BaseModel]:
        return self._typed_money(super().pydantic_model)

    @property
    def pydantic_model_optional(self) -> type[pydantic.BaseModel]:
        return self._typed_money(super().pydantic_model_optional)

    @property
    def pydantic_model_filters(self) -> type[pydantic.BaseModel]:
        return self._typed_money(super().pydantic_model_filters)

    # --- presentation --------------------------------------------------------------------------
    def _present_row(self, row: dict[str, Any], *, listing: bool) -> dict[str, Any]:
        for name in self._money().keys() & row.keys():
            if isinstance(row[name], int):
                row[name] = rubles(row[name], grouped=listing)
        if listing:
            for name in self._kinds(Timestamptz) & row.keys():
                row[name] = local_time(row[name])
            for name in (self._kinds(Date) - self._kinds(Timestamptz)) & row.keys():
                row[name] = local_date(row[name])
            for (table, name), labels in VALUE_LABELS.items():
                if table == self.table._meta.tablename and isinstance(row.get(name), str):
                    row[name] = labels(row[name])
        for column in self.table._meta.foreign_key_columns:
            key = f"{column._meta.name}_readable"
            if isinstance(row.get(key), str):
                target = column._foreign_key_meta.resolved_references._meta.tablename
                row[key] = tidy_readable(target, row[key])
        for name in self._hidden_secrets():
            row.pop(name, None)
        return row

    async def get_schema(self, request: Request) -> Response:
        return await self._answer(self._schema, request)

    async def _schema(self, request: Request) -> Response:
        schema = json.loads(bytes((await super().get_schema(request)).body))
        properties: dict[str, Any] = schema.get("properties", {})
        for name in self._hidden_secrets():
            properties.pop(name, None)
        for name, prop in properties.items():
            column = self._column(name)
            if column is None:
                continue
            prop["title"] = column_title(column)
            if is_kopecks(column):
                # A text field: roubles are typed with a comma and spaces («1 500,50»).
                prop.pop("type", None)
                prop["anyOf"] = [{"type": "number"}, {"type": "null"}]
        extra = schema.setdefault("extra", {})
        link = extra.get("link_column_name")
        # A visible column without a property blanks Piccolo Admin's whole list (isBoolean
        # reads its type): only the link column may be one (it is drawn as a link first).
        extra["visible_column_names"] = [
            n for n in extra.get("visible_column_names", []) if n in properties or n == link]
        extra["visible_filter_names"] = [
            n for n in extra.get("visible_filter_names", []) if n in properties]
        # Titles of listed columns that have no form field (the row number).
        extra["column_titles"] = {n: "Номер" for n in extra["visible_column_names"] if n not in properties}
        extra["table_title"] = table_title(self.table)
        extra["card_links"] = card_links(self.table)
        extra["can_add"] = await self._may_add(request)
        return JSONResponse(schema)

    async def _may_add(self, request: Request) -> bool:
        """Whether the list offers «Добавить строку»: not on a table whose POST is refused to
        everyone (read-only tables, subscribers: contracts come from the office's new contract
        page) nor to a role that may only read it."""
        if refuse_write in (self.validators.post_single if self.validators else []):
            return False
        role = await role_of(request.user.user)
        return role is not None and table_allows(self.table._meta.tablename, role, C)

    async def get_all(self, request: Request, params: dict[str, Any] | None = None) -> Response:
        response = await super().get_all(request, params)
        if response.status_code != 200:
            return response
        data = json.loads(bytes(response.body))
        data["rows"] = [self._present_row(row, listing=True) for row in data.get("rows", [])]
        if self.table is AuditEntry:
            await _name_contracts(data["rows"])
        headers = {k: v for k, v in response.headers.items() if k.lower() == "content-range"}
        return JSONResponse(data, headers=headers)

    async def get_single(self, request: Request, row_id: Any) -> Response:
        response = await super().get_single(request, row_id)
        if response.status_code != 200:
            return response
        return JSONResponse(self._present_row(json.loads(bytes(response.body)), listing=False))

    async def get_new(self, request: Request) -> Response:
        return await self._answer(self._new, request)

    async def _new(self, request: Request) -> Response:
        response = await super().get_new(request)
        return JSONResponse(self._present_row(json.loads(bytes(response.body)), listing=False))

    async def get_ids(self, request: Request) -> Response:
        return await self._answer(self._ids, request)

    async def _ids(self, request: Request) -> Response:
        response = await super().get_ids(request)
        if response.status_code != 200:
            return response
        tablename = self.table._meta.tablename
        return JSONResponse({k: tidy_readable(tablename, v) if isinstance(v, str) else v
                             for k, v in json.loads(bytes(response.body)).items()})

    # --- what a clerk types --------------------------------------------------------------------
    def _typed(self, data: dict[str, Any]) -> dict[str, Any]:
        """Roubles to kopecks; unknown fields and wrong values refused in Russian."""
        unknown = sorted(set(data) - {c._meta.name for c in self.table._meta.columns})
        if unknown:
            raise _Refused(PlainTextResponse(
                "Таких полей в таблице нет: " + ", ".join(unknown), status_code=400))
        typed = dict(data)
        problems = []
        for name, column in self._money().items():
            if name in typed:
                try:
                    typed[name] = parse_rubles_field(typed[name], column_title(column))
                except ValueError as exc:
                    problems.append(str(exc))
        for name in self._hidden_secrets() & typed.keys():
            if typed[name] in ("", None):
                del typed[name]
        if problems:
            raise _Refused(PlainTextResponse("\n".join(problems), status_code=422))
        return typed

    def _validation_answer(self, exc: pydantic.ValidationError) -> Response:
        lines = []
        for error in exc.errors():
            name = str(error["loc"][-1]) if error.get("loc") else ""
            column = self._column(name)
            title = column_title(column) if column is not None else name
            lines.append(f"{title}: {russian_message(dict(error))}")
        return PlainTextResponse("\n".join(lines), status_code=422)

    async def _changed(self, row_id: Any, data: dict[str, Any]) -> dict[str, Any]:
        """Only the fields whose (validated) value differs from the stored one."""
        model = self.pydantic_model_optional(**self._clean_data(data))
        names = [n for n in data if self._column(n) is not None]
        if not names:
            return {}
        stored = await self.table.select(*[self._column(n) for n in names]).where(
            self.table._meta.primary_key == row_id).first() or {}
        return {n: data[n] for n in names if not _same(stored.get(n), getattr(model, n))}

    async def _may_write(self, request: Request, endpoint: str) -> None:
        """The endpoint's checks (role, read-only table) before a body is parsed, in piccolo_api's
        order: a clerk without the right is told so, not that a field is mistyped. piccolo_api
        runs them again with the parsed values (cheap)."""
        validators = self.validators
        request.state.patch_values = {}  # the field checks judge the changed values, later
        for check in [*getattr(validators, endpoint), *validators.every] if validators else []:
            result = check(request=request, piccolo_crud=self, **validators.extra_context)
            if inspect.isawaitable(result):
                await result

    async def post_single(self, request: Request, data: dict[str, Any]) -> Response:
        await self._may_write(request, "post_single")
        try:
            typed = self._typed(data)
            self.pydantic_model(**self._clean_data(typed))
        except _Refused as refused:
            return refused.response
        except pydantic.ValidationError as exc:
            return self._validation_answer(exc)
        return await super().post_single(request, typed)

    async def patch_single(self, request: Request, row_id: Any, data: dict[str, Any]) -> Response:
        await self._may_write(request, "patch_single")
        try:
            typed = self._typed(data)
            changed = await self._changed(row_id, typed)
        except _Refused as refused:
            return refused.response
        except pydantic.ValidationError as exc:
            return self._validation_answer(exc)
        request.state.patch_values = changed
        if not changed and not self._hook_map:
            # Nothing changed and no hook to say so: the checks still run on one field,
            # which is written back as it was.
            first = next((n for n in typed if self._column(n) is not None), None)
            changed = {first: typed[first]} if first else {}
        return await super().patch_single(request, row_id, changed)

    def _typed_filters(self, split: Any) -> None:
        """Money filters are typed in roubles: kopecks before the bounds check reads them."""
        for name, column in self._money().items():
            if name in split.fields and isinstance(split.fields[name], str):
                try:
                    split.fields[name] = parse_rubles_field(split.fields[name], column_title(column))
                except ValueError as exc:
                    raise ParamException(str(exc)) from None

    # --- every entry point answers in Russian ----------------------------------------------------
    async def _answer(self, call: Any, *args: Any) -> Response:
        try:
            return russian_answer(await call(*args))
        except HTTPException as exc:
            return russian_answer(PlainTextResponse(str(exc.detail), status_code=exc.status_code))

    async def root(self, request: Request) -> Response:
        return await self._answer(super().root, request)

    async def detail(self, request: Request) -> Response:
        return await self._answer(super().detail, request)

    async def get_count(self, request: Request) -> Response:
        return await self._answer(super().get_count, request)

    async def get_references(self, request: Request) -> Response:
        return await self._answer(super().get_references, request)


#: A contract's card in the office (backoffice/office.py, ``office:card``) is this plus its number.
CARD_URL = "/office/subscribers/"


def card_links(table: type[Table]) -> dict[str, dict[str, Any]]:
    """The listed cells that name a contract, and the row field its number starts: Piccolo
    Admin draws them as links to the contract's card (``window.centraCard``, backoffice/ui.py).

    A link to a subscriber (payments, ledger, requests, promised payments, ratings…) reads the
    number from its readable value («100004 Смирнов Д. И.»); a request's contract number only
    when the request belongs to a contract; the subscriber list's own number (a link beside
    the edit link); an audit entry's object when it is a contract.
    """
    links: dict[str, dict[str, Any]] = {}
    contracts = [c._meta.name for c in table._meta.foreign_key_columns
                 if c._foreign_key_meta.resolved_references is Subscriber]
    for name in contracts:
        links[name] = {"from": f"{name}_readable"}
    if table is Subscriber:
        links["contract_number"] = {"from": "contract_number"}
    elif contracts and any(c._meta.name == "contract_number" for c in table._meta.columns):
        owner = "subscriber" if "subscriber" in contracts else contracts[0]
        links["contract_number"] = {"from": f"{owner}_readable"}
    if table is AuditEntry:
        links["object_repr"] = {"from": "object_repr", "if": {"object_type": "subscriber"}}
    return links


async def _name_contracts(rows: list[dict[str, Any]]) -> None:
    """An audit entry about a contract lists the contract's number as its object (some domain
    functions write only the id), so it reads, and links to the card, like the others."""
    ids = {int(r["object_id"]) for r in rows if r.get("object_type") == "subscriber"
           and not r.get("object_repr") and str(r.get("object_id", "")).isdigit()
           and int(r["object_id"]) <= MAX_ROW_ID}
    if not ids:
        return
    numbers = {str(r["id"]): r["contract_number"] for r in await Subscriber.select(
        Subscriber.id, Subscriber.contract_number).where(Subscriber.id.is_in(list(ids)))}
    for row in rows:
        if row.get("object_type") == "subscriber" and not row.get("object_repr"):
            row["object_repr"] = numbers.get(str(row.get("object_id")), row.get("object_repr"))


def tidy_readable(tablename: str, text: str) -> str:
    """Piccolo's readable values as clerks write them: «100004 Смирнов Д. И.», no empty «кв.»."""
    if tablename == "subscriber":
        number, _, name = text.partition(" ")
        return f"{number} {mask_name(name)}".strip()
    if tablename == "address":
        return text.removesuffix(", кв. ")
    return text


#: Coded values shown by their Russian name in lists: (table, column) → label function.
VALUE_LABELS: dict[tuple[str, str], Any] = {
    ("audit_entry", "action"): lambda code: action_label(code, TABLE_TITLES),
}
#: Table name → its Russian name (filled by ``table_titles`` when the admin is built).
TABLE_TITLES: dict[str, str] = {}


def table_titles(tables: list[type[Table]]) -> dict[str, str]:
    TABLE_TITLES.update({t._meta.tablename: table_title(t) for t in tables})
    return dict(TABLE_TITLES)
