"""Reading submitted forms defensively: every value a bounded, stripped string.

Every cabinet and public form post reads its fields here (``tests/cabinet/test_form_text.py``
checks that no handler reads ``request.form()`` itself).
"""

from __future__ import annotations

from litestar import Request

from tables.text import clean_text

MAX_FIELD = 5000


NOT_TEXT = "Заполните форму текстом: файлы здесь не принимаются."


async def form_fields(request: Request, *, text: tuple[str, ...] = ()) -> dict[str, str]:
    """The posted form as plain strings (the last value of a repeated field wins), without
    NUL and other control characters (PostgreSQL refuses NUL: one engine must not 500 where
    the other stores it).  Files are left out.

    :param text: fields that must not be files: a file there raises ``ValueError``.
    """
    form = await request.form()
    fields: dict[str, str] = {}
    for key, value in form.multi_items():
        if isinstance(value, str):
            fields[clean_text(key)] = clean_text(value)[:MAX_FIELD]
        elif key in text:
            raise ValueError(NOT_TEXT)
    return fields
