"""Rating the cabinet: validation, one rating per subscriber per month, the staff summary."""

from __future__ import annotations

import datetime as dt

import pytest

from tables.ratings import (
    MAX_COMMENT_LENGTH,
    CabinetRating,
    current_rating,
    rate_cabinet,
    rating_period,
    rating_summary,
)
from tests.support.factories import make_subscriber

NOW = dt.datetime(2026, 12, 10, 12, 0, tzinfo=dt.UTC)


@pytest.mark.parametrize("score", [0, 6, -1, "abc", "", None, "3.5", "٣", True, 2.0])
async def test_score_outside_one_to_five_is_refused(score):
    with pytest.raises(ValueError, match="от 1 до 5"):
        await rate_cabinet(score, "", now=NOW)
    assert await CabinetRating.count() == 0


async def test_overlong_comment_is_refused_and_limit_is_allowed():
    with pytest.raises(ValueError, match="не больше 1000"):
        await rate_cabinet(4, "я" * (MAX_COMMENT_LENGTH + 1), now=NOW)
    assert await CabinetRating.count() == 0
    rating = await rate_cabinet("4", "я" * MAX_COMMENT_LENGTH, now=NOW)
    stored = await CabinetRating.objects().get(CabinetRating.id == rating.id)
    assert stored.score == 4 and len(stored.comment) == MAX_COMMENT_LENGTH and stored.subscriber is None
    # A browser counts a line break once against maxlength but sends it as CRLF.
    lines = "\r\n".join(["строка"] * 140)
    assert len(lines.replace("\r\n", "\n")) <= MAX_COMMENT_LENGTH < len(lines)
    assert (await rate_cabinet(2, lines, now=NOW)).comment == lines.replace("\r\n", "\n")


async def test_rerating_in_the_same_month_replaces_and_next_month_adds():
    subscriber = await make_subscriber()
    first = await rate_cabinet(2, "неудобно", subscriber_id=subscriber.id, now=NOW)
    second = await rate_cabinet(5, "  стало лучше  ", subscriber_id=subscriber.id,
                                now=NOW + dt.timedelta(days=5))
    rows = await CabinetRating.select().where(CabinetRating.subscriber == subscriber.id)
    assert len(rows) == 1 and rows[0]["id"] == first.id == second.id
    assert (rows[0]["score"], rows[0]["comment"]) == (5, "стало лучше")
    assert await current_rating(subscriber.id, now=NOW) == {"score": 5, "comment": "стало лучше"}
    await rate_cabinet(3, "", subscriber_id=subscriber.id, now=NOW + dt.timedelta(days=30))
    periods = sorted(r["period"] for r in await CabinetRating.select(CabinetRating.period))
    assert periods == ["2026-12", "2027-01"]


async def test_anonymous_ratings_are_never_merged():
    await rate_cabinet(1, "", now=NOW)
    await rate_cabinet(5, "", now=NOW)
    assert await CabinetRating.count() == 2


async def test_unknown_subscriber_is_refused():
    with pytest.raises(ValueError):
        await rate_cabinet(3, "", subscriber_id=424242, now=NOW)
    assert await CabinetRating.count() == 0


async def test_month_is_local_time():
    # 20:00 UTC on 31 January is already 1 February in Novokuznetsk (UTC+7).
    assert rating_period(dt.datetime(2027, 1, 31, 20, 0, tzinfo=dt.UTC)) == "2027-02"
    assert rating_period(dt.datetime(2027, 1, 31, 16, 0, tzinfo=dt.UTC)) == "2027-01"


async def test_summary_counts_each_level_per_month_with_comments():
    for score, comment in [(5, "отлично"), (5, ""), (4, ""), (1, "ничего не найти")]:
        await rate_cabinet(score, comment, now=NOW)
    await rate_cabinet(3, "прошлый месяц", now=NOW - dt.timedelta(days=31))
    months = await rating_summary()
    assert [m.period for m in months] == ["2026-12", "2026-11"]
    december = months[0]
    assert december.counts == {1: 1, 2: 0, 3: 0, 4: 1, 5: 2}
    assert december.total == 4 and december.average == pytest.approx(15 / 4)
    assert sorted(c["comment"] for c in december.comments) == ["ничего не найти", "отлично"]
    only = await rating_summary("2026-11")
    assert [(m.period, m.total) for m in only] == [("2026-11", 1)]
    with pytest.raises(ValueError, match="ГГГГ-ММ"):
        await rating_summary("2026-13")


async def test_database_holds_one_row_per_subscriber_and_month():
    subscriber = await make_subscriber()
    row = dict(subscriber=subscriber.id, score=3, comment="", period="2026-12", created_at=NOW)
    await CabinetRating.insert(CabinetRating(**row))
    with pytest.raises(Exception):  # noqa: B017 - driver-specific IntegrityError
        await CabinetRating.insert(CabinetRating(**row))
    with pytest.raises(Exception):  # noqa: B017 - the CHECK on score
        await CabinetRating.insert(CabinetRating(**{**row, "subscriber": None, "score": 6}))
    assert await CabinetRating.count() == 1
