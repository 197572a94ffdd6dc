"""Runtime settings, read once from the environment.

Every knob a deployment may turn lives here so that the same code runs on a
laptop (SQLite file, no Redis, local Stripe sandbox) and in production.
"""

from __future__ import annotations

import functools
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent
#: The shortest ``CENTRA_SECRET_KEY`` production accepts (``secrets.token_hex(32)`` gives 64).
MIN_SECRET_KEY = 32


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


def _local_secret() -> str:
    """A development secret kept next to the SQLite file, so restarts of ``make run`` keep
    sessions and encrypted MFA secrets valid. Production must set CENTRA_SECRET_KEY (one key
    for every host and deploy), and refuses to start without it (``production_problems``)."""
    path = PROJECT_DIR / "var" / "secret_key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
    return path.read_text().strip()


@dataclass(frozen=True)
class Settings:
    host: str = field(default_factory=lambda: os.environ.get("HOST", "127.0.0.1"))
    port: int = field(default_factory=lambda: int(os.environ.get("PORT", "8000")))
    # Development mode relaxes cookie security and the admin's HTTPS checks. Off unless asked
    # for: `make run` (run.py) and the tests turn it on.
    debug: bool = field(default_factory=lambda: _bool("CENTRA_DEBUG", False))
    secret_key: str = field(default_factory=lambda: os.environ.get("CENTRA_SECRET_KEY") or (
        _local_secret() if _bool("CENTRA_DEBUG", False) else ""))
    database_url: str | None = field(default_factory=database_url)
    allowed_hosts: tuple[str, ...] = field(
        default_factory=lambda: tuple(
            h.strip() for h in os.environ.get("CENTRA_ALLOWED_HOSTS", "").split(",") if h.strip()
        )
    )
    # "required" | "optional"; by default required in production only.
    admin_mfa: str = field(default_factory=lambda: os.environ.get("CENTRA_ADMIN_MFA", ""))
    max_body_bytes: int = field(
        default_factory=lambda: int(os.environ.get("CENTRA_MAX_BODY_BYTES", str(1024 * 1024)))
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
    # Debt tolerated before a contract is suspended (kopecks; 0: any negative balance).
    debt_threshold_kopecks: int = field(
        default_factory=lambda: max(0, int(os.environ.get("CENTRA_DEBT_THRESHOLD_KOPECKS", "0") or 0))
    )
    # Days after connection during which a new contract is charged but not suspended for debt
    # (its first bill must be payable before service stops); 0 turns the grace off.
    new_contract_grace_days: int = field(
        default_factory=lambda: max(0, int(os.environ.get("CENTRA_NEW_CONTRACT_GRACE_DAYS", "10") or 0))
    )
    # Seconds a payment's last answer from the provider is reused by its result page
    # (anonymous GETs of an open quick-pay page must not each call the provider).
    provider_refresh_cache_seconds: float = field(
        default_factory=lambda: max(0.0, float(os.environ.get("CENTRA_PROVIDER_REFRESH_CACHE_SECONDS",
                                                              "5") or 0))
    )
    # "module:Class" of the notification sender (tables.notifications.Sender).
    notification_sender: str = field(
        default_factory=lambda: os.environ.get("CENTRA_NOTIFICATION_SENDER",
                                               "tables.notifications:ConsoleSender")
    )

    @property
    def production(self) -> bool:
        return not self.debug

    def production_problems(self) -> list[str]:
        """What makes this configuration unsafe to serve in production (empty: nothing)."""
        if self.debug:
            return []
        problems = []
        if not self.secret_key:
            problems.append("CENTRA_SECRET_KEY is not set (one secret for every host and deploy: "
                            "it signs links and forms and encrypts MFA secrets; "
                            "python -c 'import secrets; print(secrets.token_hex(32))')")
        elif len(self.secret_key) < MIN_SECRET_KEY:
            problems.append(f"CENTRA_SECRET_KEY is shorter than {MIN_SECRET_KEY} characters")
        if not self.database_url:
            problems.append("DATABASE_URL is not set to a postgresql:// URL "
                            "(the SQLite file is for development)")
        if not self.allowed_hosts:
            problems.append("CENTRA_ALLOWED_HOSTS is not set (comma-separated host names the "
                            "site answers to; without it any Host header is accepted)")
        return problems


class UnsafeStart(RuntimeError):
    """Production settings that must not serve requests; the message lists what to set."""


def check_production(settings: Settings) -> None:
    """Refuse to start production with missing settings, listing all of them at once.

    :raises UnsafeStart: when ``settings.production_problems()`` is not empty.
    """
    problems = settings.production_problems()
    if problems:
        raise UnsafeStart(
            "Centra refuses to start in production (CENTRA_DEBUG is off):\n"
            + "\n".join(f"  - {p}" for p in problems)
            + "\nSet them in the environment, or run `make run` for development (it sets "
              "CENTRA_DEBUG=1, which must never reach production).")


@functools.cache
def get_settings() -> Settings:
    """The process's settings, read from the environment on the first call.

    Hot paths (every quick-pay search signs a ticket) call this per request; building
    ``Settings`` reads fifteen variables. Whoever changes the environment afterwards (the
    local sandbox in run.py, tests) calls ``get_settings.cache_clear()``.
    """
    return Settings()
