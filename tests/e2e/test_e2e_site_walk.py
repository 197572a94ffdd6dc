"""Every page of the site, the cabinet, the office and the reports, reached as a user reaches it:
by following links in Chromium, as a visitor, a subscriber and a clerk.

Each role starts from its entry pages and follows every link to our own site (the admin is walked
by ``test_e2e_admin.py``): every page answers 200 with a title and ``lang="ru"``, with no script
error, no console error and no failed request of ours; every download it links answers 200. A
page added later is walked as soon as some page links it. A page no link reaches (one that only a
form's answer or a token leads to) must be in the registry of ``checked_pages.py`` or named in
``REACHED_BY_FLOWS`` with the browser test that opens it — otherwise the last test fails, so no
page can be added unseen.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.e2e.checked_pages import CHECKED_PAGES, GUEST, STAFF, SUBSCRIBER, seed_site
from tests.support.browser import OUTPUT_DIR, add_staff_session, add_subscriber_session

HERE = Path(__file__).resolve().parent

#: Where each role starts.
ENTRY_PAGES = {
    GUEST: ["/", "/cabinet/login"],
    SUBSCRIBER: ["/cabinet/", "/"],
    STAFF: ["/office/", "/reports/"],
}

#: Parts of the site this walk does not open: the admin (its own battery), files served as they
#: are, the API schema, and machine endpoints (FreeRADIUS, agents' XML, the load balancer's probe).
NOT_WALKED = ("/admin", "/static/", "/office/static/", "/schema", "/radius/")
MACHINE_ENDPOINTS = {"/healthz", "/payments/agents/{}", "/manifest.webmanifest", "/sw.js", "/favicon.ico",
                     "/staff-view/{}"}  # a one-time link that logs in and redirects to the cabinet
DOWNLOAD = re.compile(r"\.(csv|xlsx|pdf|svg|txt|xml)$|/file$")

#: Pages no link leads to, with the browser test that opens them through their flow.
REACHED_BY_FLOWS = {
    "/cabinet/pay/{}": "test_e2e_card_payments.py",
    "/cabinet/pay/result/{}": "test_e2e_card_payments.py",
    "/pay/p/{}": "test_e2e_card_payments.py",
    "/pay/p/{}/result": "test_e2e_card_payments.py",
}

#: A page's different query strings opened at most this often (filters, months); paths of one
#: route at most ``PATHS_PER_ROUTE`` (every report, every request), pages per role at most
#: ``PAGES_PER_ROLE``.
QUERIES_PER_PATH = 2
PATHS_PER_ROUTE = 25
PAGES_PER_ROLE = 300


#: Where a page's GET forms lead when sent as they stand (filters, a month, "print"): each form's
#: action and each button's ``formaction`` with the form's current values as the query.
GET_FORM_TARGETS = """forms => forms
  .filter(f => (f.getAttribute("method") || "get").toLowerCase() === "get")
  .flatMap(f => {
    const query = new URLSearchParams(new FormData(f)).toString();
    const actions = [f.action, ...Array.from(f.querySelectorAll("[formaction]"), b => b.formAction)];
    return actions.map(a => a.split("?")[0] + (query ? "?" + query : ""));
  })"""


def shape(path: str) -> str:
    """A route or a concrete path with its parameters blanked: ``/news/{}``."""
    path = path.split("?")[0].rstrip("/") or "/"
    return re.sub(r"\{[^}]+\}", "{}", path)


def _pattern(route_shape: str) -> re.Pattern[str]:
    return re.compile("^" + re.escape(route_shape).replace(r"\{\}", "[^/]+") + "$")


def page_routes(app) -> list[str]:
    """The shapes of every GET route that serves a page to a person."""
    shapes = set()
    for route in app.routes:
        if "GET" not in getattr(route, "methods", set()) or route.path.startswith(NOT_WALKED):
            continue
        route_shape = shape(route.path)
        if route_shape not in MACHINE_ENDPOINTS and not DOWNLOAD.search(route_shape):
            shapes.add(route_shape)
    return sorted(shapes)


def route_of(path: str, routes: list[str]) -> str | None:
    """The route a concrete path is served by; literal segments win over parameters."""
    path = path.rstrip("/") or "/"
    matches = [r for r in routes if _pattern(r).match(path)]
    return min(matches, key=lambda r: r.count("{}"), default=None)


@dataclass
class Walk:
    pages: dict[str, str] = field(default_factory=dict)  # url -> route shape
    downloads: set[str] = field(default_factory=set)
    problems: list[str] = field(default_factory=list)


#: Route shapes each role's walk reached; the last test checks them all together.
REACHED: dict[str, set[str]] = {}


async def walk_site(context, base_url: str, who: str, routes: list[str]) -> Walk:
    walk = Walk()
    origin = urlsplit(base_url).netloc
    tab = await context.new_page()
    tab.on("pageerror", lambda exc: walk.problems.append(f"{tab.url}: script error {exc}"))
    tab.on("console", lambda msg: walk.problems.append(f"{tab.url}: console {msg.text}")
           if msg.type == "error" else None)
    tab.on("requestfailed", lambda req: walk.problems.append(f"{tab.url}: {req.url} failed")
           if urlsplit(req.url).netloc == origin else None)
    tab.on("response", lambda resp: walk.problems.append(f"{tab.url}: {resp.url} answered {resp.status}")
           if urlsplit(resp.url).netloc == origin and resp.status >= 400 else None)

    queue = [base_url + path for path in ENTRY_PAGES[who]]
    seen: set[str] = set()
    queries: Counter[str] = Counter()
    paths_of: dict[str, set[str]] = {}
    while queue and len(walk.pages) < PAGES_PER_ROLE:
        url = queue.pop(0).split("#")[0]
        parts = urlsplit(url)
        if url in seen or parts.netloc != origin or parts.path.startswith(NOT_WALKED):
            continue
        seen.add(url)
        if DOWNLOAD.search(parts.path):
            if url not in walk.downloads:
                walk.downloads.add(url)
                answer = await context.request.get(url)
                if answer.status != 200:
                    walk.problems.append(f"download {url} answered {answer.status}")
            continue
        route = route_of(parts.path, routes)
        if route is None:
            if shape(parts.path) not in MACHINE_ENDPOINTS:
                walk.problems.append(f"a link leads to {url}, which no page route serves")
            continue
        queries[parts.path] += 1
        paths_of.setdefault(route, set()).add(parts.path)
        if queries[parts.path] > QUERIES_PER_PATH or len(paths_of[route]) > PATHS_PER_ROUTE:
            continue
        response = await tab.goto(url)
        status = response.status if response else None
        if status != 200:
            walk.problems.append(f"{url} answered {status}")
            continue
        walk.pages[url] = route
        if not (await tab.title()).strip():
            walk.problems.append(f"{url} has no <title>")
        if await tab.get_attribute("html", "lang") != "ru":
            walk.problems.append(f"{url} is not lang=ru")
        links = await tab.eval_on_selector_all("a[href]", "els => els.map(e => e.href)")
        links += await tab.eval_on_selector_all("form", GET_FORM_TARGETS)
        queue.extend(link for link in links if link not in seen)
    await tab.close()
    return walk


@pytest.mark.parametrize("who", [GUEST, SUBSCRIBER, STAFF])
async def test_walk_every_linked_page(who, app, new_context, live_server):
    seed = await seed_site(who)
    context = await new_context()
    if who == STAFF:
        await add_staff_session(context, live_server, seed["staff_id"])
    elif who == SUBSCRIBER:
        await add_subscriber_session(context, live_server, seed["subscriber_id"])
    if who == SUBSCRIBER:
        await _money_back_and_a_final_statement(seed["subscriber_id"])
    routes = page_routes(app)

    walk = await walk_site(context, live_server, who, routes)
    OUTPUT_DIR.mkdir(parents=True, exist_ok=True)
    (OUTPUT_DIR / f"walk-{who}.txt").write_text(
        "".join(f"{url}\n" for url in [*walk.pages, *sorted(walk.downloads)]), encoding="utf-8")

    assert not walk.problems, f"walking as {who}:\n" + "\n".join(dict.fromkeys(walk.problems))
    assert len(walk.pages) >= {GUEST: 8, SUBSCRIBER: 15, STAFF: 10}[who], sorted(walk.pages)
    REACHED[who] = set(walk.pages.values())


async def _money_back_and_a_final_statement(subscriber_id: int) -> None:
    """What the subscriber's pages link only in some states: a positive balance (the refund
    request's form) and a finished termination request (its final statement)."""
    import uuid

    from tables.calendar import utcnow
    from tables.ledger import EntryKind, post_entry
    from tables.requests.queue import ServiceRequest

    await post_entry(subscriber_id, 50000, EntryKind.PAYMENT, f"walk-{uuid.uuid4().hex}")
    now = utcnow()
    await ServiceRequest(number=f"Z-{uuid.uuid4().hex[:8]}", kind="termination", status="done",
                         subscriber=subscriber_id, text="переезд", created_at=now,
                         updated_at=now, closed_at=now).save()


def test_every_page_route_is_walked_or_registered(app):
    """Runs after the three walks (same module, in order): a page route that no walk reached
    must be opened by the registry or by a named flow test."""
    if set(REACHED) != {GUEST, SUBSCRIBER, STAFF}:
        pytest.fail(f"the walks did not all run (reached: {sorted(REACHED)}); run the whole module")
    reached = set().union(*REACHED.values())
    registered = {shape(c.path) for c in CHECKED_PAGES}
    missing = []
    for route in page_routes(app):
        flow_test = REACHED_BY_FLOWS.get(route)
        if flow_test is not None:
            text = (HERE / flow_test).read_text(encoding="utf-8")
            literal = route.split("{}")[0]
            assert literal in text, f"{flow_test} does not open {route}"
            continue
        if route not in reached and route not in registered:
            missing.append(route)
    assert missing == [], (
        "pages no link reaches and no browser test opens: link them, add them to "
        f"checked_pages.CHECKED_PAGES, or name their flow test in REACHED_BY_FLOWS: {missing}")
