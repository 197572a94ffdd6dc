"""Helpers for the real-browser tests (tests/e2e): viewports, layout and accessibility checks,
and small steps several journeys share (staff login in Piccolo Admin, a subscriber session).

Everything here runs against the live uvicorn process started by tests/e2e/conftest.py,
through Playwright's async API (the suite's event loop is pytest-asyncio's session loop).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import BrowserContext, Page, expect

ROOT = Path(__file__).resolve().parents[2]
OUTPUT_DIR = ROOT / "test-output" / "e2e"
CHROMIUM = Path(os.environ.get("CENTRA_CHROMIUM", "/usr/bin/chromium"))
# Installed by `make e2e-deps` from the npm registry; never committed.
AXE_JS = ROOT / ".e2e" / "node_modules" / "axe-core" / "axe.min.js"

# Flags for Debian's Chromium on this kind of machine (shared/notes/stripe-sandbox.md):
# no Google services on a closed network, and no sandbox when running as root.
CHROMIUM_ARGS = [
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    *(["--no-sandbox"] if os.geteuid() == 0 else []),
]

PHONE = "phone"
DESKTOP = "desktop"
VIEWPORTS: dict[str, dict[str, Any]] = {
    PHONE: {"viewport": {"width": 360, "height": 740}, "is_mobile": True, "has_touch": True},
    DESKTOP: {"viewport": {"width": 1280, "height": 800}},
}

# WCAG 2.2 "Target Size (Minimum)": 24 × 24 CSS px.
MIN_TARGET_PX = 24
SERIOUS_IMPACTS = ("serious", "critical")


def unavailable(reason: str) -> None:
    """Skip when a browser tool is missing, but fail where CI asked for the browser tests."""
    if os.environ.get("CENTRA_E2E_REQUIRED", "").strip() not in ("", "0"):
        pytest.fail(f"{reason} (and CENTRA_E2E_REQUIRED is set)", pytrace=False)
    pytest.skip(reason)


def output_name(node_name: str) -> str:
    """``test_x[phone]`` → ``test_x-phone``: a file name for screenshots and reports."""
    return re.sub(r"[^\w.]+", "-", node_name).strip("-")


async def save_screenshot(page: Page, node_name: str) -> Path:
    """The whole page as ``test-output/e2e/<test>-<viewport>.png`` (git-ignored)."""
    OUTPUT_DIR.mkdir(parents=True, exist_ok=True)
    path = OUTPUT_DIR / f"{output_name(node_name)}.png"
    await page.screenshot(path=path, full_page=True)
    return path


async def assert_no_horizontal_scroll(page: Page) -> None:
    widths = await page.evaluate(
        "() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]"
    )
    assert widths[0] <= widths[1], (
        f"{page.url}: the page scrolls sideways (content {widths[0]} px wide, window {widths[1]} px)"
    )


_TAP_TARGETS_JS = """
(minSize) => {
  const vw = document.documentElement.clientWidth;
  const sel = 'a[href], button, input:not([type=hidden]), select, textarea, summary, [role=button]';
  const targets = [];
  for (const el of document.querySelectorAll(sel)) {
    if (!el.checkVisibility({checkOpacity: true, checkVisibilityCSS: true})) continue;
    // A spam trap (honeypot): hidden from assistive technology, out of the tab order, off-screen.
    if (el.closest('[aria-hidden="true"]') && el.tabIndex < 0) continue;
    let r = el.getBoundingClientRect();
    if (r.width <= 1 || r.height <= 1) continue;  // screen-reader-only or empty
    // A radio button or checkbox is tapped through its label.
    if ((el.type === 'radio' || el.type === 'checkbox') && el.labels && el.labels.length) {
      const l = el.labels[0].getBoundingClientRect();
      r = {left: Math.min(r.left, l.left), right: Math.max(r.right, l.right),
           top: Math.min(r.top, l.top), bottom: Math.max(r.bottom, l.bottom)};
      r.width = r.right - r.left; r.height = r.bottom - r.top;
    }
    const style = getComputedStyle(el);
    const parentText = (el.parentElement ? el.parentElement.textContent : '').trim();
    // WCAG exception: a link inside a sentence is sized by the line of text.
    const inSentence = style.display === 'inline' && parentText.length > el.textContent.trim().length;
    const label = (el.innerText || el.value || el.getAttribute('aria-label') || el.name || el.tagName)
      .trim().slice(0, 40);
    targets.push({el, label, tag: el.tagName.toLowerCase(), inSentence, left: r.left, right: r.right,
                  top: r.top, bottom: r.bottom, width: r.width, height: r.height});
  }
  const problems = [];
  const outside = new Set();
  const small = t => !t.inSentence && (t.width < minSize || t.height < minSize);
  const centre = t => [(t.left + t.right) / 2, (t.top + t.bottom) / 2];
  const distToRect = ([x, y], t) => Math.hypot(Math.max(t.left - x, 0, x - t.right),
                                               Math.max(t.top - y, 0, y - t.bottom));
  for (const t of targets) {
    if (t.left < -0.5 || t.right > vw + 0.5) {
      const span = `${Math.round(t.left)}..${Math.round(t.right)}`;
      problems.push(`${t.tag} "${t.label}" lies outside the window (${span} of ${vw} px)`);
      outside.add(t);
      continue;
    }
    if (!small(t)) continue;
    // WCAG spacing exception: a 24 px circle around the small target touches no other target.
    const c = centre(t);
    const crowded = targets.some(o => o !== t && (small(o)
      ? Math.hypot(c[0] - centre(o)[0], c[1] - centre(o)[1]) < minSize
      : distToRect(c, o) < minSize / 2));
    if (crowded) {
      const size = `${Math.round(t.width)}×${Math.round(t.height)} px`;
      problems.push(`${t.tag} "${t.label}" is ${size} and crowded by its neighbours`);
    }
  }
  // Reachable: a tap at the target's centre (its first line, for a wrapped link) lands on it,
  // not on something drawn over it. Each target is scrolled into view for the hit test.
  const start = [window.scrollX, window.scrollY];
  for (const t of targets) {
    if (outside.has(t)) continue;
    const box = t.el.getClientRects()[0];
    const x = (box.left + box.right) / 2 + window.scrollX;
    const y = (box.top + box.bottom) / 2 + window.scrollY;
    window.scrollTo({left: 0, top: Math.max(0, y - window.innerHeight / 2), behavior: 'instant'});
    const hit = document.elementFromPoint(x - window.scrollX, y - window.scrollY);
    const own = hit && (hit === t.el || t.el.contains(hit)
                        || [...(t.el.labels || [])].some(l => l.contains(hit)));
    if (!own) {
      const what = hit ? hit.tagName.toLowerCase() + (hit.id ? '#' + hit.id : '') : 'nothing';
      problems.push(`${t.tag} "${t.label}" cannot be tapped: ${what} is on top of it`);
    }
  }
  window.scrollTo({left: start[0], top: start[1], behavior: 'instant'});
  return problems;
}
"""


async def assert_tap_targets(page: Page) -> None:
    """Links, buttons and fields are big enough to tap (or spaced apart), within the window's width,
    and not covered by anything else."""
    problems = await page.evaluate(_TAP_TARGETS_JS, MIN_TARGET_PX)
    assert not problems, f"{page.url}: tap targets:\n  " + "\n  ".join(problems)


async def check_layout(page: Page) -> None:
    """What every screen of ours must satisfy at any viewport."""
    await assert_no_horizontal_scroll(page)
    await assert_tap_targets(page)


_UNLABELLED_JS = """
() => {
  const out = [];
  for (const el of document.querySelectorAll('input, select, textarea')) {
    const type = (el.getAttribute('type') || '').toLowerCase();
    if (['hidden', 'submit', 'button', 'reset', 'image'].includes(type)) continue;
    if (!el.checkVisibility()) continue;
    const names = [...(el.labels || [])].map(l => l.textContent.trim());
    names.push((el.getAttribute('aria-label') || '').trim());
    for (const id of (el.getAttribute('aria-labelledby') || '').split(/\\s+/).filter(Boolean)) {
      const node = document.getElementById(id);
      if (node) names.push(node.textContent.trim());
    }
    if (!names.some(Boolean)) out.push(el.outerHTML.slice(0, 160));
  }
  return out;
}
"""


async def unlabelled_fields(page: Page) -> list[str]:
    """Visible form fields without a label (label[for], wrapping label, aria-label/-labelledby)."""
    return await page.evaluate(_UNLABELLED_JS)


async def axe_violations(page: Page) -> list[dict[str, Any]]:
    """axe-core's violations on the current page (needs a context with ``bypass_csp``:
    the script is injected inline, which our CSP rightly refuses)."""
    await page.add_script_tag(path=str(AXE_JS))
    return await page.evaluate(
        """async () => {
          const result = await axe.run(document, {resultTypes: ['violations']});
          return result.violations.map(v => ({
            id: v.id, impact: v.impact, help: v.help,
            nodes: v.nodes.slice(0, 5).map(n => n.target.join(' ')),
          }));
        }"""
    )


async def staff_login(page: Page, username: str, password: str) -> None:
    """Log in to Piccolo Admin through its own login screen."""
    await page.goto("/admin/")
    # The admin's login form has no label[for]: fields are found by name.
    await page.locator("input[name=username]").fill(username)
    await page.locator("input[name=password]").fill(password)
    await page.get_by_role("button", name="Войти").click()
    await expect(page.locator("#user")).to_contain_text(username)


async def submit_admin_form(page: Page, form_name: str, fields: dict[str, str]) -> str:
    """Open a staff form from the admin's sidebar, fill it, submit it and return its message."""
    await page.get_by_role("link", name=form_name, exact=True).click()
    await expect(page.get_by_role("heading", level=1, name=form_name)).to_be_visible()
    for name, value in fields.items():
        await page.locator(f"input[name={name}], textarea[name={name}]").fill(value)
    await page.get_by_role("button", name="Отправить").click()
    message = page.locator("#success_message")
    await expect(message).to_be_visible()
    return await message.inner_text()


async def add_subscriber_session(context: BrowserContext, base_url: str, subscriber_id: int) -> None:
    """Log a subscriber in without the login form (for pages that are not about logging in)."""
    from cabinet.auth import SESSION_COOKIE
    from tables.accounts import start_session

    token = await start_session(subscriber_id)
    await context.add_cookies([{"name": SESSION_COOKIE, "value": token, "url": base_url}])


async def add_staff_session(context: BrowserContext, base_url: str, staff_id: int) -> None:
    """Log a staff member in to the office without the admin's login form (piccolo_api's
    session, the cookie the admin sets)."""
    from piccolo_api.session_auth.tables import SessionsBase

    session = await SessionsBase.create_session(staff_id)
    await context.add_cookies([{"name": "id", "value": session.token, "url": base_url}])


def refused_document(message: Any, url: str) -> bool:
    """Chromium logs a page answered 4xx (a form refused with its message, a 404 asked for) as a
    console error of the document itself; the test checks that status. Any other console error —
    a script error, a CSP refusal, a failed asset — fails the test."""
    return (message.text.startswith("Failed to load resource: the server responded with a status of 4")
            and message.location.get("url") == url)
