"""Runtime settings, read once from the environment.

Every knob a deployment may turn lives here so that the same code runs on a
laptop (SQLite file, no Redis, local Stripe sandbox) and in production.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent


def _bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def database_url() -> str | None:
    """``DATABASE_URL`` when it names PostgreSQL, else ``None`` (SQLite)."""
    url = os.environ.get("DATABASE_URL", "").strip()
    if url.startswith(("postgres://", "postgresql://")):
        return url
    return None


def sqlite_path() -> Path:
    return Path(os.environ.get("CENTRA_SQLITE_PATH", PROJECT_DIR / "var" / "centra.sqlite3"))


@dataclass(frozen=True)
class Settings:
    host: str = field(default_factory=lambda: os.environ.get("HOST", "127.0.0.1"))
    port: int = field(default_factory=lambda: int(os.environ.get("PORT", "8000")))
    # Development mode relaxes cookie security and the admin's HTTPS checks.
    debug: bool = field(default_factory=lambda: _bool("CENTRA_DEBUG", True))
    secret_key: str = field(
        default_factory=lambda: os.environ.get("CENTRA_SECRET_KEY") or secrets.token_hex(32)
    )
    allowed_hosts: tuple[str, ...] = field(
        default_factory=lambda: tuple(
            h.strip() for h in os.environ.get("CENTRA_ALLOWED_HOSTS", "").split(",") if h.strip()
        )
    )
    redis_url: str | None = field(default_factory=lambda: os.environ.get("REDIS_URL") or None)
    stripe_api_base: str = field(
        default_factory=lambda: os.environ.get("STRIPE_API_BASE", "https://api.stripe.com")
    )
    stripe_js_url: str = field(
        default_factory=lambda: os.environ.get("STRIPE_JS_URL", "https://js.stripe.com/v3/")
    )
    stripe_secret_key: str = field(default_factory=lambda: os.environ.get("STRIPE_SECRET_KEY", ""))
    stripe_publishable_key: str = field(
        default_factory=lambda: os.environ.get("STRIPE_PUBLISHABLE_KEY", "")
    )
    stripe_webhook_secret: str = field(
        default_factory=lambda: os.environ.get("STRIPE_WEBHOOK_SECRET", "")
    )
    # "module:Class" of the notification sender (tables.notifications.Sender).
    notification_sender: str = field(
        default_factory=lambda: os.environ.get("CENTRA_NOTIFICATION_SENDER",
                                               "tables.notifications:ConsoleSender")
    )

    @property
    def production(self) -> bool:
        return not self.debug


def get_settings() -> Settings:
    return Settings()
