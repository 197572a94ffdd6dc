"""Pages with personal data are never stored by a browser or a proxy (Cache-Control: no-store)."""

from __future__ import annotations

from tests.support.factories import make_subscriber
from tests.support.helpers import concrete_path, sign_in


def _get_routes(app) -> list[str]:
    return sorted({route.path for route in app.routes
                   if "GET" in getattr(route, "methods", set())
                   and not route.path.startswith(("/admin", "/static", "/schema"))})


async def test_every_page_of_a_logged_in_subscriber_is_no_store(client, app):
    subscriber = await make_subscriber()
    await sign_in(client, subscriber.id)
    walked = []
    for path in _get_routes(app):
        response = await client.get(concrete_path(path))
        assert response.headers.get("cache-control") == "no-store", (path, response.status_code)
        walked.append(path)
    assert "/cabinet/statement.csv" in walked and "/cabinet/statement/print" in walked
    assert "/cabinet" in walked and "/" in walked
    dashboard = await client.get("/cabinet/")
    assert dashboard.status_code == 200 and subscriber.contract_number in dashboard.text


async def test_anonymous_personal_pages_are_no_store(client):
    for path in ("/pay/p/some-ticket", "/pay/p/some-ticket/result", "/connect/done/x",
                 "/cabinet/login", "/staff-view/x", "/office/"):
        response = await client.get(path)
        assert response.headers.get("cache-control") == "no-store", path


async def test_public_pages_and_static_files_may_be_cached(client):
    subscriber = await make_subscriber()
    assert "no-store" not in (await client.get("/")).headers.get("cache-control", "")
    await sign_in(client, subscriber.id)
    static = await client.get("/static/site.css")
    assert static.status_code == 200 and "no-store" not in static.headers.get("cache-control", "")
