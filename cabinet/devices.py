"""Devices a contract has logged in from: a signed cookie that lets the owner in through a lock.

Anyone can lock a contract with five wrong passwords (numbers are sequential). The browser that
logged in successfully before carries ``centra_device`` — the contract number, a random device id
and the day it was issued, signed — and its logins skip the contract's lock and counter; their
wrong passwords are counted per device instead (``LOGIN_PER_DEVICE``), so the cookie is no
licence to guess either.
"""

from __future__ import annotations

import secrets
import time

from litestar import Request
from litestar.datastructures import Cookie

from cabinet.signing import sign, unsign
from settings import get_settings

DEVICE_COOKIE = "centra_device"
DEVICE_DAYS = 180
_PURPOSE = "device"


def device_cookie(contract_number: str, device_id: str | None = None, *,
                  now: float | None = None) -> Cookie:
    """A (re)issued cookie for this contract; a known device keeps its id."""
    issued = int((now if now is not None else time.time()) // 86400)
    payload = f"{contract_number}.{device_id or secrets.token_urlsafe(12)}.{issued}"
    return Cookie(key=DEVICE_COOKIE, value=sign(_PURPOSE, payload, length=32), path="/cabinet",
                  httponly=True, samesite="lax", secure=get_settings().production,
                  max_age=DEVICE_DAYS * 86400)


def trusted_device(request: Request, contract_number: str, *, now: float | None = None) -> str | None:
    """The device id when this browser holds a valid cookie for ``contract_number``."""
    payload = unsign(_PURPOSE, request.cookies.get(DEVICE_COOKIE, "")[:200], length=32)
    if payload is None:
        return None
    contract, device_id, issued = [*payload.split("."), "", "", ""][:3]
    today = int((now if now is not None else time.time()) // 86400)
    if contract != contract_number or not issued.isdigit() or not 0 <= today - int(issued) <= DEVICE_DAYS:
        return None
    return device_id or None
