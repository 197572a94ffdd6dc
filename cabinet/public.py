"""Public pages: home with tariffs and news, content pages."""

from __future__ import annotations

from litestar import Controller, get
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.response import Template

from tables.calendar import utcnow
from tables.content import Page, news_page
from tables.subscriber_pages import SECTION, SECTION_SLUGS
from tables.tariffs import TARIFF_KIND_LABELS, Tariff


async def active_tariffs() -> list[dict]:
    return await Tariff.select().where(Tariff.active == True).order_by(Tariff.sort_order)  # noqa: E712


async def latest_news(limit: int = 5) -> list[dict]:
    page = await news_page(1, now=utcnow(), per_page=limit)
    return page.items if page else []


class PublicController(Controller):
    @get("/", name="home")
    async def home(self) -> Template:
        return Template(
            "public/home.html",
            context={
                "tariffs": await active_tariffs(),
                "news": await latest_news(),
                "kind_labels": TARIFF_KIND_LABELS,
            },
        )

    @get("/pages/{slug:str}", name="page")
    async def page(self, slug: FromPath[str]) -> Template:
        page = await Page.objects().where((Page.slug == slug) & (Page.published == True)).first()  # noqa: E712
        if page is None:
            raise NotFoundException()
        section = await _section() if slug in SECTION_SLUGS else None
        return Template("public/page.html", context={"page": page, "section": section})

    @get("/subscribers", name="subscribers")
    async def subscribers(self) -> Template:
        """The "Абонентам" section: its pages, as edited in the admin, in the section's order."""
        return Template("public/subscribers.html", context={"section": await _section()})


async def _section() -> list[dict]:
    """The section's published pages in order: slug, title (as edited) and what it is about."""
    rows = await Page.select(Page.slug, Page.title).where(
        Page.slug.is_in(SECTION_SLUGS) & (Page.published == True))  # noqa: E712
    titles = {r["slug"]: r["title"] for r in rows}
    return [{"slug": slug, "title": titles[slug], "about": about}
            for slug, _, about in SECTION if slug in titles]
