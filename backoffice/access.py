"""Validators and hooks shared by the admin's table configs."""

from __future__ import annotations

from typing import Any

from piccolo.columns import Column
from piccolo.table import Table
from piccolo_api.crud.hooks import Hook, HookType
from piccolo_api.crud.validators import Validators
from starlette.exceptions import HTTPException
from starlette.requests import Request

from backoffice.labels import field_titles
from db.engine import write_transaction
from tables.audit import Actor, write_audit
from tables.calendar import utcnow
from tables.content import NewsItem, check_news_dates, check_work_window
from tables.text import clean_text, clean_values

READ_ONLY_MESSAGE = "Эта таблица только для чтения: изменения вносятся через формы действий."


def staff_user(request: Request) -> Any:
    return request.user.user


def staff_actor(request: Request) -> Actor:
    user = staff_user(request)
    return Actor(name=user.username, staff_id=user.id)


def refuse_write(*_args: Any, **_kwargs: Any) -> None:
    raise HTTPException(status_code=405, detail=READ_ONLY_MESSAGE)


def read_only_validators() -> Validators:
    """Money and lifecycle tables: listing and reading only."""
    return Validators(
        post_single=[refuse_write],
        put_single=[refuse_write],
        patch_single=[refuse_write],
        delete_single=[refuse_write],
        delete_all=[refuse_write],
    )


def _name(key: Any) -> str:
    return key._meta.name if isinstance(key, Column) else str(key)


def _json_safe(values: dict[Any, Any]) -> dict[str, Any]:
    return {_name(k): (v if isinstance(v, (int, str, bool, type(None))) else str(v))
            for k, v in values.items()}


def audit_hooks(table: type[Table], protected: tuple[str, ...] = ()) -> list[Hook]:
    """Hooks writing an audit entry (with before/after values) for direct admin edits; they
    also strip NUL and other control characters from the text saved (every editable table
    has these hooks).

    :param protected: columns that may never be changed through a plain edit.
    """
    name = table._meta.tablename

    async def on_save(row: Table, request: Request) -> Table:
        for column in row._meta.columns:  # NUL and other control characters, as the cabinet's forms
            value = getattr(row, column._meta.name, None)
            if isinstance(value, str):
                setattr(row, column._meta.name, clean_text(value))
        # The id is not known yet: LargeTableCRUD fills it in once the row is saved.
        request.state.audit_entry = await write_audit(
            action=f"{name}.created", object_type=name, object_id="new",
            actor=staff_actor(request), after=_json_safe(row.to_dict()))
        return row

    async def on_patch(row_id: Any, values: dict[str, Any], request: Request) -> dict[str, Any]:
        values = clean_values(values)
        if not values:
            raise HTTPException(status_code=400, detail="Нет изменений.")
        blocked = sorted({_name(k) for k in values} & set(protected))
        if blocked:
            raise HTTPException(status_code=405, detail=(
                "Эти поля меняются только через формы действий: "
                + ", ".join(field_titles(table, blocked)) + "."))
        before = await table.select(*[table._meta.get_column_by_name(_name(k)) for k in values]).where(
            table._meta.primary_key == row_id
        ).first() or {}
        async with write_transaction():
            await write_audit(action=f"{name}.updated", object_type=name, object_id=row_id,
                              actor=staff_actor(request),
                              before=_json_safe(before), after=_json_safe(values))
        return values

    async def on_delete(row_id: Any, request: Request) -> None:
        before = await table.select().where(table._meta.primary_key == row_id).first() or {}
        await write_audit(action=f"{name}.deleted", object_type=name, object_id=row_id,
                          actor=staff_actor(request), before=_json_safe(before))

    return [
        Hook(hook_type=HookType.pre_save, callable=on_save),
        Hook(hook_type=HookType.pre_patch, callable=on_patch),
        Hook(hook_type=HookType.pre_delete, callable=on_delete),
    ]


def news_window_hooks() -> list[Hook]:
    """Refuse a news item whose dates are out of range or whose work window ends before it
    starts (admin edits bypass save())."""

    def check(values: dict[str, Any]) -> None:
        try:
            check_news_dates(values, now=utcnow())
        except ValueError as exc:
            raise HTTPException(status_code=400, detail=str(exc)) from exc

    def check_order(starts_at: Any, ends_at: Any) -> None:
        try:
            check_work_window(starts_at, ends_at)
        except ValueError as exc:
            raise HTTPException(status_code=400, detail=str(exc)) from exc

    async def on_save(row: NewsItem, request: Request) -> NewsItem:
        check({"published_at": row.published_at, "starts_at": row.starts_at, "ends_at": row.ends_at})
        return row

    async def on_patch(row_id: Any, values: dict[Any, Any], request: Request) -> dict[Any, Any]:
        given = {_name(k): v for k, v in values.items()}
        if given.keys() & {"published_at", "starts_at", "ends_at"}:
            current = await NewsItem.select(NewsItem.starts_at, NewsItem.ends_at).where(
                NewsItem.id == row_id).first() or {}
            # The dates being saved are range-checked; the window's order also uses the stored end.
            check({key: given[key] for key in ("published_at", "starts_at", "ends_at") if key in given})
            check_order(given.get("starts_at", current.get("starts_at")),
                        given.get("ends_at", current.get("ends_at")))
        return values

    return [
        Hook(hook_type=HookType.pre_save, callable=on_save),
        Hook(hook_type=HookType.pre_patch, callable=on_patch),
    ]
