"""Delivery reports from the SMS gateway (SMS.ru's callback): ``POST`` a form of ``data[N]`` lines
``sms_status\\n<sms id>\\n<code>\\n<unix time>``, answered ``100``.

The URL's last segment is a key derived from ``CENTRA_SECRET_KEY`` (``sms_callback_url()``
prints the whole URL), so only the gateway we gave it to can report; the reports go through
``tables.notifications.record_delivery``, the same as the worker's status polls.
"""

from __future__ import annotations

import hmac

from litestar import Request, post
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.response import Response

from providers.sms import parse_callback
from tables.notifications import SMS_CALLBACK_PATH, Delivery, record_delivery, sms_callback_key
from tables.text import clean_text

MAX_REPORTS = 100


@post(f"{SMS_CALLBACK_PATH}/{{key:str}}", name="sms_status_callback", status_code=200)
async def sms_status_callback(request: Request, key: FromPath[str]) -> Response:
    if not hmac.compare_digest(key, sms_callback_key()):
        raise NotFoundException()
    form = await request.form()
    # Without NUL and other control characters, as every form of the site (tables.text).
    items = [(clean_text(k), clean_text(v)) for k, v in form.multi_items()
             if isinstance(v, str)][:MAX_REPORTS]
    for sms_id, status in parse_callback(items):
        await record_delivery(sms_id[:200], Delivery(status.code, status.text, status.delivered,
                                                     status.failed))
    return Response("100", media_type="text/plain")
