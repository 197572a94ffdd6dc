"""The internal endpoint FreeRADIUS's rlm_rest calls (docs/network.md).

``POST /radius/authorize`` and ``POST /radius/accounting`` take rlm_rest's JSON body
(``{"User-Name": {"type": "string", "value": ["…"]}, …}``) and the asking NAS's address in
``?client=`` (FreeRADIUS's ``Packet-Src-IP-Address``: the source whose shared secret it
verified). Only the addresses in ``CENTRA_RADIUS_CLIENTS`` presenting the API key (HTTP basic
auth) are answered; everyone else gets a plain 404, as if nothing were there.

rlm_rest reads the status code: 200 with attributes → ok (the password to check, the reply),
404 → notfound (unknown login: Reject), 401 → reject (with a Reply-Message), 204 → ok
(accounting stored), 5xx → fail (FreeRADIUS then does not acknowledge accounting, so the NAS
sends it again).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import logging
from typing import Any

from litestar import Request, post
from litestar.response import Response

from settings import Settings, get_settings
from tables.radius import account, authorize_request

log = logging.getLogger("centra.radius")
PATH = "/radius"
API_USER = "freeradius"


def api_key(settings: Settings | None = None) -> str:
    """The key FreeRADIUS presents: ``CENTRA_RADIUS_API_KEY``, or one derived from the secret key."""
    settings = settings or get_settings()
    explicit = settings.radius_api_key.get_secret_value()
    if explicit:
        return explicit
    secret = settings.secret_key.get_secret_value().encode()
    return hmac.new(secret, b"centra-radius-api", hashlib.sha256).hexdigest()


def _allowed(request: Request) -> bool:
    settings = get_settings()
    if (request.client.host if request.client else "") not in settings.radius_clients:
        return False
    scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return False
    try:
        user, _, password = base64.b64decode(encoded, validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return False
    return hmac.compare_digest(f"{user}:{password}".encode(), f"{API_USER}:{api_key(settings)}".encode())


def _attributes(body: Any) -> dict[str, str]:
    """rlm_rest's JSON → ``{name: first value}`` (plain ``{name: value}`` is read too)."""
    if not isinstance(body, dict):
        return {}
    flat: dict[str, str] = {}
    for name, item in body.items():
        value = item.get("value") if isinstance(item, dict) else item
        if isinstance(value, list):
            value = value[0] if value else ""
        if value is not None:
            flat[str(name)] = str(value)
    return flat


async def _read(request: Request) -> dict[str, str] | None:
    try:
        return _attributes(await request.json())
    except ValueError:
        return None


def _not_found() -> Response:
    return Response(b"", status_code=404)


async def _skip_page_setup(request: Request) -> None:
    """Replaces the app's ``before_request`` (site info, cabinet session): a machine calls."""


@post(f"{PATH}/authorize", before_request=_skip_page_setup, status_code=200)
async def radius_authorize(request: Request) -> Response:
    if not _allowed(request):
        return _not_found()
    attrs = await _read(request)
    if attrs is None:
        return Response({"error": "bad body"}, status_code=400)
    client = request.query_params.get("client") or attrs.get("NAS-IP-Address", "")
    decision = await authorize_request(attrs, client)
    if decision.outcome == "unknown":
        log.info("radius: unknown login %r from %s", attrs.get("User-Name", ""), client)
        return Response(b"", status_code=404)
    if decision.outcome == "reject":
        log.info("radius: reject %r from %s: %s", attrs.get("User-Name", ""), client, decision.reason)
        return Response({"reply:Reply-Message": decision.reason}, status_code=401)
    return Response({**decision.control, **decision.reply}, status_code=200)


@post(f"{PATH}/accounting", before_request=_skip_page_setup, status_code=200)
async def radius_accounting(request: Request) -> Response:
    if not _allowed(request):
        return _not_found()
    attrs = await _read(request)
    if attrs is None:
        return Response({"error": "bad body"}, status_code=400)
    client = request.query_params.get("client") or attrs.get("NAS-IP-Address", "")
    await account(attrs, client)
    return Response(None, status_code=204)


ROUTES = [radius_authorize, radius_accounting]
