"""Connection applications: filed on the public site without a login, done by signing a contract."""

from __future__ import annotations

import datetime as dt

from db.engine import write_transaction
from tables.addresses import Address, Street, Town, format_address, normalise
from tables.audit import Actor, write_audit
from tables.calendar import local_date, utcnow
from tables.phones import normalize_phone
from tables.requests.queue import (
    MESSAGES as QUEUE_MESSAGES,
)
from tables.requests.queue import (
    OPEN_STATUSES,
    AuthorKind,
    RequestKind,
    RequestStatus,
    ServiceRequest,
    add_event,
    checked_text,
    claim,
    finish,
    insert_numbered,
)
from tables.subscribers import Subscriber, create_subscriber
from tables.tariffs import Tariff

MESSAGES = {
    "name": "Укажите имя: от 2 до 200 символов.",
    "phone": "Укажите номер телефона с кодом, например +7 913 123-45-67.",
    "town": "Выберите город из списка.",
    "street": "Укажите улицу.",
    "house": "Укажите номер дома.",
    "address_long": "Слишком длинный адрес.",
    "consent": "Отметьте согласие на обработку персональных данных: без него мы не сможем "
               "связаться с вами по заявке.",
    "duplicate_application": "С этого номера телефона уже подана заявка на подключение — "
                             "мы позвоним вам в ближайшее время.",
    "application_tariff": "Укажите тариф для договора.",
    "no_router": "На этом тарифе роутер в аренду не предлагается: снимите отметку «С роутером».",
    "address_missing": "Адрес не найден в справочнике.",
}
NOTIFY_CONVERTED = "по заявке {number} оформлен договор № {contract}. Добро пожаловать в Centra!"


def _clean_name(name: str | None) -> str:
    name = " ".join((name or "").split())
    if not 2 <= len(name) <= 200:
        raise ValueError(MESSAGES["name"])
    return name


def _clean_address(street: str, house: str, apartment: str) -> tuple[str, str, str]:
    """Street, house and flat as typed, trimmed; street and house required."""
    street = " ".join((street or "").split())
    house = (house or "").strip()
    apartment = (apartment or "").strip()
    if not street:
        raise ValueError(MESSAGES["street"])
    if not house:
        raise ValueError(MESSAGES["house"])
    if len(street) > 150 or len(house) > 20 or len(apartment) > 20:
        raise ValueError(MESSAGES["address_long"])
    return street, house, apartment


async def _offered_tariff(tariff_id: int | None, *, router: bool = False) -> None:
    """No tariff chosen, or one that is offered (with a router only where the tariff offers one)."""
    if tariff_id is not None:
        tariff = await Tariff.select(Tariff.active, Tariff.router_option).where(
            Tariff.id == tariff_id).first()
        if tariff is None or not tariff["active"]:
            raise ValueError(QUEUE_MESSAGES["tariff_unavailable"])
        if router and not tariff["router_option"]:
            raise ValueError(MESSAGES["no_router"])


async def file_connection_application(
    *,
    name: str,
    phone: str,
    town_id: int | None,
    street: str,
    house: str,
    apartment: str = "",
    tariff_id: int | None = None,
    contact_time: str = "",
    comment: str = "",
    consent: bool = False,
    router: bool = False,
    now: dt.datetime | None = None,
) -> ServiceRequest:
    """A visitor of the public site applies for a connection (no login).

    The phone is stored as ``+7XXXXXXXXXX``; one open application per phone. The
    address is linked to the directory when it is already there. No SMS is sent
    to the typed number: an unverified number must not make us send messages.
    """
    now = now or utcnow()
    name = _clean_name(name)
    if not consent:
        raise ValueError(MESSAGES["consent"])
    normalized = normalize_phone(phone)
    if normalized is None:
        raise ValueError(MESSAGES["phone"])
    street, house, apartment = _clean_address(street, house, apartment)
    contact_time = checked_text(contact_time, 100, "contact_long")
    comment = checked_text(comment)
    async with write_transaction():
        town = await Town.select(Town.id, Town.name).where(Town.id == (town_id or 0)).first()
        if town is None:
            raise ValueError(MESSAGES["town"])
        await _offered_tariff(tariff_id, router=router)
        duplicate = await ServiceRequest.exists().where(
            (ServiceRequest.kind == RequestKind.CONNECTION)
            & (ServiceRequest.applicant_phone == normalized)
            & ServiceRequest.status.is_in(list(OPEN_STATUSES))
        )
        if duplicate:
            raise ValueError(MESSAGES["duplicate_application"])
        address_id = await _directory_address(town["id"], street, house, apartment)
        request = await insert_numbered(ServiceRequest(
            kind=RequestKind.CONNECTION, applicant_name=name, applicant_phone=normalized,
            town=town["id"], street_name=street, house=house, apartment=apartment,
            address=address_id, address_text=format_address(town["name"], street, house, apartment),
            requested_tariff=tariff_id, wants_router=router, contact_time=contact_time, text=comment,
            created_at=now, updated_at=now,
        ), conflict_message=MESSAGES["duplicate_application"])
        actor = Actor(name=f"заявитель {name}")
        await add_event(request.id, actor=actor, author_kind=AuthorKind.APPLICANT, now=now,
                        status_to=RequestStatus.NEW, message=comment)
        await write_audit(action="request.application_filed", object_type="service_request",
                          object_id=request.id, object_repr=request.number, actor=actor,
                          after={"town": town["id"], "tariff": tariff_id, "router": router,
                                 "address": address_id})
    return request


async def _find_street(town_id: int, street: str) -> int | None:
    # SQLite's lower() folds ASCII only, so Cyrillic names are compared here. Not through the
    # quick-pay search's cache: a filed application must see an address added a second ago.
    key = normalise(street)
    rows = await Street.select(Street.id, Street.name).where(Street.town == town_id)
    return next((r["id"] for r in rows if normalise(r["name"]) == key), None)


async def _directory_address(town_id: int, street: str, house: str, apartment: str) -> int | None:
    street_id = await _find_street(town_id, street)
    if street_id is None:
        return None
    rows = await Address.select(Address.id, Address.house, Address.apartment).where(
        Address.street == street_id
    )
    house_key, apartment_key = normalise(house), normalise(apartment)
    return next((r["id"] for r in rows if normalise(r["house"]) == house_key
                 and normalise(r["apartment"]) == apartment_key), None)


async def convert_application(
    request_id: int,
    *,
    actor: Actor,
    full_name: str = "",
    tariff_id: int | None = None,
    address_id: int | None = None,
    connected_on: dt.date | None = None,
    now: dt.datetime | None = None,
) -> tuple[Subscriber, str]:
    """Done: sign a contract for a connection application.

    Creates the subscriber with a new contract number and a one-time password
    (returned once, for printing; the first login must replace it) and links
    the application to it. The address is the one given, else the directory
    address of the application, else it is added to the directory.
    """
    now = now or utcnow()
    async with write_transaction():
        row = await claim(request_id, allowed=OPEN_STATUSES, now=now,
                          kinds=(RequestKind.CONNECTION,))
        tariff_id = tariff_id or row["requested_tariff"]
        if not tariff_id:
            raise ValueError(MESSAGES["application_tariff"])
        tariff = await Tariff.select(Tariff.id, Tariff.router_option).where(Tariff.id == tariff_id).first()
        if tariff is None:
            raise ValueError(QUEUE_MESSAGES["tariff_unavailable"])
        address_id = address_id or row["address"] or await _add_to_directory(row)
        if not await Address.exists().where(Address.id == address_id):
            raise ValueError(MESSAGES["address_missing"])
        name = _clean_name(full_name or row["applicant_name"])
        subscriber, one_time = await create_subscriber(
            full_name=name, address_id=address_id, tariff_id=tariff_id,
            phone=row["applicant_phone"], connected_on=connected_on or local_date(now), actor=actor,
            # The router asked for on the form, where the contract's tariff offers one.
            router_rented=bool(row["wants_router"]) and bool(tariff["router_option"]),
        )
        reason = f"Оформлен договор № {subscriber.contract_number}."
        await ServiceRequest.update({
            ServiceRequest.status: RequestStatus.DONE, ServiceRequest.closed_at: now,
            ServiceRequest.close_reason: reason, ServiceRequest.converted_subscriber: subscriber.id,
            ServiceRequest.address: address_id, ServiceRequest.contract_number:
                subscriber.contract_number,
        }).where(ServiceRequest.id == request_id)
        await finish(row, RequestStatus.DONE, reason, actor, now, notify_text=NOTIFY_CONVERTED.format(
            number=row["number"], contract=subscriber.contract_number))
    return subscriber, one_time


async def _add_to_directory(row: dict) -> int:
    """The application's address as a directory entry (created if missing)."""
    if not row["town"] or not row["street_name"] or not row["house"]:
        raise ValueError(MESSAGES["address_missing"])
    street_id = await _find_street(row["town"], row["street_name"])
    if street_id is None:
        street = Street(town=row["town"], name=row["street_name"])
        await street.save()
        street_id = street.id
    address_id = await _directory_address(row["town"], row["street_name"], row["house"],
                                          row["apartment"])
    if address_id is None:
        address = Address(street=street_id, house=row["house"], apartment=row["apartment"])
        await address.save()
        address_id = address.id
    return address_id
