"""Every staff page at /office/ is in the browser battery's registry (tests/e2e/checked_pages.py),
so axe-core and the layout checks cover a page added later without anyone remembering to."""

from __future__ import annotations

import re

from tests.e2e.checked_pages import CHECKED_PAGES, STAFF


def _shape(path: str) -> str:
    path = path.split("?")[0].rstrip("/") or "/"
    return re.sub(r"\{[^}]+\}", "{}", path)


def test_every_office_page_is_in_the_browser_registry(app):
    office_pages = {
        _shape(route.path) for route in app.routes
        if route.path.startswith("/office") and not route.path.startswith("/office/static")
        and "GET" in getattr(route, "methods", set())
        and not route.path.endswith(".pdf")  # downloads: the site walk fetches each one it finds linked
    }
    assert len(office_pages) >= 10
    checked = {_shape(c.path) for c in CHECKED_PAGES if c.who == STAFF}
    assert office_pages - checked == set(), "add these /office pages to CHECKED_PAGES"
