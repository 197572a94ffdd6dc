"""The product's application plus a quick-pay lookup endpoint for benchmark 3 (bench only).

``GET /bench/lookup?contract=…`` or ``?town=&street=&house=&apartment=`` runs the quick-pay
search the way the product's ``tables.payments.find_payable_contract`` does (Piccolo ORM:
contract by number; or the town's streets, the street's addresses, the address's contracts)
inside the product's full middleware stack, and renders a small template. It stands in for
``POST /pay/find`` on branches that don't have the quick-pay page; bench/quickpay_load.py
uses the real page whenever the server has one.
"""

from __future__ import annotations

from typing import Any

from litestar import Litestar, Request, get
from litestar.response import Response

from app import create_app as create_product_app
from tables.addresses import Address, Street
from tables.subscribers import Subscriber, SubscriberStatus, mask_name


def _norm(text: str) -> str:
    return " ".join((text or "").casefold().replace("ё", "е").split())


def _payable(subscribers: list[Subscriber]) -> Subscriber | None:
    usable = [s for s in subscribers if s.status != SubscriberStatus.TERMINATED or s.balance < 0]
    return usable[0] if len(usable) == 1 else None


async def find_contract(contract: str, town: int, street: str, house: str,
                        apartment: str) -> Subscriber | None:
    if contract:
        return _payable(list(await Subscriber.objects().where(Subscriber.contract_number == contract)))
    streets = await Street.select(Street.id, Street.name).where(Street.town == town)
    ids = [s["id"] for s in streets if _norm(s["name"]) == _norm(street)]
    if len(ids) != 1:
        return None
    places = await Address.select(Address.id, Address.house, Address.apartment).where(
        Address.street == ids[0])
    found = [a["id"] for a in places
             if _norm(a["house"]) == _norm(house) and _norm(a["apartment"]) == _norm(apartment)]
    if len(found) != 1:
        return None
    return _payable(list(await Subscriber.objects().where(Subscriber.address == found[0])))


PAGE = ("{% extends 'base.html' %}{% block content %}{% if name %}<p>Найден договор: {{ name }}</p>"
        "{% else %}<p>Договор не найден</p>{% endif %}{% endblock %}")
_page: Any = None


@get("/bench/lookup")
async def lookup(request: Request, contract: str = "", town: int = 0, street: str = "",
                 house: str = "", apartment: str = "") -> Response:
    """Renders the site's layout like the product's pages (compiled once, as a template file is)."""
    global _page
    subscriber = await find_contract(contract, town, street, house, apartment)
    if _page is None:
        _page = request.app.template_engine.engine.from_string(PAGE)
    html = _page.render(request=request, csrf_input="",
                        name=mask_name(subscriber.full_name) if subscriber else "")
    return Response(content=html, media_type="text/html")


def create_app() -> Litestar:
    app = create_product_app()
    app.register(lookup)
    return app
