"""Public pages: home with tariffs and news, content pages."""

from __future__ import annotations

from litestar import Controller, get
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.response import Template

from tables.calendar import utcnow
from tables.content import Page, news_page
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
        return Template("public/page.html", context={"page": page})
