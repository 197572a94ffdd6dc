"""Public content pages: tariffs, news, maintenance, content pages, rating the cabinet."""

from __future__ import annotations

import datetime as dt
import itertools
from html.parser import HTMLParser

import pytest

from cabinet.content import ANONYMOUS_RATINGS_PER_HOUR
from tables.addresses import Street
from tables.calendar import utcnow
from tables.content import MaintenanceArea, NewsItem, Page
from tables.ratings import CabinetRating
from tables.tariffs import Tariff
from tests.support.factories import make_address, make_subscriber, make_tariff
from tests.support.helpers import csrf_from


def title_of(html: str) -> str:
    return html.split("<title>", 1)[1].split("</title>", 1)[0]


# --- Tariffs ------------------------------------------------------------------

async def test_tariffs_side_by_side_with_connect_links(client):
    both = await make_tariff("Интернет + ТВ", fee=75000, kind="internet_tv", speed_mbps=100,
                             channels=120, router_option=True, router_fee=10000, sort_order=1)
    tv = await make_tariff("Кабельное ТВ", fee=35000, kind="tv", channels=90, sort_order=2)
    net = await make_tariff("Интернет", fee=55000, kind="internet", speed_mbps=100,
                            router_option=True, sort_order=3)
    await make_tariff("Архивный", fee=1000, active=False)
    response = await client.get("/tariffs")
    assert response.status_code == 200
    html = response.text
    assert "Тарифы" in title_of(html)
    card = '<h2 class="tariff-name">Интернет</h2>'  # cards are h2 right under the page's h1
    assert html.index("Интернет + ТВ") < html.index("Кабельное ТВ") < html.index(card)
    for tariff in (both, tv, net):
        assert f'href="/connect?tariff={tariff.id}"' in html
    assert "750,00" in html and "120 каналов" in html and "90 каналов" in html
    assert "по желанию, 100,00" in html and "по желанию, бесплатно" in html
    assert "Архивный" not in html


class _Headings(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.levels: list[int] = []

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if len(tag) == 2 and tag[0] == "h" and tag[1] in "123456":
            self.levels.append(int(tag[1]))


@pytest.mark.parametrize("url", ["/", "/tariffs"])
async def test_heading_levels_never_skip(client, url):
    """axe "heading-order": after the h1 a heading goes at most one level deeper than the last."""
    await make_tariff("Интернет", fee=55000, kind="internet", speed_mbps=100)
    await NewsItem(title="Новость", body="", published_at=utcnow()).save()
    parser = _Headings()
    parser.feed((await client.get(url)).text)
    levels = parser.levels[parser.levels.index(1):]
    assert len(levels) >= 2, levels  # the h1 and at least a tariff card
    assert all(b <= a + 1 for a, b in itertools.pairwise(levels)), levels


async def test_archived_tariff_stays_on_existing_contract_but_leaves_the_site(client):
    subscriber = await make_subscriber()
    await Tariff.update({Tariff.active: False}).where(Tariff.id == subscriber.tariff)
    tariff = await Tariff.objects().get(Tariff.id == subscriber.tariff)
    assert tariff.name not in (await client.get("/tariffs")).text
    from tables.subscribers import Subscriber

    assert (await Subscriber.objects().get(Subscriber.id == subscriber.id)).tariff == tariff.id


# --- News -----------------------------------------------------------------------

async def add_news(n: int) -> list[NewsItem]:
    items = []
    for i in range(n):
        item = NewsItem(title=f"Новость номер {i}", body=f"Текст {i}",
                        published_at=utcnow() - dt.timedelta(hours=i + 1))
        await item.save()
        items.append(item)
    return items


async def test_news_pagination_and_bounds(client):
    await add_news(12)
    first = await client.get("/news")
    assert first.status_code == 200 and "Новости" in title_of(first.text)
    assert "Новость номер 0<" in first.text and "Новость номер 9<" in first.text
    assert "Новость номер 10<" not in first.text and 'href="/news?page=2"' in first.text
    second = await client.get("/news", params={"page": "2"})
    assert second.status_code == 200 and "Новость номер 11<" in second.text
    assert "Новость номер 0<" not in second.text and "страница 2" in title_of(second.text)
    for bad in ["abc", "0", "-1", "", "1.5", "٢"]:
        response = await client.get("/news", params={"page": bad})
        assert response.status_code == 200, bad
        assert "Новость номер 0<" in response.text
    for beyond in ["3", "99999", "9" * 40]:
        response = await client.get("/news", params={"page": beyond})
        assert response.status_code == 404, beyond
        assert "Страница не найдена" in response.text


async def test_empty_news_list_is_a_page(client):
    response = await client.get("/news")
    assert response.status_code == 200 and "Новостей пока нет" in response.text


async def test_news_item_page_and_unpublished_is_404(client):
    item = NewsItem(title="Новый офис", body="Адрес: **Кирова, 1**", published_at=utcnow())
    await item.save()
    draft = NewsItem(title="Черновик", body="", published=False, published_at=utcnow())
    await draft.save()
    scheduled = NewsItem(title="Завтра", body="", published_at=utcnow() + dt.timedelta(days=1))
    await scheduled.save()
    page = await client.get(f"/news/{item.id}")
    assert page.status_code == 200 and "Новый офис" in title_of(page.text)
    assert "<strong>Кирова, 1</strong>" in page.text
    for missing in [draft.id, scheduled.id, 999999, "abc", "9" * 30]:
        response = await client.get(f"/news/{missing}")
        assert response.status_code == 404, missing
    listing = (await client.get("/news")).text
    assert "Черновик" not in listing and "Завтра" not in listing


async def test_maintenance_item_shows_window_and_area(client):
    address = await make_address(street="улица Кирова", house="12")
    kirova = await Street.objects().get(Street.name == "улица Кирова")
    item = NewsItem(title="Ремонт магистрали", body="Возможны перерывы", kind="maintenance",
                    published_at=utcnow(), starts_at=dt.datetime(2026, 12, 1, 2, 0, tzinfo=dt.UTC),
                    ends_at=dt.datetime(2026, 12, 1, 6, 0, tzinfo=dt.UTC))
    await item.save()
    await MaintenanceArea(news=item.id, street=kirova.id).save()
    await MaintenanceArea(news=item.id, address=address.id).save()
    html = (await client.get(f"/news/{item.id}")).text
    # 02:00 UTC is 09:00 in Novokuznetsk.
    assert "1 декабря 2026, 09:00" in html and "1 декабря 2026, 13:00" in html
    assert "Новокузнецк, улица Кирова; Новокузнецк, улица Кирова, д. 12" in html
    assert "Плановые работы" in (await client.get("/news")).text


# --- Content pages, layout ------------------------------------------------------

def live_markup(html: str) -> list[tuple[str, list[tuple[str, str | None]]]]:
    """The elements a browser would build from ``html`` (escaped text is not markup)."""
    found: list[tuple[str, list[tuple[str, str | None]]]] = []

    class Collector(HTMLParser):
        def handle_starttag(self, tag, attrs):
            found.append((tag, attrs))

    Collector().feed(html)
    return found


@pytest.mark.parametrize("body", [
    "<script>alert('x')</script>",
    "<img src=x onerror=alert('x')>",
    "[ссылка](javascript:alert('x'))",
    '<a href="javascript:alert(1)">ссылка</a>',
    "<iframe src='https://evil.example'></iframe>",
])
async def test_content_page_with_markup_renders_it_inert(client, body):
    await Page(slug="faq", title="Вопросы", body=f"Текст\n\n{body}\n\n**жирный**").save()
    response = await client.get("/pages/faq")
    assert response.status_code == 200
    tags = live_markup(response.text.split("<main", 1)[1].split("</main>", 1)[0])
    assert not {"script", "img", "iframe"} & {tag for tag, _ in tags}
    for _tag, attrs in tags:
        assert not [name for name, _ in attrs if name.startswith("on")]
        assert not [v for name, v in attrs if name == "href" and "javascript:" in (v or "").lower()]
    assert "<strong>жирный</strong>" in response.text


async def test_every_page_has_a_title_nav_hotline_and_footer(client):
    from cabinet.site import refresh_site_info
    from tables.content import HOTLINE_KEY, SiteSetting

    await SiteSetting(key=HOTLINE_KEY, value="+7 (3843) 12-34-56").save()
    await Page(slug="offer", title="Договор-оферта", body="текст").save()
    await refresh_site_info(force=True)
    item = NewsItem(title="Новость", body="", published_at=utcnow())
    await item.save()
    for url in ["/", "/tariffs", "/news", f"/news/{item.id}", "/pages/offer", "/rate", "/nope"]:
        html = (await client.get(url)).text
        assert "Centra" in title_of(html), url
        assert 'href="/tariffs"' in html and 'href="/news"' in html, url
        assert "+7 (3843) 12-34-56" in html and 'href="/pages/offer"' in html, url
        assert 'href="/rate"' in html and 'name="viewport"' in html, url


# --- Rating the cabinet -----------------------------------------------------------

async def rating_form(client) -> str:
    response = await client.get("/rate")
    assert response.status_code == 200
    for label in ["Не удобно", "Не очень удобно", "Достаточно удобно", "Удобно", "Лучше не бывает"]:
        assert f"> {label}</label>" in response.text
    return csrf_from(response.text)


async def test_anonymous_rating_is_stored(client):
    token = await rating_form(client)
    response = await client.post("/rate", data={"_csrf_token": token, "score": "4",
                                                "comment": "Всё понятно"})
    assert response.status_code == 303 and response.headers["location"] == "/rate/thanks"
    assert "Спасибо" in (await client.get("/rate/thanks")).text
    rows = await CabinetRating.select()
    assert [(r["score"], r["comment"], r["subscriber"]) for r in rows] == [(4, "Всё понятно", None)]


@pytest.mark.parametrize("data", [
    {"score": "0"}, {"score": "6"}, {"score": "abc"}, {},
    {"score": "3", "comment": "я" * 1001},
])
async def test_bad_rating_gets_a_clear_error_and_stores_nothing(client, data):
    token = await rating_form(client)
    response = await client.post("/rate", data={"_csrf_token": token, **data})
    assert response.status_code == 400
    assert 'role="alert"' in response.text
    assert ("от 1 до 5" in response.text) or ("не больше 1000" in response.text)
    assert await CabinetRating.count() == 0


async def test_file_instead_of_comment_is_refused(client):
    token = await rating_form(client)
    response = await client.post("/rate", data={"_csrf_token": token, "score": "3"},
                                 files={"comment": ("c.txt", b"text", "text/plain")})
    assert response.status_code == 400 and "текстом" in response.text
    assert await CabinetRating.count() == 0


async def test_rating_without_csrf_token_is_refused(client):
    await rating_form(client)
    response = await client.post("/rate", data={"score": "5"})
    assert response.status_code == 403
    assert "Доступ запрещён" in response.text
    assert await CabinetRating.count() == 0


async def test_anonymous_ratings_are_rate_limited_per_ip(client):
    token = await rating_form(client)
    for n in range(ANONYMOUS_RATINGS_PER_HOUR):
        response = await client.post("/rate", data={"_csrf_token": token, "score": str(n % 5 + 1)})
        assert response.status_code == 303
    refused = await client.post("/rate", data={"_csrf_token": token, "score": "5"})
    assert refused.status_code == 429
    assert "Слишком много попыток" in refused.text
    assert await CabinetRating.count() == ANONYMOUS_RATINGS_PER_HOUR
    # Reading the form is not limited.
    assert (await client.get("/rate")).status_code == 200


def as_subscriber(app, subscriber_id: int):
    """The app as the cabinet's auth middleware will present it: ``scope["subscriber_id"]`` set."""

    async def wrapped(scope, receive, send):
        if scope["type"] == "http":
            scope["subscriber_id"] = subscriber_id
        await app(scope, receive, send)

    return wrapped


async def test_logged_in_rating_is_attached_replaced_and_not_limited(app):
    import httpx

    subscriber = await make_subscriber()
    transport = httpx.ASGITransport(app=as_subscriber(app, subscriber.id))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        token = await rating_form(client)
        for n in range(ANONYMOUS_RATINGS_PER_HOUR + 1):
            response = await client.post("/rate", data={"_csrf_token": token, "score": str(n % 5 + 1),
                                                        "comment": f"попытка {n}"})
            assert response.status_code == 303
        again = await client.get("/rate")
        assert "В этом месяце вы уже поставили оценку «Не удобно»" in again.text
    rows = await CabinetRating.select()
    assert [(r["subscriber"], r["score"], r["comment"]) for r in rows] == [
        (subscriber.id, 1, f"попытка {ANONYMOUS_RATINGS_PER_HOUR}")]
