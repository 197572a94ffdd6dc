"""HMAC signatures for values the cabinet hands to browsers (confirmation links, device cookies).

One key (``CENTRA_SECRET_KEY``) and one scheme; the ``purpose`` keeps a value signed for one use
from being accepted for another.
"""

from __future__ import annotations

import functools
import hashlib
import hmac

from settings import get_settings


@functools.cache
def _key() -> bytes:
    # Read once per process: without CENTRA_SECRET_KEY each Settings() gets a random one.
    return get_settings().secret_key.get_secret_value().encode()


def signature(purpose: str, payload: str, *, length: int = 24) -> str:
    return hmac.new(_key(), f"{purpose}:{payload}".encode(), hashlib.sha256).hexdigest()[:length]


def sign(purpose: str, payload: str, *, length: int = 24) -> str:
    """``payload.signature``."""
    return f"{payload}.{signature(purpose, payload, length=length)}"


def unsign(purpose: str, token: str, *, length: int = 24) -> str | None:
    """The payload of a token made by ``sign`` for this purpose, or None."""
    payload, _, digest = (token or "").rpartition(".")
    if not payload or not hmac.compare_digest(signature(purpose, payload, length=length), digest):
        return None
    return payload
