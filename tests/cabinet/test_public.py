"""Public pages read from the same tables staff edit."""

from __future__ import annotations

from tables.calendar import utcnow
from tables.content import NewsItem, Page
from tests.support.factories import make_tariff


async def test_home_shows_active_tariffs_and_news(client):
    await make_tariff("Супер Интернет", fee=59900, speed_mbps=300)
    await make_tariff("Старый тариф", fee=10000, active=False)
    await NewsItem(title="Открыт новый офис", body="текст", published_at=utcnow()).save()
    await NewsItem(title="Черновик", body="текст", published=False, published_at=utcnow()).save()
    response = await client.get("/")
    assert response.status_code == 200
    html = response.text
    assert "Супер Интернет" in html and "599,00" in html and "300 Мбит/с" in html
    assert "Старый тариф" not in html
    assert "Открыт новый офис" in html and "Черновик" not in html
    assert '<html lang="ru">' in html and "Личный кабинет" in html


async def test_unknown_url_gives_friendly_404(client):
    response = await client.get("/no/such/page")
    assert response.status_code == 404
    assert "Страница не найдена" in response.text and "<title>" in response.text


async def test_content_page_renders_markdown_and_neutralises_html(client):
    await Page(slug="faq", title="Вопросы", body="**Жирный** <script>alert(1)</script>").save()
    response = await client.get("/pages/faq")
    assert response.status_code == 200
    assert "<strong>Жирный</strong>" in response.text
    assert "<script>alert(1)" not in response.text
    assert (await client.get("/pages/missing")).status_code == 404


async def test_footer_lists_content_pages(client):
    from cabinet.site import refresh_site_info

    await Page(slug="offer", title="Договор-оферта", body="текст").save()
    await refresh_site_info(force=True)
    assert '/pages/offer' in (await client.get("/")).text
