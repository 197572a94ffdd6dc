"""The role matrix, enforced on every admin table and form (not by hiding menus).

``secure_tables`` prepends a validator to every ``TableConfig`` and
``secure_forms`` wraps every form endpoint, so a table or form added later is
covered automatically — and refused to everyone but administrators until it
is given a line in the matrix below (a test fails when one is missing).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from piccolo_admin.endpoints import FormConfig, TableConfig
from piccolo_api.crud.validators import Validators
from starlette.exceptions import HTTPException
from starlette.requests import Request

from backoffice.labels import field_titles, table_title
from backoffice.validation import russian_errors
from tables.staff import Role, role_of

R, C, U, D = "read", "create", "update", "delete"
ALL = {R, C, U, D}
OP, CA, MA, AD = Role.OPERATOR, Role.CASHIER, Role.MANAGER, Role.ADMINISTRATOR

# table → role → allowed actions. Read-only tables refuse writes to everyone anyway
# (backoffice.access.read_only_validators); the matrix decides who may look.
TABLE_MATRIX: dict[str, dict[Role, set[str]]] = {
    "subscriber": {OP: {R, U}, CA: {R}, MA: {R}, AD: {R, U}},
    "ledger_entry": {OP: {R}, CA: {R}, MA: {R}, AD: {R}},
    "payment": {OP: {R}, CA: {R}, MA: {R}, AD: {R}},
    "payment_refund": {CA: {R}, MA: {R}, AD: {R}},
    "receipt": {OP: {R}, CA: {R}, MA: {R}, AD: {R}},
    "autopay": {OP: {R}, CA: {R}, MA: {R}, AD: {R}},
    "autopay_charge": {OP: {R}, CA: {R}, MA: {R}, AD: {R}},
    "billing_run": {CA: {R}, MA: {R}, AD: {R}},
    "tariff_change": {OP: {R}, CA: {R}, MA: {R}, AD: {R}},
    "promised_payment": {OP: {R}, CA: {R}, MA: {R}, AD: {R}},
    "pause": {OP: {R}, CA: {R}, MA: {R}, AD: {R}},
    "provider_event": {CA: {R}, MA: {R}, AD: {R}},
    "payment_customer": {CA: {R}, MA: {R}, AD: {R}},
    "agent_transaction": {CA: {R}, MA: {R}, AD: {R}},
    "bank_statement": {CA: {R}, MA: {R}, AD: {R}},
    "bank_line": {CA: {R}, MA: {R}, AD: {R}},
    "service_request": {OP: {R}, CA: {R}, MA: {R}, AD: {R}},
    "request_event": {OP: {R}, CA: {R}, MA: {R}, AD: {R}},
    "notification": {OP: {R}, MA: {R}, AD: {R}},
    "notification_attempt": {OP: {R}, MA: {R}, AD: {R}},
    "background_job": {MA: {R}, AD: {R}},
    "tariff": {OP: {R}, CA: {R}, MA: {R}, AD: ALL},
    "town": {OP: ALL, CA: {R}, MA: {R}, AD: ALL},
    "street": {OP: ALL, CA: {R}, MA: {R}, AD: ALL},
    "address": {OP: ALL, CA: {R}, MA: {R}, AD: ALL},
    "news_item": {OP: ALL, CA: {R}, MA: {R}, AD: ALL},
    "maintenance_area": {OP: ALL, CA: {R}, MA: {R}, AD: ALL},
    "page": {OP: {R}, CA: {R}, MA: {R}, AD: ALL},
    "site_setting": {OP: {R}, CA: {R}, MA: {R}, AD: ALL},
    "cabinet_rating": {OP: {R}, CA: {R}, MA: {R}, AD: {R}},
    "audit_entry": {MA: {R}, AD: {R}},
    # Network access: operators set a contract's login or binding; NAS secrets are the administrators'.
    "network_access": {OP: {R, C, U}, MA: {R}, AD: ALL},
    "nas": {AD: ALL},
    "radius_session": {OP: {R}, CA: {R}, MA: {R}, AD: {R}},
    "coa_request": {OP: {R}, MA: {R}, AD: {R}},
    "traffic_day": {OP: {R}, CA: {R}, MA: {R}, AD: {R}},
    "staff_role": {MA: {R}, AD: ALL},
    # Piccolo Admin lets only superusers write staff accounts; administrators set roles.
    "piccolo_user": {MA: {R}, AD: {R}},
}

# form name → roles allowed to submit it.
FORM_MATRIX: dict[str, set[Role]] = {
    "Оценки кабинета": {OP, CA, MA, AD},
    "Итоги по платежам": {CA, MA, AD},
    "Взять заявку в работу": {OP, AD},
    "Ответить по заявке": {OP, AD},
    "Закрыть заявку как выполненную": {OP, AD},
    "Отклонить заявку": {OP, AD},
    "Выполнить смену тарифа": {OP, AD},
    "Выполнить расторжение": {OP, AD},
    "Оформить договор по заявке": {OP, AD},
    "Заявка на возврат остатка": {OP, CA, AD},
    # Money leaves the company: cashiers (and administrators) pay the balance out.
    "Выплатить остаток": {CA, AD},
    # Managers start the exports (reports); administrators see to the scheduled work.
    "Повторить фоновое задание": {MA, AD},
}

#: Office pages (backoffice/office.py) → roles allowed. They replaced the admin forms that asked
#: for a typed contract number, address, tariff or payment id (new contract, cash payment,
#: adjustment, refund, password reset, cabinet view, contract history, charge run); a request
#: filed or a termination done from the card follows the request forms of the same action.
OFFICE_MATRIX: dict[str, set[Role]] = {
    "card": {OP, CA, MA, AD},
    "contract": {OP, AD},
    "password": {OP, AD},
    "view": {OP, AD},
    # Cut a subscriber's network session (the NAS is told by the worker, docs/network.md).
    "disconnect": {OP, AD},
    # End (or cancel) a subscriber's voluntary pause from the card (tables.billing.pauses).
    "pause": {OP, AD},
    "request": FORM_MATRIX["Ответить по заявке"],
    "terminate": FORM_MATRIX["Выполнить расторжение"],
    "payment": {CA, AD},
    "adjustment": {CA, AD},
    "refund": {CA, AD},
    "charge": {AD},
    # A message to many contracts at once (backoffice/broadcasts.py).
    "broadcast": {MA, AD},
    # The daily reconciliation with payment agents: who reads the payment totals.
    "agents": FORM_MATRIX["Итоги по платежам"],
    # Bank statements: upload, confirm, resolve the queue — money booked, like the cash desk.
    "bank": {CA, AD},
    # Managers' reports (/reports/, backoffice/reports/pages.py REPORT_ROLES; a test keeps them equal).
    "reports": {MA, AD},
    # Payment slips with the bank QR code: one from the card, or a batch for a street or a
    # building (/office/slips) put in mailboxes — the front desk and the cash desk print them.
    "slip": {OP, CA, AD},
    # A terminated contract's leftover balance: file the request on the subscriber's behalf, and
    # pay it out (the admin's forms of the same names; one role table for both ways in).
    "balance_refund": FORM_MATRIX["Заявка на возврат остатка"],
    "balance_payout": FORM_MATRIX["Выплатить остаток"],
}

#: The admin sidebar's links (piccolo_admin's ``sidebar_links``): name → (address, the office
#: page whose roles see it, or None for every role). ``backoffice.ui.RoleMenu`` cuts them.
SIDEBAR_LINKS: dict[str, tuple[str, str | None]] = {
    "Офис: сегодня и поиск абонента": ("/office/", "card"),
    "Новый договор": ("/office/contracts/new", "contract"),
    "Начисление абонентской платы": ("/office/charge", "charge"),
    "Рассылка абонентам": ("/office/broadcasts", "broadcast"),
    "Сверка с агентами": ("/office/agents", "agents"),
    "Банковские выписки": ("/office/bank/", "bank"),
    "Квитанции по улице и дому": ("/office/slips", "slip"),
    "Отчёты": ("/reports/", "reports"),
    "Сайт и кабинет": ("/", None),
}


def sidebar_links(role: Role) -> dict[str, str]:
    return {name: url for name, (url, page) in SIDEBAR_LINKS.items()
            if page is None or role in OFFICE_MATRIX[page]}


#: Where a role may edit a table but only some of its columns (PATCH): operators keep the
#: subscribers' contact data; what billing reads (connection date, router rental) is not theirs.
FIELD_MATRIX: dict[str, dict[Role, frozenset[str]]] = {
    "subscriber": {OP: frozenset({"full_name", "phone", "email", "address"})},
}

_METHOD_ACTION = {"GET": R, "HEAD": R, "OPTIONS": R, "POST": C, "PUT": U, "PATCH": U, "DELETE": D}

MFA_MESSAGE = ("Для вашей роли нужна двухфакторная аутентификация: подключите приложение-аутентификатор "
               "в меню профиля (MFA) и войдите снова.")


async def _staff_role(request: Request) -> Role:
    user = request.user.user
    role = await role_of(user)
    if role is None:
        raise HTTPException(status_code=403, detail="У вашей учётной записи нет роли в админке.")
    if await mfa_missing(role, user):
        raise HTTPException(status_code=403, detail=MFA_MESSAGE)
    return role


#: Tables whose rows are personal data (names, addresses, phones, e-mails, what people wrote):
#: a role that may list one of them can read personal data in bulk, so it needs a second factor.
PERSONAL_DATA_TABLES = frozenset({"subscriber", "service_request", "request_event", "notification",
                                  "notification_attempt", "cabinet_rating", "audit_entry", "piccolo_user",
                                  "receipt"})


def mfa_required(role: Role) -> bool:
    """Whether ``role`` must sign in with an authenticator app (when MFA is enforced).

    Derived from the matrix, so a role given read access to personal data later needs
    MFA without anyone remembering to say so; administrators see everything.
    """
    return role == AD or any(R in TABLE_MATRIX.get(table, {}).get(role, ())
                             for table in PERSONAL_DATA_TABLES)


async def mfa_missing(role: Role, user: Any, *, personal_data: bool = False) -> bool:
    """Whether this role must use a second factor here and the user has none (admin, reports).

    :param personal_data: the page itself shows personal data in bulk (reports and exports with
        debtors' contacts): then every role needs the second factor.
    """
    from tables.staff import mfa_enforced, user_enrolled

    needed = personal_data or mfa_required(role)
    return needed and mfa_enforced() and not await user_enrolled(user)


def table_allows(table: str, role: Role, action: str) -> bool:
    if role == AD and table not in TABLE_MATRIX:
        return True
    return action in TABLE_MATRIX.get(table, {}).get(role, set())


def _table_validator(table: str) -> Callable:
    async def check_role(piccolo_crud: Any, request: Request) -> None:
        role = await _staff_role(request)
        action = _METHOD_ACTION.get(request.method, C)
        if action == R and _names_for_links(piccolo_crud.table, role, request):
            return
        if not table_allows(table, role, action):
            what = {R: "открывать таблицу «{}»", C: "добавлять записи в таблицу «{}»",
                    U: "изменять записи в таблице «{}»", D: "удалять записи из таблицы «{}»"}[action]
            raise HTTPException(status_code=403, detail=(
                "Вашей роли нельзя " + what.format(table_title(piccolo_crud.table)) + "."))

    return check_role


def _names_for_links(table: Any, role: Role, request: Request) -> bool:
    """The readable names of a table's rows (``…/ids/``, what a link or picker shows) for a role
    that may read a table linking to it: an operator reads a request event's author, not the
    staff accounts."""
    if not request.url.path.rstrip("/").endswith("/ids"):
        return False
    return any(table_allows(fk._meta.table._meta.tablename, role, R)
               for fk in table._meta.foreign_key_references)


def _field_validator(table: str) -> Callable:
    async def check_fields(piccolo_crud: Any, request: Request) -> None:
        allowed = FIELD_MATRIX.get(table, {}).get(await _staff_role(request))
        if allowed is None:
            return
        # Only what the clerk changed: the admin's edit page sends the whole row back
        # (backoffice.crud.AdminCRUD keeps the changed fields in request.state).
        values = getattr(request.state, "patch_values", None)
        if values is None:
            try:
                values = await request.json()
            except ValueError:
                return  # piccolo_api answers the malformed body itself
        blocked = sorted(set(values) - allowed) if isinstance(values, dict) else []
        if blocked:
            raise HTTPException(status_code=403, detail=(
                "Ваша роль может менять здесь только контактные данные; нельзя менять: "
                + ", ".join(field_titles(piccolo_crud.table, blocked)) + "."))

    return check_fields


def _refuse_put(*_args: Any, **_kwargs: Any) -> None:
    raise HTTPException(status_code=405, detail="Изменение записи целиком (PUT) не поддерживается.")


def secure_tables(configs: list[TableConfig]) -> list[TableConfig]:
    for config in configs:
        name = config.table_class._meta.tablename
        old = config.validators or Validators()
        config.validators = Validators(
            every=[_table_validator(name), *old.every],
            # PUT skips piccolo_api's hooks (audit, protected columns): edits go through PATCH only.
            get_single=old.get_single, put_single=[_refuse_put, *old.put_single],
            patch_single=[_field_validator(name), *old.patch_single],
            delete_single=old.delete_single, post_single=old.post_single, get_all=old.get_all,
            delete_all=old.delete_all, get_references=old.get_references, get_ids=old.get_ids,
            get_new=old.get_new, get_schema=old.get_schema, get_count=old.get_count,
            extra_context=old.extra_context,
        )
    return configs


def _guard_form(form: FormConfig) -> FormConfig:
    allowed = FORM_MATRIX.get(form.name, {AD})
    endpoint = form.endpoint

    @functools.wraps(endpoint)
    async def guarded(request: Request, data: Any) -> Any:
        role = await _staff_role(request)
        if role not in allowed:
            raise HTTPException(status_code=403, detail="Недостаточно прав для этой формы.")
        result = endpoint(request, data)
        if hasattr(result, "__await__"):
            result = await result
        return result

    form.endpoint = guarded
    form.pydantic_model = russian_errors(form.pydantic_model)
    return form


def secure_forms(forms: list[FormConfig]) -> list[FormConfig]:
    return [_guard_form(form) for form in forms]
