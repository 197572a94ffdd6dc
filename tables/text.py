"""Text from outside (forms, the admin's JSON) made storable the same way on both engines."""

from __future__ import annotations

import re
from typing import Any

# NUL and the other C0 controls except tab, line feed and carriage return, DEL, and lone
# UTF-16 surrogates (valid in JSON's "\ud800", not encodable as UTF-8). PostgreSQL refuses
# NUL in text (a 500) and the driver cannot encode a surrogate, while SQLite stored both
# silently; none of them is ever meant in a name, an address or a message.
_UNSTORABLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")


def clean_text(value: str) -> str:
    """``value`` without the characters no text column should hold.

    >>> clean_text("Иван\\x00ов\\tИван")
    'Иванов\\tИван'
    """
    return _UNSTORABLE.sub("", value)


def clean_values(value: Any) -> Any:
    """:func:`clean_text` applied to every string in a (nested) dict/list/tuple; other values as they are."""
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, dict):
        return {clean_values(k): clean_values(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(clean_values(v) for v in value)
    return value
