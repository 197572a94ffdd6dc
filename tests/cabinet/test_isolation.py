"""No subscriber can read or change another subscriber's data through the cabinet.

The walk is generic: every route under ``/cabinet`` that takes a path parameter is requested
with subscriber B's session for an object that belongs to subscriber A, with every method the
route accepts. B must get 403 or 404, never A's data, and nothing in the database may change.
A gets the same GET URL answered (a positive control: the object really exists and is
visible to its owner), so a wrong factory cannot make the test pass vacuously.

Adding a cabinet route with a path parameter? Register how to create the owner's object:
``PARAM_FACTORIES`` by parameter name (``request_id`` → a request of the owner), or
``ROUTE_FACTORIES`` by route path when parameters depend on each other. A route whose
parameter has no factory fails the test, so no id-taking route goes unchecked.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from litestar import Controller, Litestar, get, post
from litestar.di import NamedDependency, Provide
from litestar.exceptions import NotFoundException
from litestar.params import FromPath

from cabinet.auth import current_subscriber
from tables.calendar import utcnow
from tables.payments.payment import Payment
from tables.payments.receipts import issue_receipt
from tables.requests.queue import RequestEvent, ServiceRequest
from tables.subscribers import Subscriber
from tests.support.factories import make_subscriber, post_at
from tests.support.helpers import app_tables, csrf_from, sign_in

CABINET = "/cabinet"
# Tables that legitimately change on any request (the sliding session expiry).
VOLATILE_TABLES = {"subscriber_session"}
UNSAFE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


@dataclass(frozen=True)
class Target:
    """One path parameter's value for an object of the owner, and text only the owner may see."""

    value: Any
    markers: tuple[str, ...] = ()


ParamFactory = Callable[[Subscriber], Awaitable[Target]]
RouteFactory = Callable[[Subscriber], Awaitable[dict[str, Target]]]


async def owners_request(owner: Subscriber) -> Target:
    now = utcnow()
    secret = f"секрет заявки {uuid.uuid4().hex[:8]}"
    request = ServiceRequest(number=f"Z-{uuid.uuid4().hex[:8]}", kind="repair", status="new",
                             subscriber=owner.id, topic="no_internet", text=secret,
                             created_at=now, updated_at=now)
    await request.save()
    await RequestEvent(service_request=request.id, author_name="система", status_to="new",
                       message="Заявка принята", created_at=now).save()
    return Target(request.id, (request.number, secret))


async def owners_payment(owner: Subscriber) -> Target:
    now = utcnow()
    payment = Payment(subscriber=owner.id, amount=123457, status="succeeded", channel="cabinet",
                      provider_intent_id=f"pi_{uuid.uuid4().hex}", card_brand="visa",
                      card_last4="4242", created_at=now, updated_at=now)
    await payment.save()
    return Target(payment.id, (payment.provider_intent_id,))


async def owners_receipt(owner: Subscriber) -> Target:
    payment = await owners_payment(owner)
    receipt_id = await issue_receipt(payment.value)
    return Target(receipt_id, (f"Услуги связи по договору № {owner.contract_number}",))


PARAM_FACTORIES: dict[str, ParamFactory] = {
    "request_id": owners_request,
    "payment_id": owners_payment,
    "receipt_id": owners_receipt,
}
async def owners_final_statement(owner: Subscriber) -> dict[str, Target]:
    """A completed termination request: only then the final statement page exists."""
    now = utcnow()
    request = ServiceRequest(number=f"Z-{uuid.uuid4().hex[:8]}", kind="termination", status="done",
                             subscriber=owner.id, text="переезд", created_at=now, updated_at=now,
                             closed_at=now)
    await request.save()
    return {"request_id": Target(request.id, (request.number,))}


ROUTE_FACTORIES: dict[str, RouteFactory] = {
    "/cabinet/requests/{request_id:int}/statement": owners_final_statement,
}


class MissingFactory(LookupError):
    pass


def cabinet_routes(app: Litestar) -> list[Any]:
    return [r for r in app.routes if r.path == CABINET or r.path.startswith(CABINET + "/")]


def id_routes(app: Litestar) -> list[Any]:
    return [r for r in cabinet_routes(app) if r.path_parameters]


async def targets_for(route: Any, owner: Subscriber) -> dict[str, Target]:
    if route.path in ROUTE_FACTORIES:
        return await ROUTE_FACTORIES[route.path](owner)
    targets = {}
    for name in route.path_parameters:
        if name not in PARAM_FACTORIES:
            raise MissingFactory(f"{route.path}: no factory for path parameter {name!r} — add one "
                                 f"to PARAM_FACTORIES or ROUTE_FACTORIES in {__name__}")
        targets[name] = await PARAM_FACTORIES[name](owner)
    return targets


async def snapshot() -> dict[str, list[str]]:
    """Every row of every table (but sessions), to see that a refused request changed nothing."""
    state = {}
    for table in app_tables():
        if table._meta.tablename not in VOLATILE_TABLES:
            rows = await table.select()
            state[table._meta.tablename] = sorted(repr(sorted(r.items())) for r in rows)
    return state


def _is_login_redirect(response: httpx.Response) -> bool:
    return response.is_redirect and response.headers.get("location", "").startswith("/cabinet/login")


async def walk(app: Litestar, owner: Subscriber, owner_client: httpx.AsyncClient,
               other_client: httpx.AsyncClient, form: dict[str, str]) -> tuple[list[str], int]:
    """Request every id-taking cabinet route as the other subscriber.

    :returns: the problems found and how many (route, method) pairs were checked.
    """
    problems: list[str] = []
    checked = 0
    for route in id_routes(app):
        try:
            targets = await targets_for(route, owner)
        except MissingFactory as exc:
            problems.append(str(exc))
            continue
        url = route.path_format.format(**{name: t.value for name, t in targets.items()})
        markers = [m for t in targets.values() for m in t.markers]
        for method in sorted(route.methods - {"HEAD", "OPTIONS"}):
            checked += 1
            if method == "GET":
                own = await owner_client.get(url)
                if own.status_code >= 400 or _is_login_redirect(own):
                    problems.append(f"GET {url}: the owner gets {own.status_code}; the factory's "
                                    "object must be visible to its owner")
            before = await snapshot()
            data = form if method in UNSAFE_METHODS else None
            response = await other_client.request(method, url, data=data)
            if response.status_code not in (403, 404):
                problems.append(f"{method} {url}: another subscriber gets {response.status_code}, "
                                "expected 403 or 404")
            problems.extend(f"{method} {url}: another subscriber sees {m!r}"
                            for m in markers if m in response.text)
            if await snapshot() != before:
                problems.append(f"{method} {url}: another subscriber's request changed data")
    return problems, checked


async def _clients(app: Litestar) -> tuple[httpx.AsyncClient, httpx.AsyncClient]:
    def new() -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")

    return new(), new()


# --- the real application ------------------------------------------------------------------

OWNER_SURNAME = "Альфасекретов"
OWNER_CONTRACT = "987654321"
OWNER_BALANCE = 432187  # "4 321,87 ₽" on pages, "4321,87" in CSV


@pytest.fixture
async def two_subscribers(app):
    other = await make_subscriber(full_name="Бетов Борис Борисович")
    owner = await make_subscriber(full_name=f"{OWNER_SURNAME} Аркадий Аркадьевич",
                                  contract_number=OWNER_CONTRACT)
    await post_at(owner.id, OWNER_BALANCE, utcnow() - dt.timedelta(minutes=5))
    owner_client, other_client = await _clients(app)
    await sign_in(owner_client, owner.id)
    await sign_in(other_client, other.id)
    yield owner, other, owner_client, other_client
    await owner_client.aclose()
    await other_client.aclose()


async def test_no_subscriber_reaches_anothers_objects_by_id(app, two_subscribers):
    owner, _, owner_client, other_client = two_subscribers
    page = await other_client.get("/cabinet/")
    problems, checked = await walk(app, owner, owner_client, other_client,
                                   {"_csrf_token": csrf_from(page.text), "text": "чужая заявка"})
    assert problems == []
    assert checked == sum(len(r.methods - {"HEAD", "OPTIONS"}) for r in id_routes(app))


def _owner_markers(owner: Subscriber, request_number: str) -> list[str]:
    from tables.money import format_csv as csv_amount
    from web.formatting import rub

    return [OWNER_SURNAME, OWNER_CONTRACT, rub(OWNER_BALANCE), csv_amount(OWNER_BALANCE),
            request_number]


async def test_query_string_ids_do_not_switch_the_contract(app, two_subscribers):
    owner, other, owner_client, other_client = two_subscribers
    request = await owners_request(owner)
    payment = await owners_payment(owner)
    markers = _owner_markers(owner, request.markers[0])
    # Positive control: the owner's own pages do show the markers.
    own_home = (await owner_client.get("/cabinet/")).text
    assert OWNER_CONTRACT in own_home and request.markers[0] in own_home
    assert OWNER_SURNAME in (await owner_client.get("/cabinet/profile")).text
    spoof = urlencode({
        "id": owner.id, "subscriber": owner.id, "subscriber_id": owner.id, "user_id": owner.id,
        "contract": OWNER_CONTRACT, "contract_number": OWNER_CONTRACT,
        "request_id": request.value, "payment_id": payment.value,
    })
    gets = [r for r in cabinet_routes(app) if not r.path_parameters and "GET" in r.methods]
    assert {"/cabinet", "/cabinet/statement", "/cabinet/statement.csv",
            "/cabinet/profile"} <= {r.path.rstrip("/") for r in gets}
    for route in gets:
        response = await other_client.get(f"{route.path}?{spoof}")
        assert response.status_code < 500, route.path
        for marker in markers:
            assert marker not in response.text, (route.path, marker)
    # And B still sees B's own contract, not an empty page.
    assert other.contract_number in (await other_client.get(f"/cabinet/?{spoof}")).text


async def test_traffic_is_only_the_own_contracts_whatever_the_query_says(two_subscribers):
    """/cabinet/internet reads the logged-in contract's traffic; ``month`` (its one parameter) and
    any id in the query string change nothing about whose."""
    from tables.month import Month
    from tables.network import TrafficDay

    owner, _other, owner_client, other_client = two_subscribers
    month = Month.current(utcnow())
    owners_bytes = 7_777_777_777  # "7,2 ГБ" on the page
    await TrafficDay(day_key=f"{owner.id}:{month.first_day}", subscriber=owner.id,
                     day=month.first_day, download_bytes=owners_bytes).save()
    assert "7,2\u00a0ГБ" in (await owner_client.get("/cabinet/internet")).text  # positive control
    for query in ({}, {"month": month.iso}, {"month": (month - 1).iso, "subscriber": owner.id},
                  {"subscriber_id": owner.id, "contract": OWNER_CONTRACT, "id": owner.id}):
        page = await other_client.get("/cabinet/internet", params=query)
        assert page.status_code == 200, query
        assert "7,2\u00a0ГБ" not in page.text and OWNER_CONTRACT not in page.text, query
        assert page.text.count('<svg class="chart"') == 2


# --- the walk itself can fail ---------------------------------------------------------------

class LeakyController(Controller):
    """What the walk must catch: a page that loads any request by id."""

    path = "/cabinet/leaky"
    dependencies = {"subscriber": Provide(current_subscriber)}

    @get("/{request_id:int}", media_type="text/plain")
    async def show(self, subscriber: NamedDependency[Subscriber], request_id: FromPath[int]) -> str:
        row = await ServiceRequest.select(ServiceRequest.text).where(
            ServiceRequest.id == request_id).first()
        if row is None:
            raise NotFoundException()
        return row["text"]

    @post("/{request_id:int}/cancel", media_type="text/plain", status_code=200)
    async def cancel(self, subscriber: NamedDependency[Subscriber], request_id: FromPath[int]) -> str:
        await ServiceRequest.update({ServiceRequest.status: "cancelled"}).where(
            ServiceRequest.id == request_id)
        return "ok"


class ScopedController(Controller):
    """The right way: every query is scoped to the logged-in contract."""

    path = "/cabinet/scoped"
    dependencies = {"subscriber": Provide(current_subscriber)}

    @get("/{request_id:int}", media_type="text/plain")
    async def show(self, subscriber: NamedDependency[Subscriber], request_id: FromPath[int]) -> str:
        row = await ServiceRequest.select(ServiceRequest.text).where(
            (ServiceRequest.id == request_id) & (ServiceRequest.subscriber == subscriber.id)).first()
        if row is None:
            raise NotFoundException()
        return row["text"]


class UncheckedController(Controller):
    path = "/cabinet/unchecked"

    @get("/{thing_id:int}", media_type="text/plain")
    async def show(self, thing_id: FromPath[int]) -> str:
        return "?"


async def _walk_app(*controllers: type[Controller]) -> tuple[list[str], int]:
    app = Litestar(route_handlers=list(controllers))
    owner = await make_subscriber()
    other = await make_subscriber()
    owner_client, other_client = await _clients(app)
    await sign_in(owner_client, owner.id)
    await sign_in(other_client, other.id)
    try:
        return await walk(app, owner, owner_client, other_client, {})
    finally:
        await owner_client.aclose()
        await other_client.aclose()


async def test_walk_catches_a_leaking_route():
    problems, checked = await _walk_app(LeakyController)
    assert checked == 2
    assert any("GET /cabinet/leaky/" in p and "gets 200" in p for p in problems)
    assert any("sees 'секрет заявки" in p for p in problems)
    assert any("POST /cabinet/leaky/" in p and "changed data" in p for p in problems)


async def test_walk_fails_a_route_without_a_factory():
    problems, _ = await _walk_app(UncheckedController)
    assert problems and "no factory for path parameter 'thing_id'" in problems[0]


async def test_walk_passes_a_scoped_route():
    assert await _walk_app(ScopedController) == ([], 1)
