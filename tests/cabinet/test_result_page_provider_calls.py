"""Issue 24 item 8: GETs of an open payment's result page and the provider calls they cost.

Real parallel requests against a running server (a uvicorn process on the test database) whose
payment provider is a counting fake server (a thread here): it answers every PaymentIntent
re-read with "requires_action" (the payment stays open), or hangs.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from cabinet.payments import PROVIDER_REFRESH_PER_IP, PROVIDER_REFRESH_PER_PAYMENT
from tables.payments.card_flow import start_payment
from tables.payments.payment import Payment, PaymentChannel, PaymentStatus
from tests.support.factories import make_subscriber

ROOT = Path(__file__).resolve().parents[2]


class FakeProvider:
    """Counts ``GET /v1/payment_intents/<id>``; answers at once, or holds the answer until released."""

    def __init__(self) -> None:
        self.retrieves = 0
        self.hang = False
        self.release = threading.Event()
        self._lock = threading.Lock()
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                match = re.fullmatch(r"/v1/payment_intents/(pi_\w+)", self.path.split("?")[0])
                if not match:
                    self.send_error(404)
                    return
                with provider._lock:
                    provider.retrieves += 1
                if provider.hang:
                    provider.release.wait(120)
                body = json.dumps({"id": match[1], "object": "payment_intent", "amount": 50000,
                                   "currency": "rub", "status": "requires_action",
                                   "client_secret": f"{match[1]}_secret_x", "metadata": {}}).encode()
                try:
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except OSError:
                    pass  # the client gave up (its own timeout)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def fake_provider() -> Iterator[FakeProvider]:
    fake = FakeProvider()
    yield fake
    fake.close()


def _start_server(fake: FakeProvider, **env: str) -> tuple[subprocess.Popen, str]:
    port = _free_port()
    environment = {**os.environ, "STRIPE_API_BASE": fake.url, "STRIPE_SECRET_KEY": "sk_test_fake",
                   "STRIPE_PUBLISHABLE_KEY": "pk_test_fake", **env}
    environment.pop("REDIS_URL", None)  # the limits of this one process
    proc = subprocess.Popen([sys.executable, "-m", "uvicorn", "app:create_app", "--factory", "--host",
                             "127.0.0.1", "--port", str(port), "--log-level", "warning"],
                            cwd=ROOT, env=environment)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            httpx.get(f"{base}/pay/", timeout=2)
            return proc, base
        except httpx.HTTPError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise RuntimeError("the app server did not start") from None
            time.sleep(0.2)


@pytest.fixture
def live_server(fake_provider):
    started: list[subprocess.Popen] = []

    def start(**env: str) -> str:
        proc, base = _start_server(fake_provider, **env)
        started.append(proc)
        return base

    yield start
    fake_provider.release.set()
    for proc in started:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()


async def open_quick_payment() -> str:
    """A quick payment waiting for the card's confirmation code: its result page asks the provider."""
    subscriber = await make_subscriber()
    payment = await start_payment(subscriber.id, 50000, channel=PaymentChannel.QUICK_PAY)
    await Payment.update({Payment.provider_intent_id: f"pi_fake{uuid.uuid4().hex}",
                          Payment.status: PaymentStatus.REQUIRES_ACTION,
                          Payment.submitted_at: payment.created_at}).where(Payment.id == payment.id)
    return payment.access_token


async def get_all(base: str, paths: list[str], *, timeout: float = 30) -> list[httpx.Response]:
    async with httpx.AsyncClient(base_url=base, timeout=timeout) as http:
        return await asyncio.gather(*(http.get(path) for path in paths))


async def test_many_concurrent_gets_of_one_result_page_call_the_provider_a_bounded_number_of_times(
        live_server, fake_provider):
    base = live_server()
    token = await open_quick_payment()
    n = 60
    responses = await get_all(base, [f"/pay/p/{token}/result"] * n)
    assert [r.status_code for r in responses] == [200] * n
    assert all("Платёж ждёт подтверждения кодом" in r.text for r in responses)
    # Before: one provider call per GET (60). Now one at a time per payment, its answer reused.
    assert 1 <= fake_provider.retrieves <= PROVIDER_REFRESH_PER_PAYMENT.max_hits < n


async def test_provider_refreshes_are_limited_per_payment_and_per_address(live_server, fake_provider):
    base = live_server(CENTRA_PROVIDER_REFRESH_CACHE_SECONDS="0")  # no cache: only the limits
    per_payment = PROVIDER_REFRESH_PER_PAYMENT.max_hits
    first = await open_quick_payment()
    async with httpx.AsyncClient(base_url=base, timeout=30) as http:
        for _ in range(per_payment + 5):  # one after another: each would be a provider call
            assert (await http.get(f"/pay/p/{first}/result")).status_code == 200
        assert fake_provider.retrieves == per_payment
        # Other payments from the same address, until the address's own limit.
        tokens = [await open_quick_payment()
                  for _ in range(PROVIDER_REFRESH_PER_IP.max_hits // per_payment + 1)]
        for token in tokens:
            for _ in range(per_payment):
                assert (await http.get(f"/pay/p/{token}/result")).status_code == 200
    assert fake_provider.retrieves == PROVIDER_REFRESH_PER_IP.max_hits


async def test_a_hanging_provider_does_not_hang_every_get(live_server, fake_provider):
    """The provider holds its answer (the client's own timeout is 20 s): pages answer anyway,
    with the payment shown as still waiting, and only one call is made for all of them."""
    base = live_server()
    token = await open_quick_payment()
    fake_provider.hang = True
    # A GET waiting for the provider would run into this client timeout (below the SDK's 20 s).
    responses = await get_all(base, [f"/pay/p/{token}/result"] * 10, timeout=15)
    assert [r.status_code for r in responses] == [200] * 10
    assert all("Платёж ждёт подтверждения кодом" in r.text for r in responses)
    assert fake_provider.retrieves == 1
