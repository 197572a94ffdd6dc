"""A local online cash register speaking ATOL Online's v5 API (see ``providers/cash_register.py``).

Tests start it in a thread on 127.0.0.1. It issues tokens for its login, takes ``sell`` and
``sell_refund`` documents, keeps one document per ``external_id`` (a second one answers error
33 with the first one's ``uuid``), checks what the real service checks first (client contact,
company INN and place, totals that add up: error 32), and reports each document ``done`` with
fiscal data made up in the documented shapes. It can be told to misbehave: take a document
and answer too late (``slow_next``), answer HTTP 503 (``http_error_next``), expire the token
(``expire_tokens``), or fail a document at the fiscal drive (``fail_next``).
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import threading
import time
import uuid as uuidlib
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

LOGIN = "centra-atol-sandbox"
PASSWORD = "sandbox-pass"
GROUP = "centra-group"
PREFIX = "/possystem/v5"


@dataclass
class SandboxDocument:
    uuid: str
    operation: str
    external_id: str
    body: dict
    number: int
    status: str = "done"
    at: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))


class AtolSandbox:
    def __init__(self, port: int = 0) -> None:
        self.documents: dict[str, SandboxDocument] = {}
        self.by_external: dict[str, str] = {}
        self.tokens: set[str] = set()
        self.slow_next = 0
        self.slow_seconds = 2.0
        self.http_error_next = 0
        self.fail_next = 0
        self.requests: list[str] = []
        self.lock = threading.Lock()
        self._numbers = itertools.count(101)
        self.server = ThreadingHTTPServer(("127.0.0.1", port), _handler(self))
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True,
                                       name="atol-sandbox")

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}{PREFIX}"

    def start(self) -> AtolSandbox:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def expire_tokens(self) -> None:
        with self.lock:
            self.tokens.clear()

    # --- the API -------------------------------------------------------------------------
    def answer(self, method: str, path: str, token: str, body: dict) -> tuple[int, dict, float]:
        with self.lock:
            self.requests.append(f"{method} {path}")
            if self.http_error_next:
                self.http_error_next -= 1
                return 503, {}, 0
            if not path.startswith(PREFIX + "/"):
                return 404, _error(None, "Not found"), 0
            parts = path[len(PREFIX) + 1:].split("/")
            if parts == ["getToken"] and method == "POST":
                if body.get("login") != LOGIN or body.get("pass") != PASSWORD:
                    return 401, _error(12, "Неверный логин или пароль"), 0
                token = uuidlib.uuid4().hex
                self.tokens.add(token)
                return 200, {"error": None, "token": token, "timestamp": _stamp()}, 0
            if not token or token not in self.tokens:
                return 401, _error(11 if token else 13, "Передан некорректный или устаревший токен"), 0
            if len(parts) < 2 or parts[0] != GROUP:
                return 400, _error(2, "Неверный код группы"), 0
            if method == "POST" and parts[1] in ("sell", "sell_refund") and len(parts) == 2:
                return self._register(parts[1], body)
            if method == "GET" and parts[1] == "report" and len(parts) == 3:
                return self._report(parts[2])
            return 404, _error(None, "Not found"), 0

    def _register(self, operation: str, body: dict) -> tuple[int, dict, float]:
        external_id = str(body.get("external_id") or "")
        if external_id in self.by_external:
            return 409, {**_error(33, f"В системе существует чек с external_id: {external_id}"),
                         "uuid": self.by_external[external_id], "status": "fail"}, 0
        problem = _invalid(body)
        if problem:
            return 400, {**_error(32, f"Ошибка валидации входного чека: {problem}"), "status": "fail"}, 0
        document = SandboxDocument(str(uuidlib.uuid4()), operation, external_id, body,
                                   next(self._numbers))
        if self.fail_next:
            self.fail_next -= 1
            document.status = "fail"
        self.documents[document.uuid] = document
        self.by_external[external_id] = document.uuid
        delay = 0.0
        if self.slow_next:
            self.slow_next -= 1
            delay = self.slow_seconds
        return 200, {"uuid": document.uuid, "status": "wait", "error": None, "timestamp": _stamp()}, delay

    def _report(self, uuid: str) -> tuple[int, dict, float]:
        document = self.documents.get(uuid)
        if document is None:
            return 400, {**_error(34, f"Не найден чек с uuid: {uuid}"), "status": "fail"}, 0
        if document.status == "fail":
            return 200, {"uuid": uuid, "status": "fail", "payload": None,
                         "error": {"code": 1, "text": "Ошибка ККТ: исчерпан ресурс ФН", "type": "agent"},
                         "timestamp": _stamp()}, 0
        receipt = document.body["receipt"]
        return 200, {
            "uuid": uuid, "status": "done", "error": None, "timestamp": _stamp(),
            "group_code": GROUP, "external_id": document.external_id,
            "payload": {
                "total": receipt["total"], "fns_site": "www.nalog.gov.ru",
                "fn_number": "9999078900012345", "shift_number": 7,
                "receipt_datetime": document.at.strftime("%d.%m.%Y %H:%M:%S"),
                "fiscal_receipt_number": document.number, "fiscal_document_number": document.number + 1000,
                "ecr_registration_number": "0000000001012345",
                "fiscal_document_attribute": 3000000000 + document.number,
                "ofd_inn": "7704211201",
                "ofd_receipt_url": f"https://check.ofd.example/?fd={document.number + 1000}",
            },
        }, 0


def _stamp() -> str:
    return dt.datetime.now().strftime("%d.%m.%Y %H:%M:%S")


def _error(code: int | None, text: str) -> dict:
    return {"error": {"error_id": str(uuidlib.uuid4()), "code": code, "text": text, "type": "system"},
            "timestamp": _stamp()}


def _invalid(body: dict) -> str:
    """What the service's validation would name first, or ''."""
    receipt = body.get("receipt")
    if not body.get("external_id") or not isinstance(receipt, dict):
        return "external_id и receipt обязательны"
    client, company = receipt.get("client") or {}, receipt.get("company") or {}
    if not (client.get("email") or client.get("phone")):
        return "receipt.client: нужен email или phone"
    inn = str(company.get("inn") or "")
    if not (inn.isdigit() and len(inn) in (10, 12)):
        return "receipt.company.inn: ИНН из 10 или 12 цифр"
    if not company.get("payment_address") or not company.get("sno"):
        return "receipt.company: payment_address и sno обязательны"
    items, payments = receipt.get("items") or [], receipt.get("payments") or []
    if not items or not payments:
        return "receipt.items и receipt.payments не могут быть пустыми"
    total = receipt.get("total")
    if round(sum(i.get("sum", 0) for i in items), 2) != total or \
            round(sum(p.get("sum", 0) for p in payments), 2) != total:
        return "receipt.total не равен сумме позиций и оплат"
    for item in items:
        if not item.get("name") or not isinstance(item.get("vat"), dict) or "measure" not in item:
            return "receipt.items: name, measure и vat обязательны"
    return ""


def _handler(sandbox: AtolSandbox) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:  # quiet
            pass

        def _serve(self, method: str) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            try:
                body = json.loads(raw) if raw else {}
            except ValueError:
                body = {}
            status, answer, delay = sandbox.answer(method, urlsplit(self.path).path,
                                                   self.headers.get("Token", ""), body)
            if delay:
                time.sleep(delay)
            payload = json.dumps(answer, ensure_ascii=False).encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up waiting

        def do_GET(self) -> None:
            self._serve("GET")

        def do_POST(self) -> None:
            self._serve("POST")

    return Handler
