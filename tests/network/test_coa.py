"""A payment that lifts a suspension reaches the NAS (RFC 5176): the worker's outbox sends a
Disconnect-Request to a NAS stand-in — a small RADIUS server written here from the RFC, which
checks the request's authenticator with the shared secret and answers ACK or NAK."""

from __future__ import annotations

import asyncio
import hashlib
import struct

import pytest

from tables.audit import Actor
from tables.coa import CoaRequest, deliver_coa
from tables.network import Nas, NetworkAccess, RadiusSession
from tables.payments.office import book_office_payment
from tables.radius import account
from tables.subscribers import Subscriber
from tests.support.factories import make_subscriber, make_tariff

SECRET = b"coa-test-secret"


class NasStandIn(asyncio.DatagramProtocol):
    """Answers Disconnect-Requests (code 40) with ACK (41), or NAK (42) with an Error-Cause."""

    def __init__(self, answer: int = 41, error_cause: int | None = None, silent: bool = False):
        self.answer, self.error_cause, self.silent = answer, error_cause, silent
        self.received: list[dict[int, bytes]] = []
        self.bad_authenticator = 0

    def connection_made(self, transport):
        self.transport = transport

    def datagram_received(self, data: bytes, addr):
        code, identifier, length = struct.unpack("!BBH", data[:4])
        body = data[20:length]
        expected = hashlib.md5(data[:4] + bytes(16) + body + SECRET).digest()
        if code != 40 or expected != data[4:20]:
            self.bad_authenticator += 1
            return
        attrs, rest = {}, body
        while rest:
            attrs[rest[0]] = rest[2:rest[1]]
            rest = rest[rest[1]:]
        self.received.append(attrs)
        if self.silent:
            return
        reply_attrs = (struct.pack("!BBI", 101, 6, self.error_cause) if self.error_cause else b"")
        header = struct.pack("!BBH", self.answer, identifier, 20 + len(reply_attrs))
        authenticator = hashlib.md5(header + data[4:20] + reply_attrs + SECRET).digest()
        self.transport.sendto(header + authenticator + reply_attrs, addr)


@pytest.fixture
async def nas_stand_in():
    servers = []

    async def start(**options) -> tuple[NasStandIn, int]:
        loop = asyncio.get_running_loop()
        transport, protocol = await loop.create_datagram_endpoint(
            lambda: NasStandIn(**options), local_addr=("127.0.0.1", 0))
        servers.append(transport)
        port = transport.get_extra_info("sockname")[1]
        await Nas(name="NAS", address="127.0.0.1", secret=SECRET.decode(), coa_port=port).save()
        return protocol, port

    yield start
    for transport in servers:
        transport.close()


async def _suspended_in_a_session() -> Subscriber:
    subscriber = await make_subscriber(tariff=await make_tariff(speed_mbps=100))
    await Subscriber.update({Subscriber.status: "suspended", Subscriber.balance: -50000}).where(
        Subscriber.id == subscriber.id)
    await NetworkAccess(subscriber=subscriber.id, login="u1", password="pw").save()
    assert await account({"Acct-Status-Type": "Start", "Acct-Session-Id": "sess-1",
                          "User-Name": "u1"}, "127.0.0.1") == "created"
    assert (await RadiusSession.select(RadiusSession.restricted).first())["restricted"] is True
    return subscriber


async def test_a_payment_lifting_a_suspension_disconnects_the_walled_garden_session(nas_stand_in):
    nas, _ = await nas_stand_in()
    subscriber = await _suspended_in_a_session()
    await book_office_payment(subscriber.id, 60000, actor=Actor("test"), key="payment-0001")
    assert (await Subscriber.select(Subscriber.status).first())["status"] == "active"
    rows = await CoaRequest.select()
    assert len(rows) == 1 and rows[0]["status"] == "pending"  # queued with the payment
    assert await deliver_coa() == {"done": 1, "failed": 0, "retry": 0}
    assert nas.bad_authenticator == 0 and len(nas.received) == 1
    assert nas.received[0][44] == b"sess-1" and nas.received[0][1] == b"u1"
    row = await CoaRequest.select().first()
    assert row["status"] == "done" and row["attempts"] == 1 and row["last_result"] == "Disconnect-ACK"
    assert await deliver_coa() == {"done": 0, "failed": 0, "retry": 0}  # sent once
    # A payment that does not change the state (already active) tells the NAS nothing.
    await book_office_payment(subscriber.id, 1000, actor=Actor("test"), key="payment-0002")
    assert await CoaRequest.count() == 1


async def test_an_unanswered_request_is_retried_later_and_a_nak_is_recorded(nas_stand_in):
    nas, _ = await nas_stand_in(silent=True)
    subscriber = await _suspended_in_a_session()
    await book_office_payment(subscriber.id, 60000, actor=Actor("test"), key="payment-0001")
    assert await deliver_coa() == {"done": 0, "failed": 0, "retry": 1}
    row = await CoaRequest.select().first()
    assert row["status"] == "pending" and row["attempts"] == 1 and "нет ответа" in row["last_result"]
    assert len(nas.received) == 2  # the same packet retransmitted once within the attempt
    assert await deliver_coa() == {"done": 0, "failed": 0, "retry": 0}  # not due yet
    nas.silent, nas.answer, nas.error_cause = False, 42, 506  # Resources Unavailable
    assert await deliver_coa(now=row["next_attempt_at"]) == {"done": 0, "failed": 1, "retry": 0}
    row = await CoaRequest.select().first()
    assert row["status"] == "failed" and row["last_result"] == "Disconnect-NAK 506"


async def test_a_suspension_cuts_the_full_speed_session(nas_stand_in):
    """However the contract got suspended (here as the charge run does, in SQL), the tick finds
    its open full-speed session and the NAS is told once."""
    nas, _ = await nas_stand_in()
    subscriber = await make_subscriber(tariff=await make_tariff(speed_mbps=100))
    await NetworkAccess(subscriber=subscriber.id, login="u1", password="pw").save()
    await account({"Acct-Status-Type": "Start", "Acct-Session-Id": "sess-9", "User-Name": "u1"},
                  "127.0.0.1")
    assert await deliver_coa() == {"done": 0, "failed": 0, "retry": 0}  # active: nothing to say
    await Subscriber.update({Subscriber.status: "suspended"}).where(Subscriber.id == subscriber.id)
    assert await deliver_coa() == {"done": 1, "failed": 0, "retry": 0}
    assert [attrs[44] for attrs in nas.received] == [b"sess-9"]
    assert (await CoaRequest.select(CoaRequest.cause).first())["cause"] == "suspended"
    assert await deliver_coa() == {"done": 0, "failed": 0, "retry": 0}  # once


async def test_an_applied_tariff_change_with_another_speed_cuts_the_session(nas_stand_in):
    import datetime as dt

    from tables.billing.tariff_changes import TariffChange, apply_due_tariff_changes
    from tables.calendar import utcnow

    nas, _ = await nas_stand_in()
    slow, fast, fast_tv = (await make_tariff(speed_mbps=50), await make_tariff(speed_mbps=200),
                           await make_tariff(speed_mbps=200))
    subscriber = await make_subscriber(tariff=slow)
    await NetworkAccess(subscriber=subscriber.id, login="u1", password="pw").save()
    await account({"Acct-Status-Type": "Start", "Acct-Session-Id": "sess-t", "User-Name": "u1"},
                  "127.0.0.1")
    await TariffChange(subscriber=subscriber.id, from_tariff=slow.id, tariff=fast.id,
                       effective_from=dt.date(2026, 12, 1), created_at=utcnow(), created_by="t").save()
    assert await apply_due_tariff_changes(dt.date(2026, 12, 1)) == 1
    assert await deliver_coa() == {"done": 1, "failed": 0, "retry": 0}
    assert [attrs[44] for attrs in nas.received] == [b"sess-t"]
    # The same speed on another tariff (only the TV differs): the session stays.
    await TariffChange(subscriber=subscriber.id, from_tariff=fast.id, tariff=fast_tv.id,
                       effective_from=dt.date(2026, 12, 2), created_at=utcnow(), created_by="t").save()
    assert await apply_due_tariff_changes(dt.date(2026, 12, 2)) == 1
    assert await deliver_coa() == {"done": 0, "failed": 0, "retry": 0}
