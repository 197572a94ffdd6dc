"""Russian phone numbers: one stored form, ``+7XXXXXXXXXX``."""

from __future__ import annotations

import re

_ALLOWED = re.compile(r"^[\d\s()+\-.]*$")
# National numbers start with 3/4/8 (landline and free-phone codes) or 9 (mobile).
_NATIONAL_FIRST_DIGITS = "3489"


def normalize_phone(text: str | None) -> str | None:
    """``+7XXXXXXXXXX`` for a valid Russian number, else ``None``.

    Accepts the usual ways people type it: ``8 (913) 123-45-67``, ``+7 913 1234567``,
    ``9131234567``. A local number without its area code is refused: it cannot
    be dialled from the office reliably.

    >>> normalize_phone("8 (913) 123-45-67")
    '+79131234567'
    """
    value = (text or "").strip()
    if not value or len(value) > 30 or not _ALLOWED.match(value):
        return None
    if "+" in value[1:] or (value.startswith("+") and not value.startswith("+7")):
        return None
    digits = "".join(c for c in value if c.isdigit())
    if len(digits) == 11 and digits[0] in "78":
        digits = digits[1:]
    elif len(digits) != 10 or value.startswith("+"):
        return None
    if digits[0] not in _NATIONAL_FIRST_DIGITS:
        return None
    return "+7" + digits


def is_mobile(phone: str | None) -> bool:
    """Whether a stored number can take an SMS: a valid mobile number by the numbering plan.

    Landlines (``+7 3843 …``), free-phone (``8-800``) and numbers the plan does not know
    are not: an SMS to them is lost or billed for nothing.

    >>> is_mobile("+79131234567"), is_mobile("+73843712345"), is_mobile("+78001234567")
    (True, False, False)
    """
    import phonenumbers

    try:
        number = phonenumbers.parse(phone or "", "RU")
    except phonenumbers.NumberParseException:
        return False
    return phonenumbers.is_valid_number(number) and phonenumbers.number_type(number) in (
        phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE)
