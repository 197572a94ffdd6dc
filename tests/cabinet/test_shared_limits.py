"""Rate limits hold across two app processes that share Redis (real uvicorn processes)."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from cabinet.limits import LOGIN_PER_IP

#: ``CENTRA_TEST_REDIS`` (set by ``.ci/run`` when a Redis answers) makes this test required:
#: it fails instead of skipping when that server does not answer. Without it the test uses a
#: Redis on 127.0.0.1:6379 when one answers, and skips otherwise.
REQUIRED_URL = os.environ.get("CENTRA_TEST_REDIS", "").strip()
_parts = urlsplit(REQUIRED_URL or "redis://127.0.0.1:6379/14")
REDIS = (_parts.hostname or "127.0.0.1", _parts.port or 6379)
DB = int(_parts.path.strip("/") or 14)
ROOT = Path(__file__).resolve().parents[2]


def _redis_up() -> bool:
    try:
        socket.create_connection(REDIS, timeout=1).close()
        return True
    except OSError:
        return False


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def two_processes():
    if not _redis_up():
        if REQUIRED_URL:
            pytest.fail(f"CENTRA_TEST_REDIS={REQUIRED_URL} does not answer")
        pytest.skip("no Redis server on 127.0.0.1:6379 (set CENTRA_TEST_REDIS to require one)")
    import redis

    db = DB
    redis.Redis(*REDIS, db=db).flushdb()
    env = {**os.environ, "REDIS_URL": f"redis://{REDIS[0]}:{REDIS[1]}/{db}"}
    ports = [_free_port(), _free_port()]
    procs = [
        subprocess.Popen([sys.executable, "-m", "uvicorn", "app:create_app", "--factory", "--host",
                          "127.0.0.1", "--port", str(p), "--log-level", "warning"], cwd=ROOT, env=env)
        for p in ports
    ]
    try:
        deadline = time.time() + 180  # two app imports at once on a busy 2-core machine
        for p, proc in zip(ports, procs, strict=True):
            while True:
                try:
                    httpx.get(f"http://127.0.0.1:{p}/cabinet/login", timeout=1)
                    break
                except httpx.HTTPError:
                    assert proc.poll() is None, f"the server on port {p} exited ({proc.returncode})"
                    if time.time() > deadline:
                        raise
                    time.sleep(0.2)
        yield ports
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(timeout=10)
        redis.Redis(*REDIS, db=db).flushdb()


def _attempt(port: int, contract: str) -> int:
    with httpx.Client(base_url=f"http://127.0.0.1:{port}") as c:
        page = c.get("/cabinet/login")
        token = re.search(r'name="_csrf_token" value="([^"]+)"', page.text).group(1)
        return c.post("/cabinet/login", data={"contract_number": contract, "password": "guess-guess",
                                              "_csrf_token": token}).status_code


def test_login_limit_is_shared_between_processes(two_processes):
    a, b = two_processes
    for n in range(LOGIN_PER_IP.max_hits):
        assert _attempt(a if n % 2 else b, str(700000 + n)) == 401
    assert _attempt(a, "799999") == 429
    assert _attempt(b, "799998") == 429
