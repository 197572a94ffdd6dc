"""Login, first activation, password change and logout."""

from __future__ import annotations

from litestar import Controller, Request, get, post
from litestar.di import NamedDependency, Provide
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Response, Template

from cabinet.auth import (
    any_subscriber,
    current_subscriber,
    expired_session_cookie,
    safe_next,
    session_cookie,
    session_token,
    writable_subscriber,
)
from cabinet.devices import device_cookie, trusted_device
from cabinet.forms import form_fields
from cabinet.limits import LOGIN_PER_DEVICE, LOGIN_PER_IP, client_ip, reserve
from tables.accounts import (
    authenticate,
    change_password,
    end_session,
    redeem_staff_view,
    start_session,
)
from tables.calendar import utcnow
from tables.passwords import PASSWORD_RULES
from tables.subscribers import Subscriber
from web.formatting import datetime_ru

MESSAGES = {
    "contract_format": "Номер договора — это только цифры, не больше 12.",
    "password_empty": "Введите пароль.",
    "too_many": "Слишком много попыток входа с вашего адреса. Попробуйте через 15 минут.",
    "locked": "Вход по этому договору временно заблокирован после 5 неверных попыток. "
              "Попробуйте после {until} или позвоните на горячую линию.",
    "mismatch": "Пароли не совпадают.",
    "changed": "Пароль изменён. Остальные сеансы входа завершены.",
    "bye": "Вы вышли из личного кабинета.",
    "recovered": "Пароль изменён, остальные сеансы входа завершены. Войдите с новым паролем.",
}


def _login_page(*, error: str | None = None, contract: str = "", next_path: str = "/cabinet/",
                status_code: int = 200, info: str | None = None) -> Template:
    return Template("account/login.html", status_code=status_code,
                    context={"error": error, "contract": contract[:12], "next": next_path,
                             "info": info})


class AccountController(Controller):
    path = "/cabinet"

    @get("/login", name="login")
    async def login_form(self, request: Request, next: FromQuery[str | None] = None,
                         bye: FromQuery[str | None] = None,
                         recovered: FromQuery[str | None] = None) -> Template:
        info = MESSAGES["recovered"] if recovered else MESSAGES["bye"] if bye else None
        return _login_page(next_path=safe_next(next), info=info)

    @post("/login")
    async def login(self, request: Request) -> Response:
        fields = await form_fields(request)
        contract = fields.get("contract_number", "").strip().replace(" ", "")
        password = fields.get("password", "")
        next_path = safe_next(fields.get("next"))
        ip = client_ip(request)
        if not contract.isdigit() or len(contract) > 12:
            return _login_page(error=MESSAGES["contract_format"], contract=contract[:12],
                               next_path=next_path, status_code=400)
        if not password:
            return _login_page(error=MESSAGES["password_empty"], contract=contract,
                               next_path=next_path, status_code=400)
        # Every attempt is counted before the password is checked and given back on success.
        ip_attempt = await reserve(LOGIN_PER_IP, ip)
        if not ip_attempt.allowed:
            return _login_page(error=MESSAGES["too_many"], contract=contract, next_path=next_path,
                               status_code=429)
        device = trusted_device(request, contract)
        device_attempt = await reserve(LOGIN_PER_DEVICE, device) if device else None
        trusted = device_attempt is not None and device_attempt.allowed
        result = await authenticate(contract, password, now=utcnow(), ip=ip, trusted_device=trusted)
        if result.subscriber is None:
            error = result.error
            if result.locked_until:
                error = MESSAGES["locked"].format(until=datetime_ru(result.locked_until, "HH:mm"))
            return _login_page(error=error, contract=contract, next_path=next_path, status_code=401)
        await ip_attempt.release()
        if device_attempt is not None:
            await device_attempt.release()
        token = await start_session(result.subscriber.id, ip=ip, replaces=session_token(request),
                                    new_device=device is None)
        target = "/cabinet/activate" if result.subscriber.must_change_password else next_path
        return Redirect(target, status_code=303, cookies=[
            session_cookie(token), device_cookie(contract, device if trusted else None)])

    @post("/logout")
    async def logout(self, request: Request) -> Response:
        await end_session(session_token(request))
        return Redirect("/cabinet/login?bye=1", status_code=303, cookies=[expired_session_cookie()])

    @get("/activate", dependencies={"subscriber": Provide(any_subscriber)})
    async def activate_form(self, subscriber: NamedDependency[Subscriber]) -> Response:
        if not subscriber.must_change_password:
            return Redirect("/cabinet/", status_code=303)
        return Template("account/activate.html", context={"rules": PASSWORD_RULES,
                                                          "subscriber": subscriber})

    @post("/activate", dependencies={"subscriber": Provide(any_subscriber)})
    async def activate(self, request: Request, subscriber: NamedDependency[Subscriber]) -> Response:
        # A staff view never gets here: app.before_request refuses its unsafe requests.
        if not subscriber.must_change_password:
            return Redirect("/cabinet/", status_code=303)
        fields = await form_fields(request)
        # The one-time or legacy password is asked again: a guessed all-digit password (or a
        # session left open) is not enough to take the contract over.
        return await _set_password(request, subscriber, fields,
                                   current=fields.get("current_password", ""),
                                   template="account/activate.html")

    @get("/password", dependencies={"subscriber": Provide(current_subscriber)})
    async def password_form(self, subscriber: NamedDependency[Subscriber]) -> Template:
        return Template("account/password.html", context={"rules": PASSWORD_RULES,
                                                          "subscriber": subscriber})

    @post("/password", dependencies={"subscriber": Provide(writable_subscriber)})
    async def password(self, request: Request, subscriber: NamedDependency[Subscriber]) -> Response:
        fields = await form_fields(request)
        return await _set_password(request, subscriber, fields,
                                   current=fields.get("current_password", ""),
                                   template="account/password.html")


@get("/staff-view/{link:str}")
async def staff_view(link: FromPath[str]) -> Response:
    """A staff member's one-time link to a read-only view of a cabinet.

    Outside /cabinet on purpose: the link itself is the (staff-issued, single-use)
    credential, not an object id a subscriber could guess.
    """
    token = await redeem_staff_view(link)
    if token is None:
        raise NotFoundException()
    return Redirect("/cabinet/", status_code=303, cookies=[session_cookie(token)])


async def _set_password(request: Request, subscriber: Subscriber, fields: dict[str, str], *,
                        current: str | None, template: str) -> Response:
    new = fields.get("new_password", "")
    if new != fields.get("new_password2", ""):
        error: str | None = MESSAGES["mismatch"]
    else:
        try:
            await change_password(subscriber.id, new, current_password=current,
                                  keep_session=session_token(request))
            error = None
        except ValueError as exc:
            error = str(exc)
    if error:
        return Template(template, status_code=400,
                        context={"error": error, "rules": PASSWORD_RULES, "subscriber": subscriber})
    # A new session id after a password change, like at login.
    token = await start_session(subscriber.id, ip=client_ip(request), replaces=session_token(request))
    return Redirect("/cabinet/?changed=1", status_code=303, cookies=[session_cookie(token)])
