"""Shared pieces of the load benchmarks: datasets, servers, wrk, tables.

Every benchmark measures the product next to a baseline **in the same run**, alternating
between the two (baseline, ours, baseline, ours, ...) and reporting medians, because the
machine is shared and absolute numbers drift by tens of percent from minute to minute.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
PYTHON = sys.executable
DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/postgres"
WRK_SCRIPT = BENCH / "wrk_requests.lua"

# Scales: PostgreSQL keeps the full five years; SQLite keeps every subscriber but a fifth of
# the history (12 of 60 months), so its ledger is 5x smaller (~2.2M rows instead of ~11M).
SCALES = {
    "full": {"pg": (100_000, 60), "sqlite": (100_000, 12)},
    "quick": {"pg": (10_000, 12), "sqlite": (10_000, 12)},
}
GROWTH = {"full": (1_000, 10_000, 100_000), "quick": (1_000, 10_000)}


def pg_admin_url() -> str:
    return os.environ.get("CENTRA_BENCH_PG", DEFAULT_PG)


# --- datasets -------------------------------------------------------------------------------

@dataclass
class Dataset:
    info: dict[str, Any]

    @property
    def engine(self) -> str:
        return self.info["engine"]

    @property
    def env(self) -> dict[str, str]:
        """Environment that points the product (and the baseline) at this dataset."""
        # Development mode, as measured so far (SQLite, no allowed hosts: production would refuse).
        # No embedded job worker: the page benchmarks measure pages, not the schedules (on SQLite
        # every app process would otherwise run the outbox and reconciliation itself).
        env = {"CENTRA_SECRET_KEY": "bench-secret-key", "PICCOLO_CONF": "piccolo_conf", "CENTRA_DEBUG": "1",
               "CENTRA_EMBEDDED_WORKER": "0"}
        if self.engine == "pg":
            env["DATABASE_URL"] = self.info["database_url"]
        else:
            env["DATABASE_URL"] = ""
            env["CENTRA_SQLITE_PATH"] = self.info["sqlite_path"]
        return env

    @property
    def label(self) -> str:
        return (f"{self.engine} {self.info['subscribers']:,} subscribers × {self.info['months']} months, "
                f"{self.info['ledger_rows']:,} ledger rows")

    def tokens(self, limit: int | None = None) -> list[str]:
        count = self.info["sessions"] if limit is None else min(limit, self.info["sessions"])
        return [f"bench-{i}" for i in range(1, count + 1)]


def generate(engine: str, subscribers: int, months: int, *, rebuild: bool = False,
             name: str | None = None) -> Dataset:
    """Build (or reuse a complete copy of) a dataset with bench/generate.py in a subprocess.

    :param name: a PostgreSQL database of its own (a benchmark that writes, e.g. charges a
        month, keeps the shared ``centra_bench_<n>x<months>`` untouched).
    """
    cmd = [PYTHON, str(BENCH / "generate.py"), "--engine", engine, "--subscribers", str(subscribers),
           "--months", str(months), "--pg", pg_admin_url()]
    if name:
        cmd += ["--name", name] if engine == "pg" else ["--path", str(Path(tempfile.gettempdir()) / name)]
    if rebuild:
        cmd.append("--rebuild")
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "CENTRA_SQLITE_PATH")}
    out = subprocess.run(cmd, cwd=ROOT, env=env, check=True, stdout=subprocess.PIPE, text=True)
    info = json.loads(out.stdout.strip().splitlines()[-1])
    if info.get("generated_seconds"):
        print(f"  generated {engine} {subscribers:,}×{months} in {info['generated_seconds']} s",
              flush=True)
    return Dataset(info)


def drop(dataset: Dataset) -> None:
    """Remove a dataset (a throwaway PostgreSQL database or SQLite file)."""
    if dataset.engine == "pg":
        import asyncio

        import asyncpg

        async def run() -> None:
            conn = await asyncpg.connect(pg_admin_url())
            try:
                await conn.execute(f'DROP DATABASE IF EXISTS "{dataset.info["name"]}" WITH (FORCE)')
            finally:
                await conn.close()

        asyncio.run(run())
    else:
        for suffix in ("", "-wal", "-shm", "-journal"):
            Path(dataset.info["sqlite_path"] + suffix).unlink(missing_ok=True)


@contextlib.contextmanager
def dataset(engine: str, subscribers: int, months: int, *, keep: bool) -> Iterator[Dataset]:
    data = generate(engine, subscribers, months)
    try:
        yield data
    finally:
        if not keep:
            drop(data)


# --- servers ----------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Server:
    """A uvicorn process serving ``app`` (``module:factory``) on a free port."""

    app: str
    env: dict[str, str]
    workers: int = 1
    ready_path: str = "/healthz"
    port: int = field(default_factory=free_port)
    process: subprocess.Popen | None = None
    output: Path | None = None  # the server's stdout and stderr (default: this process's)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> Server:
        cmd = [PYTHON, "-m", "uvicorn", self.app, "--factory", "--host", "127.0.0.1",
               "--port", str(self.port), "--no-access-log", "--log-level", "warning"]
        if self.workers > 1:
            cmd += ["--workers", str(self.workers)]
        env = {**os.environ, **self.env}
        out = open(self.output, "ab") if self.output else None  # closed once the child has it
        try:
            self.process = subprocess.Popen(cmd, cwd=ROOT, env=env, start_new_session=True, stdout=out,
                                            stderr=subprocess.STDOUT if out else None)
        finally:
            if out:
                out.close()
        deadline = time.monotonic() + 60
        import httpx

        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.app} exited with {self.process.returncode}")
            try:
                if httpx.get(self.url + self.ready_path, timeout=2).status_code < 500:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        self.__exit__(None, None, None)
        raise RuntimeError(f"{self.app} did not start")

    def __exit__(self, *exc: object) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)  # the group we started: uvicorn + workers
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()


# --- wrk ----------------------------------------------------------------------------------------

def ensure_wrk() -> str:
    path = shutil.which("wrk")
    if not path:
        raise SystemExit("wrk is not installed: `make bench-tools` (apt-get install wrk)")
    return path


@dataclass
class Request:
    method: str
    path: str
    body: str = ""
    headers: dict[str, str] = field(default_factory=dict)

    def line(self) -> str:
        headers = "|".join(f"{k}: {v}" for k, v in self.headers.items())
        return "\t".join([self.method, self.path, self.body, headers])


def cookie_gets(path: str, tokens: list[str], extra_cookie: str = "") -> list[Request]:
    """GETs as a returning browser sends them: the session cookie (and e.g. the CSRF one)."""
    extra = f"; {extra_cookie}" if extra_cookie else ""
    return [Request("GET", path, headers={"Cookie": f"centra_session={t}{extra}"}) for t in tokens]


def csrf_cookie(url: str) -> str:
    """``centra_csrf=…`` as the site sets it on a first visit (browsers send it back)."""
    import httpx

    value = httpx.get(url + "/cabinet/login", timeout=30).cookies.get("centra_csrf")
    return f"centra_csrf={value}" if value else ""


@dataclass
class Result:
    rps: float
    p50: float  # milliseconds
    p95: float
    p99: float
    errors: int
    requests: int


def wrk(url: str, requests: list[Request], *, seconds: float, connections: int = 16,
        threads: int = 1) -> Result:
    ensure_wrk()
    with tempfile.NamedTemporaryFile("w", suffix=".tsv", delete=False) as f:
        f.write("\n".join(r.line() for r in requests) + "\n")
        path = f.name
    try:
        out = subprocess.run(
            ["wrk", f"-t{threads}", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--timeout", "10s",
             "-s", str(WRK_SCRIPT), url, "--", path],
            check=True, stdout=subprocess.PIPE, text=True).stdout
    finally:
        os.unlink(path)
    line = next(x for x in out.splitlines() if x.startswith("WRK_JSON "))
    data = json.loads(line[len("WRK_JSON "):])
    errors = sum(data[k] for k in ("connect", "read", "write", "status", "timeout"))
    return Result(rps=data["requests"] / (data["duration_us"] / 1e6), p50=data["p50_us"] / 1000,
                  p95=data["p95_us"] / 1000, p99=data["p99_us"] / 1000, errors=errors,
                  requests=data["requests"])


def median_result(results: list[Result]) -> Result:
    return Result(rps=statistics.median(r.rps for r in results),
                  p50=statistics.median(r.p50 for r in results),
                  p95=statistics.median(r.p95 for r in results),
                  p99=statistics.median(r.p99 for r in results),
                  errors=sum(r.errors for r in results),
                  requests=sum(r.requests for r in results))


def interleaved(cases: dict[str, tuple[str, list[Request]]], *, rounds: int, seconds: float,
                connections: int = 16, warmup: float = 2.0) -> dict[str, Result]:
    """Run every case ``rounds`` times, alternating; return each case's medians.

    :param cases: name → (server base URL, requests).
    """
    for url, requests in cases.values():
        wrk(url, requests, seconds=warmup, connections=connections)
    runs: dict[str, list[Result]] = {name: [] for name in cases}
    for _ in range(rounds):
        for name, (url, requests) in cases.items():
            runs[name].append(wrk(url, requests, seconds=seconds, connections=connections))
    return {name: median_result(results) for name, results in runs.items()}


# --- output -------------------------------------------------------------------------------------

def table(headers: list[str], rows: list[list[Any]]) -> str:
    """A Markdown table (pasted as is into docs/performance.md)."""
    cells = [[str(c) for c in row] for row in [headers, *rows]]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    lines = ["| " + " | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) + " |" for r in cells]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


def ok(flag: bool) -> str:
    return "yes" if flag else "NO"


def check_page(url: str, path: str, token: str | None, expect: str) -> None:
    """Fail early when a page does not answer what the benchmark thinks it measures."""
    import httpx

    cookies = {"centra_session": token} if token else {}
    response = httpx.get(url + path, cookies=cookies, timeout=30)
    if response.status_code != 200 or expect not in response.text:
        raise SystemExit(f"{url}{path}: HTTP {response.status_code}, {expect!r} not in the page:\n"
                         f"{response.text[:500]}")


def machine() -> str:
    cpu = "?"
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as f:
        cpu = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), "?")
    load = os.getloadavg()
    return f"{os.cpu_count()} CPUs ({cpu}), load average {load[0]:.1f} at start"


def query(data: Dataset, sql: str) -> list[tuple]:
    """Rows of ``sql`` on the dataset's database (for picking realistic request samples)."""
    if data.engine == "pg":
        import asyncio

        import asyncpg

        async def run() -> list[tuple]:
            conn = await asyncpg.connect(data.info["database_url"])
            try:
                return [tuple(r) for r in await conn.fetch(sql)]
            finally:
                await conn.close()

        return asyncio.run(run())
    import sqlite3

    con = sqlite3.connect(data.info["sqlite_path"])
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()
