"""An installable cabinet (issue 29, item 7): the web manifest, the service worker and the
offline page. The worker is served from the site's root so that its scope covers the cabinet
and the public pages; it caches only the static assets and the offline page
(``cabinet/static/sw.js``), never a page someone is logged in to."""

from __future__ import annotations

from pathlib import Path

from litestar import Controller, get
from litestar.response import Response, Template

from cabinet.site import site

STATIC = Path(__file__).parent / "static"
THEME_COLOR = "#0b5cad"

MANIFEST = {
    "id": "/cabinet/",
    "name": "Centra — личный кабинет",
    "short_name": "Centra",
    "description": "Баланс, оплата, тариф и заявки абонента Centra",
    "lang": "ru",
    "dir": "ltr",
    "start_url": "/cabinet/",
    "scope": "/",
    "display": "standalone",
    "orientation": "any",
    "background_color": "#ffffff",
    "theme_color": THEME_COLOR,
    "icons": [
        {"src": "/static/icons/icon-192.png", "sizes": "192x192", "type": "image/png", "purpose": "any"},
        {"src": "/static/icons/icon-512.png", "sizes": "512x512", "type": "image/png", "purpose": "any"},
        {"src": "/static/icons/icon-maskable-512.png", "sizes": "512x512", "type": "image/png",
         "purpose": "maskable"},
    ],
}


class PwaController(Controller):
    @get("/manifest.webmanifest", media_type="application/manifest+json", name="manifest")
    async def manifest(self) -> Response:
        return Response(MANIFEST, media_type="application/manifest+json",
                        headers={"Cache-Control": "public, max-age=3600"})

    @get("/sw.js", name="service_worker")
    async def service_worker(self) -> Response:
        # Revalidated on every check, so a new version reaches browsers at once.
        return Response((STATIC / "sw.js").read_bytes(), media_type="text/javascript",
                        headers={"Cache-Control": "no-cache"})

    @get("/favicon.ico", name="favicon", include_in_schema=False)
    async def favicon(self) -> Response:
        """Browsers, bookmarks and crawlers ask for /favicon.ico whatever the page says."""
        return Response((STATIC / "icons" / "icon-192.png").read_bytes(), media_type="image/png",
                        headers={"Cache-Control": "public, max-age=86400"})

    @get("/offline", name="offline")
    async def offline(self) -> Template:
        """Shown by the service worker when there is no network; the same for everyone."""
        info = site()
        return Template("public/offline.html",
                        context={"hotline": info.hotline, "hotline_tel": info.hotline_tel})
