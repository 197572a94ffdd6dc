"""Real FreeRADIUS (Debian's freeradius + freeradius-rest) asking the real app (issue 32).

One FreeRADIUS process per test session, on free high ports, with a configuration written by
``network.freeradius``; it asks the app served by uvicorn on the test database. radclient (from
freeradius-utils) plays the NAS. Without FreeRADIUS these tests skip; ``CENTRA_RADIUS_REQUIRED=1``
(set by ``.ci/run``) turns that into a failure.
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import os
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from network.freeradius import FREERADIUS, RADCLIENT, Client, installed, write_config
from tables.month import Month
from tables.network import Nas, NetworkAccess, RadiusSession
from tables.radius import current_session
from tables.subscribers import Subscriber
from tables.traffic import traffic_by_day
from tests.support.factories import make_subscriber, make_tariff
from tests.support.live_server import live_server

SECRET = "centra-test-secret"
API_KEY = "test-radius-api-key"


def unavailable(reason: str) -> None:
    if os.environ.get("CENTRA_RADIUS_REQUIRED", "").strip() not in ("", "0"):
        pytest.fail(f"{reason} (and CENTRA_RADIUS_REQUIRED is set)", pytrace=False)
    pytest.skip(reason)


def _free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclasses.dataclass
class Radius:
    auth_port: int
    acct_port: int
    confdir: Path


def _answers(port: int, confdir: Path) -> bool:
    done = subprocess.run([RADCLIENT, "-r", "1", "-t", "1", "-d", str(confdir), f"127.0.0.1:{port}",
                           "status", SECRET], input="Message-Authenticator = 0x00\n",
                          capture_output=True, text=True)
    return "Access-Accept" in done.stdout or done.returncode == 0


@pytest.fixture(scope="session")
def radius() -> Iterator[Radius]:
    if not installed():
        unavailable("FreeRADIUS with rlm_rest is not installed (make radius-deps)")
    with live_server({"CENTRA_RADIUS_API_KEY": API_KEY}) as base_url:
        confdir = Path(tempfile.mkdtemp(prefix="centra-radius-"))
        for _attempt in range(3):  # a port picked as free may be taken before FreeRADIUS binds it
            auth_port, acct_port = _free_udp_port(), _free_udp_port()
            write_config(confdir, app_url=base_url, api_key=API_KEY,
                         clients=[Client("test", "127.0.0.1", SECRET)], listen="127.0.0.1",
                         auth_port=auth_port, acct_port=acct_port)
            proc = subprocess.Popen([FREERADIUS, "-f", "-d", str(confdir)],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and proc.poll() is None:
                if _answers(auth_port, confdir):
                    break
                time.sleep(0.2)
            else:
                proc.kill()
                proc.wait()
                continue
            break
        else:
            log = (confdir / "log" / "radius.log")
            raise RuntimeError(f"FreeRADIUS did not start: {log.read_text() if log.exists() else ''}")
        try:
            yield Radius(auth_port, acct_port, confdir)
        finally:
            proc.terminate()
            proc.wait(timeout=10)


async def send(radius: Radius, kind: str, attrs: dict[str, str | int]) -> tuple[str, dict[str, str]]:
    """One request through radclient; the reply's code and attributes."""
    port = radius.auth_port if kind == "auth" else radius.acct_port
    text = ", ".join(f'{name} = "{value}"' for name, value in attrs.items())
    proc = await asyncio.create_subprocess_exec(
        RADCLIENT, "-x", "-r", "1", "-t", "5", "-d", str(radius.confdir), f"127.0.0.1:{port}", kind,
        SECRET, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT)
    out, _ = await proc.communicate(text.encode() + b"\n")
    code, reply, received = "", {}, False
    for line in out.decode().splitlines():
        if line.startswith("Received "):
            code, received = line.split()[1], True
        elif received and line.startswith(("\t", " ")) and " = " in line:
            name, _, value = line.strip().partition(" = ")
            reply[name] = value.strip('"')
    return code or out.decode(), reply


async def _nas(kind: str = "mikrotik") -> Nas:
    nas = Nas(name="Тестовый NAS", address="127.0.0.1", secret=SECRET, kind=kind)
    await nas.save()
    return nas


async def _pppoe(status: str = "active", *, speed: int = 100, upload: int = 20,
                 static_ip: str | None = None, login: str = "u100001") -> Subscriber:
    tariff = await make_tariff(speed_mbps=speed, upload_mbps=upload)
    subscriber = await make_subscriber(tariff=tariff)
    await Subscriber.update({Subscriber.status: status}).where(Subscriber.id == subscriber.id)
    await NetworkAccess(subscriber=subscriber.id, kind="pppoe", login=login, password="s3cret-pw",
                        static_ip=static_ip).save()
    return subscriber


async def test_an_active_contract_gets_its_tariff_speed_static_ip_and_timers(radius):
    nas = await _nas()
    await _pppoe(speed=100, upload=20, static_ip="10.20.30.40")
    code, reply = await send(radius, "auth", {"User-Name": "u100001", "User-Password": "s3cret-pw"})
    assert code == "Access-Accept", code
    assert reply["Mikrotik-Rate-Limit"] == "20M/100M"  # rx/tx at the router: upload/download
    assert reply["Framed-IP-Address"] == "10.20.30.40"
    assert reply["Session-Timeout"] == "86400" and reply["Acct-Interim-Interval"] == "300"
    assert "Mikrotik-Address-List" not in reply
    # CHAP (what most PPPoE clients use) is checked against the same password.
    code, _ = await send(radius, "auth", {"User-Name": "u100001", "CHAP-Password": "s3cret-pw"})
    assert code == "Access-Accept", code
    # Another vendor's NAS gets the generic attributes instead.
    await Nas.update({Nas.kind: "generic"}).where(Nas.id == nas.id)
    code, reply = await send(radius, "auth", {"User-Name": "u100001", "User-Password": "s3cret-pw"})
    assert code == "Access-Accept", code
    assert reply["WISPr-Bandwidth-Max-Down"] == "100000000"
    assert reply["WISPr-Bandwidth-Max-Up"] == "20000000"
    assert "Mikrotik-Rate-Limit" not in reply


async def test_a_suspended_contract_is_let_into_the_walled_garden_only(radius):
    nas = await _nas()
    await _pppoe("suspended")
    code, reply = await send(radius, "auth", {"User-Name": "u100001", "User-Password": "s3cret-pw"})
    assert code == "Access-Accept", code
    assert reply["Mikrotik-Address-List"] == "debtors"
    assert "Mikrotik-Rate-Limit" not in reply
    assert reply["Session-Timeout"] == "900"  # asks again soon: a payment lifts it even without CoA
    await Nas.update({Nas.kind: "generic", Nas.restricted_list: "pay-pool"}).where(Nas.id == nas.id)
    code, reply = await send(radius, "auth", {"User-Name": "u100001", "User-Password": "s3cret-pw"})
    assert code == "Access-Accept" and reply["Framed-Pool"] == "pay-pool", (code, reply)
    assert "WISPr-Bandwidth-Max-Down" not in reply


async def test_terminated_unknown_and_wrong_password_are_rejected(radius):
    await _nas()
    await _pppoe(static_ip="10.0.0.9")
    code, reply = await send(radius, "auth", {"User-Name": "u100001", "User-Password": "wrong-one"})
    assert code == "Access-Reject", code
    assert not {"Mikrotik-Rate-Limit", "Framed-IP-Address", "Session-Timeout"} & reply.keys(), reply
    code, _ = await send(radius, "auth", {"User-Name": "nobody", "User-Password": "s3cret-pw"})
    assert code == "Access-Reject", code
    await _pppoe("terminated", login="u100002")
    code, reply = await send(radius, "auth", {"User-Name": "u100002", "User-Password": "s3cret-pw"})
    assert code == "Access-Reject", code
    assert reply.get("Reply-Message") == "Договор расторгнут"


async def test_an_unknown_nas_is_refused_by_the_app(radius):
    await _pppoe()  # no NAS row for 127.0.0.1: FreeRADIUS knows the client, Centra does not
    code, _ = await send(radius, "auth", {"User-Name": "u100001", "User-Password": "s3cret-pw"})
    assert code == "Access-Reject", code


async def test_ipoe_binding_by_mac_is_accepted_without_a_password(radius):
    await _nas()
    tariff = await make_tariff(speed_mbps=50)
    subscriber = await make_subscriber(tariff=tariff)
    await NetworkAccess(subscriber=subscriber.id, kind="ipoe", mac="00:11:22:aa:bb:cc").save()
    code, reply = await send(radius, "auth", {"User-Name": "00-11-22-AA-BB-CC",
                                              "Calling-Station-Id": "00-11-22-AA-BB-CC"})
    assert code == "Access-Accept", code
    assert reply["Mikrotik-Rate-Limit"] == "50M/50M"  # no upload speed: as fast as the download
    code, _ = await send(radius, "auth", {"User-Name": "00-11-22-AA-BB-CD"})
    assert code == "Access-Reject", code


async def test_accounting_is_stored_once_under_retransmission(radius):
    await _nas()
    subscriber = await _pppoe()
    base = {"User-Name": "u100001", "Acct-Session-Id": "81a00001", "NAS-IP-Address": "127.0.0.1",
            "Framed-IP-Address": "100.64.0.7", "Calling-Station-Id": "00:11:22:33:44:55"}
    for _ in range(2):  # every packet twice, as a NAS retransmits when an answer is lost
        code, _ = await send(radius, "acct", {**base, "Acct-Status-Type": "Start"})
        assert code == "Accounting-Response", code
    assert await RadiusSession.count() == 1
    assert (await current_session(subscriber.id))["framed_ip"] == "100.64.0.7"
    interim = {**base, "Acct-Status-Type": "Interim-Update", "Acct-Session-Time": 300,
               "Acct-Input-Octets": 1000, "Acct-Output-Octets": 5, "Acct-Output-Gigawords": 1}
    for _ in range(2):
        assert (await send(radius, "acct", interim))[0] == "Accounting-Response"
    stop = {**interim, "Acct-Status-Type": "Stop", "Acct-Session-Time": 600,
            "Acct-Input-Octets": 2000, "Acct-Terminate-Cause": "User-Request"}
    for _ in range(2):
        assert (await send(radius, "acct", stop))[0] == "Accounting-Response"
    # A late Interim-Update (sent before the Stop, delivered after) changes nothing.
    assert (await send(radius, "acct", interim))[0] == "Accounting-Response"
    rows = await RadiusSession.select()
    assert len(rows) == 1, rows
    row = rows[0]
    assert row["subscriber"] == subscriber.id and row["nas_address"] == "127.0.0.1"
    assert row["framed_ip"] == "100.64.0.7" and row["username"] == "u100001"
    assert row["upload_bytes"] == 2000 and row["download_bytes"] == (1 << 32) + 5
    assert row["stopped_at"] is not None and row["terminate_cause"] == "User-Request"
    # Traffic by day: what the counters grew by, counted once however often a packet came.
    month = Month.of(row["updated_at"])
    days = await traffic_by_day(subscriber.id, month)
    assert sum(d.upload for d in days) == 2000
    assert sum(d.download for d in days) == (1 << 32) + 5
    assert await current_session(subscriber.id) is None  # stopped


async def test_parallel_copies_of_a_record_are_stored_once(radius):
    """Copies of one record in flight at once (two FreeRADIUS servers, or a NAS retrying while
    the first is still being stored): one session row, its traffic counted once."""
    await _nas()
    subscriber = await _pppoe()
    base = {"User-Name": "u100001", "Acct-Session-Id": "81a00002", "NAS-IP-Address": "127.0.0.1"}
    start = {**base, "Acct-Status-Type": "Start", "Acct-Input-Octets": 100, "Acct-Output-Octets": 900}
    answers = await asyncio.gather(*(send(radius, "acct", start) for _ in range(6)))
    assert [code for code, _ in answers] == ["Accounting-Response"] * 6, answers
    interim = {**base, "Acct-Status-Type": "Interim-Update", "Acct-Input-Octets": 5100,
               "Acct-Output-Octets": 20900}
    answers = await asyncio.gather(*(send(radius, "acct", interim) for _ in range(6)))
    assert [code for code, _ in answers] == ["Accounting-Response"] * 6, answers
    rows = await RadiusSession.select()
    assert len(rows) == 1, rows
    assert rows[0]["upload_bytes"] == 5100 and rows[0]["download_bytes"] == 20900
    days = await traffic_by_day(subscriber.id, Month.of(rows[0]["updated_at"]))
    assert sum(d.upload for d in days) == 5100
    assert sum(d.download for d in days) == 20900


async def test_the_endpoint_answers_only_freeradius(client, setenv):
    """Without the key, or from an address not in CENTRA_RADIUS_CLIENTS, nothing is there."""
    setenv("CENTRA_RADIUS_API_KEY", API_KEY)
    await _nas()
    await _pppoe()
    body = {"User-Name": {"type": "string", "value": ["u100001"]}}
    url = "/radius/authorize?client=127.0.0.1"

    def auth(key: str) -> dict[str, str]:
        return {"Authorization": "Basic " + base64.b64encode(f"freeradius:{key}".encode()).decode()}

    assert (await client.post(url, json=body)).status_code == 404
    assert (await client.post(url, json=body, headers=auth("guess"))).status_code == 404
    answer = await client.post(url, json=body, headers=auth(API_KEY))
    assert answer.status_code == 200, answer.text
    assert answer.json()["control:Cleartext-Password"] == "s3cret-pw"
    # A login whose password was never set lets nobody in.
    await NetworkAccess.update({NetworkAccess.password: ""}).where(NetworkAccess.login == "u100001")
    refused = await client.post(url, json=body, headers=auth(API_KEY))
    assert refused.status_code == 401 and refused.json() == {"reply:Reply-Message": "Пароль PPPoE не задан"}
    setenv("CENTRA_RADIUS_CLIENTS", "192.0.2.10")  # the test client calls from 127.0.0.1
    assert (await client.post(url, json=body, headers=auth(API_KEY))).status_code == 404
