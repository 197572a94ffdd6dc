"""Pieces shared by the request action forms."""

from __future__ import annotations

from typing import Any

from pydantic import Field

REQUESTS_GROUP = "Заявки"


def number_field() -> Any:
    return Field(min_length=1, max_length=20, title="Номер заявки",
                 description="Например Z-000123 (можно просто 123)")
