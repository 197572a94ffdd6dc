"""What FreeRADIUS is told (issue 32): authorisation decisions and accounting.

``authorize`` turns an Access-Request's attributes into a ``Decision``: who the subscriber is
(PPPoE login, or an IPoE binding by MAC or by switch and port), whether the contract may use
the network, and the reply attributes for the asking NAS's type. ``account`` stores an
Accounting-Request idempotently. Both take plain ``{attribute name: value}`` dicts, so the
transport (rlm_rest's JSON, see ``network/``) stays outside.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re

from db.engine import is_sqlite, write_transaction
from tables.calendar import local_date, utcnow
from tables.month import Month
from tables.network import NasKind, NetworkAccess, RadiusSession, TrafficDay
from tables.subscribers import SubscriberStatus

#: Seconds until a NAS asks again (an active session is also cut by CoA when the state changes).
SESSION_TIMEOUT = 86400
#: A session in the walled garden is re-authorised soon, so a payment lifts it even with no CoA.
RESTRICTED_SESSION_TIMEOUT = 900
ACCT_INTERIM_INTERVAL = 300


@dataclasses.dataclass
class Decision:
    """``outcome``: "accept", "restricted" (walled garden), "reject" or "unknown"."""

    outcome: str
    reason: str = ""
    control: dict[str, str] = dataclasses.field(default_factory=dict)
    reply: dict[str, str] = dataclasses.field(default_factory=dict)
    subscriber_id: int | None = None


def normalise_mac(value: str) -> str | None:
    """``00-11-22-AA-bb-cc``, ``0011.22aa.bbcc`` or ``001122aabbcc`` → ``00:11:22:aa:bb:cc``."""
    digits = re.sub(r"[^0-9a-fA-F]", "", value or "")
    if len(digits) != 12 or len(re.sub(r"[0-9a-fA-F:.\-\s]", "", value)) > 0:
        return None
    digits = digits.lower()
    return ":".join(digits[i:i + 2] for i in range(0, 12, 2))


def _option82(value: str) -> str:
    """rlm_rest sends octets as ``0x…``: decode to the text a switch reports when printable."""
    if value.startswith("0x"):
        try:
            decoded = bytes.fromhex(value[2:]).decode("ascii")
        except (ValueError, UnicodeDecodeError):
            return value
        return decoded if decoded.isprintable() else value
    return value


def _rate_limit(tariff: dict) -> tuple[int, int]:
    """(download, upload) in Mbit/s; an upload of 0 means as fast as the download."""
    down = int(tariff["speed_mbps"] or 0)
    up = int(tariff["upload_mbps"] or 0) or down
    return down, up


# The access row a request names, with its contract's state and tariff, in one query. Raw SQL:
# this runs for every Access-Request, and Piccolo's query building cost ~8× the CPU of the query
# (docs/performance.md, "FreeRADIUS").
_ACCESS = """SELECT a.id, a.kind, a.password, a.static_ip, a.subscriber, s.status,
       t.speed_mbps, t.upload_mbps
FROM network_access a JOIN subscriber s ON s.id = a.subscriber JOIN tariff t ON t.id = s.tariff
WHERE """
_BY_LOGIN = _ACCESS + "a.login = {} AND a.kind = 'pppoe'"
_BY_MAC = _ACCESS + "a.mac = {} AND a.kind = 'ipoe'"
_BY_PORT = _ACCESS + "a.switch_id = {} AND a.switch_port = {} AND a.kind = 'ipoe'"
# The asking NAS and a PPPoE login together (the endpoint's common case).
_NAS_AND_LOGIN = """SELECT n.kind AS nas_kind, n.restricted_list AS nas_restricted_list,
       n.active AS nas_active, a.id, a.kind, a.password, a.static_ip, a.subscriber, s.status,
       t.speed_mbps, t.upload_mbps
FROM (SELECT 1 AS one) q
LEFT JOIN nas n ON n.address = {}
LEFT JOIN network_access a ON a.login = {} AND a.kind = 'pppoe'
LEFT JOIN subscriber s ON s.id = a.subscriber
LEFT JOIN tariff t ON t.id = s.tariff"""


async def _first(sql: str, *args: object) -> dict | None:
    rows = await NetworkAccess.raw(sql, *args)
    return rows[0] if rows else None


async def _find_access(attrs: dict[str, str], *, login_checked: bool = False) -> dict | None:
    """The access row the request names (``status``, ``speed_mbps``, ``upload_mbps`` of its
    contract and tariff included); ``login_checked``: the PPPoE login was looked up already."""
    user = (attrs.get("User-Name") or "").strip()
    if user and not login_checked:
        row = await _first(_BY_LOGIN, user)
        if row:
            return row
    # IPoE: a DHCP server asks with the client's MAC (as User-Name or Calling-Station-Id) and
    # option 82's switch (remote id) and port (circuit id).
    for candidate in (attrs.get("Calling-Station-Id", ""), user):
        mac = normalise_mac(candidate)
        if mac:
            row = await _first(_BY_MAC, mac)
            if row:
                return row
    remote = _option82(attrs.get("ADSL-Agent-Remote-Id", "") or attrs.get("Agent-Remote-Id", ""))
    circuit = _option82(attrs.get("ADSL-Agent-Circuit-Id", "") or attrs.get("Agent-Circuit-Id", ""))
    if remote and circuit:
        return await _first(_BY_PORT, remote, circuit)
    return None


#: Contracts let into the walled garden only, and why: a debtor (the pay page is reachable) and a
#: voluntary pause (the cabinet is reachable, to end it early; docs/network.md).
RESTRICTED_STATES = {SubscriberStatus.SUSPENDED: "Приостановлен за долг",
                     SubscriberStatus.PAUSED: "Добровольная блокировка"}


async def authorize_request(attrs: dict[str, str], nas_address: str) -> Decision:
    """``authorize`` for a request from ``nas_address``: the NAS row and a PPPoE login are read
    in one query (an IPoE binding takes the lookups after it)."""
    row = await _first(_NAS_AND_LOGIN, nas_address, (attrs.get("User-Name") or "").strip())
    if row is None or row["nas_kind"] is None:
        return await authorize(attrs, None)
    nas = {"kind": row["nas_kind"], "restricted_list": row["nas_restricted_list"],
           "active": row["nas_active"]}
    return await authorize(attrs, nas, access=row if row["id"] is not None else None, login_checked=True)


async def authorize(attrs: dict[str, str], nas: dict | None, *, access: dict | None = None,
                    login_checked: bool = False) -> Decision:
    """The answer to one Access-Request from ``nas`` (a ``Nas`` row as a dict, or None).

    An unknown or switched-off NAS and an unknown login are refused; a terminated contract or a
    tariff without internet is rejected; a suspended or paused contract is let into the walled
    garden (the NAS's debtors' list or pool, where the site's «пополните счёт» page and the
    cabinet are reachable);
    an active one gets its tariff's speed and static IP. ``access`` and ``login_checked``:
    the PPPoE login was read already (``authorize_request``), the row found or None.
    """
    if nas is None or not nas["active"]:
        return Decision("reject", "Неизвестный NAS")
    access = access or await _find_access(attrs, login_checked=login_checked)
    if access is None:
        return Decision("unknown", "Неизвестный логин")
    subscriber = {"id": access["subscriber"], "status": access["status"]}
    if subscriber["status"] == SubscriberStatus.TERMINATED:
        return Decision("reject", "Договор расторгнут", subscriber_id=subscriber["id"])
    down, up = _rate_limit(access)
    if down <= 0:
        return Decision("reject", "Тариф без интернета", subscriber_id=subscriber["id"])

    if access["kind"] == "pppoe" and not access["password"]:
        return Decision("reject", "Пароль PPPoE не задан", subscriber_id=subscriber["id"])
    control = ({"control:Cleartext-Password": access["password"]} if access["kind"] == "pppoe"
               else {"control:Auth-Type": "Accept"})
    mikrotik = nas["kind"] == NasKind.MIKROTIK
    reply: dict[str, str] = {"reply:Acct-Interim-Interval": str(ACCT_INTERIM_INTERVAL)}
    if subscriber["status"] in RESTRICTED_STATES:
        reply["reply:Session-Timeout"] = str(RESTRICTED_SESSION_TIMEOUT)
        if mikrotik:
            # The address list is filtered and its HTTP redirected to the pay page (docs/network.md).
            reply["reply:Mikrotik-Address-List"] = nas["restricted_list"]
            if access["static_ip"]:
                reply["reply:Framed-IP-Address"] = access["static_ip"]
        else:
            reply["reply:Framed-Pool"] = nas["restricted_list"]
        return Decision("restricted", RESTRICTED_STATES[subscriber["status"]], control, reply,
                        subscriber["id"])

    reply["reply:Session-Timeout"] = str(SESSION_TIMEOUT)
    if mikrotik:
        # rx/tx from the router's side: what it receives is the subscriber's upload.
        reply["reply:Mikrotik-Rate-Limit"] = f"{up}M/{down}M"
    else:
        reply["reply:WISPr-Bandwidth-Max-Down"] = str(down * 1_000_000)
        reply["reply:WISPr-Bandwidth-Max-Up"] = str(up * 1_000_000)
    if access["static_ip"]:
        reply["reply:Framed-IP-Address"] = access["static_ip"]
    return Decision("accept", "", control, reply, subscriber["id"])


def _int(attrs: dict[str, str], name: str) -> int:
    try:
        return max(0, int(attrs.get(name, "0") or 0))
    except ValueError:
        return 0


def _octets(attrs: dict[str, str], kind: str) -> int:
    """Bytes with the gigaword counter (a 32-bit counter wraps at 4 GiB)."""
    return _int(attrs, f"Acct-{kind}-Octets") + (_int(attrs, f"Acct-{kind}-Gigawords") << 32)


async def account(attrs: dict[str, str], nas_address: str) -> str:
    """Store one Accounting-Request; returns what was done (for the log and the tests).

    Keyed by the NAS and its Acct-Session-Id, so a retransmission (or the same packet through a
    second FreeRADIUS) finds the row it made: counters only grow, a session stops once, and an
    Interim-Update or Stop whose Start was lost creates the row.
    """
    status = attrs.get("Acct-Status-Type", "")
    now = utcnow()
    if status in ("Accounting-On", "Accounting-Off"):
        # The NAS restarted: every session it had open is over.
        await RadiusSession.update({RadiusSession.stopped_at: now, RadiusSession.updated_at: now,
                                    RadiusSession.terminate_cause: "NAS-Reboot"}).where(
            (RadiusSession.nas_address == nas_address) & RadiusSession.stopped_at.is_null())
        return "nas-restart"
    session_id = (attrs.get("Acct-Session-Id") or "").strip()[:100]
    if status not in ("Start", "Interim-Update", "Stop") or not session_id:
        return "ignored"
    key = f"{nas_address}/{session_id}"
    upload, download = _octets(attrs, "Input"), _octets(attrs, "Output")
    started = now - dt.timedelta(seconds=_int(attrs, "Acct-Session-Time"))
    stopped = now if status == "Stop" else None
    cause = attrs.get("Acct-Terminate-Cause", "")[:40] if status == "Stop" else ""
    framed_ip = attrs.get("Framed-IP-Address", "")[:45]
    # Most records are an Interim-Update of a session stored already: its row knows the
    # contract, so nothing else is read.
    done = await _update_session(key, status, now, upload, download, cause, framed_ip)
    if done is not None:
        return done
    access = await _find_access(attrs)
    # Authorised a moment ago from the contract's state: a debtor's or a paused one's is the garden.
    restricted = bool(access) and access["status"] in RESTRICTED_STATES
    async with write_transaction():
        inserted = await RadiusSession.insert(RadiusSession(
            session_key=key, acct_session_id=session_id, nas_address=nas_address,
            subscriber=access["subscriber"] if access else None,
            username=(attrs.get("User-Name") or "")[:100], framed_ip=framed_ip,
            calling_station=attrs.get("Calling-Station-Id", "")[:64], restricted=restricted,
            started_at=started, updated_at=now, stopped_at=stopped,
            upload_bytes=upload, download_bytes=download, terminate_cause=cause,
        )).on_conflict(target=RadiusSession.session_key, action="DO NOTHING").returning(RadiusSession.id)
        if inserted:
            if access:
                await _add_traffic(access["subscriber"], now, upload, download)
            return "created"
    # The same record (a retransmission) was stored in the meantime.
    return await _update_session(key, status, now, upload, download, cause, framed_ip) or "unchanged"


async def _update_session(key: str, status: str, now: dt.datetime, upload: int, download: int,
                          cause: str, framed_ip: str) -> str | None:
    """Apply a record to its stored session: "updated" or "unchanged"; None when there is none."""
    if not is_sqlite():
        return await _update_session_pg(key, status, now, upload, download, cause, framed_ip)
    async with write_transaction():
        row = await _first(_SESSION, key)
        if row is None:
            return None
        if row["stopped_at"] is not None and status != "Stop":
            return "unchanged"  # a late Interim-Update after the Stop
        stopping = status == "Stop" and row["stopped_at"] is None
        new_upload, new_download = max(upload, row["upload_bytes"]), max(download, row["download_bytes"])
        new_ip = row["framed_ip"] or framed_ip
        if (not stopping and new_upload == row["upload_bytes"] and new_download == row["download_bytes"]
                and new_ip == row["framed_ip"]):
            return "unchanged"
        await RadiusSession.raw(
            "UPDATE radius_session SET updated_at = {}, upload_bytes = {}, download_bytes = {}, "
            "framed_ip = {}, stopped_at = {}, terminate_cause = {} WHERE id = {}",
            now, new_upload, new_download, new_ip, now if stopping else row["stopped_at"],
            cause if stopping else row["terminate_cause"], row["id"])
        if row["subscriber"] is not None:
            # What the counters grew by since the last record counts for the day it arrived.
            await _add_traffic(row["subscriber"], now, new_upload - row["upload_bytes"],
                               new_download - row["download_bytes"])
        return "updated"


_SESSION = """SELECT id, subscriber, upload_bytes, download_bytes, stopped_at, framed_ip, terminate_cause
FROM radius_session WHERE session_key = {}"""

# The same on PostgreSQL in one statement (one round trip instead of five with BEGIN and
# COMMIT; ~333 a second at 100,000 sessions): the row is locked, a concurrent retransmission
# waits and then sees this one's counters, the growth goes to the day's traffic.
_UPDATE_SESSION_PG = """WITH old AS (
    SELECT id, subscriber, upload_bytes, download_bytes, stopped_at, framed_ip
    FROM radius_session WHERE session_key = {} FOR UPDATE
), upd AS (
    UPDATE radius_session r SET
        updated_at = {},
        upload_bytes = GREATEST(old.upload_bytes, {}),
        download_bytes = GREATEST(old.download_bytes, {}),
        framed_ip = CASE WHEN old.framed_ip = '' THEN {} ELSE old.framed_ip END,
        stopped_at = CASE WHEN {} AND old.stopped_at IS NULL THEN {} ELSE old.stopped_at END,
        terminate_cause = CASE WHEN {} AND old.stopped_at IS NULL THEN {} ELSE r.terminate_cause END
    FROM old
    WHERE r.id = old.id AND (old.stopped_at IS NULL OR {})
      AND (({} AND old.stopped_at IS NULL) OR {} > old.upload_bytes OR {} > old.download_bytes
           OR (old.framed_ip = '' AND {} <> ''))
    RETURNING old.subscriber, GREATEST(0, {} - old.upload_bytes) AS up,
              GREATEST(0, {} - old.download_bytes) AS down
), traffic AS (
    INSERT INTO traffic_day (day_key, subscriber, day, upload_bytes, download_bytes)
    SELECT CAST(subscriber AS TEXT) || {}, subscriber, {}, up, down FROM upd
    WHERE subscriber IS NOT NULL AND (up > 0 OR down > 0)
    ON CONFLICT (day_key) DO UPDATE SET
        upload_bytes = traffic_day.upload_bytes + excluded.upload_bytes,
        download_bytes = traffic_day.download_bytes + excluded.download_bytes
)
SELECT (SELECT COUNT(*) FROM old) AS found, (SELECT COUNT(*) FROM upd) AS updated"""


async def _update_session_pg(key: str, status: str, now: dt.datetime, upload: int, download: int,
                             cause: str, framed_ip: str) -> str | None:
    stop = status == "Stop"
    day = local_date(now)
    row = await _first(_UPDATE_SESSION_PG, key, now, upload, download, framed_ip, stop, now, stop, cause,
                       stop, stop, upload, download, framed_ip, upload, download, f":{day.isoformat()}",
                       day)
    if not row or not row["found"]:
        return None
    return "updated" if row["updated"] else "unchanged"


async def _add_traffic(subscriber_id: int, now: dt.datetime, upload: int, download: int) -> None:
    """Add to the contract's local day (inside the accounting transaction): one upsert."""
    if upload <= 0 and download <= 0:
        return
    day = local_date(now)
    await TrafficDay.raw(
        "INSERT INTO traffic_day (day_key, subscriber, day, upload_bytes, download_bytes) "
        "VALUES ({}, {}, {}, {}, {}) ON CONFLICT (day_key) DO UPDATE SET "
        "upload_bytes = traffic_day.upload_bytes + excluded.upload_bytes, "
        "download_bytes = traffic_day.download_bytes + excluded.download_bytes",
        f"{subscriber_id}:{day.isoformat()}", subscriber_id, day, upload, download)


async def current_session(subscriber_id: int) -> dict | None:
    """The contract's open session (the latest): IP, NAS, start, counters; None when offline."""
    return await RadiusSession.select(
        RadiusSession.framed_ip, RadiusSession.nas_address, RadiusSession.started_at,
        RadiusSession.upload_bytes, RadiusSession.download_bytes, RadiusSession.restricted,
    ).where((RadiusSession.subscriber == subscriber_id) & RadiusSession.stopped_at.is_null()
            ).order_by(RadiusSession.started_at, ascending=False).first()


async def connection_summary(subscriber_id: int, now: dt.datetime | None = None) -> dict:
    """What the subscriber card shows: the access data, the open session, this month's traffic."""
    from tables.network import ACCESS_KIND_LABELS
    from tables.traffic import traffic_by_month

    now = now or utcnow()
    access = await NetworkAccess.select(NetworkAccess.kind, NetworkAccess.login, NetworkAccess.mac,
                                        NetworkAccess.static_ip).where(
        NetworkAccess.subscriber == subscriber_id).first()
    month = await traffic_by_month(subscriber_id, Month.of(now), count=1)
    return {
        "access": access,
        "kind_label": ACCESS_KIND_LABELS.get(access["kind"], "") if access else "",
        "session": await current_session(subscriber_id),
        "download_bytes": month[0].download,
        "upload_bytes": month[0].upload,
    }


async def disconnect_by_staff(subscriber_id: int, contract_number: str, *, actor) -> int:
    """A clerk cuts the contract's open sessions (the worker tells the NAS); returns how many."""
    import uuid

    from tables.audit import write_audit
    from tables.coa import queue_disconnects

    async with write_transaction():
        queued = await queue_disconnects(subscriber_id, "staff", uuid.uuid4().hex)
        await write_audit(action="network_access.disconnected", object_type="subscriber",
                          object_id=subscriber_id, object_repr=contract_number, actor=actor,
                          after={"sessions": queued})
    return queued
