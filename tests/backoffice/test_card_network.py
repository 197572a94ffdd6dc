"""The subscriber card's «Подключение»: access data, the session now, the month's traffic, and a
clerk cutting the session (the NAS is told through the outbox, tables.coa) (issue 32)."""

from __future__ import annotations

from tables.audit import AuditEntry
from tables.coa import CoaRequest
from tables.network import NetworkAccess
from tables.radius import account
from tests.support.factories import make_subscriber
from tests.support.helpers import admin_login, csrf_from, make_staff


async def _online() -> str:
    s = await make_subscriber()
    await NetworkAccess(subscriber=s.id, login="card-login", password="pw", static_ip="198.51.100.7").save()
    base = {"User-Name": "card-login", "Acct-Session-Id": "card-1", "Framed-IP-Address": "198.51.100.7"}
    await account({**base, "Acct-Status-Type": "Start"}, "127.0.0.1")
    await account({**base, "Acct-Status-Type": "Interim-Update", "Acct-Output-Octets": "10485760"},
                  "127.0.0.1")
    return s.contract_number


async def test_an_operator_sees_the_session_and_cuts_it(client):
    number = await _online()
    await make_staff("op", role="operator")
    await admin_login(client, "op")
    card = await client.get(f"/office/subscribers/{number}")
    assert card.status_code == 200
    assert "card-login" in card.text and "198.51.100.7" in card.text and "получено 10,0\u00a0МБ" in card.text
    assert "Разорвать сессию" in card.text
    answer = await client.post(f"/office/subscribers/{number}/disconnect",
                               data={"_csrf_token": csrf_from(card.text)}, follow_redirects=False)
    assert answer.status_code in (302, 303), answer.text
    assert answer.headers["location"].endswith("?done=disconnect")
    rows = await CoaRequest.select(CoaRequest.cause, CoaRequest.acct_session_id, CoaRequest.status)
    assert rows == [{"cause": "staff", "acct_session_id": "card-1", "status": "pending"}]
    assert await AuditEntry.exists().where(AuditEntry.action == "network_access.disconnected")


async def test_a_cashier_sees_the_session_but_may_not_cut_it(client):
    number = await _online()
    await make_staff("cash", role="cashier")
    await admin_login(client, "cash")
    card = await client.get(f"/office/subscribers/{number}")
    assert "198.51.100.7" in card.text and "Разорвать сессию" not in card.text
    form = await client.get(f"/office/subscribers/{number}/payment")  # a page with a form of theirs
    refused = await client.post(f"/office/subscribers/{number}/disconnect",
                                data={"_csrf_token": csrf_from(form.text)}, follow_redirects=False)
    assert refused.status_code == 403
    assert await CoaRequest.count() == 0


async def test_the_card_draws_the_traffic_by_day_and_month(client):
    from tables.calendar import utcnow
    from tables.month import Month

    number = await _online()
    await make_staff("cash", role="cashier")
    await admin_login(client, "cash")
    card = await client.get(f"/office/subscribers/{number}")
    current = Month.current(utcnow())
    assert card.text.count('<svg class="chart"') == 2 and card.text.count("<desc>") == 2
    assert f"<title>Трафик по дням, {current.title}</title>" in card.text
    assert "<caption>Трафик по месяцам</caption>" in card.text and "10,0\u00a0МБ" in card.text
    earlier = await client.get(f"/office/subscribers/{number}", params={"month": (current - 1).iso})
    assert earlier.status_code == 200 and f"Трафик по дням, {(current - 1).title}" in earlier.text
    bad = await client.get(f"/office/subscribers/{number}", params={"month": "13.2026"})
    assert bad.status_code == 400 and "Месяц указывается в виде ГГГГ-ММ" in bad.text
