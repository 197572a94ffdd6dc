"""Staff see a subscriber's voluntary pause on the card and end it (issue 29, item 3): an office
form with CSRF, the role matrix, an audit entry in the clerk's name."""

from __future__ import annotations

import datetime as dt

from tables.audit import Actor, AuditEntry
from tables.billing.pauses import Pause, PauseStatus, apply_due_pauses, book_pause
from tables.calendar import LOCAL_TZ, local_date, utcnow
from tables.ledger import EntryKind, post_entry
from tables.subscribers import Subscriber, SubscriberStatus
from tests.support.factories import make_subscriber
from tests.support.helpers import admin_login, csrf_from, make_staff


async def _paused() -> Subscriber:
    s = await make_subscriber()
    await post_entry(s.id, 100000, EntryKind.PAYMENT, f"pay-{s.id}")
    today = local_date(utcnow())
    start = today - dt.timedelta(days=1)
    booked_on = dt.datetime.combine(today - dt.timedelta(days=3), dt.time(12), tzinfo=LOCAL_TZ)
    await book_pause(s.id, start, 10, actor=Actor(f"абонент {s.contract_number}"), now=booked_on)
    await apply_due_pauses(today)
    assert (await Subscriber.objects().get(Subscriber.id == s.id)).status == SubscriberStatus.PAUSED
    return s


async def test_an_operator_sees_the_pause_and_ends_it(client):
    s = await _paused()
    await make_staff("op", role="operator")
    await admin_login(client, "op")
    card = await client.get(f"/office/subscribers/{s.contract_number}")
    assert card.status_code == 200
    assert "Добровольная блокировка" in card.text and "Действует" in card.text
    assert "Окончить блокировку сегодня" in card.text
    answer = await client.post(f"/office/subscribers/{s.contract_number}/pause/end",
                               data={"_csrf_token": csrf_from(card.text)}, follow_redirects=False)
    assert answer.status_code in (302, 303), answer.text
    assert answer.headers["location"].endswith("?done=pause_ended")
    pause = await Pause.objects().first()
    assert pause.status == PauseStatus.ENDED and pause.ended_by == "op"
    assert pause.ends_on == local_date(utcnow()) - dt.timedelta(days=1)
    assert (await Subscriber.objects().get(Subscriber.id == s.id)).status == SubscriberStatus.ACTIVE
    entry = await AuditEntry.objects().where(AuditEntry.action == "subscriber.pause_ended").first()
    assert entry.actor_name == "op"
    page = await client.get(answer.headers["location"])
    assert "Блокировка окончена" in page.text and "Окончить блокировку сегодня" not in page.text


async def test_without_csrf_or_the_role_nothing_ends(client):
    s = await _paused()
    await make_staff("cash", role="cashier")
    await admin_login(client, "cash")
    card = await client.get(f"/office/subscribers/{s.contract_number}")
    assert "Действует" in card.text and "Окончить блокировку сегодня" not in card.text
    no_token = await client.post(f"/office/subscribers/{s.contract_number}/pause/end", follow_redirects=False)
    assert no_token.status_code == 403
    refused = await client.post(f"/office/subscribers/{s.contract_number}/pause/end",
                                data={"_csrf_token": csrf_from((await client.get(
                                    f"/office/subscribers/{s.contract_number}/payment")).text)},
                                follow_redirects=False)
    assert refused.status_code == 403
    assert (await Pause.objects().first()).status == PauseStatus.ACTIVE
