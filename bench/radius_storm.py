"""FreeRADIUS asking Centra (issue 32): the authorisation storm after an outage, and
accounting interim updates beside the cabinet.

    PYTHONPATH=. .venv/bin/python bench/radius_storm.py [--engine pg|sqlite|both] [--quick] [--keep]

Data: the benchmarks' dataset (bench/generate.py, 100,000 contracts) plus, set-based, a PPPoE
login for every contract (login = contract number), a NAS row for 127.0.0.1 and, for the
accounting part, an open session for every contract let in.

Part 1, authorisations. Two FreeRADIUS processes on high ports, each with a configuration
written by ``network.freeradius.write_config``: **rest** asks the running app (uvicorn,
``--workers``, as the Procfile deploys) through rlm_rest, exactly as ``python -m network
freeradius`` runs it; **files** answers the same logins from its own ``files`` module (a users
file generated from the same contracts, with the same answers: the ceiling). A small RADIUS
client in this process (RFC 2865 packets on UDP, PAP) sends Access-Requests for the 100,000
logins in a random order:

- closed loop: ``--concurrency`` requests outstanding at all times (a NAS storm), for
  ``--seconds``; answers/s and p50/p99 latency; rounds alternate files / rest, medians;
- open loop: a fixed ``--rate`` (500/s) for ``--seconds``, latency measured from each
  request's scheduled time (no coordinated omission).

Targets: rest ≥ 50% of the ceiling's answers/s; p99 < 100 ms at 500/s. Accepts and rejects are
counted and checked against what the contracts' states say (both servers must agree).

Part 2, accounting beside the cabinet: ``wrk -c16`` on the dashboard ``/cabinet/`` alone, then
with Interim-Updates for the open sessions arriving through the rest FreeRADIUS at
``--acct-rate`` (333/s = 100,000 sessions every 5 minutes, compressed to the run's length);
rounds alternate, medians. Target: the dashboard's p95 with accounting ≤ 1.5× without.

Every phase prints the load average: the client, FreeRADIUS, the app and the database share the
machine's cores, and other work on it skews absolute numbers (ratios less so).
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import dataclasses
import datetime as dt
import hashlib
import os
import random
import shutil
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from harness import SCALES, Dataset, Server, check_page, cookie_gets, csrf_cookie, dataset, ok, table, wrk

from network.freeradius import FREERADIUS, RADCLIENT, Client, installed, write_config

OURS = "app:create_app"
SECRET = "bench-radius-secret"
API_KEY = "bench-radius-api-key"
NAS_IP = "127.0.0.1"
TARGET_CEILING = 0.50
TARGET_P99_MS = 100.0
TARGET_CABINET_P95 = 1.5
TIMEOUT = 3.0  # what a NAS waits before it retries (we count it as lost instead)

ACCESS_REQUEST, ACCESS_ACCEPT, ACCESS_REJECT = 1, 2, 3
ACCOUNTING_REQUEST, ACCOUNTING_RESPONSE = 4, 5


def load() -> str:
    one, five, _ = os.getloadavg()
    return f"{one:.1f}/{five:.1f}"


# --- CPU per request (what a shared machine does not skew much) ------------------------------------

TICK = os.sysconf("SC_CLK_TCK")


def _cpu(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / TICK
    except (OSError, IndexError, ValueError):
        return 0.0


def _processes() -> list[tuple[int, int, str]]:
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
                with open(f"/proc/{entry}/cmdline", "rb") as f:
                    cmdline = f.read().replace(b"\0", b" ").decode(errors="replace")
            except (OSError, IndexError, ValueError):
                continue
            out.append((int(entry), ppid, cmdline))
    return out


class CpuMeter:
    """CPU seconds of FreeRADIUS, the app (uvicorn and its workers), the dataset's PostgreSQL
    backends and this client, between ``start()`` and ``stop()``."""

    def __init__(self, radiusd_pid: int, app_pid: int | None, database: str) -> None:
        self.radiusd, self.app, self.database = radiusd_pid, app_pid, database

    def _groups(self) -> dict[str, list[int]]:
        procs = _processes()
        app = set()
        if self.app:
            app.add(self.app)
            for _ in range(3):
                app |= {pid for pid, ppid, _ in procs if ppid in app}
        pg = [pid for pid, _, cmd in procs if cmd.startswith("postgres:") and f" {self.database} " in cmd]
        return {"radiusd": [self.radiusd], "app": sorted(app), "postgres": pg, "client": [os.getpid()]}

    def sample(self) -> dict[str, float]:
        return {name: sum(_cpu(p) for p in pids) for name, pids in self._groups().items()}

    def start(self) -> None:
        self.before = self.sample()

    def stop(self, requests: int) -> str:
        after = self.sample()
        parts = [f"{name} {(after[name] - self.before.get(name, 0.0)) / max(1, requests) * 1000:.2f}"
                 for name in after]
        return ", ".join(parts)


# --- data -------------------------------------------------------------------------------------

@dataclasses.dataclass
class Login:
    subscriber: int
    login: str
    password: str
    outcome: str  # accept / restricted / reject (what the contract's state says)
    speed: int


async def _pg_exec(url: str, statements: list[tuple[str, tuple]]) -> None:
    import asyncpg

    conn = await asyncpg.connect(url)
    try:
        for sql, params in statements:
            step = time.perf_counter()
            await conn.execute(sql, *params)
            print(f"    {time.perf_counter() - step:6.1f} s  {' '.join(sql.split())[:70]}", flush=True)
    finally:
        await conn.close()


def execute(data: Dataset, statements: list[tuple[str, tuple]]) -> None:
    """Run ``statements`` (``$1``-style parameters on PostgreSQL, ``?`` on SQLite)."""
    if data.engine == "pg":
        asyncio.run(_pg_exec(data.info["database_url"], statements))
        return
    import sqlite3

    con = sqlite3.connect(data.info["sqlite_path"], isolation_level=None)
    try:
        con.execute("BEGIN")
        for sql, params in statements:
            con.execute(sql.replace("$1", "?").replace("$2", "?"), params)
        con.execute("COMMIT")
    finally:
        con.close()


def fetch(data: Dataset, sql: str) -> list[tuple]:
    from harness import query

    return query(data, sql)


def prepare(data: Dataset) -> list[Login]:
    """PPPoE credentials for every contract, the NAS, an open session per contract let in."""
    started = time.perf_counter()
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    stamp: object = now if data.engine == "pg" else str(now)
    true = "true"
    execute(data, [
        ("""INSERT INTO network_access (subscriber, kind, login, password, mac, switch_id,
                                        switch_port, static_ip)
            SELECT s.id, 'pppoe', s.contract_number, 'pw-' || CAST(s.id AS TEXT), NULL, '', '', NULL
            FROM subscriber s
            WHERE NOT EXISTS (SELECT 1 FROM network_access a WHERE a.subscriber = s.id)""", ()),
        (f"""INSERT INTO nas (name, address, secret, kind, coa_port, restricted_list, active)
             VALUES ('bench', '{NAS_IP}', $1, 'mikrotik', 3799, 'debtors', {true})
             ON CONFLICT (address) DO UPDATE SET secret = excluded.secret, kind = 'mikrotik',
                 restricted_list = 'debtors', active = {true}""", (SECRET,)),
        (f"DELETE FROM radius_session WHERE nas_address = '{NAS_IP}' AND acct_session_id LIKE 'bench-%'",
         ()),
        (f"""INSERT INTO radius_session (session_key, acct_session_id, nas_address, subscriber,
                 username, framed_ip, calling_station, restricted, started_at, updated_at,
                 stopped_at, upload_bytes, download_bytes, terminate_cause)
             SELECT '{NAS_IP}/bench-' || CAST(s.id AS TEXT), 'bench-' || CAST(s.id AS TEXT),
                    '{NAS_IP}', s.id, a.login, '', '', s.status = 'suspended', $1, $2, NULL, 0, 0, ''
             FROM subscriber s
             JOIN network_access a ON a.subscriber = s.id
             JOIN tariff t ON t.id = s.tariff
             WHERE s.status <> 'terminated' AND t.speed_mbps > 0""", (stamp, stamp)),
    ])
    if data.engine == "pg":
        execute(data, [("ANALYZE network_access", ()), ("ANALYZE radius_session", ()), ("ANALYZE nas", ())])
    rows = fetch(data, """
        SELECT s.id, a.login, a.password, s.status, t.speed_mbps, t.upload_mbps
        FROM network_access a JOIN subscriber s ON s.id = a.subscriber JOIN tariff t ON t.id = s.tariff
        WHERE a.kind = 'pppoe' ORDER BY s.id""")
    logins = []
    for sid, login, password, status, speed, upload in rows:
        if status == "terminated" or not speed:
            outcome = "reject"
        else:
            outcome = "restricted" if status == "suspended" else "accept"
        logins.append(Login(sid, login, password, outcome, f"{upload or speed}M/{speed}M"))
    print(f"  credentials, NAS, sessions: {time.perf_counter() - started:.1f} s; "
          f"{len(logins):,} logins: " + ", ".join(
              f"{k} {v:,}" for k, v in sorted(collections.Counter(x.outcome for x in logins).items())),
          flush=True)
    return logins


# --- FreeRADIUS ---------------------------------------------------------------------------------

def users_file(logins: list[Login]) -> str:
    """The ``files`` module's users file answering as Centra does (tables/radius.py)."""
    out = []
    for x in logins:
        if x.outcome == "reject":
            out.append(f'{x.login} Auth-Type := Reject\n\tReply-Message = "Договор расторгнут"\n')
        elif x.outcome == "restricted":
            out.append(f'{x.login} Cleartext-Password := "{x.password}"\n'
                       '\tAcct-Interim-Interval = 300,\n\tSession-Timeout = 900,\n'
                       '\tMikrotik-Address-List = "debtors"\n')
        else:
            out.append(f'{x.login} Cleartext-Password := "{x.password}"\n'
                       '\tAcct-Interim-Interval = 300,\n\tSession-Timeout = 86400,\n'
                       f'\tMikrotik-Rate-Limit = "{x.speed}"\n')
    return "\n".join(out)


def free_udp_port() -> int:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclasses.dataclass
class Radiusd:
    kind: str  # "rest" or "files"
    confdir: Path
    auth_port: int = 0
    acct_port: int = 0
    process: subprocess.Popen | None = None


def _answers(port: int, confdir: Path) -> bool:
    done = subprocess.run([RADCLIENT, "-r", "1", "-t", "1", "-d", str(confdir), f"127.0.0.1:{port}",
                           "status", SECRET], input="Message-Authenticator = 0x00\n",
                          capture_output=True, text=True)
    return "Access-Accept" in done.stdout or done.returncode == 0


@contextlib.contextmanager
def radiusd(kind: str, app_url: str, logins: list[Login]):
    """FreeRADIUS with the product's generated configuration; ``files``: the same with
    ``files`` instead of ``rest`` in authorize (and no accounting)."""
    confdir = Path(tempfile.mkdtemp(prefix=f"centra-bench-radius-{kind}-"))
    server = Radiusd(kind, confdir)
    try:
        for _attempt in range(3):
            server.auth_port, server.acct_port = free_udp_port(), free_udp_port()
            write_config(confdir, app_url=app_url, api_key=API_KEY,
                         clients=[Client("bench", NAS_IP, SECRET)], listen="127.0.0.1",
                         auth_port=server.auth_port, acct_port=server.acct_port)
            if kind == "files":
                site = confdir / "sites" / "centra"
                text = site.read_text()
                head, sep, tail = text.partition("    authorize {")
                tail = tail.replace("        rest\n", "        files\n", 1)
                tail = tail.replace("        rest\n", "", 1)
                site.write_text(head + sep + tail)
                (confdir / "mods" / "rest").unlink()
                (confdir / "mods" / "files").write_text("files {\n    filename = ${confdir}/users\n}\n")
                (confdir / "users").write_text(users_file(logins))
            server.process = subprocess.Popen([FREERADIUS, "-f", "-d", str(confdir)],
                                              stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and server.process.poll() is None:
                if _answers(server.auth_port, confdir):
                    break
                time.sleep(0.3)
            else:
                server.process.kill()
                server.process.wait()
                continue
            break
        else:
            log = confdir / "log" / "radius.log"
            raise SystemExit(f"FreeRADIUS ({kind}) did not start: "
                             f"{log.read_text()[-2000:] if log.exists() else ''}")
        yield server
    finally:
        if server.process and server.process.poll() is None:
            server.process.terminate()
            server.process.wait(timeout=10)
        shutil.rmtree(confdir, ignore_errors=True)


# --- a small RADIUS client (RFC 2865/2866) --------------------------------------------------------

def _attr(kind: int, value: bytes) -> bytes:
    return bytes((kind, len(value) + 2)) + value


def _int_attr(kind: int, value: int) -> bytes:
    return _attr(kind, struct.pack("!I", value & 0xFFFFFFFF))


_NAS = _attr(4, bytes(map(int, NAS_IP.split(".")))) + _int_attr(6, 2) + _int_attr(7, 1) + _int_attr(61, 15)


def _pap(password: bytes, secret: bytes, authenticator: bytes) -> bytes:
    padded = password + b"\0" * (-len(password) % 16 or (16 if not password else 0))
    out, last = b"", authenticator
    for i in range(0, len(padded), 16):
        key = hashlib.md5(secret + last).digest()
        last = bytes(a ^ b for a, b in zip(padded[i:i + 16], key, strict=True))
        out += last
    return out


def access_request(ident: int, login: Login, secret: bytes) -> bytes:
    authenticator = random.randbytes(16)
    attrs = (_attr(1, login.login.encode()) + _attr(2, _pap(login.password.encode(), secret, authenticator))
             + _NAS + _attr(31, f"02:00:00:{login.subscriber >> 16 & 255:02x}:"
                                 f"{login.subscriber >> 8 & 255:02x}:{login.subscriber & 255:02x}".encode()))
    return struct.pack("!BBH", ACCESS_REQUEST, ident, 20 + len(attrs)) + authenticator + attrs


def interim_update(ident: int, login: Login, secret: bytes) -> bytes:
    # Counters that only grow from one run to the next (64 bits over octets + gigawords).
    counter = (time.time_ns() // 1_000_000 - 1_700_000_000_000) * 64 + login.subscriber % 64
    attrs = (_int_attr(40, 3) + _attr(44, f"bench-{login.subscriber}".encode())
             + _attr(1, login.login.encode()) + _NAS
             + _attr(8, bytes((10, login.subscriber >> 16 & 255, login.subscriber >> 8 & 255,
                               login.subscriber & 255 or 1)))
             + _int_attr(42, counter) + _int_attr(52, counter >> 32)
             + _int_attr(43, counter * 8) + _int_attr(53, (counter * 8) >> 32)
             + _int_attr(46, 600))
    header = struct.pack("!BBH", ACCOUNTING_REQUEST, ident, 20 + len(attrs))
    authenticator = hashlib.md5(header + bytes(16) + attrs + secret).digest()
    return header + authenticator + attrs


class _Socket(asyncio.DatagramProtocol):
    def __init__(self, owner: RadiusClient, index: int) -> None:
        self.owner, self.index = owner, index

    def datagram_received(self, data: bytes, addr: object) -> None:
        if len(data) >= 20:
            future = self.owner.pending.pop((self.index, data[1]), None)
            if future is not None and not future.done():
                future.set_result((data[0], time.perf_counter()))


class RadiusClient:
    """Many UDP sockets × 256 identifiers; a (socket, id) slot is reused last-in-last."""

    def __init__(self, port: int, sockets: int = 64) -> None:
        self.port, self.count = port, sockets
        self.pending: dict[tuple[int, int], asyncio.Future] = {}
        self.transports: list[asyncio.DatagramTransport] = []
        self.slots: collections.deque[tuple[int, int]] = collections.deque()

    async def __aenter__(self) -> RadiusClient:
        loop = asyncio.get_running_loop()
        for i in range(self.count):
            transport, _ = await loop.create_datagram_endpoint(
                lambda i=i: _Socket(self, i), remote_addr=("127.0.0.1", self.port))
            self.transports.append(transport)
        self.slots.extend((s, ident) for ident in range(256) for s in range(self.count))
        return self

    async def __aexit__(self, *exc: object) -> None:
        for transport in self.transports:
            transport.close()

    async def send(self, build, login: Login, since: float | None = None) -> tuple[int | None, float]:
        """(reply code or None on timeout, latency in ms from ``since`` or the send)."""
        while not self.slots:
            await asyncio.sleep(0.001)
        slot = self.slots.popleft()
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self.pending[slot] = future
        sent = time.perf_counter()
        self.transports[slot[0]].sendto(build(slot[1], login, SECRET.encode()))
        timer = loop.call_later(TIMEOUT, lambda: future.done() or future.set_result((None, 0.0)))
        try:
            code, received = await future
        finally:
            timer.cancel()
            self.pending.pop(slot, None)
            self.slots.append(slot)
        return code, ((received - (since or sent)) * 1000 if code is not None else TIMEOUT * 1000)


@dataclasses.dataclass
class Phase:
    answered: int = 0
    lost: int = 0
    seconds: float = 0.0
    latencies: list[float] = dataclasses.field(default_factory=list)
    codes: collections.Counter = dataclasses.field(default_factory=collections.Counter)
    wrong: int = 0  # an answer other than the contract's state says
    cpu: str = ""  # CPU ms per answer by process group (CpuMeter)

    @property
    def rate(self) -> float:
        return self.answered / self.seconds if self.seconds else 0.0

    def pct(self, q: float) -> float:
        if not self.latencies:
            return 0.0
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]

    def note(self, login: Login, code: int | None, ms: float) -> None:
        self.latencies.append(ms)
        if code is None:
            self.lost += 1
            return
        self.answered += 1
        self.codes[code] += 1
        expected = ACCESS_REJECT if login.outcome == "reject" else ACCESS_ACCEPT
        if code in (ACCESS_ACCEPT, ACCESS_REJECT) and code != expected:
            self.wrong += 1


class Requests:
    """The logins in one shuffled order, handed out round-robin from a random start."""

    def __init__(self, logins: list[Login], seed: int) -> None:
        self.items = list(logins)
        random.Random(seed).shuffle(self.items)
        self.next = random.Random(seed + 1).randrange(len(self.items))

    def take(self) -> Login:
        self.next = (self.next + 1) % len(self.items)
        return self.items[self.next]


async def closed_loop(port: int, requests: Requests, *, concurrency: int, seconds: float,
                      meter: CpuMeter | None = None) -> Phase:
    phase = Phase()
    if meter:
        meter.start()
    async with RadiusClient(port) as client:
        started = time.perf_counter()
        deadline = started + seconds

        async def worker() -> None:
            while time.perf_counter() < deadline:
                login = requests.take()
                code, ms = await client.send(access_request, login)
                phase.note(login, code, ms)

        await asyncio.gather(*(worker() for _ in range(concurrency)))
        phase.seconds = time.perf_counter() - started
    if meter:
        phase.cpu = meter.stop(phase.answered)
    return phase


async def open_loop(port: int, requests: Requests, *, rate: float, seconds: float, build=access_request,
                    stop: asyncio.Event | None = None, meter: CpuMeter | None = None) -> Phase:
    """``rate`` requests a second on schedule (for ``seconds``, or until ``stop``)."""
    phase = Phase()
    if meter:
        meter.start()
    tasks: set[asyncio.Task] = set()
    async with RadiusClient(port) as client:
        started = time.perf_counter()
        k = 0

        async def one(login: Login, scheduled: float) -> None:
            code, ms = await client.send(build, login, since=scheduled)
            if build is access_request:
                phase.note(login, code, ms)
            else:
                _note_acct(phase, code, ms)

        while (stop is None and k < rate * seconds) or (stop is not None and not stop.is_set()):
            scheduled = started + k / rate
            delay = scheduled - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            task = asyncio.create_task(one(requests.take(), scheduled))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
            k += 1
        sent_for = time.perf_counter() - started
        if tasks:
            await asyncio.gather(*tasks)
        phase.seconds = sent_for
    if meter:
        phase.cpu = meter.stop(phase.answered)
    return phase


def _note_acct(phase: Phase, code: int | None, ms: float) -> None:
    phase.latencies.append(ms)
    if code is None:
        phase.lost += 1
    else:
        phase.answered += 1
        phase.codes[code] += 1
        if code != ACCOUNTING_RESPONSE:
            phase.wrong += 1


# --- the parts -------------------------------------------------------------------------------------

AUTH_HEADERS = ["engine", "phase", "server", "sent", "answered/s", "p50 ms", "p99 ms", "lost", "wrong",
                "accept / reject", "rest / files", "load 1/5 min", "target met", "CPU ms per answer"]


def _row(engine: str, name: str, kind: str, p: Phase) -> list:
    return [engine, name, kind, f"{p.answered + p.lost:,}", f"{p.rate:,.0f}", f"{p.pct(0.5):.1f}",
            f"{p.pct(0.99):.1f}", p.lost, p.wrong,
            f"{p.codes[ACCESS_ACCEPT]:,} / {p.codes[ACCESS_REJECT]:,}", "", load(), "", p.cpu]


def _merge(phases: list[Phase]) -> Phase:
    """Medians of the rounds' rates and percentiles, as one Phase for printing."""
    if len(phases) == 1:
        return phases[0]
    best = sorted(phases, key=lambda p: p.rate)[len(phases) // 2]
    merged = Phase(answered=sum(p.answered for p in phases), lost=sum(p.lost for p in phases),
                   seconds=sum(p.seconds for p in phases), codes=sum((p.codes for p in phases),
                                                                    collections.Counter()),
                   wrong=sum(p.wrong for p in phases))
    merged.latencies = best.latencies
    merged.cpu = best.cpu
    merged.seconds = merged.answered / best.rate if best.rate else 0.0
    return merged


def authorisations(engine: str, data: Dataset, app: Server, logins: list[Login],
                   args: argparse.Namespace) -> list[list]:
    rows: list[list] = []
    database = data.info.get("name", "")
    with radiusd("files", app.url, logins) as files, radiusd("rest", app.url, logins) as rest:
        servers = {"files": files, "rest": rest}
        meters = {kind: CpuMeter(server.process.pid, app.process.pid if app.process else None, database)
                  for kind, server in servers.items()}
        requests = Requests(logins, seed=32)
        # Warm-up: FreeRADIUS's threads, rlm_rest's connections, the app's pool and caches.
        for server in servers.values():
            asyncio.run(closed_loop(server.auth_port, requests, concurrency=args.concurrency, seconds=2))
        closed: dict[str, list[Phase]] = {"files": [], "rest": []}
        for _ in range(args.rounds):
            for kind, server in servers.items():
                closed[kind].append(asyncio.run(closed_loop(
                    server.auth_port, requests, concurrency=args.concurrency, seconds=args.seconds,
                    meter=meters[kind])))
                print(f"    closed loop, {kind}: {closed[kind][-1].rate:,.0f}/s, "
                      f"p99 {closed[kind][-1].pct(0.99):.1f} ms, load {load()}; CPU ms per answer: "
                      f"{closed[kind][-1].cpu}", flush=True)
        f, r = _merge(closed["files"]), _merge(closed["rest"])
        rows.append(_row(engine, f"closed loop, {args.concurrency} outstanding", "files (ceiling)", f))
        rows.append(_row(engine, f"closed loop, {args.concurrency} outstanding", "rest (Centra)", r))
        ratio = r.rate / f.rate if f.rate else 0.0
        rows[-1][10] = f"{ratio:.0%}"
        rows[-1][12] = ok(ratio >= TARGET_CEILING and not r.wrong)
        print(table(AUTH_HEADERS, rows[-2:]), flush=True)
        for kind, server in servers.items():
            p = asyncio.run(open_loop(server.auth_port, requests, rate=args.rate, seconds=args.seconds,
                                      meter=meters[kind]))
            label = "files (ceiling)" if kind == "files" else "rest (Centra)"
            rows.append(_row(engine, f"open loop, {args.rate:.0f}/s", label, p))
            if kind == "rest":
                rows[-1][12] = ok(p.pct(0.99) < TARGET_P99_MS and not p.lost and not p.wrong)
            print(table(AUTH_HEADERS, rows[-1:]), flush=True)
    return rows


CABINET_HEADERS = ["engine", "dashboard", "req/s", "p50 ms", "p95 ms", "p99 ms", "errors",
                   "interims answered/s", "interim p50 / p99 ms", "interims lost",
                   "load 1/5 min", "p95 / idle", "target met"]


async def _with_accounting(url: str, cabinet: list, port: int, sessions: Requests,
                           args: argparse.Namespace) -> tuple:
    stop = asyncio.Event()
    sender = asyncio.create_task(open_loop(port, sessions, rate=args.acct_rate, seconds=0,
                                           build=interim_update, stop=stop))
    await asyncio.sleep(3)  # the updates are flowing before the cabinet is measured
    result = await asyncio.to_thread(wrk, url, cabinet, seconds=args.cabinet_seconds,
                                     connections=args.connections)
    stop.set()
    return result, await sender


def accounting(engine: str, data: Dataset, server: Server, logins: list[Login],
               args: argparse.Namespace) -> list[list]:
    tokens = data.tokens()
    check_page(server.url, "/cabinet/", tokens[0], "Баланс")
    cabinet = cookie_gets("/cabinet/", tokens, csrf_cookie(server.url))
    let_in = [x for x in logins if x.outcome != "reject"]
    sessions = Requests(let_in, seed=333)
    idle, busy, interims = [], [], []
    before = fetch(data, f"SELECT COUNT(*) FROM radius_session WHERE nas_address = '{NAS_IP}' "
                         f"AND upload_bytes > 0")[0][0]
    with radiusd("rest", server.url, logins) as rest:
        wrk(server.url, cabinet, seconds=2, connections=args.connections)
        for _ in range(args.rounds):
            idle.append((wrk(server.url, cabinet, seconds=args.cabinet_seconds,
                             connections=args.connections), load()))
            print(f"    dashboard alone: p95 {idle[-1][0].p95:.1f} ms, {idle[-1][0].rps:,.0f} req/s, "
                  f"load {idle[-1][1]}", flush=True)
            result, phase = asyncio.run(_with_accounting(server.url, cabinet, rest.acct_port, sessions, args))
            busy.append((result, load()))
            interims.append(phase)
            print(f"    with {phase.rate:,.0f} interims/s: p95 {result.p95:.1f} ms, {result.rps:,.0f} req/s, "
                  f"interim p99 {phase.pct(0.99):.1f} ms, lost {phase.lost}, load {busy[-1][1]}", flush=True)
    after = fetch(data, f"SELECT COUNT(*) FROM radius_session WHERE nas_address = '{NAS_IP}' "
                        f"AND upload_bytes > 0")[0][0]

    def med(results: list, attr: str) -> float:
        return statistics.median(getattr(r, attr) for r, _ in results)

    rows = []
    for name, results in (("alone", idle), ("with interim updates", busy)):
        rows.append([engine, name, f"{med(results, 'rps'):,.0f}", f"{med(results, 'p50'):.1f}",
                     f"{med(results, 'p95'):.1f}", f"{med(results, 'p99'):.1f}",
                     sum(r.errors for r, _ in results), "", "", "", " ".join(x for _, x in results), "", ""])
    p = _merge(interims)
    sent = sum(x.answered + x.lost for x in interims)
    rows[-1][7:10] = [f"{statistics.median(x.rate for x in interims):,.0f}",
                      f"{p.pct(0.5):.1f} / {p.pct(0.99):.1f}", f"{sum(x.lost for x in interims)} of {sent:,}"]
    ratio = med(busy, "p95") / med(idle, "p95")
    rows[-1][11] = f"{ratio:.2f}×"
    rows[-1][12] = ok(ratio <= TARGET_CABINET_P95)
    print(table(CABINET_HEADERS, rows), flush=True)
    print(f"  sessions with stored counters: {before:,} before, {after:,} after "
          f"({after - before:,} first updates; {sent:,} interims sent)", flush=True)
    return rows


def run(engine: str, args: argparse.Namespace) -> tuple[list[list], list[list]]:
    subscribers, months = SCALES["quick" if args.quick else "full"][engine]
    months = args.months or months
    with dataset(engine, subscribers, months, keep=args.keep) as data:
        print(f"\n{data.label}", flush=True)
        logins = prepare(data)
        env = {**data.env, "CENTRA_RADIUS_API_KEY": API_KEY, "CENTRA_RADIUS_CLIENTS": "127.0.0.1"}
        log = Path(tempfile.gettempdir()) / f"centra-radius-storm-{engine}.log"
        log.unlink(missing_ok=True)
        print(f"  the app's log (a line per Reject, as in production): {log}", flush=True)
        with Server(OURS, env, workers=args.workers, output=log) as server:
            auth = [] if args.skip_auth else authorisations(engine, data, server, logins, args)
            acct = [] if args.skip_accounting else accounting(engine, data, server, logins, args)
    return auth, acct


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--engine", choices=["pg", "sqlite", "both"], default="pg")
    parser.add_argument("--quick", action="store_true", help="10,000 contracts, short phases")
    parser.add_argument("--keep", action="store_true", help="keep the generated databases")
    parser.add_argument("--months", type=int, default=None,
                        help="months of history in the dataset (default: the benchmarks' scale)")
    parser.add_argument("--workers", type=int, default=2, help="uvicorn workers (the Procfile's 2)")
    parser.add_argument("--concurrency", type=int, default=64, help="closed loop: requests outstanding")
    parser.add_argument("--rate", type=float, default=500.0, help="open loop: Access-Requests a second")
    parser.add_argument("--seconds", type=float, default=None, help="each authorisation phase")
    parser.add_argument("--rounds", type=int, default=None)
    parser.add_argument("--acct-rate", type=float, default=100_000 / 300,
                        help="Interim-Updates a second (100,000 sessions every 5 minutes)")
    parser.add_argument("--cabinet-seconds", type=float, default=None)
    parser.add_argument("--connections", type=int, default=16, help="wrk connections on the dashboard")
    parser.add_argument("--skip-auth", action="store_true")
    parser.add_argument("--skip-accounting", action="store_true")
    args = parser.parse_args(argv)
    if not installed():
        raise SystemExit("FreeRADIUS with rlm_rest is not installed: make radius-deps")
    args.rounds = args.rounds or (1 if args.quick else 2)
    args.seconds = args.seconds or (5.0 if args.quick else 20.0)
    args.cabinet_seconds = args.cabinet_seconds or (5.0 if args.quick else 30.0)
    engines = ["pg", "sqlite"] if args.engine == "both" else [args.engine]
    cpu = os.cpu_count()
    print(f"radius_storm: {cpu} CPUs, load average {load()} at start; app ×{args.workers} workers; "
          f"closed loop {args.concurrency} outstanding, open loop {args.rate:.0f}/s, "
          f"{args.rounds} rounds × {args.seconds:.0f} s; interims {args.acct_rate:.0f}/s beside "
          f"wrk -c{args.connections} × {args.cabinet_seconds:.0f} s", flush=True)
    auth_rows, acct_rows = [], []
    for engine in engines:
        auth, acct = run(engine, args)
        auth_rows += auth
        acct_rows += acct
    if auth_rows:
        print("\n## Authorisations: FreeRADIUS asking Centra vs its own files module\n")
        print(table(AUTH_HEADERS, auth_rows))
    if acct_rows:
        print("\n## Cabinet dashboard with accounting interim updates\n")
        print(table(CABINET_HEADERS, acct_rows))
    print(f"\nload average at the end: {load()}")


if __name__ == "__main__":
    main()
