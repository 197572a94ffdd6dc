"""The SMS.ru-style client against a local HTTP server speaking the documented API."""

from __future__ import annotations

import httpx
import pytest

from providers.sms import (
    SmsConfig,
    SmsMaybeSent,
    SmsRejected,
    SmsRuClient,
    SmsTemporaryError,
    parse_callback,
    sms_segments,
)
from providers.sms_sandbox import SANDBOX_API_ID
from providers.stripe_sandbox import free_port


@pytest.fixture
async def client(gateway):
    c = SmsRuClient(SmsConfig(api_id=SANDBOX_API_ID, base_url=gateway.base_url, sender="Centra",
                              timeout=1.0))
    yield c
    await c.aclose()


async def test_send_then_poll_delivery_and_balance(gateway, client):
    accepted = await client.send("+79131234567", "Centra: платёж 500,00 ₽ зачислен")
    [sms] = gateway.sent_to("+79131234567")
    assert (sms.sms_id, sms.text, sms.sender) == (accepted.sms_id, "Centra: платёж 500,00 ₽ зачислен",
                                                   "Centra")
    assert accepted.status_code == 100 and accepted.balance == pytest.approx(997.5)
    assert (await client.status(accepted.sms_id)).code == 100
    gateway.deliver(accepted.sms_id)
    status = await client.status(accepted.sms_id)
    assert status.delivered and status.text == "доставлено"
    gateway.deliver(accepted.sms_id, 106)
    assert (await client.status(accepted.sms_id)).failed
    assert (await client.status("nope")).code == -1
    assert await client.balance() == pytest.approx(997.5)


async def test_the_raw_answer_has_the_documented_shape(gateway):
    answer = httpx.post(f"{gateway.base_url}/sms/send", data={
        "api_id": SANDBOX_API_ID, "to": "79131234567,7913", "msg": "x", "json": "1"}).json()
    assert answer["status"] == "OK" and answer["status_code"] == 100
    assert answer["sms"]["79131234567"]["status"] == "OK"
    assert answer["sms"]["7913"] == {"status": "ERROR", "status_code": 202,
                                     "status_text": "Неправильно указан номер телефона получателя"}
    assert isinstance(answer["balance"], float)


async def test_refusals_are_permanent_and_busy_or_down_temporary(gateway, client):
    gateway.reject("+79130000001")
    with pytest.raises(SmsRejected) as refused:
        await client.send("+79130000001", "x")
    assert refused.value.code == 207
    gateway.busy_next = 1
    with pytest.raises(SmsTemporaryError, match="220"):
        await client.send("+79131234567", "x")
    gateway.http_error_next = 1
    with pytest.raises(SmsTemporaryError, match="503"):
        await client.send("+79131234567", "x")
    wrong_key = SmsRuClient(SmsConfig(api_id="wrong", base_url=gateway.base_url))
    with pytest.raises(SmsRejected, match="api_id"):
        await wrong_key.send("+79131234567", "x")
    await wrong_key.aclose()
    down = SmsRuClient(SmsConfig(api_id=SANDBOX_API_ID, base_url=f"http://127.0.0.1:{free_port()}"))
    with pytest.raises(SmsTemporaryError, match="недоступен"):
        await down.send("+79131234567", "x")
    await down.aclose()
    assert gateway.sent_to("+79131234567") == []


async def test_no_answer_in_time_is_maybe_sent_because_the_gateway_took_it(gateway, client):
    gateway.slow_next = 1
    with pytest.raises(SmsMaybeSent):
        await client.send("+79131234567", "x")
    assert len(gateway.sent_to("+79131234567")) == 1  # why a retry would text twice


async def test_delivery_reports_arrive_by_callback_in_the_documented_form(gateway):
    received: list[list[tuple[str, str]]] = []
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
    from threading import Thread
    from urllib.parse import parse_qsl

    class Hook(BaseHTTPRequestHandler):
        def log_message(self, *a):
            pass

        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"])).decode()
            received.append(parse_qsl(body))
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"100")

    hook = ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    Thread(target=hook.serve_forever, daemon=True).start()
    gateway.callback_url = f"http://127.0.0.1:{hook.server_address[1]}/"
    try:
        client = SmsRuClient(SmsConfig(api_id=SANDBOX_API_ID, base_url=gateway.base_url))
        accepted = await client.send("+79131234567", "x")
        await client.aclose()
        gateway.deliver(accepted.sms_id)
    finally:
        hook.shutdown()
        hook.server_close()
    [(sms_id, status)] = parse_callback(received[0])
    assert sms_id == accepted.sms_id and status.delivered


def test_segments():
    assert sms_segments("a" * 160) == 1 and sms_segments("a" * 161) == 2
    assert sms_segments("я" * 70) == 1 and sms_segments("я" * 71) == 2 and sms_segments("я" * 135) == 3
