"""Security headers, allowed hosts and body limits on the site, the cabinet and the admin."""

from __future__ import annotations

import httpx
import pytest

from settings import get_settings


@pytest.mark.parametrize("path", ["/", "/cabinet/login", "/admin/", "/no-such-page"])
async def test_headers_on_every_kind_of_page(client, path):
    response = await client.get(path)
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "same-origin"
    csp = response.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in csp and "default-src 'self'" in csp


async def test_hsts_only_in_production():
    from app import create_app

    prod = get_settings().replace(debug=False, allowed_hosts=("testserver",),
                                  database_url="postgresql://db.example/centra", secret_key="k" * 64,
                                  password_hashing="standard", payee_inn="4217012345",
                                  payee_account="40702810100000054321")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(prod)),
                                 base_url="https://testserver") as c:
        response = await c.get("/")
    assert "max-age" in response.headers["strict-transport-security"]


async def test_wrong_host_is_refused():
    from app import create_app

    settings = get_settings().replace(allowed_hosts=("centra.example",))
    app = create_app(settings)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://centra.example") as c:
        assert (await c.get("/")).status_code == 200
        assert (await c.get("/", headers={"host": "evil.example"})).status_code == 400
        assert (await c.get("/admin/", headers={"host": "evil.example"})).status_code == 400


async def test_oversized_body_is_refused_before_anything_runs(client):
    big = "x" * (get_settings().max_body_bytes + 1)
    for path in ("/cabinet/login", "/admin/public/login/"):
        response = await client.post(path, content=big, headers={"content-type": "text/plain"})
        assert response.status_code == 413
