"""The return page's re-read of an open card payment from the provider, at most one at a time."""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Awaitable, Callable

from providers.stripe_client import (
    ProviderError,
    provider,
)
from settings import get_settings
from tables.payments.payment import OPEN_STATUSES, Payment
from tables.payments.settlement import settle_payment

# The return page re-reads an open payment from the provider. Anonymous GETs of an open quick-pay
# result page must not each cost a provider call (up to TIMEOUT_SECONDS when it hangs): per process,
# one call per payment at a time (the others wait for it), its answer kept for a few seconds
# (settings: ``provider_refresh_cache_seconds``), and a page waits at most ``wait`` seconds for it.
_answered: dict[tuple[int, str], float] = {}  # (payment, intent) → monotonic time of the last answer


_in_flight: dict[tuple[int, str], asyncio.Task] = {}


_ANSWERED_MAX = 10_000


log = logging.getLogger(__name__)


async def _reread(key: tuple[int, str]) -> None:
    try:
        intent = await provider().retrieve_intent(key[1])
    except ProviderError:
        return  # the outage is remembered too (finally): nobody hammers a provider that is down
    else:
        await settle_payment(intent)
    finally:
        now = time.monotonic()
        if len(_answered) >= _ANSWERED_MAX:
            ttl = get_settings().provider_refresh_cache_seconds
            for stale in [k for k, at in _answered.items() if now - at > ttl]:
                del _answered[stale]
            if len(_answered) >= _ANSWERED_MAX:
                _answered.clear()
        _answered[key] = now


def _finished(key: tuple[int, str], task: asyncio.Task) -> None:
    if _in_flight.get(key) is task:
        del _in_flight[key]
    if not task.cancelled() and task.exception() is not None:
        log.warning("re-reading payment %s failed: %r", key[0], task.exception())


async def refresh_payment(payment_id: int, *, wait: float | None = None,
                          allow: Callable[[], Awaitable[bool]] | None = None,
                          max_age: float | None = None) -> Payment | None:
    """Re-read an open payment's intent from the provider and settle it (the return page).

    At most one provider call per payment at a time in this process, and none while the
    last answer is younger than ``provider_refresh_cache_seconds``: the database already
    holds what it said.

    :param wait: seconds to wait for the provider before answering with what the database
        holds (the call goes on and settles the payment when it answers); ``None`` waits.
    :param allow: asked before a new provider call (the pages' per-payment and per-address
        limits); ``False`` answers from the database.
    :param max_age: seconds a previous answer is reused; the setting when ``None``.
    """
    payment = await Payment.objects().where(Payment.id == payment_id).first()
    if payment is None or payment.status not in OPEN_STATUSES or not payment.provider_intent_id:
        return payment
    key = (payment.id, payment.provider_intent_id)
    task = _in_flight.get(key)
    if task is None:
        answered = _answered.get(key)
        ttl = get_settings().provider_refresh_cache_seconds if max_age is None else max_age
        if answered is not None and time.monotonic() - answered < ttl:
            return payment
        if allow is not None and not await allow():
            return payment
        task = _in_flight.get(key)  # another request may have started it meanwhile
        if task is None:
            task = asyncio.create_task(_reread(key))
            _in_flight[key] = task
            task.add_done_callback(functools.partial(_finished, key))
    try:
        await asyncio.wait_for(asyncio.shield(task), wait)
    except TimeoutError:
        return payment
    return await Payment.objects().where(Payment.id == payment_id).first()
