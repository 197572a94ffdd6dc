"""``piccolo tables demo``: fill an empty database with demo data (idempotent)."""

from __future__ import annotations

import datetime as dt
import random

from piccolo.apps.user.tables import BaseUser

from tables.month import Month
from tables.subscriber_pages import SECTION_SLUGS, TEXTS

DEMO_STAFF = ("admin", "centra-admin-2026")
# One demo account per office role, same password: operator, cashier, manager.
DEMO_ROLE_STAFF = ("operator", "cashier", "manager")
DEMO_ROLE_PASSWORD = "centra-staff-2026"
DEMO_SUBSCRIBER = ("100001", "demo-2026!")
DEMO_FIRST_LOGIN = ("100002", "start2026")
# `make radius` (docs/network.md): this computer is a NAS, contract 100001 logs in over PPPoE.
DEMO_NAS_SECRET = "centra-radius-demo"
DEMO_PPPOE = ("100001", "demo-ppp-2026")

TOWNS = {
    "Новокузнецк": ["проспект Металлургов", "улица Кирова", "проспект Бардина", "улица Ленина"],
    "Осинники": ["улица Ленина", "улица Победы", "улица Революции"],
}

TARIFFS = [
    dict(name="Интернет + ТВ", kind="internet_tv", monthly_fee=75000, speed_mbps=100,
         channels=120, router_option=True, router_fee=10000, sort_order=1,
         description="Домашний интернет до 100 Мбит/с и 120 каналов цифрового кабельного ТВ."),
    dict(name="Кабельное ТВ", kind="tv", monthly_fee=35000, speed_mbps=0, channels=90,
         router_option=False, router_fee=0, sort_order=2,
         description="90 каналов в цифровом качестве, включая HD."),
    dict(name="Интернет", kind="internet", monthly_fee=55000, speed_mbps=100, channels=0,
         router_option=True, router_fee=10000, sort_order=3,
         description="Безлимитный интернет до 100 Мбит/с, роутер — по желанию."),
]

SURNAMES = ["Иванов", "Петров", "Сидоров", "Кузнецов", "Смирнов", "Попов", "Васильев",
            "Соколов", "Михайлов", "Новиков", "Фёдоров", "Морозов", "Волков", "Алексеев"]
NAMES = ["Иван", "Пётр", "Сергей", "Алексей", "Дмитрий", "Андрей", "Николай", "Михаил"]
PATRONYMICS = ["Иванович", "Петрович", "Сергеевич", "Алексеевич", "Николаевич"]

# The "Абонентам" section (tables/subscriber_pages.py) and the contacts page.
PAGES = [
    *((slug, *TEXTS[slug]) for slug in SECTION_SLUGS),
    ("contacts", "Контакты", """\
Горячая линия работает круглосуточно. Офис в Новокузнецке: проспект Металлургов, 1.
Офис в Осинниках: улица Ленина, 10.
"""),
]


DEMO_RATINGS = [
    (5, "Всё понятно, оплата картой за минуту."),
    (4, ""),
    (4, "Хотелось бы видеть историю заявок подробнее."),
    (3, ""),
    (5, ""),
    (2, "Долго искал, где сменить тариф."),
]


def _months_back(today: dt.date, n: int) -> list[str]:
    """The ``n`` months up to ``today``'s, oldest first."""
    last = Month.of(today)
    return [m.iso for m in Month.range(last - (n - 1), last)]


async def load_demo(today: dt.date | None = None) -> bool:
    """Load the demo data set once; returns False when data is already there."""
    from db.engine import write_transaction
    from tables.addresses import Address, Street, Town
    from tables.audit import Actor
    from tables.calendar import utcnow
    from tables.content import HOTLINE_KEY, MaintenanceArea, NewsItem, Page, SiteSetting
    from tables.ledger import EntryKind, post_entry
    from tables.payments.office import book_office_payment
    from tables.requests.queue import RequestEvent, ServiceRequest
    from tables.subscribers import Subscriber, create_subscriber
    from tables.tariffs import Tariff

    if await Town.count() > 0:
        return False
    today = today or dt.date.today()
    rnd = random.Random(2026)
    actor = Actor("demo")
    now = utcnow()
    async with write_transaction():
        addresses: list[int] = []
        streets: dict[tuple[str, str], int] = {}
        towns: dict[str, int] = {}
        for town_name, street_names in TOWNS.items():
            town = Town(name=town_name)
            await town.save()
            towns[town_name] = town.id
            for street_name in street_names:
                street = Street(town=town.id, name=street_name)
                await street.save()
                streets[(town_name, street_name)] = street.id
                for house in range(1, 6):
                    for apartment in range(1, 9):
                        address = Address(street=street.id, house=str(house), apartment=str(apartment))
                        await address.save()
                        addresses.append(address.id)
                private = Address(street=street.id, house="25а", apartment="")
                await private.save()
                addresses.append(private.id)

        tariff_ids = []
        for spec in TARIFFS:
            tariff = Tariff(**spec)
            await tariff.save()
            tariff_ids.append((tariff.id, spec["monthly_fee"]))

        periods = _months_back(today, 4)
        chosen = rnd.sample(addresses, 50)
        for n, address_id in enumerate(chosen):
            tariff_id, fee = tariff_ids[n % 3]
            name = f"{rnd.choice(SURNAMES)} {rnd.choice(NAMES)} {rnd.choice(PATRONYMICS)}"
            password = None
            if n == 0:
                name, password = "Иванов Иван Петрович", DEMO_SUBSCRIBER[1]
            elif n == 1:
                password = DEMO_FIRST_LOGIN[1]
            first = dt.date.fromisoformat(periods[0] + "-01")
            subscriber, _ = await create_subscriber(
                full_name=name, address_id=address_id, tariff_id=tariff_id,
                phone=f"+7913{rnd.randint(1000000, 9999999)}", connected_on=first,
                password=password, actor=actor,
            )
            if n != 1:
                await Subscriber.update({Subscriber.must_change_password: False}).where(
                    Subscriber.id == subscriber.id
                )
            for i, period in enumerate(periods):
                await post_entry(subscriber.id, -fee, EntryKind.CHARGE,
                                 f"charge:{subscriber.id}:{period}", period=period,
                                 comment="Абонентская плата", created_by="system")
                # Most pay every month; some skip the last months and fall into debt.
                if n % 7 == 3 and i >= len(periods) - 2:
                    continue
                await book_office_payment(subscriber.id, fee + rnd.choice([0, 0, 5000, 10000]),
                                          period=period, actor=actor)

        await _backdate_history(periods)

        for slug, title, body in PAGES:
            await Page(slug=slug, title=title, body=body, sort_order=len(slug)).save()
        await SiteSetting(key=HOTLINE_KEY, value="+7 (3843) 99-00-00").save()

        def at(days: int, hour: int = 10) -> dt.datetime:
            return (now + dt.timedelta(days=days)).replace(hour=hour, minute=0, second=0,
                                                           microsecond=0)

        news = [
            NewsItem(title="Новые HD-каналы в пакете «Интернет + ТВ»",
                     body="С этого месяца в пакет добавлены 12 каналов в HD-качестве.",
                     published_at=at(-20)),
            NewsItem(title="Оплата картой в личном кабинете",
                     body="Пополнить счёт можно картой Visa, Mastercard или Maestro без комиссии.",
                     published_at=at(-10)),
            NewsItem(title="Кинопоказ для абонентов", body="Приглашаем на бесплатный кинопоказ.",
                     published_at=at(-3)),
        ]
        for item in news:
            await item.save()
        works = NewsItem(title="Плановые работы на улице Кирова",
                         body="Возможны перерывы в работе интернета и ТВ.", kind="maintenance",
                         published_at=at(-1), starts_at=at(-1, 9), ends_at=at(2, 18))
        await works.save()
        await MaintenanceArea(news=works.id, street=streets[("Новокузнецк", "улица Кирова")]).save()
        later = NewsItem(title="Замена оборудования в Осинниках",
                         body="Ночью возможны кратковременные отключения.", kind="maintenance",
                         published_at=at(-1), starts_at=at(7, 1), ends_at=at(7, 5))
        await later.save()
        await MaintenanceArea(news=later.id, town=towns["Осинники"]).save()

        demo = await Subscriber.objects().where(Subscriber.contract_number == DEMO_SUBSCRIBER[0]).first()
        samples = [
            ServiceRequest(number="Z-000001", kind="repair", topic="no_internet", subscriber=demo.id,
                           contract_number=demo.contract_number, applicant_phone=demo.phone,
                           text="Пропадает интернет по вечерам.", created_at=at(-2), updated_at=at(-2)),
            ServiceRequest(number="Z-000002", kind="connection", applicant_name="Соколова Анна",
                           applicant_phone="+79131234567", town=towns["Осинники"],
                           address_text="улица Победы, 3, кв. 7", requested_tariff=tariff_ids[0][0],
                           contact_time="после 18:00", created_at=at(-1), updated_at=at(-1)),
        ]
        for request in samples:
            await request.save()
            await RequestEvent(service_request=request.id, author_name="система", author_kind="system",
                               status_to="new",
                               message="Заявка принята", created_at=request.created_at).save()

        # A few ratings of the cabinet, so the admin's report has something to show.
        from tables.ratings import rate_cabinet

        rated = await Subscriber.select(Subscriber.id).order_by(Subscriber.id).limit(6)
        for row, (score, comment) in zip(rated, DEMO_RATINGS, strict=False):
            await rate_cabinet(score, comment, subscriber_id=row["id"], now=now)
        await rate_cabinet(4, "Оплатил без входа, по номеру договора.", now=now)

        from tables.network import Nas, NetworkAccess

        await Nas(name="Этот компьютер (демо)", address="127.0.0.1", secret=DEMO_NAS_SECRET).save()
        await NetworkAccess(subscriber=demo.id, login=DEMO_PPPOE[0], password=DEMO_PPPOE[1]).save()

        if not await BaseUser.exists().where(BaseUser.username == DEMO_STAFF[0]):
            await BaseUser.create_user(username=DEMO_STAFF[0], password=DEMO_STAFF[1],
                                       email="admin@centra.example", active=True, admin=True,
                                       superuser=True)
        from tables.staff import set_role

        for role in DEMO_ROLE_STAFF:
            user = await BaseUser.create_user(username=role, password=DEMO_ROLE_PASSWORD,
                                              email=f"{role}@centra.example", active=True, admin=True,
                                              superuser=False)
            await set_role(user.id, role, actor=actor)
    return True


async def _backdate_history(periods: list[str]) -> None:
    """Spread the demo's months over their real dates (postings are stamped "now"):
    charges on the 1st, payments on the 5th, so statements show a history."""
    from tables.ledger import LedgerEntry
    from tables.payments.payment import Payment

    for period in periods[:-1]:
        first = dt.datetime.fromisoformat(f"{period}-01T03:00:00+00:00")
        await LedgerEntry.update({LedgerEntry.created_at: first}).where(
            (LedgerEntry.period == period) & (LedgerEntry.kind == "charge"))
        paid = first + dt.timedelta(days=4)
        await LedgerEntry.update({LedgerEntry.created_at: paid}).where(
            (LedgerEntry.period == period) & (LedgerEntry.kind == "payment"))
        await Payment.update({Payment.created_at: paid, Payment.updated_at: paid}).where(
            Payment.period == period)


def logins_text() -> str:
    return (
        f"  staff (admin panel /admin/):  {DEMO_STAFF[0]} / {DEMO_STAFF[1]} (superuser); "
        f"{', '.join(DEMO_ROLE_STAFF)} / {DEMO_ROLE_PASSWORD}\n"
        f"  subscriber (cabinet /cabinet/): contract {DEMO_SUBSCRIBER[0]} / {DEMO_SUBSCRIBER[1]}\n"
        f"  first login (must set a password): contract {DEMO_FIRST_LOGIN[0]} / {DEMO_FIRST_LOGIN[1]}"
    )


async def demo() -> None:
    """Load demo data into an empty database (does nothing when data exists)."""
    loaded = await load_demo()
    print("Demo data loaded." if loaded else "Database already has data; nothing changed.")
    print(logins_text())
