"""SMS over an HTTP gateway in the SMS.ru style (httpx).

The documented shapes (``json=1``): ``POST /sms/send`` with ``api_id``, ``to``,
``msg`` [, ``from``] answers ``{"status": "OK", "status_code": 100, "sms":
{"79131234567": {"status": "OK", "status_code": 100, "sms_id": "…"}},
"balance": 4122.56}``; a number the gateway refuses has ``"status": "ERROR"`` and
its own ``status_code``/``status_text`` inside ``sms``; a refused request has
them at the top (``200`` wrong api_id, ``201`` no money, ``220`` service busy).
``GET /sms/status?sms_id=…`` answers the same envelope with the delivery code
per id (``103`` delivered, ``104``–``108``/``150`` not delivered); ``GET
/my/balance`` answers ``{"status": "OK", "status_code": 100, "balance": …}``.
Delivery reports may also arrive as a callback: a form POST with ``data[N]`` =
``"sms_status\\n<sms_id>\\n<code>\\n<unix time>"``, to be answered ``100``.

Errors are sorted by what the caller may do next: :class:`SmsRejected` (this
message will never go: do not retry), :class:`SmsTemporaryError` (it did not go:
retry later), :class:`SmsMaybeSent` (the request may have reached the gateway:
retrying could text the subscriber twice, so do not).
"""

from __future__ import annotations

from dataclasses import dataclass

import httpx

from providers.errors import MaybeSent, PermanentFailure

DELIVERED = 103
#: Delivery codes after which nothing changes any more.
FINAL_FAILURES = {104, 105, 106, 107, 108, 150}
DELIVERY_TEXTS = {
    -1: "сообщение не найдено",
    100: "в очереди у оператора связи",
    101: "передаётся оператору",
    102: "отправлено, в пути",
    103: "доставлено",
    104: "не доставлено: истекло время жизни",
    105: "не доставлено: удалено оператором",
    106: "не доставлено: сбой в телефоне",
    107: "не доставлено: неизвестная причина",
    108: "не доставлено: отклонено",
    150: "не доставлено: страна не обслуживается",
}
#: Request/number errors that will pass later (money, limits, a busy service).
TEMPORARY_CODES = {201, 206, 220, 230, 231, 232, 233}
#: One segment: 70 characters in UCS-2 (any Cyrillic), 160 in the GSM 7-bit alphabet.
GSM7 = set("@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZ"
           "ÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà")


def sms_segments(text: str) -> int:
    """How many SMS a text takes (concatenated parts hold 67 / 153 characters)."""
    single, part = (160, 153) if set(text) <= GSM7 else (70, 67)
    if len(text) <= single:
        return 1
    return -(-len(text) // part)


class SmsRejected(PermanentFailure):
    """The gateway refused this message for good (bad number, stop list, text)."""

    def __init__(self, code: int, text: str) -> None:
        super().__init__(f"{code}: {text}")
        self.code = code


class SmsTemporaryError(Exception):
    """The message was not taken now (gateway down or busy, no money, a limit): retry later."""


class SmsMaybeSent(MaybeSent):
    """The request may have been taken (no answer after it was sent): do not send again."""


@dataclass(frozen=True)
class SmsConfig:
    api_id: str
    base_url: str = "https://sms.ru"
    sender: str = ""
    timeout: float = 15.0


@dataclass(frozen=True)
class SmsAccepted:
    sms_id: str
    status_code: int
    balance: float | None


@dataclass(frozen=True)
class DeliveryStatus:
    code: int
    text: str

    @property
    def delivered(self) -> bool:
        return self.code == DELIVERED

    @property
    def failed(self) -> bool:
        return self.code in FINAL_FAILURES


def gateway_number(phone: str) -> str:
    """``+79131234567`` → ``79131234567`` (the gateway's form)."""
    return "".join(c for c in phone if c.isdigit())


def parse_callback(form_items: list[tuple[str, str]]) -> list[tuple[str, DeliveryStatus]]:
    """Delivery reports from a callback form (``data[0]=sms_status\\n<id>\\n<code>\\n<time>``)."""
    reports = []
    for key, value in form_items:
        if not key.startswith("data"):
            continue
        lines = value.replace("\r", "").split("\n")
        if len(lines) >= 3 and lines[0] == "sms_status":
            try:
                code = int(lines[2])
            except ValueError:
                continue
            reports.append((lines[1], DeliveryStatus(code, DELIVERY_TEXTS.get(code, str(code)))))
    return reports


class SmsRuClient:
    """The gateway's three calls; one ``httpx.AsyncClient`` per instance."""

    def __init__(self, config: SmsConfig, *, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.config = config
        self.http = httpx.AsyncClient(
            base_url=config.base_url.rstrip("/"), transport=transport,
            timeout=httpx.Timeout(config.timeout, connect=min(5.0, config.timeout)),
        )

    async def aclose(self) -> None:
        await self.http.aclose()

    async def _call(self, method: str, path: str, params: dict) -> dict:
        data = {"api_id": self.config.api_id, "json": "1", **params}
        try:
            if method == "POST":
                answer = await self.http.post(path, data=data)
            else:
                answer = await self.http.get(path, params=data)
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            raise SmsTemporaryError(f"шлюз недоступен: {type(exc).__name__}") from exc
        except httpx.TransportError as exc:  # read/write timeouts, a cut connection
            raise SmsMaybeSent(f"шлюз не ответил: {type(exc).__name__}") from exc
        if answer.status_code >= 500 or answer.status_code == 429:
            raise SmsTemporaryError(f"шлюз ответил HTTP {answer.status_code}")
        try:
            body = answer.json()
        except ValueError as exc:
            raise SmsMaybeSent(f"непонятный ответ шлюза (HTTP {answer.status_code})") from exc
        if not isinstance(body, dict):
            raise SmsMaybeSent("непонятный ответ шлюза")
        if body.get("status") != "OK":
            code = int(body.get("status_code") or 0)
            text = str(body.get("status_text") or "ошибка шлюза")
            if code in TEMPORARY_CODES:
                raise SmsTemporaryError(f"{code}: {text}")
            raise SmsRejected(code, text)
        return body

    async def send(self, phone: str, text: str) -> SmsAccepted:
        """Hand one SMS to the gateway.

        :raises SmsRejected, SmsTemporaryError, SmsMaybeSent: see the module's text.
        """
        number = gateway_number(phone)
        params = {"to": number, "msg": text}
        if self.config.sender:
            params["from"] = self.config.sender
        body = await self._call("POST", "/sms/send", params)
        result = (body.get("sms") or {}).get(number)
        if not isinstance(result, dict):
            raise SmsMaybeSent("шлюз не сообщил о номере")
        if result.get("status") != "OK":
            code = int(result.get("status_code") or 0)
            text = str(result.get("status_text") or "номер отклонён")
            if code in TEMPORARY_CODES:
                raise SmsTemporaryError(f"{code}: {text}")
            raise SmsRejected(code, text)
        return SmsAccepted(sms_id=str(result["sms_id"]), status_code=int(result["status_code"]),
                           balance=body.get("balance"))

    async def status(self, sms_id: str) -> DeliveryStatus:
        body = await self._call("GET", "/sms/status", {"sms_id": sms_id})
        result = (body.get("sms") or {}).get(sms_id) or {}
        code = int(result.get("status_code") or -1)
        return DeliveryStatus(code, DELIVERY_TEXTS.get(code, str(result.get("status_text") or code)))

    async def balance(self) -> float:
        """The account's balance in roubles."""
        return float((await self._call("GET", "/my/balance", {}))["balance"])
