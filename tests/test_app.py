"""How the application is put together around its routes."""

from __future__ import annotations

from db import lanes


async def test_the_back_office_reads_in_its_own_lane():
    from app import back_office_lane

    seen: dict[str, str] = {}

    async def route(scope, receive, send) -> None:
        seen[scope["path"]] = lanes.current_lane()

    app = back_office_lane(route)
    paths = {"/admin": True, "/admin/api/tables/ledger_entry/count/": True, "/reports": True,
             "/reports/payments.xlsx": True, "/cabinet/": False, "/pay/find": False,
             "/administrator": False, "/": False}
    for path in paths:
        await app({"type": "http", "path": path}, None, None)
    assert seen == {p: lanes.BACK_OFFICE if back else lanes.SITE
                    for p, back in paths.items()}
    assert lanes.current_lane() == lanes.SITE
