"""The browser checks themselves catch what they are meant to catch (on hand-made pages, no server)."""

from __future__ import annotations

import pytest

from tests.support.browser import (
    AXE_JS,
    PHONE,
    SERIOUS_IMPACTS,
    VIEWPORTS,
    assert_no_horizontal_scroll,
    assert_tap_targets,
    axe_violations,
    unavailable,
    unlabelled_fields,
)

HEAD = '<!doctype html><html lang="ru"><head><meta name="viewport" content="width=device-width">' \
       "<title>Проверка</title></head><body>"


@pytest.fixture
async def phone_tab(browser):
    context = await browser.new_context(**VIEWPORTS[PHONE], bypass_csp=True)
    yield await context.new_page()
    await context.close()


async def test_sideways_scrolling_is_caught(phone_tab):
    await phone_tab.set_content(HEAD + "<main><p>Обычный текст</p></main>")
    await assert_no_horizontal_scroll(phone_tab)
    await phone_tab.set_content(HEAD + '<table><tr><td style="min-width:500px">широко</td></tr></table>')
    with pytest.raises(AssertionError, match="scrolls sideways"):
        await assert_no_horizontal_scroll(phone_tab)


async def test_tap_targets(phone_tab):
    # Big buttons, a link inside a sentence, and a small link with room around it are fine.
    await phone_tab.set_content(HEAD + """
      <button style="width:120px;height:44px">Войти</button>
      <p>Прочтите <a href="/offer">договор-оферту</a> перед оплатой.</p>
      <p style="margin-top:40px"><a href="/pay" style="font-size:12px">Оплата</a></p>
      <input type="hidden" name="csrf">
      <label style="display:flex;min-height:44px"><input type="radio" name="s"> Удобно</label>""")
    await assert_tap_targets(phone_tab)

    # Tiny neighbours are not.
    await phone_tab.set_content(HEAD + '<button style="width:14px;height:14px;padding:0">a</button>'
                                       '<button style="width:14px;height:14px;padding:0">b</button>')
    with pytest.raises(AssertionError, match="crowded"):
        await assert_tap_targets(phone_tab)

    # Nor is a button pushed past the window's right edge.
    await phone_tab.set_content(HEAD + '<div style="overflow:hidden"><button style="margin-left:340px;'
                                       'width:100px;height:44px">Далее</button></div>')
    with pytest.raises(AssertionError, match="outside the window"):
        await assert_tap_targets(phone_tab)

    # Nor one hidden under a fixed banner, even far down a long page.
    await phone_tab.set_content(HEAD + '<div style="height:2000px"></div><button style="height:44px">'
                                       'Оплатить</button><div id="banner" style="position:fixed;bottom:0;'
                                       'left:0;right:0;height:400px;background:#fff">Акция!</div>')
    with pytest.raises(AssertionError, match="div#banner is on top of it"):
        await assert_tap_targets(phone_tab)


async def test_unlabelled_fields_are_listed(phone_tab):
    await phone_tab.set_content(HEAD + """
      <label for="a">Номер договора</label><input id="a">
      <label>Сумма <input name="b"></label>
      <input name="c" aria-label="Поиск">
      <span id="d-label">Адрес</span><select name="d" aria-labelledby="d-label"></select>
      <input type="hidden" name="e"><input type="submit" value="Отправить">
      <input name="nameless"><textarea name="note"></textarea>""")
    found = await unlabelled_fields(phone_tab)
    assert len(found) == 2
    assert 'name="nameless"' in found[0] and 'name="note"' in found[1]


async def test_axe_reports_serious_problems(phone_tab):
    if not AXE_JS.exists():
        unavailable(f"{AXE_JS} is missing: `make e2e-deps` installs axe-core from the npm registry")
    await phone_tab.set_content(HEAD + '<main><h1>Заголовок</h1><p style="color:#bbb;background:#fff">'
                                       "Бледный текст</p></main></body></html>")
    serious = {v["id"] for v in await axe_violations(phone_tab) if v["impact"] in SERIOUS_IMPACTS}
    assert serious == {"color-contrast"}
    await phone_tab.set_content('<!doctype html><html><body><main><h1>Без заголовка окна</h1>'
                                "</main></body></html>")
    serious = {v["id"] for v in await axe_violations(phone_tab) if v["impact"] in SERIOUS_IMPACTS}
    assert {"document-title", "html-has-lang"} <= serious
