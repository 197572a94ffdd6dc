"""An operator's read-only view of a subscriber's cabinet: audited, visible to the subscriber, no actions."""

from __future__ import annotations

import re

import httpx

from tables.audit import AuditEntry
from tables.subscribers import Subscriber
from tests.support.factories import make_subscriber
from tests.support.helpers import admin_login, concrete_path, csrf_from, make_staff, unsafe_routes


async def test_operator_views_cabinet_read_only(client, app):
    s = await make_subscriber()
    await make_staff("oper", role="operator")
    await admin_login(client, "oper")
    card = f"/office/subscribers/{s.contract_number}"
    response = await client.post(f"{card}/view", data={
        "_csrf_token": csrf_from((await client.get(card)).text)})
    assert response.status_code == 200, response.text
    link = re.search(r"/staff-view/[A-Za-z0-9_\-]+", response.text).group(0)
    assert await AuditEntry.exists().where(AuditEntry.action == "subscriber.viewed_by_staff")

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://testserver") as staff_browser:
        opened = await staff_browser.get(link, follow_redirects=True)
        assert opened.status_code == 200 and "Режим просмотра сотрудником" in opened.text
        assert s.contract_number in opened.text
        # The link works once.
        assert (await staff_browser.get(link)).status_code == 404
        page = await staff_browser.get("/cabinet/password")
        refused = await staff_browser.post("/cabinet/password", data={
            "current_password": "correct-horse-1", "new_password": "Another-pass-9",
            "new_password2": "Another-pass-9", "_csrf_token": csrf_from(page.text)})
        assert refused.status_code == 403 and "просмотра" in refused.text
        # Every other form of the site too, with a valid CSRF token: paying, rating, requests.
        token = csrf_from((await staff_browser.get("/cabinet/pay")).text)
        for path in unsafe_routes(app):
            if path == "/cabinet/logout":
                continue
            answer = await staff_browser.post(concrete_path(path), data={
                "_csrf_token": token, "amount": "500", "score": "1", "comment": "x"})
            # Staff pages (office, reports) want a staff login first, which a staff-view session is not.
            assert answer.status_code == (401 if path.startswith(("/office/", "/reports/")) else 403), path
        from tables.payments.payment import Payment
        from tables.ratings import CabinetRating

        assert await Payment.count() == 0 and await CabinetRating.count() == 0
    row = await Subscriber.select(Subscriber.password_hash).where(Subscriber.id == s.id).first()
    assert row["password_hash"] == s.password_hash

    # The subscriber sees the view in their login history.
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://testserver") as own:
        from tests.support.helpers import sign_in

        await sign_in(own, s.id)
        profile = await own.get("/cabinet/profile")
        assert "Кабинет просмотрен сотрудником" in profile.text and "oper" in profile.text


async def test_cashier_cannot_open_a_view(client):
    s = await make_subscriber()
    await make_staff("cash", role="cashier")
    await admin_login(client, "cash")
    card = f"/office/subscribers/{s.contract_number}"
    page = await client.get(card)
    assert "Кабинет глазами абонента" not in page.text
    token = csrf_from((await client.get(f"{card}/payment")).text)  # a form the cashier has
    response = await client.post(f"{card}/view", data={"_csrf_token": token})
    assert response.status_code == 403
    assert not await AuditEntry.exists().where(AuditEntry.action == "subscriber.viewed_by_staff")


async def test_view_link_is_not_a_session_cookie(client):
    """The link (in access logs and browser history) must not open the cabinet as a cookie."""
    from cabinet.auth import SESSION_COOKIE
    from tables.accounts import session_info, start_staff_view
    from tables.audit import Actor

    s = await make_subscriber()
    link = await start_staff_view(s.id, actor=Actor(name="oper"))
    assert await session_info(link) is None
    client.cookies.set(SESSION_COOKIE, link)
    response = await client.get("/cabinet/")
    assert response.status_code == 303 and "/cabinet/login" in response.headers["location"]
    # Still redeemable once through the link itself, into another token.
    opened = await client.get(f"/staff-view/{link}")
    assert opened.status_code == 303
    new_token = opened.cookies.get(SESSION_COOKIE)
    assert new_token and new_token != link


async def test_view_link_opened_many_times_at_once_gives_one_session():
    import asyncio

    from tables.accounts import SubscriberSession, redeem_staff_view, start_staff_view
    from tables.audit import Actor

    s = await make_subscriber()
    link = await start_staff_view(s.id, actor=Actor(name="oper"))
    tokens = await asyncio.gather(*(redeem_staff_view(link) for _ in range(10)))
    assert len([t for t in tokens if t]) == 1
    assert await SubscriberSession.count().where(SubscriberSession.user_id == s.id) == 1
