"""Password recovery by a one-time code (no login), and the profile's contact changes.

The recovery pages answer the same whatever the contract and address typed: the
limits (per client, per contract typed, per address typed) are counted before anything
is looked up (``cabinet.limits.reserve``), and the domain (``tables.recovery``) does the
same work on every path.
"""

from __future__ import annotations

from litestar import Controller, Request, get, post
from litestar.di import NamedDependency, Provide
from litestar.response import Redirect, Response, Template

from cabinet.auth import current_subscriber, writable_subscriber
from cabinet.forms import form_fields
from cabinet.limits import (
    CODE_TRIES_PER_IP,
    CONTACT_CODES_PER_CONTRACT,
    RECOVERY_PER_ADDRESS,
    RECOVERY_PER_CONTRACT,
    RECOVERY_PER_IP,
    client_ip,
    reserve,
)
from tables.codes import CODE_DIGITS, CodePurpose, live_code_target
from tables.passwords import PASSWORD_RULES
from tables.recovery import (
    ADDRESS_FORMAT,
    confirm_contact_change,
    normalize_address,
    recover_password,
    request_contact_change,
    request_password_recovery,
)
from tables.subscribers import Subscriber, mask_email, mask_phone

MESSAGES = {
    "contract_format": "Номер договора — это только цифры, не больше 12.",
    "too_many_requests": "Слишком много запросов кода. Попробуйте через час или позвоните на "
                         "горячую линию.",
    "too_many_tries": "Слишком много попыток ввести код. Попробуйте через 15 минут.",
    "mismatch": "Пароли не совпадают.",
    "code_format": f"Код — это {CODE_DIGITS} цифр из SMS или письма.",
    "too_many_contact_codes": "Слишком много запросов кода. Попробуйте через час.",
}
KIND_TITLES = {"phone": "Новый телефон", "email": "Новая электронная почта"}


def _ask_page(*, error: str | None = None, contract: str = "", address: str = "",
              status_code: int = 200) -> Template:
    return Template("recovery/ask.html", status_code=status_code,
                    context={"error": error, "contract": contract[:12], "address": address[:200]})


def _code_page(*, contract: str, error: str | None = None, status_code: int = 200,
               sent: bool = False) -> Template:
    return Template("recovery/code.html", status_code=status_code,
                    context={"error": error, "contract": contract[:12], "rules": PASSWORD_RULES,
                             "digits": CODE_DIGITS, "sent": sent})


def _clean_contract(text: str) -> str | None:
    contract = (text or "").strip().replace(" ", "")
    return contract if contract.isdigit() and len(contract) <= 12 else None


class RecoveryController(Controller):
    path = "/cabinet/recover"

    @get("/", name="recover")
    async def ask_form(self) -> Template:
        return _ask_page()

    @post("/")
    async def ask(self, request: Request) -> Response:
        fields = await form_fields(request)
        typed_contract = fields.get("contract_number", "")
        typed_address = fields.get("address", "")
        contract = _clean_contract(typed_contract)
        if contract is None:
            return _ask_page(error=MESSAGES["contract_format"], contract=typed_contract,
                             address=typed_address, status_code=400)
        address = normalize_address(typed_address)
        if address is None:
            return _ask_page(error=ADDRESS_FORMAT, contract=contract, address=typed_address,
                             status_code=400)
        # Counted before anything is looked up, on what was typed (existing or not).
        for limit, key in ((RECOVERY_PER_IP, client_ip(request)), (RECOVERY_PER_CONTRACT, contract),
                           (RECOVERY_PER_ADDRESS, address)):
            if not (await reserve(limit, key)).allowed:
                return _ask_page(error=MESSAGES["too_many_requests"], contract=contract,
                                 address=typed_address, status_code=429)
        await request_password_recovery(contract, address, ip=client_ip(request))
        # The same page whatever happened (no redirect carrying the contract in a URL).
        return _code_page(contract=contract, sent=True)

    @get("/code")
    async def code_form(self) -> Template:
        return _code_page(contract="")

    @post("/code")
    async def confirm(self, request: Request) -> Response:
        fields = await form_fields(request)
        contract = _clean_contract(fields.get("contract_number", ""))
        if contract is None:
            return _ask_page(error=MESSAGES["contract_format"], status_code=400)
        code = fields.get("code", "").replace(" ", "")
        new = fields.get("new_password", "")
        if not (code.isdigit() and len(code) == CODE_DIGITS):
            return _code_page(contract=contract, error=MESSAGES["code_format"], status_code=400)
        if new != fields.get("new_password2", ""):
            return _code_page(contract=contract, error=MESSAGES["mismatch"], status_code=400)
        if not (await reserve(CODE_TRIES_PER_IP, client_ip(request))).allowed:
            return _code_page(contract=contract, error=MESSAGES["too_many_tries"], status_code=429)
        try:
            await recover_password(contract, code, new, ip=client_ip(request))
        except ValueError as exc:
            return _code_page(contract=contract, error=str(exc), status_code=400)
        return Redirect("/cabinet/login?recovered=1", status_code=303)


def _kind(request: Request) -> str:
    """"phone" or "email", from the route's fixed path (no path parameter to guess)."""
    return "email" if "/contacts/email" in request.url.path else "phone"


def _masked(kind: str, value: str) -> str:
    return mask_phone(value) if kind == "phone" else mask_email(value)


class ContactsController(Controller):
    """Change the phone or e-mail from the profile: a code goes to the new address."""

    path = "/cabinet/profile/contacts"

    @get(["/phone", "/email"], dependencies={"subscriber": Provide(current_subscriber)})
    async def contact_form(self, request: Request, subscriber: NamedDependency[Subscriber]) -> Response:
        kind = _kind(request)
        pending = await live_code_target(subscriber.id, CodePurpose(kind))
        return _contact_page(kind, subscriber, pending=pending)

    @post(["/phone", "/email"], dependencies={"subscriber": Provide(writable_subscriber)})
    async def send_code(self, request: Request, subscriber: NamedDependency[Subscriber]) -> Response:
        kind = _kind(request)
        fields = await form_fields(request)
        value = fields.get("value", "")
        attempt = await reserve(CONTACT_CODES_PER_CONTRACT, str(subscriber.id))
        if not attempt.allowed:
            return _contact_page(kind, subscriber, error=MESSAGES["too_many_contact_codes"],
                                 value=value, status_code=429)
        try:
            await request_contact_change(subscriber, CodePurpose(kind), value)
        except ValueError as exc:
            await attempt.release()  # nothing was sent
            return _contact_page(kind, subscriber, error=str(exc), value=value, status_code=400)
        return Redirect(f"/cabinet/profile/contacts/{kind}", status_code=303)

    @post(["/phone/confirm", "/email/confirm"], dependencies={"subscriber": Provide(writable_subscriber)})
    async def confirm(self, request: Request, subscriber: NamedDependency[Subscriber]) -> Response:
        kind = _kind(request)
        fields = await form_fields(request)
        code = fields.get("code", "").replace(" ", "")
        pending = await live_code_target(subscriber.id, CodePurpose(kind))
        if not (code.isdigit() and len(code) == CODE_DIGITS):
            return _contact_page(kind, subscriber, pending=pending, error=MESSAGES["code_format"],
                                 status_code=400)
        if not (await reserve(CODE_TRIES_PER_IP, client_ip(request))).allowed:
            return _contact_page(kind, subscriber, pending=pending,
                                 error=MESSAGES["too_many_tries"], status_code=429)
        try:
            await confirm_contact_change(subscriber, CodePurpose(kind), code)
        except ValueError as exc:
            pending = await live_code_target(subscriber.id, CodePurpose(kind))
            return _contact_page(kind, subscriber, pending=pending, error=str(exc), status_code=400)
        return Redirect(f"/cabinet/profile?contact={kind}", status_code=303)


def _contact_page(kind: str, subscriber: Subscriber, *, pending: str | None = None,
                  error: str | None = None, value: str = "", status_code: int = 200) -> Template:
    current = subscriber.phone if kind == "phone" else subscriber.email
    return Template("recovery/contact.html", status_code=status_code, context={
        "kind": kind, "title": KIND_TITLES[kind], "error": error, "value": value[:200],
        "current": _masked(kind, current) if current else "",
        "pending": _masked(kind, pending) if pending else "", "digits": CODE_DIGITS,
        "nav": "profile",
    })
