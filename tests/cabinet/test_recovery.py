"""Password recovery and contact changes by one-time code (issue 29, items 1 and 2), end to end:
the pages, the outbox, our SMTP client into the local mail catcher and our SMS client into the
local SMS gateway; parallel guesses against a uvicorn server (SQLite, or PostgreSQL with
``CENTRA_TEST_PG``)."""

from __future__ import annotations

import asyncio
import io
import re
import statistics
import time

import pytest

from providers.mail_catcher import MailCatcher
from providers.sms_sandbox import SANDBOX_API_ID, SmsSandbox
from settings import get_settings
from tables.accounts import SubscriberSession, authenticate
from tables.audit import AuditEntry
from tables.codes import MAX_TRIES, ConfirmationCode
from tables.notifications import (
    SECRET_BODY,
    ConsoleSender,
    GatewaySender,
    Notification,
    deliver_notifications,
)
from tables.recovery import CODE_WRONG, request_password_recovery
from tables.subscribers import Subscriber
from tests.support.factories import make_subscriber
from tests.support.helpers import csrf_from, sign_in
from tests.support.live_server import csrf_client, live_server

PHONE = "+79131234567"
EMAIL = "anna.k@example.ru"
NEW_PASSWORD = "Tulips-in-May-26"
SIX_DIGITS = re.compile(r"\b(\d{6})\b")




@pytest.fixture
def mailbox():
    server = MailCatcher().start()
    yield server
    server.stop()


def sender_for(gateway: SmsSandbox, mailbox: MailCatcher) -> GatewaySender:
    settings = get_settings().replace(
        smtp_host="127.0.0.1", smtp_port=mailbox.port, smtp_security="none",
        sms_api_id=SANDBOX_API_ID, sms_api_url=gateway.base_url, sms_sender="Centra")
    return GatewaySender(settings, console=ConsoleSender(io.StringIO()))


async def send_outbox(gateway: SmsSandbox, mailbox: MailCatcher) -> dict[str, int]:
    return await deliver_notifications(sender=sender_for(gateway, mailbox))


def last_sms_code(gateway: SmsSandbox, phone: str = PHONE) -> str:
    return SIX_DIGITS.search(gateway.sent_to(phone)[-1].text).group(1)


async def ask_code(client, contract: str, address: str):
    page = await client.get("/cabinet/recover/")
    return await client.post("/cabinet/recover/", data={
        "contract_number": contract, "address": address, "_csrf_token": csrf_from(page.text)})


async def send_code(client, contract: str, code: str, password: str = NEW_PASSWORD):
    page = await client.get("/cabinet/recover/code")
    return await client.post("/cabinet/recover/code", data={
        "contract_number": contract, "code": code, "new_password": password,
        "new_password2": password, "_csrf_token": csrf_from(page.text)})


async def test_recovery_by_sms_sets_the_password_ends_sessions_and_tells_the_subscriber(
        client, app, gateway, mailbox):
    import httpx

    s = await make_subscriber(phone=PHONE, email=EMAIL)
    # Someone else is logged in on another device: that session must end.
    other = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")
    await sign_in(other, s.id)
    assert (await other.get("/cabinet/")).status_code == 200

    login_page = await client.get("/cabinet/login")
    assert 'href="/cabinet/recover/"' in login_page.text
    asked = await ask_code(client, s.contract_number, "8 (913) 123-45-67")
    assert asked.status_code == 200 and "Если номер договора и контакт указаны верно" in asked.text
    assert (await send_outbox(gateway, mailbox))["sent"] == 1
    [sms] = gateway.sent_to(PHONE)
    code = last_sms_code(gateway)
    assert "восстановления пароля" in sms.text
    # Stored hashed only; the outbox keeps no code once the message is out.
    [row] = await ConfirmationCode.select()
    assert code not in str(row)
    outbox = await Notification.objects().where(Notification.topic == "code.password").first()
    assert outbox.status == "sent" and code not in outbox.body and outbox.body == SECRET_BODY

    done = await send_code(client, s.contract_number, code)
    assert done.status_code == 303 and done.headers["location"] == "/cabinet/login?recovered=1"
    assert "Пароль изменён" in (await client.get(done.headers["location"])).text
    assert (await authenticate(s.contract_number, NEW_PASSWORD)).subscriber is not None
    assert await SubscriberSession.count().where(SubscriberSession.user_id == s.id) == 0
    assert (await other.get("/cabinet/")).status_code == 303  # logged out
    await other.aclose()
    assert await AuditEntry.count().where(AuditEntry.action == "subscriber.password_recovered") == 1

    await send_outbox(gateway, mailbox)
    texts = [m.text for m in gateway.sent_to(PHONE)]
    assert len(texts) == 2 and "пароль кабинета изменён" in texts[1]
    # The code is spent.
    again = await send_code(client, s.contract_number, code, "Another-Pass-77")
    assert again.status_code == 400 and CODE_WRONG in again.text


async def test_recovery_by_e_mail_reaches_the_mail_catcher(client, gateway, mailbox):
    s = await make_subscriber(phone="+73843712345", email=EMAIL)  # a landline: no SMS
    assert (await ask_code(client, s.contract_number, "  Anna.K@Example.ru ")).status_code == 200
    assert (await send_outbox(gateway, mailbox))["sent"] == 1
    [letter] = mailbox.messages
    assert letter["To"] == EMAIL and letter["Subject"] == "Код для восстановления пароля"
    code = SIX_DIGITS.search(letter.get_body(("plain",)).get_content()).group(1)
    assert (await send_code(client, s.contract_number, code)).status_code == 303
    assert (await authenticate(s.contract_number, NEW_PASSWORD)).subscriber is not None


async def test_unknown_contracts_and_wrong_addresses_get_the_same_answer(client, gateway, mailbox):
    s = await make_subscriber(phone=PHONE, email=EMAIL)
    landline = await make_subscriber(phone="+73843712345", email="")
    cases = {"real": (s.contract_number, PHONE), "unknown": ("999999", PHONE),
             "wrong phone": (s.contract_number, "+79139999999"),
             "wrong e-mail": (s.contract_number, "other@example.ru"),
             "landline on file": (landline.contract_number, "+73843712345")}
    pages = {}
    for name, (contract, address) in cases.items():
        response = await ask_code(client, contract, address)
        text = re.sub(r'name="_csrf_token" value="[^"]+"', "", response.text)
        pages[name] = (response.status_code, text.replace(contract, "N"))
    assert len(set(pages.values())) == 1, "every case answers alike"
    assert next(iter(pages.values()))[0] == 200
    assert (await send_outbox(gateway, mailbox))["sent"] == 1  # only the real one got a code
    assert len(gateway.sent_to(PHONE)) == 1 and not gateway.sent_to("+79139999999")
    # Each request was recorded for staff, known contract or not.
    assert await AuditEntry.count().where(AuditEntry.action == "subscriber.recovery_requested") == 5
    # The code step answers alike too: a wrong code and an unknown contract.
    wrong = await send_code(client, s.contract_number, "000000")
    unknown = await send_code(client, "999999", "000000")
    assert (wrong.status_code, CODE_WRONG in wrong.text) == (unknown.status_code, True) == (400, True)


async def test_the_request_costs_the_same_whether_the_contract_exists():
    """Timing class: the medians of a code sent and of an unknown contract are close (the
    message goes out later through the outbox; both paths write one audit entry)."""
    s = await make_subscriber(phone=PHONE)
    await request_password_recovery(s.contract_number, PHONE)  # warm up both paths
    await request_password_recovery("999999", PHONE)
    timings: dict[str, list[float]] = {"real": [], "unknown": []}
    for _ in range(25):
        for name, contract in (("real", s.contract_number), ("unknown", "999998")):
            started = time.perf_counter()
            await request_password_recovery(contract, PHONE)
            timings[name].append(time.perf_counter() - started)
    real, unknown = (statistics.median(timings[k]) * 1000 for k in ("real", "unknown"))
    print(f"\nrecovery request median: code sent {real:.2f} ms, unknown contract {unknown:.2f} ms")
    assert max(real, unknown) / min(real, unknown) < 3


async def test_limits_per_contract_and_per_address_count_unknown_ones_too(client):
    s = await make_subscriber(phone=PHONE)
    for _ in range(3):
        assert (await ask_code(client, s.contract_number, PHONE)).status_code == 200
    refused = await ask_code(client, s.contract_number, PHONE)
    assert refused.status_code == 429 and "Слишком много запросов кода" in refused.text
    # Another address for the same contract: the contract's limit holds.
    assert (await ask_code(client, s.contract_number, "a@example.ru")).status_code == 429
    # The same address with other (unknown) contracts: the address's limit holds.
    for n in range(2):
        assert (await ask_code(client, f"77777{n}", "b@example.ru")).status_code == 200
    assert (await ask_code(client, "777773", "b@example.ru")).status_code == 200
    assert (await ask_code(client, "777774", "b@example.ru")).status_code == 429
    assert await ConfirmationCode.count() == 3


@pytest.mark.parametrize("contract,address,message", [
    ("12ab", PHONE, "только цифры"), ("1" * 13, PHONE, "только цифры"),
    ("100001", "", "Укажите телефон"), ("100001", "913", "Укажите телефон"),
    ("100001", "a@b", "Укажите телефон"), ("100001", "<script>x</script>", "Укажите телефон"),
])
async def test_bad_input_gets_a_clear_message_and_counts_nothing(client, contract, address, message):
    response = await ask_code(client, contract, address)
    assert response.status_code == 400 and message in response.text and "<script>x" not in response.text


async def test_a_weak_password_is_refused_before_the_code_is_tried(client, gateway, mailbox):
    s = await make_subscriber(phone=PHONE)
    await ask_code(client, s.contract_number, PHONE)
    await send_outbox(gateway, mailbox)
    code = last_sms_code(gateway)
    weak = await send_code(client, s.contract_number, code, "12345678")
    assert weak.status_code == 400 and "Пароль" in weak.text
    assert (await ConfirmationCode.objects().first()).tries == 0
    assert (await send_code(client, s.contract_number, code)).status_code == 303


async def test_three_wrong_codes_retire_the_code(client, gateway, mailbox):
    s = await make_subscriber(phone=PHONE)
    await ask_code(client, s.contract_number, PHONE)
    await send_outbox(gateway, mailbox)
    code = last_sms_code(gateway)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    for _ in range(MAX_TRIES):
        assert (await send_code(client, s.contract_number, wrong)).status_code == 400
    assert (await send_code(client, s.contract_number, code)).status_code == 400
    assert (await authenticate(s.contract_number, NEW_PASSWORD)).subscriber is None


# --- real parallel requests -----------------------------------------------------------------
@pytest.fixture
def server():
    with live_server() as base_url:
        yield base_url


async def test_a_burst_of_guesses_tries_at_most_three_codes(server, gateway, mailbox):
    s = await make_subscriber(phone=PHONE)
    client, token = await csrf_client(server, "/cabinet/recover/")
    try:
        # 30 parallel code requests: the contract's limit lets 3 through, each retiring the last.
        asks = await asyncio.gather(*(client.post("/cabinet/recover/", data={
            "contract_number": s.contract_number, "address": PHONE, "_csrf_token": token})
            for _ in range(30)))
        ask_statuses = [r.status_code for r in asks]
        assert ask_statuses.count(200) == 3 and ask_statuses.count(429) == 27
        assert await ConfirmationCode.count() == 3
        await send_outbox(gateway, mailbox)
        code = last_sms_code(gateway)
        # 60 parallel wrong codes from one client: 20 pass its limit, 3 are compared.
        wrong = [f"{n:06d}" for n in range(60) if f"{n:06d}" != code]
        guesses = await asyncio.gather(*(client.post("/cabinet/recover/code", data={
            "contract_number": s.contract_number, "code": g, "new_password": NEW_PASSWORD,
            "new_password2": NEW_PASSWORD, "_csrf_token": token}) for g in wrong[:60]))
    finally:
        await client.aclose()
    statuses = [r.status_code for r in guesses]
    live = await ConfirmationCode.objects().where(ConfirmationCode.used_at.is_null())
    counted = await ConfirmationCode.select(ConfirmationCode.tries)
    print(f"\nguess burst: statuses={ {c: statuses.count(c) for c in set(statuses)} } "
          f"tries per code={[r['tries'] for r in counted]}")
    assert 500 not in statuses and 303 not in statuses
    assert sum(r["tries"] for r in counted) == MAX_TRIES  # only the live code was tried
    assert live == []  # and it is retired: the right code no longer works
    row = await Subscriber.objects().get(Subscriber.id == s.id)
    assert (await authenticate(s.contract_number, NEW_PASSWORD)).subscriber is None
    assert row.failed_logins == 0


async def test_the_right_code_sent_in_parallel_sets_one_password(server, gateway, mailbox):
    s = await make_subscriber(phone=PHONE)
    client, token = await csrf_client(server, "/cabinet/recover/")
    try:
        await client.post("/cabinet/recover/", data={
            "contract_number": s.contract_number, "address": PHONE, "_csrf_token": token})
        await send_outbox(gateway, mailbox)
        code = last_sms_code(gateway)
        posts = await asyncio.gather(*(client.post("/cabinet/recover/code", data={
            "contract_number": s.contract_number, "code": code, "new_password": f"{NEW_PASSWORD}-{n}",
            "new_password2": f"{NEW_PASSWORD}-{n}", "_csrf_token": token}) for n in range(10)))
    finally:
        await client.aclose()
    statuses = [r.status_code for r in posts]
    assert statuses.count(303) == 1 and statuses.count(400) == 9
    assert await AuditEntry.count().where(AuditEntry.action == "subscriber.password_recovered") == 1
    winner = statuses.index(303)
    assert (await authenticate(s.contract_number, f"{NEW_PASSWORD}-{winner}")).subscriber is not None


# --- contacts ---------------------------------------------------------------------------------
async def test_a_new_phone_is_confirmed_by_a_code_sent_to_it(client, gateway, mailbox):
    s = await make_subscriber(phone=PHONE, email=EMAIL)
    await sign_in(client, s.id)
    profile = await client.get("/cabinet/profile")
    assert "+7 *** ***-**-67" in profile.text and 'href="/cabinet/profile/contacts/phone"' in profile.text
    form = await client.get("/cabinet/profile/contacts/phone")
    sent = await client.post("/cabinet/profile/contacts/phone", data={
        "value": "8 950 111-22-33", "_csrf_token": csrf_from(form.text)})
    assert sent.status_code == 303
    await send_outbox(gateway, mailbox)
    assert not gateway.sent_to(PHONE), "the code goes to the new number only"
    code = last_sms_code(gateway, "+79501112233")
    pending = await client.get("/cabinet/profile/contacts/phone")
    assert "+7 *** ***-**-33" in pending.text and "79501112233" not in pending.text
    token = csrf_from(pending.text)
    wrong = await client.post("/cabinet/profile/contacts/phone/confirm",
                              data={"code": f"{(int(code) + 1) % 1_000_000:06d}", "_csrf_token": token})
    assert wrong.status_code == 400 and CODE_WRONG in wrong.text
    assert (await Subscriber.objects().get(Subscriber.id == s.id)).phone == PHONE
    ok = await client.post("/cabinet/profile/contacts/phone/confirm",
                           data={"code": code, "_csrf_token": token})
    assert ok.status_code == 303 and ok.headers["location"] == "/cabinet/profile?contact=phone"
    assert (await Subscriber.objects().get(Subscriber.id == s.id)).phone == "+79501112233"
    page = await client.get(ok.headers["location"])
    assert "Новый телефон подтверждён" in page.text and "+7 *** ***-**-33" in page.text
    assert "79501112233" not in page.text  # the masked display stays
    [entry] = await AuditEntry.objects().where(AuditEntry.action == "subscriber.contacts_changed")
    assert PHONE in str(entry.before) and "+79501112233" in str(entry.after)


async def test_a_new_e_mail_is_confirmed_through_the_mail_catcher(client, gateway, mailbox):
    s = await make_subscriber(phone=PHONE, email="")
    await sign_in(client, s.id)
    form = await client.get("/cabinet/profile/contacts/email")
    assert (await client.post("/cabinet/profile/contacts/email", data={
        "value": "New.Box@Example.ru", "_csrf_token": csrf_from(form.text)})).status_code == 303
    await send_outbox(gateway, mailbox)
    [letter] = mailbox.messages
    assert letter["To"] == "new.box@example.ru"
    code = SIX_DIGITS.search(letter.get_body(("plain",)).get_content()).group(1)
    token = csrf_from((await client.get("/cabinet/profile/contacts/email")).text)
    ok = await client.post("/cabinet/profile/contacts/email/confirm",
                           data={"code": code, "_csrf_token": token})
    assert ok.status_code == 303
    assert (await Subscriber.objects().get(Subscriber.id == s.id)).email == "new.box@example.ru"


@pytest.mark.parametrize("kind,value,message", [
    ("phone", "+73843712345", "мобильный"), ("phone", "12", "не распознан"),
    ("phone", PHONE, "уже указан"), ("email", "nobody", "не распознан"),
])
async def test_unusable_contacts_are_refused_in_russian(client, kind, value, message):
    s = await make_subscriber(phone=PHONE)
    await sign_in(client, s.id)
    form = await client.get(f"/cabinet/profile/contacts/{kind}")
    response = await client.post(f"/cabinet/profile/contacts/{kind}",
                                 data={"value": value, "_csrf_token": csrf_from(form.text)})
    assert response.status_code == 400 and message in response.text
    assert await ConfirmationCode.count() == 0


async def test_contact_pages_need_a_login(client):
    response = await client.get("/cabinet/profile/contacts/phone")
    assert response.status_code == 303 and response.headers["location"].startswith("/cabinet/login")
