"""The provider's webhook: verify, check the event's shape, apply it once."""

from __future__ import annotations

from typing import Any

from db.engine import MAX_ROW_ID, write_transaction
from providers.stripe_client import (
    verify_webhook,
)
from tables.payments.events import record_event
from tables.payments.refunds import reverse_failed_refund
from tables.payments.settlement import settle_payment


class MalformedEvent(ValueError):
    """A correctly signed event whose content is not what the provider documents."""


def _is_text(value: Any, *, none: bool = True) -> bool:
    return (value is None and none) or isinstance(value, str)


def event_problem(event: dict[str, Any]) -> str | None:
    """What makes a verified event unusable (``None``: nothing), checked before anything reads it.

    Only the fields we read are checked, with the types the provider documents: a wrong type
    otherwise fails deep in the processing (a 500, and the provider retries it for days).
    """
    if not _is_text(event.get("type"), none=False) or len(event["id"]) > 100:
        return "type or id"
    data = event.get("data")
    if not isinstance(data, dict) or not isinstance(data.get("object"), dict):
        return "data.object is not an object"
    obj = data["object"]
    if not _is_text(obj.get("id")) or len(obj.get("id") or "") > 100 or not _is_text(obj.get("object")):
        return "object id"
    if obj.get("object") == "payment_intent":
        if not str(obj.get("id") or "").startswith("pi_") or not _is_text(obj.get("status")):
            return "payment intent id or status"
        if obj.get("amount") is not None and (type(obj["amount"]) is not int or obj["amount"] < 0):
            return "amount"
        if not _is_text(obj.get("currency")) or not _is_text(obj.get("cancellation_reason")):
            return "currency"
        metadata = obj.get("metadata")
        if metadata is not None and not isinstance(metadata, dict):
            return "metadata"
        ours = str((metadata or {}).get("centra_payment", ""))
        if ours.isdigit() and int(ours) > MAX_ROW_ID:
            return "metadata.centra_payment"
        if not isinstance(obj.get("last_payment_error"), (dict, type(None))):
            return "last_payment_error"
        if not isinstance(obj.get("latest_charge"), (dict, str, type(None))):
            return "latest_charge"
    if obj.get("object") == "refund" and not _is_text(obj.get("status")):
        return "refund status"
    return None


async def handle_webhook(payload: bytes, signature: str | None) -> str:
    """Verify and apply one provider event; raises ``InvalidWebhook`` for a bad signature and
    ``MalformedEvent`` for a signed event we cannot read (recorded with the outcome
    "malformed", visible in the admin's list of provider events).

    :returns: what happened ("processed", "duplicate", "ignored") — for logs and tests.
    """
    event = verify_webhook(payload, signature)
    problem = event_problem(event)
    if problem:
        obj = (event.get("data") or {}).get("object") if isinstance(event.get("data"), dict) else None
        object_id = obj.get("id") if isinstance(obj, dict) else None
        async with write_transaction():
            await record_event(str(event["id"]), str(event.get("type") or ""),
                               object_id if isinstance(object_id, str) else "", outcome="malformed")
        raise MalformedEvent(problem)
    event_type = str(event.get("type") or "")
    obj = (event.get("data") or {}).get("object") or {}
    if event_type.startswith("payment_intent.") and obj.get("object") == "payment_intent":
        result = await settle_payment(obj, event_id=event["id"], event_type=event_type)
        return "duplicate" if result.duplicate_event else "processed"
    if obj.get("object") == "refund" and obj.get("status") in ("failed", "canceled"):
        # refund.failed / charge.refund.updated: accepted earlier, bounced by the card network.
        reason = str(obj.get("failure_reason") or obj.get("status"))
        if await reverse_failed_refund(str(obj.get("id") or ""), reason, event_id=event["id"],
                                       event_type=event_type):
            return "processed"
    async with write_transaction():
        await record_event(event["id"], event_type, str(obj.get("id") or ""), outcome="ignored")
    return "ignored"
