"""The FAQ's answer on pausing the service (issue 29, item 3): it sent subscribers to a request or
the hotline; the cabinet now has the voluntary pause page. Only the old paragraph, word for word,
is replaced (a page staff have reworded keeps their text). Texts copied, not imported."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-12-07T12:40:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "faq: voluntary pause"

OLD = ("**Как приостановить услуги на время отъезда?** Оставьте в личном кабинете заявку «Услуга» с\n"
       "датами или позвоните на горячую линию.\n")
NEW = ("**Как приостановить услуги на время отъезда?** В личном кабинете, раздел «Тариф» →\n"
       "[«Добровольная блокировка»](/cabinet/pause/): выберите первый день и срок — от 7 до 90 дней, не\n"
       "больше 90 дней за календарный год. За дни блокировки абонентская плата не списывается (месяц\n"
       "пересчитывается по дням). Блокировка заканчивается сама, а вернуть услуги раньше можно там же\n"
       "одной кнопкой. Оформить блокировку можно, если на счёте нет долга.\n")


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="tables", description=DESCRIPTION)

    async def run():
        from piccolo.querystring import QueryString

        from piccolo_conf import DB

        await DB.run_querystring(QueryString(
            "UPDATE page SET body = REPLACE(body, {}, {}) WHERE slug = 'faq'", OLD, NEW))

    manager.add_raw(run)
    return manager
