"""The liveness probe answers without a database or a session."""

from __future__ import annotations


async def test_healthz_answers_ok_without_touching_the_database(client, monkeypatch):
    from piccolo_conf import DB

    async def no_database(*args, **kwargs):
        raise AssertionError("the probe must not query the database")

    monkeypatch.setattr(type(DB), "run_querystring", no_database)
    response = await client.get("/healthz")
    assert response.status_code == 200 and response.text == "ok"
    assert response.headers["cache-control"] == "no-store"
