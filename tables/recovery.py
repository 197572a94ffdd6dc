"""Self-service by confirmation code: password recovery and new contact details.

Recovery: the contract number and the phone or e-mail on file → a code to that
address (:func:`request_password_recovery`) → the code and a new password
(:func:`recover_password`). The caller cannot tell an unknown contract, a wrong
address or a terminated contract from a code that went out: the same answer, and the
same work (an audit entry and a counted try) on every path. Rate limits per contract,
per address and per client are the front end's (``cabinet/limits.py``), counted before
this is called.

Contacts: a new phone or e-mail is stored only after the code sent to the *new*
address comes back (:func:`request_contact_change`, :func:`confirm_contact_change`).
"""

from __future__ import annotations

import re

from db.engine import write_transaction
from tables import messages
from tables.accounts import SubscriberSession, subscriber_actor
from tables.audit import write_audit
from tables.codes import CODE_TOPIC_PREFIX, CodePurpose, check_code, issue_code, retire_codes
from tables.notifications import Channel, enqueue
from tables.passwords import hash_password, password_problem
from tables.phones import is_mobile, normalize_phone
from tables.subscribers import Subscriber, SubscriberStatus, find_by_contract

CODE_WRONG = "Код неверный или устарел. Проверьте его или запросите новый код."
ADDRESS_FORMAT = ("Укажите телефон (например, +7 913 123-45-67) или адрес электронной почты, "
                  "которые записаны в договоре.")
EMAIL_RE = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s.]{2,}$")
MAX_EMAIL = 200

CODE_TEXTS = {
    CodePurpose.PASSWORD: "код {code} для восстановления пароля. Никому его не говорите",
    CodePurpose.PHONE: "код {code} для смены телефона в кабинете",
    CodePurpose.EMAIL: "код {code} для смены e-mail в кабинете",
}
CODE_SUBJECTS = {
    CodePurpose.PASSWORD: "Код для восстановления пароля",
    CodePurpose.PHONE: "Код для смены телефона",
    CodePurpose.EMAIL: "Код для смены электронной почты",
}


def normalize_email(text: str | None) -> str | None:
    """A plausible e-mail address, lower-cased, or None."""
    value = (text or "").strip().lower()
    if len(value) > MAX_EMAIL or not EMAIL_RE.match(value):
        return None
    return value


def normalize_address(text: str | None) -> str | None:
    """A phone (``+7XXXXXXXXXX``) or an e-mail, as typed in the recovery form; None if neither."""
    value = (text or "").strip()
    return normalize_email(value) if "@" in value else normalize_phone(value)


def _channel_for(address: str) -> Channel | None:
    if "@" in address:
        return Channel.EMAIL
    return Channel.SMS if is_mobile(address) else None


def _on_file(subscriber: Subscriber | None, address: str) -> bool:
    if subscriber is None or subscriber.status == SubscriberStatus.TERMINATED:
        return False
    if "@" in address:
        return normalize_email(subscriber.email) == address
    return normalize_phone(subscriber.phone) == address


async def _send_code(subscriber: Subscriber, purpose: CodePurpose, address: str) -> None:
    """Issue a code and queue its message, in the caller's transaction."""
    code_id, code = await issue_code(subscriber.id, purpose, address)
    await enqueue(channel=_channel_for(address), recipient=address,
                  body=f"Centra: {CODE_TEXTS[purpose].format(code=code)}",
                  subject=CODE_SUBJECTS[purpose], subscriber_id=subscriber.id,
                  topic=f"{CODE_TOPIC_PREFIX}{purpose}", reference=subscriber.contract_number,
                  event_key=f"code:{code_id}", urgent=True)


async def request_password_recovery(contract_number: str, address: str, *, ip: str = "") -> None:
    """Send a recovery code when ``address`` (normalised) is the contract's phone or e-mail.

    Returns nothing either way: the page says the same whatever happened. An SMS goes only
    to a mobile number; a landline on file gets nothing (the audit entry says so).
    """
    subscriber = await find_by_contract(contract_number)
    matches = _on_file(subscriber, address)
    deliverable = matches and _channel_for(address) is not None
    async with write_transaction():
        if deliverable:
            await _send_code(subscriber, CodePurpose.PASSWORD, address)
        else:  # the same kind of write as a code sent, on no row
            await retire_codes(0, CodePurpose.PASSWORD)
        await write_audit(
            action="subscriber.recovery_requested", object_type="subscriber",
            object_id=subscriber.id if subscriber else "", object_repr=contract_number[:12],
            actor=subscriber_actor(subscriber) if subscriber else _anonymous(contract_number),
            message=f"ip={ip}; " + ("код отправлен" if deliverable else
                                    "контакт не мобильный, код не отправлен" if matches else
                                    "договор или контакт не совпали"))


def _anonymous(contract_number: str):
    from tables.audit import Actor

    return Actor(name=f"неизвестный (договор {contract_number[:12]})")


async def recover_password(contract_number: str, code: str, new_password: str, *,
                           ip: str = "") -> None:
    """Set a new password with a recovery code; every other session ends and the subscriber
    is told. Raises ``ValueError`` with the Russian reason (the same for an unknown contract
    and a wrong code)."""
    problem = password_problem(new_password, contract_number=contract_number)
    if problem:  # before the code is tried: a refused password spends no try
        raise ValueError(problem)
    subscriber = await find_by_contract(contract_number)
    # An unknown contract tries an id no code has: the same query, the same answer.
    check = await check_code(subscriber.id if subscriber else 0, CodePurpose.PASSWORD, code)
    if not check.ok or subscriber is None:
        raise ValueError(CODE_WRONG)
    password_hash = await hash_password(new_password)
    async with write_transaction():
        await Subscriber.update({Subscriber.password_hash: password_hash,
                                 Subscriber.must_change_password: False,
                                 Subscriber.failed_logins: 0, Subscriber.locked_until: None}).where(
            Subscriber.id == subscriber.id)
        await SubscriberSession.delete().where(SubscriberSession.user_id == subscriber.id)
        audit_id = await write_audit(
            action="subscriber.password_recovered", object_type="subscriber",
            object_id=subscriber.id, object_repr=subscriber.contract_number,
            actor=subscriber_actor(subscriber), message=f"ip={ip}; код отправлялся на {check.target}")
        await messages.password_recovered(subscriber.id, audit_id)


# --- contacts --------------------------------------------------------------------------------
CONTACT_FIELDS = {CodePurpose.PHONE: "phone", CodePurpose.EMAIL: "email"}


def contact_problem(purpose: CodePurpose, value: str) -> tuple[str | None, str | None]:
    """(the normalised new contact, None) or (None, why it cannot be used)."""
    if purpose == CodePurpose.PHONE:
        phone = normalize_phone(value)
        if phone is None:
            return None, "Номер телефона не распознан. Пример: +7 913 123-45-67."
        if not is_mobile(phone):
            return None, "Укажите мобильный номер: на него придёт SMS с кодом."
        return phone, None
    email = normalize_email(value)
    if email is None:
        return None, "Адрес электронной почты не распознан. Пример: ivanov@mail.ru."
    return email, None


async def request_contact_change(subscriber: Subscriber, purpose: CodePurpose, value: str) -> str:
    """Send a code to the new phone or e-mail; returns it normalised. ``ValueError`` if unusable."""
    address, problem = contact_problem(purpose, value)
    if problem:
        raise ValueError(problem)
    current = getattr(subscriber, CONTACT_FIELDS[purpose]) or ""
    if (normalize_email(current) if purpose == CodePurpose.EMAIL else normalize_phone(current)) == address:
        raise ValueError("Этот контакт уже указан в договоре.")
    async with write_transaction():
        await _send_code(subscriber, purpose, address)
    return address


async def confirm_contact_change(subscriber: Subscriber, purpose: CodePurpose, code: str) -> str:
    """Store the new contact the live code went to, once its code comes back; audited with the
    values before and after. Returns the new contact."""
    field = CONTACT_FIELDS[purpose]
    # The try is counted and committed on its own: a wrong code must not roll its count back.
    check = await check_code(subscriber.id, purpose, code)
    if not check.ok:
        raise ValueError(CODE_WRONG)
    async with write_transaction():
        before = await Subscriber.select(getattr(Subscriber, field)).where(
            Subscriber.id == subscriber.id).first()
        await Subscriber.update({getattr(Subscriber, field): check.target}).where(
            Subscriber.id == subscriber.id)
        await write_audit(
            action="subscriber.contacts_changed", object_type="subscriber",
            object_id=subscriber.id, object_repr=subscriber.contract_number,
            actor=subscriber_actor(subscriber),
            message=f"{'Телефон' if field == 'phone' else 'E-mail'} изменён абонентом, подтверждён кодом",
            before={field: (before or {}).get(field, "")}, after={field: check.target})
    return check.target

