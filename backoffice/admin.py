"""Build the Piccolo Admin ASGI app once."""

from __future__ import annotations

from typing import Any

from piccolo_admin.endpoints import create_admin
from piccolo_admin.translations.data import ENGLISH, RUSSIAN

from backoffice.forms import FORMS
from backoffice.tables import TABLE_CONFIGS
from settings import Settings


def create_backoffice(settings: Settings) -> Any:
    return create_admin(
        tables=TABLE_CONFIGS,
        forms=FORMS,
        site_name="Centra — офис",
        translations=[RUSSIAN, ENGLISH],
        default_language_code="ru",
        production=settings.production,
        allowed_hosts=list(settings.allowed_hosts),
        auto_include_related=False,
        sidebar_links={"Отчёты": "/reports/"},
    )
