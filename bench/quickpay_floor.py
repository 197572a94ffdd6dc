"""The product's application plus ``POST /bench/find-floor`` (benchmark 3 only).

The route does what ``POST /pay/find`` does before its page: the product's middleware (CSRF
check of the posted form, security headers, session look-up), the per-address limit, the same
search (``cabinet.quickpay.search``) and the signed ticket; then it answers with a minimal page
like the baseline's instead of the quick-pay page. Between the baseline and the real page it
shows how much of the difference is the stack and how much the page.
"""

from __future__ import annotations

from litestar import Litestar, Request, post
from litestar.response import Response

from app import create_app as create_product_app
from cabinet.forms import form_fields
from cabinet.limits import QUICK_PAY_PER_IP, client_ip, over_limit
from cabinet.quickpay import issue_ticket, search

FLOOR = "/bench/find-floor"  # bench/quickpay_load.py posts here


@post(FLOOR, status_code=200)
async def find_floor(request: Request) -> Response:
    if await over_limit(QUICK_PAY_PER_IP, client_ip(request)):
        return Response(content="too many", status_code=429)
    found = await search(await form_fields(request))
    body = (f"<p>Найден договор: {found.name}, {found.address}</p><p>{issue_ticket(found.id)}</p>"
            if found else "<p>Договор не найден</p>")
    return Response(content=f"<!doctype html><html lang=ru><body>{body}</body></html>",
                    media_type="text/html")


def create_app() -> Litestar:
    app = create_product_app()
    app.register(find_floor)
    return app
