"""The cabinet's connection page: login, the session now and this month's traffic (issue 32)."""

from __future__ import annotations

from cabinet.internet import format_uptime
from tables.audit import AuditEntry
from tables.network import NetworkAccess
from tables.radius import account
from tests.support.factories import make_subscriber, make_tariff
from tests.support.helpers import csrf_from, sign_in
from web.formatting import format_bytes


def test_sizes_and_times_read_in_russian():
    assert format_bytes(0) == "0\u00a0Б"
    assert format_bytes(1288490188) == "1,2\u00a0ГБ"
    assert format_bytes(52428800) == "50,0\u00a0МБ"
    assert format_uptime(7300) == "2 ч 1 мин" and format_uptime(90061) == "1 дн. 1 ч"


async def test_the_page_shows_the_own_session_and_traffic_only(client):
    me = await make_subscriber()
    other = await make_subscriber(phone="+79137654321")
    await NetworkAccess(subscriber=me.id, login="me-login", password="pw").save()
    await NetworkAccess(subscriber=other.id, login="other-login", password="pw",
                        static_ip="198.51.100.9").save()
    for login, ip, octets in (("me-login", "100.64.0.1", "1288490188"), ("other-login", "100.64.0.2", "999")):
        base = {"User-Name": login, "Acct-Session-Id": f"s-{login}", "Framed-IP-Address": ip}
        await account({**base, "Acct-Status-Type": "Start"}, "127.0.0.1")
        await account({**base, "Acct-Status-Type": "Interim-Update", "Acct-Output-Octets": octets},
                      "127.0.0.1")
    await sign_in(client, me.id)
    page = await client.get("/cabinet/internet")
    assert page.status_code == 200
    assert "me-login" in page.text and "100.64.0.1" in page.text and "1,2\u00a0ГБ" in page.text
    assert "other-login" not in page.text and "100.64.0.2" not in page.text
    assert "198.51.100.9" not in page.text


async def test_without_access_data_the_page_says_whom_to_call(client):
    me = await make_subscriber()
    await sign_in(client, me.id)
    page = await client.get("/cabinet/internet")
    assert page.status_code == 200 and "ещё не выданы" in page.text and "не в сети" in page.text
    assert (await client.get("/cabinet/internet", follow_redirects=False)).status_code == 200
    client.cookies.clear()
    assert (await client.get("/cabinet/internet", follow_redirects=False)).status_code in (302, 303)


async def test_a_new_pppoe_password_is_shown_once_and_works_at_once(client):
    me = await make_subscriber(tariff=await make_tariff(speed_mbps=100))
    await NetworkAccess(subscriber=me.id, login="me-login", password="old-password").save()
    await sign_in(client, me.id)
    page = await client.get("/cabinet/internet")
    assert "old-password" not in page.text  # the page never shows the password itself
    answer = await client.post("/cabinet/internet/password", data={"_csrf_token": csrf_from(page.text)})
    assert answer.status_code == 200, answer.text
    stored = (await NetworkAccess.select(NetworkAccess.password).first())["password"]
    assert stored != "old-password" and len(stored) == 10
    assert stored in answer.text
    assert stored not in (await client.get("/cabinet/internet")).text  # once
    entry = await AuditEntry.objects().where(
        AuditEntry.action == "network_access.password_regenerated").first()
    assert entry is not None and stored not in str(entry.after) + str(entry.message)
    # FreeRADIUS is asked for the new one (tables.radius reads the same row).
    from tables.radius import authorize

    decision = await authorize({"User-Name": "me-login"}, {"kind": "mikrotik", "restricted_list": "d",
                                                           "active": True})
    assert decision.control == {"control:Cleartext-Password": stored}


async def test_the_traffic_charts_and_tables_for_a_chosen_month(client):
    from tables.calendar import utcnow
    from tables.month import Month

    me = await make_subscriber()
    await NetworkAccess(subscriber=me.id, login="me-login", password="pw").save()
    base = {"User-Name": "me-login", "Acct-Session-Id": "s-1"}
    await account({**base, "Acct-Status-Type": "Start"}, "127.0.0.1")
    await account({**base, "Acct-Status-Type": "Interim-Update", "Acct-Output-Octets": "52428800"},
                  "127.0.0.1")
    await sign_in(client, me.id)
    page = await client.get("/cabinet/internet")
    current = Month.current(utcnow())
    assert page.status_code == 200
    assert page.text.count('<svg class="chart"') == 2
    assert f"<title>Трафик по дням, {current.title}</title>" in page.text
    assert "<title>Трафик по месяцам</title>" in page.text and page.text.count("<desc>") == 2
    assert "<caption>Трафик по дням" in page.text and "<caption>Трафик по месяцам</caption>" in page.text
    assert "50,0\u00a0МБ" in page.text
    earlier = current - 3
    chosen = await client.get("/cabinet/internet", params={"month": earlier.iso})
    assert chosen.status_code == 200
    assert f"<title>Трафик по дням, {earlier.title}</title>" in chosen.text
    assert f"За {earlier.title} трафика не было" in chosen.text
    assert f'<option value="{earlier.iso}" selected>' in chosen.text
    assert "50,0\u00a0МБ" in chosen.text  # the months' chart and table still show this month


async def test_a_bad_month_gets_a_russian_message_not_an_error(client):
    me = await make_subscriber()
    await sign_in(client, me.id)
    for bad in ("2026-13", "завтра", "1999-01", "3000-01", "x" * 5000, "2026-1'--"):
        page = await client.get("/cabinet/internet", params={"month": bad})
        assert page.status_code == 400, bad
        assert "Месяц указывается в виде ГГГГ-ММ" in page.text or "за последние 12 месяцев" in page.text
        assert page.text.count('<svg class="chart"') == 2  # the current month is shown instead


async def test_a_repeated_month_parameter_is_not_an_error(client):
    me = await make_subscriber()
    await sign_in(client, me.id)
    page = await client.get("/cabinet/internet?month=2026-01&month=2026-02&month=")
    assert page.status_code in (200, 400) and '<svg class="chart"' in page.text
