"""The real application under uvicorn in a subprocess, for tests that need real parallel requests.

It inherits the test session's database settings (``DATABASE_URL`` / ``CENTRA_SQLITE_PATH``), so it
serves what a test writes with the factories; ``env`` adds or overrides variables (``REDIS_URL``).
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
START_SECONDS = 180
REDIS = ("127.0.0.1", 6379)


def redis_up() -> bool:
    try:
        socket.create_connection(REDIS, timeout=1).close()
        return True
    except OSError:
        return False


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def live_server(env: dict[str, str | None] | None = None) -> Iterator[str]:
    """Start ``app:create_app`` on a free loopback port; yields its base URL.

    ``env`` adds or overrides variables; a ``None`` value removes one (``REDIS_URL``).
    """
    merged = {**os.environ, "PYTHONUNBUFFERED": "1", "CENTRA_SITE_CACHE_SECONDS": "0", **(env or {})}
    full_env = {k: v for k, v in merged.items() if v is not None}
    log = tempfile.NamedTemporaryFile(prefix="centra-live-", suffix=".log", delete=False)
    for _attempt in range(3):  # a port picked as free may be taken before uvicorn binds it
        port = free_port()
        base_url = f"http://127.0.0.1:{port}"
        proc = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "app:create_app", "--factory", "--host", "127.0.0.1",
             "--port", str(port), "--log-level", "warning"],
            cwd=ROOT, env=full_env, stdout=log, stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + START_SECONDS
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                if httpx.get(f"{base_url}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        else:
            proc.kill()
            proc.wait()
            continue
        break
    else:
        raise RuntimeError(f"uvicorn did not start (log: {log.name})")
    try:
        yield base_url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


async def csrf_client(base_url: str, path: str, *, connections: int = 200) -> tuple[httpx.AsyncClient, str]:
    """A client holding the CSRF cookie of one page load, and the token to post with it."""
    client = httpx.AsyncClient(base_url=base_url, timeout=900,
                               limits=httpx.Limits(max_connections=connections))
    page = await client.get(path)
    token = re.search(r'name="_csrf_token" value="([^"]+)"', page.text).group(1)
    return client, token
