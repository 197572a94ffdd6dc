"""The body cap holds for chunked bodies (no Content-Length) on every mount, against a real server.

Without the cap a chunked body was read whole: Piccolo Admin's login audit buffered 256 MiB
(RSS 180 -> 967 MB). Each request here sends more than the cap and then stops without ending
the body: a server that waits for the rest never answers (the read times out and the test
fails); one that counts what arrives answers 413 at the cap.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.live_server import live_server

ROOT = Path(__file__).resolve().parents[2]
CAP = 64 * 1024


@pytest.fixture(scope="module")
def server(database: None) -> Iterator[int]:
    """The app under uvicorn on the test database, with a 64 KiB body cap; yields its port."""
    with live_server({"CENTRA_MAX_BODY_BYTES": str(CAP)}) as base:
        yield int(base.rsplit(":", 1)[1])


def _stream_unfinished(port: int, path: str, size: int) -> bytes:
    """POST ``size`` bytes as chunks and leave the body open; return the status line."""
    with socket.create_connection(("127.0.0.1", port)) as conn:
        conn.sendall(f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                     "Content-Type: application/x-www-form-urlencoded\r\n"
                     "Transfer-Encoding: chunked\r\n\r\n".encode())
        chunk = b"username=" + b"a" * 8183
        sent = 0
        try:
            while sent < size:
                conn.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                sent += len(chunk)
        except OSError:
            pass  # the server answered and closed while we were still sending
        conn.settimeout(20)
        try:
            answer = conn.recv(64)
        except TimeoutError:
            answer = b"no answer: the server waits for the rest of the body"
    return answer.split(b"\r\n")[0]


@pytest.mark.parametrize("path", ["/admin/public/login/", "/cabinet/login", "/connect",
                                  "/payments/webhook"])
def test_chunked_body_over_the_cap_is_refused_at_the_cap(server, path):
    assert _stream_unfinished(server, path, 4 * CAP) == b"HTTP/1.1 413 Request Entity Too Large"


def test_chunked_body_under_the_cap_still_reaches_the_app(server):
    def chunks() -> Iterator[bytes]:
        yield b"contract_number=1&"
        yield b"password=x"

    response = httpx.post(f"http://127.0.0.1:{server}/cabinet/login", content=chunks(),
                          headers={"content-type": "application/x-www-form-urlencoded"})
    assert response.request.headers["transfer-encoding"] == "chunked"
    # The body reached the form handler: refused by CSRF (403), not cut off (413).
    assert response.status_code == 403
