"""The web manifest, the service worker and the offline page as served (issue 29, item 7)."""

from __future__ import annotations

import re
import struct

from tests.support.factories import make_subscriber
from tests.support.helpers import sign_in


async def test_the_manifest_names_the_provider_and_its_icons_exist_at_their_sizes(client):
    home = await client.get("/")
    assert '<link rel="manifest" href="/manifest.webmanifest">' in home.text
    response = await client.get("/manifest.webmanifest")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/manifest+json")
    manifest = response.json()
    assert manifest["name"].startswith("Centra") and manifest["short_name"] == "Centra"
    assert (manifest["start_url"], manifest["display"], manifest["lang"]) == ("/cabinet/", "standalone", "ru")
    sizes = set()
    for icon in manifest["icons"]:
        png = await client.get(icon["src"])
        assert png.status_code == 200 and png.content[:8] == b"\x89PNG\r\n\x1a\n"
        width, height = struct.unpack(">II", png.content[16:24])
        assert icon["sizes"] == f"{width}x{height}" and icon["type"] == "image/png"
        sizes.add((width, icon["purpose"]))
    assert {(192, "any"), (512, "any"), (512, "maskable")} <= sizes


async def test_the_worker_precaches_only_static_assets_and_the_offline_page(client):
    response = await client.get("/sw.js")
    assert response.status_code == 200 and "javascript" in response.headers["content-type"]
    assert response.headers["cache-control"] == "no-cache"
    precache = re.search(r"const PRECACHE = \[(.*?)\];", response.text, re.S).group(1)
    urls = re.findall(r'"([^"]+)"', precache)
    assert urls and all(u == "/offline" or u.startswith("/static/") for u in urls)
    # Pages go to the network; only /static/ responses are put in the cache.
    assert response.text.count("cache.put(") == 1 and 'url.pathname.startsWith("/static/")' in response.text


async def test_the_offline_page_is_the_same_for_everyone(client):
    anonymous = (await client.get("/offline")).text
    s = await make_subscriber(full_name="Альфасекретов Аркадий Аркадьевич")
    await sign_in(client, s.id)
    logged_in = await client.get("/offline")
    assert logged_in.status_code == 200 and "Нет соединения с интернетом" in logged_in.text
    assert "Альфасекретов" not in logged_in.text and s.contract_number not in logged_in.text
    strip = re.compile(r'name="_csrf_token" value="[^"]+"')
    assert strip.sub("", logged_in.text) == strip.sub("", anonymous)


async def test_favicon_is_the_providers_icon(client):
    """Browsers ask /favicon.ico on every site, whatever the page links; a 404 there is a console
    error on every page without a link (the offline page is one)."""
    response = await client.get("/favicon.ico")
    assert response.status_code == 200 and response.content[:8] == b"\x89PNG\r\n\x1a\n"
    assert "max-age" in response.headers["cache-control"]
    offline = await client.get("/offline")
    assert 'rel="icon"' in offline.text
