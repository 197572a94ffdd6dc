"""Reading submitted forms defensively: every value a bounded, stripped string."""

from __future__ import annotations

from litestar import Request

MAX_FIELD = 5000


async def form_fields(request: Request) -> dict[str, str]:
    """The posted form as plain strings (the last value of a repeated field wins)."""
    form = await request.form()
    fields: dict[str, str] = {}
    for key, value in form.multi_items():
        if isinstance(value, str):
            fields[key] = value[:MAX_FIELD]
    return fields
