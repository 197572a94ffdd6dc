"""Production refuses an unsafe start; development mode is asked for, never the default."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from settings import Settings, UnsafeStart, get_settings

ROOT = Path(__file__).resolve().parents[1]
PRODUCTION_VARS = ("CENTRA_DEBUG", "CENTRA_SECRET_KEY", "DATABASE_URL", "CENTRA_ALLOWED_HOSTS")


def production(**changes) -> Settings:
    """Complete production settings (the database URL is only checked, never opened here)."""
    complete = {"debug": False, "allowed_hosts": ("centra.example",),
                "database_url": "postgresql://db.example/centra", "secret_key": "k" * 64}
    return dataclasses.replace(get_settings(), **{**complete, **changes})


def test_debug_is_off_unless_asked_for(monkeypatch):
    for name in PRODUCTION_VARS:
        monkeypatch.delenv(name, raising=False)
    settings = Settings()
    assert settings.debug is False and settings.production
    # No per-host key file is made up for production: the key must come from the environment.
    assert settings.secret_key == ""
    assert len(settings.production_problems()) == 3


@pytest.mark.parametrize(("change", "named"), [
    ({"secret_key": ""}, "CENTRA_SECRET_KEY"),
    ({"secret_key": "short"}, "CENTRA_SECRET_KEY"),
    ({"database_url": None}, "DATABASE_URL"),
    ({"allowed_hosts": ()}, "CENTRA_ALLOWED_HOSTS"),
])
def test_each_missing_setting_refuses_the_app(change, named):
    from app import create_app

    with pytest.raises(UnsafeStart, match=named):
        create_app(production(**change))


def test_uvicorn_refuses_to_start_and_says_what_is_missing():
    """The Procfile's command with nothing configured: it exits, listing all three settings."""
    env = {k: v for k, v in os.environ.items() if k not in PRODUCTION_VARS}
    env["CENTRA_SQLITE_PATH"] = os.environ["CENTRA_SQLITE_PATH"] if "CENTRA_SQLITE_PATH" in os.environ \
        else str(ROOT / "var" / "unused.sqlite3")
    done = subprocess.run([sys.executable, "-m", "uvicorn", "app:create_app", "--factory",
                           "--port", "0"], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode != 0
    assert "refuses to start in production" in done.stderr
    for name in PRODUCTION_VARS[1:]:
        assert name in done.stderr


async def test_schema_is_not_public_in_production():
    from app import create_app

    app = create_app(production())
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="https://centra.example") as c:
        for path in ("/schema", "/schema/openapi.json", "/schema/swagger"):
            response = await c.get(path)
            assert response.status_code == 404, path
            assert "Litestar API" not in response.text and "staff-view" not in response.text


async def test_complete_production_settings_start():
    from app import create_app

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(production())),
                                 base_url="https://centra.example") as c:
        assert (await c.get("/")).status_code == 200
