"""Real-browser tests: the real app under uvicorn on a free loopback port, Debian's Chromium
driven by Playwright's async API (docs/e2e.md).

The server is one subprocess for the whole session, started after the root conftest has migrated
the test database: it inherits ``DATABASE_URL`` / ``CENTRA_SQLITE_PATH``, so it serves what a test
writes with the factories, and the root conftest's ``clean_tables`` empties that database after each
test. Playwright's async API runs in pytest-asyncio's session loop (its sync API refuses to run
inside a running loop).

Without Chromium these tests skip; ``CENTRA_E2E_REQUIRED=1`` (set by ``.ci/run``) turns that into
a failure so CI never passes by skipping them.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from providers.stripe_sandbox import Sandbox
from tests.e2e.checked_pages import E2E_AGENTS
from tests.support.browser import (
    CHROMIUM,
    CHROMIUM_ARGS,
    DESKTOP,
    OUTPUT_DIR,
    PHONE,
    ROOT,
    VIEWPORTS,
    refused_document,
    save_screenshot,
    unavailable,
)

HERE = Path(__file__).resolve().parent
# Importing the app took 16 s at load 16 on two cores (helpers' runs): the wait is generous.
SERVER_START_SECONDS = 120


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Everything under tests/e2e is marked ``e2e`` (so ``-m e2e`` / ``-m "not e2e"`` select it)."""
    for item in items:
        if HERE in item.path.parents:
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="session")
def e2e_tools() -> None:
    if not CHROMIUM.exists():
        unavailable(f"{CHROMIUM} is not installed: `make e2e-deps` installs Debian's chromium")
    try:
        import playwright  # noqa: F401
    except ImportError:
        unavailable("the playwright package is missing: `make e2e-deps` installs the dev extras")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ready(proc: subprocess.Popen, base_url: str) -> bool:
    deadline = time.monotonic() + SERVER_START_SECONDS
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        try:
            if httpx.get(f"{base_url}/cabinet/login", timeout=2).status_code == 200:
                return True
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    return False


@pytest.fixture(scope="session")
def e2e_output() -> Path:
    """This run's screenshots and reports only: the previous run's are removed."""
    OUTPUT_DIR.mkdir(parents=True, exist_ok=True)
    for old in OUTPUT_DIR.iterdir():
        if old.is_file():
            old.unlink()
    return OUTPUT_DIR


@pytest.fixture(scope="session")
def live_server(database: None, e2e_tools: None, e2e_output: Path,
                stripe_sandbox: Sandbox) -> Iterator[str]:
    """The real application in its own process, its card payments going to the Stripe sandbox
    (the ``stripe_sandbox`` fixture has put the STRIPE_* settings in the environment);
    yields its base URL. The sandbox's webhooks reach it only during a test that asks for
    ``sandbox_webhooks``."""
    log_path = e2e_output / "server.log"
    # No site-wide cache: each test's rows are gone before the next test starts.
    # Its job worker runs the exports the pages start, not the schedules (messages, billing).
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "CENTRA_SITE_CACHE_SECONDS": "0",
           "CENTRA_DEBUG": "1", "CENTRA_EMBEDDED_WORKER": "1", "CENTRA_EMBEDDED_QUEUES": "e2e-exports",
           # Its own export queue: on PostgreSQL the queue is shared, and this server, running until
           # the session ends, would otherwise take the jobs of tests/jobs away from their workers.
           "CENTRA_EXPORT_QUEUE": "e2e-exports",
           "CENTRA_PAYMENT_AGENTS": E2E_AGENTS}
    for _attempt in range(3):  # a port picked as free may be taken before uvicorn binds it
        port = _free_port()
        base_url = f"http://127.0.0.1:{port}"
        with log_path.open("ab") as log:
            proc = subprocess.Popen(
                [sys.executable, "-m", "uvicorn", "app:create_app", "--factory", "--host", "127.0.0.1",
                 "--port", str(port), "--log-level", "warning"],
                cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
            )
        if _ready(proc, base_url):
            break
        proc.kill()
        proc.wait()
    else:
        tail = log_path.read_text(errors="replace")[-3000:]
        raise RuntimeError(f"uvicorn did not start (log: {log_path}):\n{tail}")
    try:
        yield base_url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture
def sandbox_webhooks(stripe_sandbox: Sandbox, live_server: str) -> Iterator[None]:
    """The sandbox delivers its webhooks to the live server during this test only.

    The sandbox lives for the whole session and has no way to delete a webhook, so afterwards it
    is pointed at a closed port: other tests (tests/tables/test_card_payments.py) count the events
    their own server receives, and the live server shares their database.
    """
    stripe_sandbox.register_webhook(f"{live_server}/payments/webhook", name="e2e")
    try:
        yield
    finally:
        stripe_sandbox.register_webhook(f"http://127.0.0.1:{_free_port()}/closed", name="e2e")


@pytest.fixture(scope="session")
async def browser(e2e_tools: None, e2e_output: Path) -> AsyncIterator[Any]:
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        await browser.close()


@pytest.fixture(params=[PHONE, DESKTOP])
def viewport(request: pytest.FixtureRequest) -> str:
    """Every test that asks for it runs at a 360×740 phone and a 1280×800 desktop viewport."""
    return request.param


NewContext = Callable[..., Awaitable[Any]]


@pytest.fixture
async def new_context(browser: Any, live_server: str) -> AsyncIterator[NewContext]:
    """A factory of fresh browser contexts (own cookies) aimed at the live server."""
    contexts: list[Any] = []

    async def make(viewport: str = DESKTOP, **options: Any) -> Any:
        context = await browser.new_context(base_url=live_server, locale="ru-RU",
                                            timezone_id="Asia/Novokuznetsk",
                                            **VIEWPORTS[viewport], **options)
        context.set_default_timeout(10_000)
        contexts.append(context)
        return context

    yield make
    for context in contexts:
        await context.close()


@pytest.fixture
async def page(request: pytest.FixtureRequest, new_context: NewContext, viewport: str) -> AsyncIterator[Any]:
    """The subscriber's (or visitor's) tab at the test's viewport.

    Its final screen is saved as ``test-output/e2e/<test>-<viewport>.png``; script errors and
    console errors on our pages (CSP refusals, failed assets) fail the test.
    """
    context = await new_context(viewport)
    tab = await context.new_page()
    problems: list[str] = []
    tab.on("pageerror", lambda exc: problems.append(f"{tab.url}: {exc}"))
    tab.on("console", lambda msg: problems.append(f"{tab.url}: {msg.text}")
           if msg.type == "error" and not refused_document(msg, tab.url) else None)
    yield tab
    if not tab.is_closed():
        await save_screenshot(tab, request.node.name)
    ours = [p for p in problems if "/admin" not in p]
    assert not ours, "errors in the browser:\n" + "\n".join(ours)


@pytest.fixture
async def staff_page(new_context: NewContext) -> Any:
    """A clerk's tab in Piccolo Admin (desktop: the office works on desktops)."""
    context = await new_context(DESKTOP)
    return await context.new_page()
