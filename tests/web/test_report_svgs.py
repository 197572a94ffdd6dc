"""The reports' SVGs stay byte for byte what they were when the drawing moved from
``backoffice/reports/charts.py`` to ``web/charts.py`` (issue 32: the cabinet's traffic charts use
the same code). The digests below were taken with the old module on the report tests' dataset;
any change to how a report chart is drawn shows here and must be a decision, not an accident.
"""

from __future__ import annotations

import hashlib

from tables.reports import REPORTS
from tables.reports.filters import Filters
from tables.reports.registry import build_report
from tests.support import report_data
from web.charts import draw

#: (slug, group) → SHA-256 of the report's charts drawn one after another.
EXPECTED: dict[tuple[str, str], str] = {
    ('payments', 'month'):
        "f5ed5ac899fd749daa2eaeac9c923ad17f152d67a9db43e12ff91c12dbdc0334",
    ('payments', 'day'):
        "6f40ebacd4ae27ac68e45b96988f1bfc080d2ede41e3c0deb6659de1a660e026",
    ('payments', 'channel'):
        "e5e8598482bc9c9ed737589cd88ab96e6c364a05211d6539c26c11f52ce5eb96",
    ('payments', 'brand'):
        "1b35a5b6e10555c0f186c59ab8a74da090634ce26d5a3173b23d1bfabd5144b3",
    ('billing', ''):
        "f5f01b1d29db5eacf6d139f0f38c3c4b20aa812663849c43c0f6fd6a719712e1",
    ('debtors', ''):
        "f129dd7330ec85401c74f9e2b7ee7009f50568d36ab134b57950efb938ad5f23",
    ('arpu', ''):
        "9945906e9ec1aaf9c0125db87673f97221fddbedbdb4a7708f4d37a54beec842",
    ('subscribers', ''):
        "f3f7de1271a51d16ec3eeb154126c992680b6d97bc9be2ce760ecc893a2d83a5",
    ('churn', 'month'):
        "8768a350fda699f11bd0b72b2906425476d39456934d0d3eeb93ddc77a76415d",
    ('churn', 'reason'):
        "15cdfad141b31a8078d07728348d5a094fa9df3e483e1d082fb01630686e7f03",
    ('requests', ''):
        "a10486815cd2b7c3f147dcd8cf9dad69d777ba2086cf9b51e00248df122d466f",
    ('backlog', ''):
        "08a8d388d49ba32139f12e8679ef85e3129d300ea1727982d04c9d75a180072f",
    ('ratings', ''):
        "28372958dac43a1312b04381d7ee6b75040d1111e3dd6e8c90fb589a49221836",
    # Added after the move (the accounting export for 1C), pinned as first drawn by web/charts.py.
    ('accounting', ''):
        "b17451f8060a491b4a118d63f9fe0dde991626dfd5061a12b568b713ab075840",
    ('comments', ''):
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
}


async def _drawn() -> dict[tuple[str, str], str]:
    await report_data.build()
    out = {}
    for slug, spec in REPORTS.items():
        for group in list(spec.groups) or [""]:
            params = {"from": "2026-08", "to": "2026-11", "group": group, "on": "2026-11-20"}
            filters = Filters.parse({k: v for k, v in params.items() if v},
                                    today=report_data.NOW.date(), spec=spec)
            report = await build_report(slug, filters, now=report_data.NOW)
            charts = spec.charts(report, filters)
            svgs = "".join(str(draw(chart)) for chart in charts)
            assert svgs.count("<svg") == len(charts)
            out[(slug, group)] = hashlib.sha256(svgs.encode()).hexdigest()
    return out


async def test_every_report_chart_is_drawn_as_before():
    """A report added later is drawn (its SVG count is checked in ``_drawn``) but not pinned
    until its digest is added here."""
    drawn = await _drawn()
    assert {key: drawn.get(key) for key in EXPECTED} == EXPECTED
