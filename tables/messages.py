"""What the system tells a subscriber, and when: one function per event.

Each is called by the domain function that causes the event, inside its transaction,
and queues one message keyed by the event (``tables.notifications.notify_subscriber``):
a cause that is retried, replayed or run twice queues nothing more. Texts are Russian
and fit one SMS segment (70 characters with the "Centra: " signature; the outbox
shortens anything longer). Request status changes, a tariff change booked through a
request and terminations are told by ``tables.requests`` in the same way.
"""

from __future__ import annotations

import datetime as dt

from tables.calendar import LOCAL_TZ, as_utc
from tables.money import format_plain
from tables.notifications import MessageKind, SubscriberMessage, notify_subscriber, notify_subscribers

TEXTS = {
    "payment": "платёж {amount} ₽ зачислен, баланс {balance} ₽",
    "payment_reactivated": "платёж {amount} ₽ принят, услуги включены. Баланс {balance} ₽",
    "reactivated": "услуги снова подключены, баланс {balance} ₽",
    "suspended": "услуги приостановлены, долг {debt} ₽. Пополните счёт",
    "low_balance": "{date} спишем {fee} ₽, на счёте {balance} ₽. Пополните счёт",
    "promised_granted": "обещанный платёж {amount} ₽ до {until}",
    "promised_ending": "обещанный платёж {amount} ₽ кончается завтра. Пополните счёт",
    "tariff_applied": "с {date} ваш тариф «{tariff}», {fee} ₽ в месяц",
    "password_reset": "пароль кабинета сброшен сотрудником. Не вы? Позвоните нам",
    "maintenance": "{window} плановые работы, возможны перебои",
    "new_login": "новый вход в кабинет {at}. Не вы? Смените пароль",
    "maintenance_eve": "{window} плановые работы, возможны перебои",
    "password_recovered": "пароль кабинета изменён по коду. Не вы? Позвоните нам",
    "autopay_failed": "автоплатёж не прошёл, оплатите: {link}",
    "autopay_action": "подтвердите автоплатёж: {link}",
    "autopay_card_expired": "срок карты автоплатежа истёк, обновите карту в кабинете",
    "pause_booked": "блокировка договора с {date} по {until} оформлена",
    "pause_started": "услуги приостановлены по вашему заявлению по {date}",
    "pause_ended": "блокировка окончена, услуги снова подключены",
    "pause_cancelled": "запланированная блокировка договора отменена",
}
#: Optional kinds (the subscriber chooses); every other message is transactional (account).
KINDS = {"low_balance": MessageKind.REMINDERS, "promised_ending": MessageKind.REMINDERS,
         "new_login": MessageKind.LOGINS}
SUBJECTS = {
    "payment": "Платёж зачислен",
    "payment_reactivated": "Платёж зачислен, услуги подключены",
    "reactivated": "Услуги подключены",
    "suspended": "Услуги приостановлены",
    "low_balance": "Пополните счёт",
    "promised_granted": "Обещанный платёж",
    "promised_ending": "Обещанный платёж заканчивается",
    "tariff_applied": "Новый тариф",
    "password_reset": "Пароль сброшен",
    "maintenance": "Плановые работы",
    "new_login": "Вход в личный кабинет",
    "maintenance_eve": "Завтра плановые работы",
    "password_recovered": "Пароль изменён",
    "autopay_failed": "Автоплатёж не прошёл",
    "autopay_action": "Подтвердите автоплатёж",
    "autopay_card_expired": "Карта автоплатежа просрочена",
    "pause_booked": "Добровольная блокировка оформлена",
    "pause_started": "Добровольная блокировка началась",
    "pause_ended": "Добровольная блокировка окончена",
    "pause_cancelled": "Добровольная блокировка отменена",
}


def _date(day: dt.date | dt.datetime) -> str:
    if isinstance(day, dt.datetime):
        day = day.astimezone(LOCAL_TZ)
    return day.strftime("%d.%m")


async def _tell(subscriber_id: int, kind: str, key: str, *, urgent: bool = False, **values) -> bool:
    # One key space per event: a payment that re-activated is still the payment's one message.
    event = kind.removesuffix("_reactivated")
    row = await notify_subscriber(subscriber_id, topic=f"message.{kind}",
                                  text=TEXTS[kind].format(**values), subject=SUBJECTS[kind],
                                  event_key=f"{event}:{key}", urgent=urgent, kind=KINDS.get(kind,
                                                                                  MessageKind.ACCOUNT))
    return row is not None


async def payment_received(subscriber_id: int, amount: int, balance: int, reference: str, *,
                           reactivated: bool = False) -> bool:
    """Money arrived (any channel: card, office, bank); keyed by the ledger reference.

    A payment that also re-activated the contract says so in the same message.
    """
    kind = "payment_reactivated" if reactivated else "payment"
    return await _tell(subscriber_id, kind, reference, amount=format_plain(amount),
                balance=format_plain(balance))


async def payments_received(payments: list[tuple[int, int, int, str]], *, reactivated: bool = False) -> int:
    """:func:`payment_received` for many (subscriber id, amount, balance after it, ledger reference)
    at once (a bank statement's batch, in its transaction); the same text and key.
    :returns: messages queued."""
    kind = "payment_reactivated" if reactivated else "payment"
    return await notify_subscribers(
        [SubscriberMessage(subscriber_id, TEXTS[kind].format(amount=format_plain(amount),
                                                             balance=format_plain(balance)),
                           f"payment:{reference}") for subscriber_id, amount, balance, reference in payments],
        topic=f"message.{kind}", subject=SUBJECTS[kind], kind=KINDS.get(kind, MessageKind.ACCOUNT))


async def reactivated(subscriber_id: int, balance: int, reference: str) -> bool:
    """A credit brought a suspended contract back; keyed by that credit's ledger reference."""
    return await _tell(subscriber_id, "reactivated", reference, balance=format_plain(balance))


async def suspended(subscriber_id: int, balance: int, audit_id: int) -> bool:
    """Service stopped for debt; keyed by the suspension's audit entry (each suspension once)."""
    return await _tell(subscriber_id, "suspended", str(audit_id), debt=format_plain(max(0, -balance)))


async def suspended_many(suspensions: list[tuple[int, int, int]]) -> int:
    """:func:`suspended` for every (subscriber id, balance, audit id) at once (the charge run's
    suspensions, in its transaction); the same text and key. :returns: messages queued."""
    return await notify_subscribers(
        [SubscriberMessage(subscriber_id, TEXTS["suspended"].format(debt=format_plain(max(0, -balance))),
                           f"suspended:{audit_id}") for subscriber_id, balance, audit_id in suspensions],
        topic="message.suspended", subject=SUBJECTS["suspended"],
        kind=KINDS.get("suspended", MessageKind.ACCOUNT))


async def low_balance(subscriber_id: int, *, fee: int, balance: int, charge_on: dt.date,
                      period: str) -> bool:
    """The balance will not cover the coming charge; once per contract and period."""
    return await _tell(subscriber_id, "low_balance", f"{subscriber_id}:{period}", date=_date(charge_on),
                fee=format_plain(fee), balance=format_plain(balance))


async def promised_granted(subscriber_id: int, promised_id: int, amount: int,
                           expires_at: dt.datetime) -> bool:
    return await _tell(subscriber_id, "promised_granted", str(promised_id), amount=format_plain(amount),
                until=expires_at.astimezone(LOCAL_TZ).strftime("%d.%m %H:%M"))


async def promised_ending(subscriber_id: int, promised_id: int, amount: int) -> bool:
    return await _tell(subscriber_id, "promised_ending", str(promised_id), amount=format_plain(amount))


async def tariff_applied(subscriber_id: int, change_id: int, *, tariff: str, fee: int,
                         effective_from: dt.date) -> bool:
    return await _tell(subscriber_id, "tariff_applied", str(change_id), date=_date(effective_from),
                tariff=tariff, fee=format_plain(fee))


async def password_reset(subscriber_id: int, audit_id: int) -> bool:
    """Staff reset the cabinet password: urgent (security), sent at any hour."""
    return await _tell(subscriber_id, "password_reset", str(audit_id), urgent=True)


async def maintenance(subscriber_id: int, news_id: int, window: str, *, evening: bool = False) -> bool:
    """Works at the subscriber's address: when published, and the evening before."""
    kind = "maintenance_eve" if evening else "maintenance"
    return await _tell(subscriber_id, kind, f"{news_id}:{subscriber_id}", window=window)
async def password_recovered(subscriber_id: int, audit_id: int) -> bool:
    """The subscriber set a new password with a recovery code: urgent, keyed by the audit entry."""
    return await _tell(subscriber_id, "password_recovered", str(audit_id), urgent=True)


async def new_device_login(subscriber_id: int, session_id: int, at: dt.datetime) -> bool:
    """A login from a device the cabinet does not know (only when the subscriber asked for it);
    urgent: it may be someone else."""
    return await _tell(subscriber_id, "new_login", str(session_id), urgent=True,
                       at=as_utc(at).astimezone(LOCAL_TZ).strftime("%d.%m %H:%M"))


async def autopay_failed(subscriber_id: int, key: str, *, link: str) -> bool:
    return await _tell(subscriber_id, "autopay_failed", key, link=link)


async def autopay_action(subscriber_id: int, key: str, *, link: str) -> bool:
    return await _tell(subscriber_id, "autopay_action", key, link=link)


async def autopay_card_expired(subscriber_id: int, key: str) -> bool:
    return await _tell(subscriber_id, "autopay_card_expired", key)


async def pause_booked(subscriber_id: int, pause_id: int, starts_on: dt.date, ends_on: dt.date) -> bool:
    """A voluntary pause was booked; keyed by the pause (each event of a pause once)."""
    return await _tell(subscriber_id, "pause_booked", str(pause_id), date=_date(starts_on),
                       until=_date(ends_on))


async def pause_started(subscriber_id: int, pause_id: int, ends_on: dt.date) -> bool:
    return await _tell(subscriber_id, "pause_started", str(pause_id), date=_date(ends_on))


async def pause_ended(subscriber_id: int, pause_id: int, *, cancelled: bool = False) -> bool:
    """The pause is over (or a booked one was cancelled): service is back."""
    return await _tell(subscriber_id, "pause_cancelled" if cancelled else "pause_ended", str(pause_id))
