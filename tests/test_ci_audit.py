"""``.ci/audit`` never reports a clean audit it could not do (pip-audit said "No known
vulnerabilities found" after skipping all 119 dependencies as "not found")."""

from __future__ import annotations

import http.server
import json
import os
import socket
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

AUDIT = Path(__file__).resolve().parents[1] / ".ci" / "audit"


def _run(probe_url: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(AUDIT)], env={**os.environ, "CENTRA_ADVISORY_PROBE_URL": probe_url},
                          capture_output=True, text=True, timeout=600)


def test_unreachable_advisory_service_is_not_an_audit():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    done = _run(f"http://127.0.0.1:{closed}/pypi/pip/24.0/json")
    assert done.returncode == 2
    assert "NOT audited" in done.stdout and "No known vulnerabilities" not in done.stdout


@pytest.fixture
def advisory_api() -> Iterator[str]:
    """A server answering the probe as PyPI's JSON API does."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = json.dumps({"info": {"name": "pip"}, "vulnerabilities": []}).encode()
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/pypi/pip/24.0/json"
    server.shutdown()


def test_reachable_advisory_service_means_a_strict_audit(advisory_api):
    """pip-audit itself then asks pypi.org: where that cannot check a dependency, --strict
    fails the audit instead of skipping it (here pypi.org does not answer: it fails)."""
    done = _run(advisory_api)
    if done.returncode == 0:  # a machine whose pypi.org answers: a real, complete audit
        assert "No known vulnerabilities found" in done.stdout + done.stderr
        assert "could not be audited" not in done.stdout + done.stderr
    else:
        assert done.returncode == 1
        assert "could not be audited" in done.stdout + done.stderr
