"""Traffic by local day and by month (tables.traffic, issue 32): accounting records count for the
Novokuznetsk (UTC+7) day they arrive on, months are summed by the database, on both engines."""

from __future__ import annotations

import datetime as dt

import pytest

import tables.radius
import tables.traffic
from tables.month import Month
from tables.network import NetworkAccess, TrafficDay
from tables.radius import account
from tables.traffic import parse_month, traffic_by_day, traffic_by_month, traffic_charts
from tests.support.factories import make_subscriber
from web.charts import draw

MB = 1024 * 1024


def utc(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=dt.UTC)


class Nas:
    """Sends one session's accounting at chosen moments (the clock of tables.radius)."""

    def __init__(self, monkeypatch, login: str) -> None:
        self.monkeypatch, self.login, self.down, self.up = monkeypatch, login, 0, 0

    async def send(self, when: dt.datetime, status: str, *, down: int = 0, up: int = 0) -> None:
        self.down, self.up = self.down + down, self.up + up
        self.monkeypatch.setattr(tables.radius, "utcnow", lambda: when)
        assert await account({"User-Name": self.login, "Acct-Session-Id": f"s-{self.login}",
                              "Acct-Status-Type": status, "Acct-Output-Octets": str(self.down),
                              "Acct-Input-Octets": str(self.up)}, "127.0.0.1") != "ignored"


async def _online(login: str, **kwargs):
    s = await make_subscriber(**kwargs)
    await NetworkAccess(subscriber=s.id, login=login, password="pw").save()
    return s


async def test_days_are_local_days_across_midnight_and_the_month_boundary(monkeypatch):
    me = await _online("me")
    other = await _online("other", phone="+79137654321")
    nas, noise = Nas(monkeypatch, "me"), Nas(monkeypatch, "other")
    await nas.send(utc(2026, 11, 29, 16, 0), "Start", down=1 * MB)          # 23:00 local, 29 Nov
    await nas.send(utc(2026, 11, 29, 16, 59), "Interim-Update", down=2 * MB)  # 23:59 local, 29 Nov
    await nas.send(utc(2026, 11, 29, 17, 1), "Interim-Update", down=4 * MB)   # 00:01 local, 30 Nov
    await nas.send(utc(2026, 11, 30, 16, 59), "Interim-Update", up=8 * MB)    # 23:59 local, 30 Nov
    # 17:01 UTC on 30 November is 00:01 on 1 December in Novokuznetsk: December's traffic.
    await nas.send(utc(2026, 11, 30, 17, 1), "Interim-Update", down=16 * MB, up=32 * MB)
    await nas.send(utc(2026, 12, 7, 3, 0), "Stop", down=64 * MB)
    await noise.send(utc(2026, 11, 30, 12, 0), "Start", down=1000 * MB)     # someone else's

    november = {d.day.day: (d.download, d.upload) for d in await traffic_by_day(me.id, Month(2026, 11))}
    assert len(november) == 30 and november[28] == (0, 0)  # every day, zero when quiet
    assert november[29] == (3 * MB, 0) and november[30] == (4 * MB, 8 * MB)
    december = await traffic_by_day(me.id, Month(2026, 12))
    assert [(d.day, d.download, d.upload) for d in december if d.total] == [
        (dt.date(2026, 12, 1), 16 * MB, 32 * MB), (dt.date(2026, 12, 7), 64 * MB, 0)]

    months = await traffic_by_month(me.id, Month(2026, 12))
    assert [m.month for m in months] == Month.range(Month(2026, 1), Month(2026, 12))
    assert [(m.download, m.upload) for m in months[-2:]] == [(7 * MB, 8 * MB), (80 * MB, 32 * MB)]
    assert sum(m.total for m in months[:-2]) == 0
    assert (await traffic_by_month(other.id, Month(2026, 12)))[-1].download == 0
    assert (await traffic_by_month(other.id, Month(2026, 11)))[-1].download == 1000 * MB
    # Retransmitted records add nothing: the rows say the same after the Stop arrives again.
    await nas.send(utc(2026, 12, 7, 3, 0), "Stop")
    assert (await traffic_by_month(me.id, Month(2026, 12)))[-1].download == 80 * MB


async def test_months_are_summed_in_the_database_from_many_days():
    me = await make_subscriber()
    for n, day in enumerate((dt.date(2025, 12, 31), dt.date(2026, 1, 1), dt.date(2026, 1, 31),
                             dt.date(2026, 2, 1), dt.date(2026, 2, 28))):
        await TrafficDay(day_key=f"{me.id}:{day}", subscriber=me.id, day=day,
                         download_bytes=10 ** n, upload_bytes=5 * 10 ** 9).save()
    months = await traffic_by_month(me.id, Month(2026, 2), count=3)
    assert [(str(m.month), m.download, m.upload) for m in months] == [
        ("2025-12", 1, 5 * 10 ** 9), ("2026-01", 110, 10 ** 10), ("2026-02", 11000, 10 ** 10)]


@pytest.mark.parametrize(("text", "message"), [
    ("2026-13", "ГГГГ-ММ"), ("декабрь", "ГГГГ-ММ"), ("<script>", "ГГГГ-ММ"), ("9" * 500, "ГГГГ-ММ"),
    ("2027-01", "за последние 12 месяцев"), ("2025-12", "за последние 12 месяцев"),
])
def test_a_month_out_of_range_or_malformed_is_refused_in_russian(text, message):
    now = utc(2026, 12, 7, 5, 0)
    with pytest.raises(ValueError, match=message):
        parse_month(text, now)


def test_the_months_one_may_choose():
    now = utc(2026, 11, 30, 17, 30)  # 00:30 on 1 December in Novokuznetsk
    assert parse_month("", now) == Month(2026, 12)
    assert parse_month("2026-01", now) == Month(2026, 1) == parse_month("январь 2026", now)


def test_the_charts_read_in_russian_units_with_a_title_and_a_description():
    days = [tables.traffic.DayTraffic(day=d, download=1288490188 if d.day == 7 else 0, upload=5 * MB)
            for d in Month(2026, 12).dates()]
    months = [tables.traffic.MonthTraffic(month=m, download=3 * MB, upload=0)
              for m in Month.range(Month(2026, 1), Month(2026, 12))]
    by_day, by_month = (str(draw(chart)) for chart in traffic_charts(days, months))
    assert "<title>Трафик по дням, декабрь 2026</title>" in by_day and "<desc>" in by_day
    assert "07: Получено — 1,2\u00a0ГБ" in by_day  # the bar's tooltip, in the axis's unit
    assert "\u00a0ГБ</text>" in by_day and "МБ</text>" not in by_day
    assert "<title>Трафик по месяцам</title>" in by_month and ">01.2026</text>" in by_month
    assert "3\u00a0МБ" in by_month and "<desc>" in by_month
