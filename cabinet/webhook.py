"""``POST /payments/webhook``: signed events from the card provider (excluded from CSRF, signed instead)."""

from __future__ import annotations

import logging

from litestar import Request, post
from litestar.response import Response

from providers.stripe_client import InvalidWebhook
from tables.payments.webhook import MalformedEvent, handle_webhook

log = logging.getLogger("centra.payments")


@post("/payments/webhook", status_code=200)
async def payment_webhook(request: Request) -> Response:
    """Verify the signature on the raw body, then apply the event once.

    A bad signature gets 400 and changes nothing; a signed event we cannot read gets 400 and
    is recorded (outcome "malformed"); a processing error gets 500 so the provider retries;
    a duplicate gets 200.
    """
    body = await request.body()
    try:
        outcome = await handle_webhook(body, request.headers.get("stripe-signature"))
    except InvalidWebhook as exc:
        log.warning("payment webhook refused: %s", exc)
        return Response({"error": "invalid signature"}, status_code=400)
    except MalformedEvent as exc:
        # Signed but unreadable: retrying will not fix it. Recorded as "malformed".
        log.error("payment webhook: malformed event (%s)", exc)
        return Response({"error": "malformed event"}, status_code=400)
    return Response({"received": True, "outcome": outcome}, status_code=200)
