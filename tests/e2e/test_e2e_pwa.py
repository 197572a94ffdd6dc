"""The installable cabinet in Chromium at 360 px (issue 29, item 7): the manifest is valid and
Chromium finds no installability error, the service worker takes control and caches only the
static assets and the offline page, and a page opened without network shows the offline page."""

from __future__ import annotations

import tempfile

from tests.support.browser import (
    CHROMIUM,
    CHROMIUM_ARGS,
    PHONE,
    VIEWPORTS,
    add_subscriber_session,
    check_layout,
    save_screenshot,
)
from tests.support.factories import make_subscriber

CONTROLLED = "navigator.serviceWorker.ready.then(() => !!navigator.serviceWorker.controller)"
CACHED = """async () => {
  const urls = [];
  for (const name of await caches.keys()) {
    for (const request of await (await caches.open(name)).keys()) urls.push(new URL(request.url).pathname);
  }
  return urls.sort();
}"""


async def test_installable_offline_page_and_nothing_personal_cached(e2e_tools, live_server):
    """In a browser profile of its own: Chromium never offers to install from an incognito
    context, which is what every other test's context is."""
    from playwright.async_api import async_playwright

    subscriber = await make_subscriber(full_name="Кузнецова Анна Сергеевна")
    with tempfile.TemporaryDirectory(prefix="centra-pwa-") as profile:
        async with async_playwright() as pw:
            context = await pw.chromium.launch_persistent_context(
                profile, executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, base_url=live_server,
                locale="ru-RU", timezone_id="Asia/Novokuznetsk", **VIEWPORTS[PHONE])
            try:
                await _journey(context, live_server, subscriber)
            finally:
                await context.close()


async def _journey(context, live_server: str, subscriber) -> None:
    context.set_default_timeout(10_000)
    tab = await context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda exc: errors.append(str(exc)))
    tab.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    await tab.goto("/")
    await tab.wait_for_function("navigator.serviceWorker.ready.then(() => true)")
    await tab.reload()  # the first page load is not yet controlled
    assert await tab.evaluate(CONTROLLED)

    cdp = await context.new_cdp_session(tab)
    manifest = await cdp.send("Page.getAppManifest")
    assert manifest["errors"] == [], manifest["errors"]
    assert manifest["url"].endswith("/manifest.webmanifest")
    installability = await cdp.send("Page.getInstallabilityErrors")
    print(f"\ninstallability errors: {installability['installabilityErrors']}")
    assert installability["installabilityErrors"] == []

    # A subscriber's pages pass through the worker but are never stored.
    await add_subscriber_session(context, live_server, subscriber.id)
    await tab.goto("/cabinet/")
    assert subscriber.contract_number in await tab.content()
    await tab.goto("/cabinet/profile")
    cached = await tab.evaluate(CACHED)
    print(f"cached: {cached}")
    assert "/offline" in cached and "/static/site.css" in cached
    assert all(url == "/offline" or url.startswith("/static/") for url in cached), cached

    assert errors == []  # no script or CSP error while online
    await context.set_offline(True)
    await tab.goto("/cabinet/statement")
    await tab.get_by_role("heading", name="Нет соединения с интернетом").wait_for()
    text = await tab.content()
    assert subscriber.contract_number not in text and "Кузнецова" not in text
    await check_layout(tab)
    await save_screenshot(tab, "pwa-offline-phone")
    await context.set_offline(False)
    # Offline, the only error is the network's own (the worker then answers from its cache).
    assert all("ERR_INTERNET_DISCONNECTED" in e for e in errors), errors
