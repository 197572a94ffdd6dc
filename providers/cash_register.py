"""An online cash register over ATOL Online's HTTP API (v5, FFD 1.2), with httpx.

The documented calls (``{base}`` is ``https://online.atol.ru/possystem/v5``):

- ``POST {base}/getToken`` ``{"login", "pass"}`` → ``{"token": "…", "error": null,
  "timestamp": "…"}`` (the token lives 24 h);
- ``POST {base}/{group_code}/sell`` (a «приход») or ``…/sell_refund`` («возврат прихода»),
  header ``Token``, body ``{"external_id", "receipt": {"client", "company", "items",
  "payments", "total"}, "timestamp": "dd.mm.yyyy HH:MM:SS"}`` → ``{"uuid": "…", "status":
  "wait", "error": null}``;
- ``GET {base}/{group_code}/report/{uuid}`` → ``{"status": "wait" | "done" | "fail",
  "payload": {"fiscal_document_attribute", "fiscal_document_number", "fn_number",
  "ecr_registration_number", "fiscal_receipt_number", "shift_number", "receipt_datetime",
  "total", "fns_site", "ofd_receipt_url", …}, "error": {…} | null}``.

An error is ``{"error": {"error_id", "code", "text", "type": "system" | "agent" |
"unknown"}}``; the codes this client acts on: 11/12/13/14 (token missing, wrong or
expired: a fresh token once), 32 (the receipt failed validation: never retry it), 33 (a
receipt with this ``external_id`` exists: the answer names the existing document's
``uuid``, so a retried ``sell`` after a lost answer finds the first document instead of
making a second one).

What the caller may do next is in the exception's class, like the message senders':
:class:`ReceiptRejected` (never retry), anything else (:class:`RegisterUnavailable`:
retry later with the same ``external_id``, which cannot register twice).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import httpx

from providers.errors import PermanentFailure

#: Token errors: get a fresh token and ask once more.
TOKEN_ERRORS = {11, 12, 13, 14}
VALIDATION_ERROR = 32
DUPLICATE_EXTERNAL_ID = 33


class ReceiptRejected(PermanentFailure):
    """The register refused this receipt (validation, bad credentials): sending it again fails again."""

    def __init__(self, code: int | None, text: str) -> None:
        super().__init__(f"{code}: {text}" if code is not None else text)
        self.code = code
        self.text = text


class RegisterUnavailable(Exception):
    """No answer, a timeout or a server error: try again later with the same ``external_id``."""


@dataclass(frozen=True)
class AtolConfig:
    base_url: str
    login: str
    password: str
    group_code: str
    timeout: float = 15.0


@dataclass(frozen=True)
class Registration:
    """The register took the document (or had it already: ``duplicate``)."""

    uuid: str
    duplicate: bool = False


@dataclass(frozen=True)
class Report:
    """Where a document stands: ``wait``, ``done`` (with the fiscal data) or ``fail``."""

    status: str
    payload: dict[str, Any] = field(default_factory=dict)
    error: str = ""


def _error(body: Any) -> tuple[int | None, str] | None:
    error = body.get("error") if isinstance(body, dict) else None
    if not error:
        return None
    code = error.get("code")
    return (int(code) if isinstance(code, int | str) and str(code).isdigit() else None,
            str(error.get("text") or "ошибка без описания"))


class AtolClient:
    """One register group's client; keeps its token between calls."""

    def __init__(self, config: AtolConfig, *, client: httpx.AsyncClient | None = None) -> None:
        self.config = config
        self.base = config.base_url.rstrip("/")
        self.http = client or httpx.AsyncClient(timeout=config.timeout)
        self._token: str | None = None

    async def aclose(self) -> None:
        await self.http.aclose()

    async def _call(self, method: str, path: str, json: dict | None = None,
                    headers: dict | None = None) -> tuple[int, Any]:
        try:
            response = await self.http.request(method, f"{self.base}/{path}", json=json,
                                               headers=headers)
        except httpx.HTTPError as exc:
            raise RegisterUnavailable(f"{type(exc).__name__}: {exc}".rstrip(": ")) from exc
        if response.status_code >= 500:
            raise RegisterUnavailable(f"HTTP {response.status_code}")
        try:
            return response.status_code, response.json()
        except ValueError as exc:
            raise RegisterUnavailable(f"HTTP {response.status_code}: ответ не JSON") from exc

    async def token(self, *, fresh: bool = False) -> str:
        if self._token and not fresh:
            return self._token
        _, body = await self._call("POST", "getToken",
                                   {"login": self.config.login, "pass": self.config.password})
        error = _error(body)
        if error or not body.get("token"):
            code, text = error or (None, "касса не выдала токен")
            raise ReceiptRejected(code, f"вход в кассу не выполнен: {text}")
        self._token = str(body["token"])
        return self._token

    async def _with_token(self, method: str, path: str, json: dict | None = None) -> tuple[int, Any]:
        for fresh in (False, True):
            token = await self.token(fresh=fresh)
            status, body = await self._call(method, path, json, {"Token": token})
            error = _error(body)
            if not (status == 401 or (error and error[0] in TOKEN_ERRORS)) or fresh:
                return status, body
        raise AssertionError("unreachable")

    async def register(self, operation: str, document: dict[str, Any]) -> Registration:
        """Send a ``sell`` or ``sell_refund`` document (with its ``external_id``).

        :raises ReceiptRejected: the register refused it (validation): never retry as is.
        :raises RegisterUnavailable: no answer: retry later, the ``external_id`` keeps it single.
        """
        if operation not in ("sell", "sell_refund"):
            raise ValueError(f"unknown operation {operation!r}")
        status, body = await self._with_token("POST", f"{self.config.group_code}/{operation}", document)
        error = _error(body)
        if error is None and body.get("uuid"):
            return Registration(str(body["uuid"]))
        if error and error[0] == DUPLICATE_EXTERNAL_ID and body.get("uuid"):
            return Registration(str(body["uuid"]), duplicate=True)
        code, text = error or (None, f"HTTP {status} без номера документа")
        if code == VALIDATION_ERROR or 400 <= status < 500:
            raise ReceiptRejected(code, text)
        raise RegisterUnavailable(f"{code}: {text}")

    async def report(self, uuid: str) -> Report:
        """The document's state; ``done`` carries the fiscal data in ``payload``."""
        _, body = await self._with_token("GET", f"{self.config.group_code}/report/{uuid}")
        state = str(body.get("status") or "")
        error = _error(body)
        if state not in ("wait", "done", "fail"):
            raise RegisterUnavailable(f"неизвестное состояние документа: {error or state!r}")
        return Report(state, body.get("payload") or {}, f"{error[0]}: {error[1]}" if error else "")
