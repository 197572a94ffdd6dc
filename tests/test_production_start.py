"""Production refuses an unsafe start; development mode is asked for, never the default."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from settings import InvalidSettings, Settings, UnsafeStart, get_settings

ROOT = Path(__file__).resolve().parents[1]
PRODUCTION_VARS = ("CENTRA_DEBUG", "CENTRA_SECRET_KEY", "DATABASE_URL", "CENTRA_ALLOWED_HOSTS")
# Set by the suite (tests/conftest.py); production refuses it, so "nothing configured" unsets it.
SUITE_VARS = ("CENTRA_PASSWORD_HASHING",)


def production(**changes) -> Settings:
    """Complete production settings (the database URL is only checked, never opened here)."""
    complete = {"debug": False, "allowed_hosts": ("centra.example",),
                "database_url": "postgresql://db.example/centra", "secret_key": "k" * 64,
                "password_hashing": "standard", "payee_inn": "4217012345",
                "payee_account": "40702810100000054321"}
    return get_settings().replace(**{**complete, **changes})


def test_debug_is_off_unless_asked_for(monkeypatch):
    for name in PRODUCTION_VARS + SUITE_VARS:
        monkeypatch.delenv(name, raising=False)
    settings = Settings(_env_file=None)
    assert settings.debug is False and settings.production
    # No per-host key file is made up for production: the key must come from the environment.
    assert settings.secret_key.get_secret_value() == ""
    assert len(settings.production_problems()) == 4  # key, database, hosts, bank details


@pytest.mark.parametrize(("change", "named"), [
    ({"secret_key": ""}, "CENTRA_SECRET_KEY"),
    ({"secret_key": "short"}, "CENTRA_SECRET_KEY"),
    ({"database_url": None}, "DATABASE_URL"),
    ({"allowed_hosts": ()}, "CENTRA_ALLOWED_HOSTS"),
    ({"password_hashing": "test-minimal"}, "CENTRA_PASSWORD_HASHING"),
    ({"payee_account": "40702810900000012345"}, "CENTRA_PAYEE_ACCOUNT"),
    ({"payee_inn": "4217000000"}, "CENTRA_PAYEE_INN"),
])
def test_each_missing_setting_refuses_the_app(change, named):
    from app import create_app

    with pytest.raises(UnsafeStart, match=named):
        create_app(production(**change))


def test_uvicorn_refuses_to_start_and_says_what_is_missing():
    """The Procfile's command with nothing configured: it exits, listing all three settings."""
    env = {k: v for k, v in os.environ.items() if k not in PRODUCTION_VARS + SUITE_VARS}
    env["CENTRA_SQLITE_PATH"] = os.environ["CENTRA_SQLITE_PATH"] if "CENTRA_SQLITE_PATH" in os.environ \
        else str(ROOT / "var" / "unused.sqlite3")
    done = subprocess.run([sys.executable, "-m", "uvicorn", "app:create_app", "--factory",
                           "--port", "0"], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode != 0
    assert "refuses to start in production" in done.stderr
    for name in PRODUCTION_VARS[1:]:
        assert name in done.stderr


def test_the_job_worker_refuses_to_start_and_says_what_is_missing():
    """The Procfile's worker with nothing configured exits the same way (one line per setting)."""
    env = {k: v for k, v in os.environ.items() if k not in PRODUCTION_VARS + SUITE_VARS}
    done = subprocess.run([sys.executable, "-m", "jobs", "worker"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode != 0
    assert "refuses to start in production" in done.stderr and "Traceback" not in done.stderr
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


def test_a_bad_value_stops_the_start_with_a_list_not_a_traceback():
    """A typo in the environment: the process exits at once, naming each variable and what it
    expects (a secret's value is not printed)."""
    env = {**os.environ, "PORT": "abc", "CENTRA_ADMIN_MFA": "always", "CENTRA_MAX_BODY_BYTES": "-1",
           "CENTRA_DEBUG": "maybe"}
    done = subprocess.run([sys.executable, "-m", "uvicorn", "app:create_app", "--factory",
                           "--port", "0"], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 1
    assert "Traceback" not in done.stderr, done.stderr
    assert done.stderr.startswith("Centra cannot start: invalid settings"), done.stderr
    for line in ("PORT='abc': Input should be a valid integer",
                 "CENTRA_ADMIN_MFA='always': Input should be '', 'required' or 'optional'",
                 "CENTRA_MAX_BODY_BYTES='-1': Input should be greater than 0",
                 "CENTRA_DEBUG='maybe': Input should be a valid boolean"):
        assert line in done.stderr, done.stderr


def test_bad_values_are_listed_and_secrets_are_not_shown(setenv):
    setenv("STRIPE_SECRET_KEY", "sk_live_do_not_print")
    setenv("CENTRA_NEW_CONTRACT_GRACE_DAYS", "ten")
    with pytest.raises(InvalidSettings) as raised:
        get_settings()
    message = str(raised.value)
    assert "CENTRA_NEW_CONTRACT_GRACE_DAYS='ten'" in message
    assert "sk_live" not in message
    shown = Settings(_env_file=None, new_contract_grace_days=10)
    assert "sk_live" not in repr(shown) and "sk_live" not in str(shown.model_dump())


def test_a_dot_env_file_is_read_and_the_environment_wins(tmp_path, monkeypatch):
    env_file = tmp_path / ".env"
    env_file.write_text("CENTRA_ALLOWED_HOSTS=centra.example, www.centra.example\n"
                        "CENTRA_DEBT_THRESHOLD_KOPECKS=5000\nPORT=9000\nUNRELATED=1\n")
    monkeypatch.setenv("CENTRA_ENV_FILE", str(env_file))
    monkeypatch.setenv("PORT", "8100")
    get_settings.cache_clear()
    try:
        settings = get_settings()
        assert settings.allowed_hosts == ("centra.example", "www.centra.example")
        assert settings.debt_threshold_kopecks == 5000
        assert settings.port == 8100
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()
