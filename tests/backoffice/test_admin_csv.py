"""The admin's own CSV export is formula-guarded by a patch of its served bundle
(backoffice/ui.py's patch list; the browser side is tests/e2e/test_e2e_admin_csv.py)."""

from __future__ import annotations

import re

import pytest

from backoffice import ui


async def test_the_admin_serves_its_bundle_with_the_guarded_csv_cell(client):
    index = await client.get("/admin/")
    src = re.search(r'src="\./([\w/]+/index-[^"]+\.js)"', index.text)
    assert src, index.text
    bundle = await client.get(f"/admin/{src.group(1)}")
    assert bundle.status_code == 200
    assert ui.SAFE_CSV_CELL.encode() in bundle.content
    assert ui.CSV_CELL.encode() not in bundle.content


def test_an_admin_upgrade_that_changes_the_export_code_fails_loudly():
    source = ui._bundle_file().read_text(encoding="utf-8")
    ui.patched_bundle(source)  # the pinned version patches cleanly
    with pytest.raises(RuntimeError, match=re.escape("Object.values(j)")):
        ui.patched_bundle(source.replace(ui.CSV_CELL, "Object.values(j).map(String)"))
