"""What a subscriber files from the cabinet: one form, rules per kind.

:func:`file_request` checks what every kind shares (the text, the topic, a date not in the past,
a contract still in force) and hands the rest to the kind's own rules in :data:`FORMS`: the
termination's date and confirmation, the tariff change's tariff. Repairs, services and
questions have no workflow beyond the queue's (``tables.requests.queue``).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Awaitable, Callable

from db.engine import write_transaction
from tables.addresses import format_address
from tables.audit import write_audit
from tables.calendar import local_date, utcnow
from tables.requests import tariff_change, termination
from tables.requests.queue import (
    MESSAGES as QUEUE_MESSAGES,
)
from tables.requests.queue import (
    AuthorKind,
    Filing,
    RequestKind,
    RequestStatus,
    ServiceRequest,
    add_event,
    checked_text,
    contract_row,
    insert_numbered,
    subscriber_actor,
)
from tables.subscribers import SubscriberStatus

# Topics a subscriber chooses from, per kind (termination: the reason).
KIND_TOPICS: dict[str, tuple[str, ...]] = {
    "repair": ("no_internet", "no_tv", "slow", "other"),
    "service": ("router_install", "relocation", "other"),
    "termination": ("moving", "price", "quality", "other_provider", "other"),
}
# Topics whose form needs a description.
TOPICS_NEEDING_TEXT = {"other", "relocation"}

MESSAGES = {
    "kind": "Такой вид заявки подать нельзя.",
    "topic": "Выберите вариант из списка.",
    "text_needed": "Опишите подробнее, что нужно сделать.",
    "question_empty": "Напишите ваш вопрос.",
    "date_past": "Дата не может быть в прошлом.",
}


def _question_has_text(filing: Filing, today: dt.date) -> None:
    if not filing.text:
        raise ValueError(MESSAGES["question_empty"])


@dataclasses.dataclass(frozen=True)
class KindForm:
    """One kind's form: which fields it takes and the kind's own checks.

    ``check_form`` runs on the cleaned form (no database), ``check_contract`` inside the
    filing's transaction with the contract row; both raise ``ValueError`` for the form.
    """

    topics: tuple[str, ...] = ()
    takes_date: bool = False
    takes_tariff: bool = False
    check_form: Callable[[Filing, dt.date], None] | None = None
    check_contract: Callable[[dict, Filing], Awaitable[None]] | None = None

    def clean(self, kind: str, *, topic: str, text: str, tariff_id: int | None,
              desired_date: dt.date | None, contact_time: str, confirmed: bool,
              today: dt.date) -> Filing:
        """The form's fields checked in the order the form shows its messages."""
        text = checked_text(text)
        contact_time = checked_text(contact_time, 100, "contact_long")
        topic = self._topic(topic, text)
        desired_date = self._date(desired_date, today)
        filing = Filing(kind=kind, topic=topic, text=text, contact_time=contact_time,
                        tariff_id=tariff_id if self.takes_tariff else None,
                        desired_date=desired_date, confirmed=confirmed)
        if self.check_form is not None:
            self.check_form(filing, today)
        return filing

    def _topic(self, topic: str, text: str) -> str:
        """One of the kind's topics ("" for a kind without), with the text some of them need."""
        if not self.topics:
            return ""
        topic = (topic or "").strip()
        if topic not in self.topics:
            raise ValueError(MESSAGES["topic"])
        if topic in TOPICS_NEEDING_TEXT and not text:
            raise ValueError(MESSAGES["text_needed"])
        return topic

    def _date(self, desired_date: dt.date | None, today: dt.date) -> dt.date | None:
        """The desired date of a kind that takes one, not in the past."""
        if not self.takes_date or desired_date is None:
            return None
        if desired_date < today:
            raise ValueError(MESSAGES["date_past"])
        return desired_date


# The kinds a subscriber may file, in the order the cabinet offers them.
FORMS: dict[str, KindForm] = {
    RequestKind.REPAIR: KindForm(topics=KIND_TOPICS["repair"]),
    RequestKind.SERVICE: KindForm(topics=KIND_TOPICS["service"], takes_date=True),
    RequestKind.TARIFF_CHANGE: KindForm(takes_tariff=True,
                                        check_contract=tariff_change.check_filing),
    RequestKind.TERMINATION: KindForm(topics=KIND_TOPICS["termination"], takes_date=True,
                                      check_form=termination.check_form,
                                      check_contract=termination.check_filing),
    RequestKind.QUESTION: KindForm(check_form=_question_has_text),
}
SUBSCRIBER_KINDS = tuple(RequestKind(kind) for kind in FORMS)


async def file_request(
    subscriber_id: int,
    kind: str,
    *,
    topic: str = "",
    text: str = "",
    tariff_id: int | None = None,
    desired_date: dt.date | None = None,
    contact_time: str = "",
    confirmed: bool = False,
    now: dt.datetime | None = None,
) -> ServiceRequest:
    """A subscriber files a request from the cabinet.

    :param kind: one of :data:`SUBSCRIBER_KINDS`.
    :param topic: for repair/service the problem or service, for termination the reason.
    :param confirmed: termination only — the subscriber confirmed that charging stops.
    :raises ValueError: with a Russian message for the form.
    """
    now = now or utcnow()
    form = FORMS.get(kind)
    if form is None:
        raise ValueError(MESSAGES["kind"])
    filing = form.clean(kind, topic=topic, text=text, tariff_id=tariff_id,
                        desired_date=desired_date, contact_time=contact_time,
                        confirmed=confirmed, today=local_date(now))
    async with write_transaction():
        contract = await contract_row(subscriber_id)
        if contract["status"] == SubscriberStatus.TERMINATED:
            raise ValueError(QUEUE_MESSAGES["terminated"])
        if form.check_contract is not None:
            await form.check_contract(contract, filing)
        request = await _insert(subscriber_id, contract, filing, now)
        actor = subscriber_actor(contract["contract_number"])
        await add_event(request.id, actor=actor, author_kind=AuthorKind.SUBSCRIBER, now=now,
                        status_to=RequestStatus.NEW, message=filing.text)
        await write_audit(action="request.filed", object_type="service_request",
                          object_id=request.id, object_repr=request.number, actor=actor,
                          after={"kind": kind, "topic": filing.topic, "tariff": filing.tariff_id,
                                 "desired_date": filing.desired_date})
    return request


async def _insert(subscriber_id: int, contract: dict, filing: Filing,
                  now: dt.datetime) -> ServiceRequest:
    return await insert_numbered(ServiceRequest(
        kind=filing.kind, subscriber=subscriber_id, contract_number=contract["contract_number"],
        topic=filing.topic, text=filing.text, requested_tariff=filing.tariff_id,
        desired_date=filing.desired_date, applicant_name=contract["full_name"],
        applicant_phone=contract["phone"], town=contract["town_id"],
        address_text=format_address(contract["town"], contract["street"], contract["house"],
                                    contract["apartment"]),
        contact_time=filing.contact_time, created_at=now, updated_at=now,
    ), conflict_message=QUEUE_MESSAGES["open_race"])
