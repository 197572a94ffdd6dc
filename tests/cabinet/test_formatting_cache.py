"""Cached formatting must give exactly what the uncached templates gave."""

from __future__ import annotations

import jinja2

from web.formatting import FILTERS, month_options, month_ru, rub

LOOP = ('{% for p in months %}<option value="{{ p }}"{% if p == selected %} selected{% endif %}>'
        "{{ p|month_ru }}</option>{% endfor %}")


def test_month_options_equal_the_template_loop_they_replace():
    env = jinja2.Environment(autoescape=True)
    env.filters.update(FILTERS)
    loop = env.from_string(LOOP)
    months = ["2026-11", "2026-10", "2026-01", "2025-12"]
    for selected in ("2026-10", "2026-11", "2025-12", None, "1999-01"):
        expected = loop.render(months=months, selected=selected)
        assert str(month_options(months, selected)) == expected
        assert expected.count(" selected") == (selected in months)


def test_cached_formatters_answer_the_same_every_time():
    assert rub(123456) == rub(123456) == "1\xa0234,56\xa0₽"
    assert rub(-5000) == "-50,00\xa0₽"
    assert month_ru("2026-11") == "ноябрь 2026"
