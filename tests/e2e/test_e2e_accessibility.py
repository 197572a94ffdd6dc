"""Accessibility and layout smoke over every page in the registry (tests/e2e/checked_pages.py),
at a phone and a desktop viewport: a title, ``lang="ru"``, labelled fields, no sideways
scrolling, reachable tap targets, and no serious or critical axe-core violations.

All of axe's findings (any impact) are written to ``test-output/e2e/axe-<page>-<viewport>.json``.
"""

from __future__ import annotations

import json
from urllib.parse import urlsplit

import pytest

from tests.e2e.checked_pages import CHECKED_PAGES, GUEST, STAFF, CheckedPage, seed_site
from tests.support.browser import (
    AXE_JS,
    OUTPUT_DIR,
    SERIOUS_IMPACTS,
    add_staff_session,
    add_subscriber_session,
    axe_violations,
    check_layout,
    refused_document,
    save_screenshot,
    unavailable,
    unlabelled_fields,
)


@pytest.mark.parametrize("checked", CHECKED_PAGES, ids=lambda c: c.name)
async def test_page_is_accessible(request, checked: CheckedPage, viewport, new_context, live_server):
    if not AXE_JS.exists():
        unavailable(f"{AXE_JS} is missing: `make e2e-deps` installs axe-core from the npm registry")
    seed = await seed_site(checked.who)
    # axe is injected as an inline script, which our CSP refuses: bypass it for this check only.
    context = await new_context(viewport, bypass_csp=True)
    if checked.who == STAFF:
        await add_staff_session(context, live_server, seed["staff_id"])
    elif checked.who != GUEST:
        await add_subscriber_session(context, live_server, seed["subscriber_id"])
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(f"script error: {exc}"))
    page.on("console", lambda msg: errors.append(f"{msg.text} at {msg.location.get('url')}")
            if msg.type == "error" and not refused_document(msg, page.url) else None)
    path = checked.path.format(**seed)

    response = await page.goto(path)
    assert response is not None and response.status == checked.status
    assert urlsplit(page.url).path == urlsplit(path).path, f"redirected to {page.url}"
    assert (await page.title()).strip(), "the page has no <title>"
    assert await page.get_attribute("html", "lang") == "ru"
    assert await unlabelled_fields(page) == []
    await check_layout(page)

    violations = await axe_violations(page)
    OUTPUT_DIR.mkdir(parents=True, exist_ok=True)
    report = OUTPUT_DIR / f"axe-{checked.name}-{viewport}.json"
    report.write_text(json.dumps(violations, ensure_ascii=False, indent=1))
    serious = [v for v in violations if v["impact"] in SERIOUS_IMPACTS]
    assert not serious, "axe-core:\n" + "\n".join(
        f"  [{v['impact']}] {v['id']}: {v['help']} — {', '.join(v['nodes'])}" for v in serious
    )
    await save_screenshot(page, f"{request.node.originalname}-{checked.name}-{viewport}")
    assert errors == [], f"console errors on {path}: {errors}"
