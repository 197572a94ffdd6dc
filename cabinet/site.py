"""Site-wide data shown on every page (hotline phone, footer links) and the latest news
of the cabinet's dashboard, cached briefly: the same for every visitor, so read once per
``cache_seconds()`` instead of on every request."""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass, field

from markupsafe import Markup, escape

from tables.addresses import Street, Town, cache_seconds, forget_directory
from tables.calendar import utcnow
from tables.content import DEFAULT_HOTLINE, HOTLINE_KEY, Page, SiteSetting
from tables.statements import latest_news


@dataclass
class SiteInfo:
    hotline: str = DEFAULT_HOTLINE
    footer_pages: list[dict] = field(default_factory=list)
    news: list[dict] = field(default_factory=list)  # the dashboard's latest news
    loaded_at: float = 0.0

    @functools.cached_property
    def hotline_tel(self) -> str:
        """The hotline for a ``tel:`` link (digits and "+"), worked out once, not per page."""
        return "".join(c for c in self.hotline if c.isdigit() or c == "+")


_info = SiteInfo()


async def refresh_site_info(force: bool = False) -> SiteInfo:
    """Reload at most every ``cache_seconds()``; pages read it through ``site()``."""
    global _info
    if not force and time.monotonic() - _info.loaded_at < cache_seconds():
        return _info
    hotline = await SiteSetting.select(SiteSetting.value).where(
        SiteSetting.key == HOTLINE_KEY
    ).first()
    pages = await (
        Page.select(Page.slug, Page.title)
        .where((Page.published == True) & (Page.in_footer == True))  # noqa: E712
        .order_by(Page.sort_order)
    )
    _info = SiteInfo(
        hotline=hotline["value"] if hotline else DEFAULT_HOTLINE,
        footer_pages=pages,
        news=await latest_news(utcnow()),
        loaded_at=time.monotonic(),
    )
    return _info


def site() -> SiteInfo:
    return _info


@dataclass
class AddressDirectory:
    """The towns and the street names the quick-pay form offers."""

    towns: list[dict] = field(default_factory=list)
    # The datalist's options, rendered once: a few hundred of them on every form.
    street_options: Markup = field(default_factory=Markup)
    loaded_at: float = -1e9


_directory = AddressDirectory()


async def address_directory() -> AddressDirectory:
    """The form's hints, reloaded at most every ``cache_seconds()``."""
    global _directory
    if time.monotonic() - _directory.loaded_at < cache_seconds():
        return _directory
    towns = await Town.select(Town.id, Town.name).order_by(Town.name)
    names = sorted({s["name"] for s in await Street.select(Street.name)})
    options = Markup("").join(Markup('<option value="{}">').format(escape(n)) for n in names)
    _directory = AddressDirectory(towns=towns, street_options=options, loaded_at=time.monotonic())
    return _directory


def forget_cached() -> None:
    """Drop what is cached (tests: each starts on an empty database)."""
    global _info, _directory
    _info = SiteInfo()
    _directory = AddressDirectory()
    forget_directory()
