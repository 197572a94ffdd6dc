"""A local SMS gateway speaking the SMS.ru-style API (see ``providers/sms.py``).

Tests and ``make run`` start it in a thread on 127.0.0.1. It keeps what it was
asked to send, answers with the documented shapes, and can be told to misbehave:
refuse a number (``reject``), answer "service busy" (``busy_next``) or HTTP 503
(``http_error_next``), take a message and then not answer in time (``slow_next``),
and report delivery (``deliver``, or ``auto_deliver``) by status poll and by
callback to ``callback_url``. ``log_path`` appends each accepted SMS to a file
(``make run``: where staff read what was "texted").
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import httpx

from providers.sms import DELIVERY_TEXTS, sms_segments

SANDBOX_API_ID = "centra-sms-sandbox"
PRICE_PER_SEGMENT = 2.5


@dataclass
class SandboxSms:
    sms_id: str
    to: str
    text: str
    sender: str
    status_code: int = 100
    at: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))


class SmsSandbox:
    def __init__(self, port: int = 0, *, api_id: str = SANDBOX_API_ID, balance: float = 1000.0,
                 log_path: Path | None = None, auto_deliver: bool = False) -> None:
        self.api_id = api_id
        self.balance = balance
        self.log_path = log_path
        self.auto_deliver = auto_deliver
        self.messages: dict[str, SandboxSms] = {}
        self.rejected: dict[str, tuple[int, str]] = {}
        self.busy_next = 0
        self.http_error_next = 0
        self.slow_next = 0
        self.slow_seconds = 2.0
        self.callback_url = ""
        self.requests = 0
        self.lock = threading.Lock()
        self._ids = itertools.count(1)
        self.server = ThreadingHTTPServer(("127.0.0.1", port), _handler(self))
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True,
                                       name="sms-sandbox")

    @property
    def port(self) -> int:
        return self.server.server_address[1]

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> SmsSandbox:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def reject(self, phone: str, code: int = 207,
               text: str = "На этот номер нельзя отправлять сообщения") -> None:
        self.rejected["".join(c for c in phone if c.isdigit())] = (code, text)

    def sent_to(self, phone: str) -> list[SandboxSms]:
        number = "".join(c for c in phone if c.isdigit())
        with self.lock:
            return [m for m in self.messages.values() if m.to == number]

    def deliver(self, sms_id: str, code: int = 103) -> None:
        """The operator reports: store the code and call back if a callback is registered."""
        with self.lock:
            self.messages[sms_id].status_code = code
        if self.callback_url:
            data = {"data[0]": f"sms_status\n{sms_id}\n{code}\n{int(time.time())}"}
            try:
                httpx.post(self.callback_url, data=data, timeout=5)
            except httpx.HTTPError:
                pass  # SMS.ru retries callbacks; the poll covers a lost one

    # --- the API -------------------------------------------------------------------------
    def answer(self, path: str, params: dict[str, str]) -> tuple[int, dict, float]:
        """(HTTP status, JSON body, seconds to wait before answering)."""
        with self.lock:
            self.requests += 1
            if self.http_error_next:
                self.http_error_next -= 1
                return 503, {}, 0
            if params.get("api_id") != self.api_id:
                return 200, {"status": "ERROR", "status_code": 200,
                             "status_text": "Неправильный api_id"}, 0
            if path == "/my/balance":
                return 200, {"status": "OK", "status_code": 100, "balance": round(self.balance, 2)}, 0
            if path == "/sms/status":
                found = {}
                for sms_id in params.get("sms_id", "").split(","):
                    m = self.messages.get(sms_id)
                    code = m.status_code if m else -1
                    found[sms_id] = ({"status": "OK", "status_code": code,
                                      "status_text": DELIVERY_TEXTS.get(code, "")} if m else
                                     {"status": "ERROR", "status_code": -1,
                                      "status_text": "Сообщение не найдено"})
                return 200, {"status": "OK", "status_code": 100, "sms": found,
                             "balance": round(self.balance, 2)}, 0
            if path != "/sms/send":
                return 404, {}, 0
            if self.busy_next:
                self.busy_next -= 1
                return 200, {"status": "ERROR", "status_code": 220,
                             "status_text": "Сервис временно недоступен, попробуйте чуть позже"}, 0
            text = params.get("msg", "")
            if not text:
                return 200, {"status": "ERROR", "status_code": 203,
                             "status_text": "Нет текста сообщения"}, 0
            result = {}
            for number in [n for n in params.get("to", "").split(",") if n]:
                if number in self.rejected:
                    code, why = self.rejected[number]
                    result[number] = {"status": "ERROR", "status_code": code, "status_text": why}
                elif not (len(number) == 11 and number.isdigit() and number[0] == "7"):
                    result[number] = {"status": "ERROR", "status_code": 202,
                                      "status_text": "Неправильно указан номер телефона получателя"}
                else:
                    sms_id = f"{next(self._ids):06d}-{int(time.time()) % 10_000_000:07d}"
                    sms = SandboxSms(sms_id, number, text, params.get("from", ""))
                    self.messages[sms_id] = sms
                    self.balance -= PRICE_PER_SEGMENT * sms_segments(text)
                    result[number] = {"status": "OK", "status_code": 100, "sms_id": sms_id}
                    self._log(sms)
            delay = 0.0
            if self.slow_next:
                self.slow_next -= 1
                delay = self.slow_seconds
            body = {"status": "OK", "status_code": 100, "sms": result,
                    "balance": round(self.balance, 2)}
        if self.auto_deliver:
            for r in result.values():
                if r.get("sms_id"):
                    threading.Timer(1.0, self.deliver, args=(r["sms_id"],)).start()
        return 200, body, delay

    def _log(self, sms: SandboxSms) -> None:
        if self.log_path is None:
            return
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("a", encoding="utf-8") as out:
            out.write(f"{sms.at:%Y-%m-%d %H:%M:%S} UTC  +{sms.to}  [{sms.sms_id}]  {sms.text}\n")


def _handler(sandbox: SmsSandbox) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as a real gateway: one connection per client
        wbufsize = -1  # headers and body leave in one write (no Nagle/delayed-ACK stall)
        disable_nagle_algorithm = True

        def log_message(self, *args) -> None:  # quiet
            pass

        def _serve(self, params: dict[str, str]) -> None:
            status, body, delay = sandbox.answer(urlsplit(self.path).path, params)
            if delay:
                time.sleep(delay)
            payload = json.dumps(body, ensure_ascii=False).encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up waiting

        def do_GET(self) -> None:
            self._serve(dict(parse_qsl(urlsplit(self.path).query)))

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            form = dict(parse_qsl(self.rfile.read(length).decode()))
            self._serve({**dict(parse_qsl(urlsplit(self.path).query)), **form})

    return Handler
