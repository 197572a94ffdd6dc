"""Runtime settings: typed and validated (pydantic-settings), read once per process.

Every knob a deployment may turn lives here so that the same code runs on a laptop (SQLite
file, no Redis, local Stripe sandbox) and in production. Values come from the environment,
then from a ``.env`` file in the project folder (``CENTRA_ENV_FILE`` names another file; an
empty value reads none), then the defaults below. An empty variable counts as unset.

Nothing else in the code reads the environment for its configuration: ask ``get_settings()``.
"""

from __future__ import annotations

import functools
import os
import secrets
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

PROJECT_DIR = Path(__file__).resolve().parent
#: The shortest ``CENTRA_SECRET_KEY`` production accepts (``secrets.token_hex(32)`` gives 64).
MIN_SECRET_KEY = 32
#: The demo data's bank details (make run); production refuses to print them on slips.
DEMO_PAYEE_INN = "4217000000"
DEMO_PAYEE_ACCOUNT = "40702810900000012345"
#: ``CENTRA_PASSWORD_HASHING`` for the test suite: argon2id at its minimal cost
#: (``tables/passwords.py``). Production refuses it.
TEST_PASSWORD_HASHING = "test-minimal"


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


def _env(name: str, default: Any, **kwargs: Any) -> Any:
    """A field read from the environment variable ``name`` (the deployed names predate this
    class: some carry ``CENTRA_``, some are the platform's own, like ``PORT``)."""
    return Field(default, validation_alias=name, **kwargs)


class PaymentAgent(BaseModel):
    """One payment agent or terminal network speaking the check/pay protocol
    (``/payments/agents/<code>``; docs/payments.md, "Payment agents and terminals").

    At least one of ``secret`` (every request carries ``sign``, an HMAC-SHA256 of its
    parameters) and ``allowed_ips`` (addresses or networks the agent calls from) is required;
    with both, a request must pass both.
    """

    model_config = {"frozen": True, "extra": "forbid"}

    name: str = Field(min_length=1, max_length=100)
    secret: SecretStr = SecretStr("")
    allowed_ips: tuple[str, ...] = ()

    @field_validator("allowed_ips")
    @classmethod
    def _networks(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        import ipaddress

        for item in value:
            ipaddress.ip_network(item, strict=False)  # ValueError names the bad one
        return value

    @model_validator(mode="after")
    def _guarded(self) -> PaymentAgent:
        if not self.secret.get_secret_value() and not self.allowed_ips:
            raise ValueError("an agent needs a secret or allowed_ips (or both)")
        return self


class Settings(BaseSettings):
    """The process's configuration. Build it with ``get_settings()``; tests that need other
    values build one with ``replace`` or set the variable and clear ``get_settings``' cache."""

    model_config = SettingsConfigDict(
        env_file=PROJECT_DIR / ".env", env_ignore_empty=True, extra="ignore", frozen=True,
        validate_by_name=True, validate_by_alias=True, validate_default=False,
    )

    host: str = _env("HOST", "127.0.0.1")
    port: int = _env("PORT", 8000, ge=0, le=65535)
    # Development mode relaxes cookie security and the admin's HTTPS checks. Off unless asked
    # for: `make run` (run.py) and the tests turn it on. Comes before ``secret_key``, whose
    # default depends on it.
    debug: bool = _env("CENTRA_DEBUG", False)
    # Signs links, forms and cookies and encrypts MFA secrets. In development a key file in
    # var/; production refuses to start without it.
    secret_key: SecretStr = Field(
        default_factory=lambda data: SecretStr(_local_secret() if data.get("debug") else ""),
        validation_alias="CENTRA_SECRET_KEY")
    # ``postgresql://…`` switches to PostgreSQL; anything else (or nothing) means the SQLite file.
    database_url: str | None = _env("DATABASE_URL", None)
    sqlite_path: Path = _env("CENTRA_SQLITE_PATH", PROJECT_DIR / "var" / "centra.sqlite3")
    # A streaming replica the reports read from (db/replica.py), with PostgreSQL only; it is used
    # while its replay lag is under ``replica_max_lag`` seconds, checked every ``replica_check_every``.
    database_replica_url: str | None = _env("DATABASE_REPLICA_URL", None)
    replica_max_lag: float = _env("CENTRA_REPLICA_MAX_LAG", 30.0, ge=0)
    replica_check_every: float = _env("CENTRA_REPLICA_CHECK_EVERY", 5.0, ge=0)
    # Host names the site answers to, comma-separated (production requires them).
    allowed_hosts: Annotated[tuple[str, ...], NoDecode] = _env("CENTRA_ALLOWED_HOSTS", ())
    # Staff MFA: "required" | "optional"; empty: required in production only.
    admin_mfa: Literal["", "required", "optional"] = _env("CENTRA_ADMIN_MFA", "")
    max_body_bytes: int = _env("CENTRA_MAX_BODY_BYTES", 1024 * 1024, gt=0)
    # Shares rate limits between processes; without it each process counts its own.
    redis_url: str | None = _env("REDIS_URL", None)
    stripe_api_base: str = _env("STRIPE_API_BASE", "https://api.stripe.com")
    stripe_js_url: str = _env("STRIPE_JS_URL", "https://js.stripe.com/v3/")
    stripe_secret_key: SecretStr = _env("STRIPE_SECRET_KEY", SecretStr(""))
    stripe_publishable_key: str = _env("STRIPE_PUBLISHABLE_KEY", "")
    stripe_webhook_secret: SecretStr = _env("STRIPE_WEBHOOK_SECRET", SecretStr(""))
    # Debt tolerated before a contract is suspended (kopecks; 0: any negative balance).
    debt_threshold_kopecks: int = _env("CENTRA_DEBT_THRESHOLD_KOPECKS", 0, ge=0)
    # Days after connection during which a new contract is charged but not suspended for debt
    # (its first bill must be payable before service stops); 0 turns the grace off.
    new_contract_grace_days: int = _env("CENTRA_NEW_CONTRACT_GRACE_DAYS", 10, ge=0)
    # Voluntary pause (добровольная блокировка, tables/billing/pauses.py): its length in days,
    # the days a contract may be paused per calendar year, and the fee a paused month costs
    # (kopecks, prorated by paused days; 0: a pause costs nothing).
    pause_min_days: int = _env("CENTRA_PAUSE_MIN_DAYS", 7, ge=1)
    pause_max_days: int = _env("CENTRA_PAUSE_MAX_DAYS", 90, ge=1)
    pause_days_per_year: int = _env("CENTRA_PAUSE_DAYS_PER_YEAR", 90, ge=0)
    pause_fee_kopecks: int = _env("CENTRA_PAUSE_FEE_KOPECKS", 0, ge=0)
    # Seconds a payment's last answer from the provider is reused by its result page
    # (anonymous GETs of an open quick-pay page must not each call the provider).
    provider_refresh_cache_seconds: float = _env("CENTRA_PROVIDER_REFRESH_CACHE_SECONDS", 5.0, ge=0)
    # "module:Class" of the notification sender (tables.notifications.Sender). The default sends
    # e-mail over SMTP when CENTRA_SMTP_HOST is set and SMS through the gateway when
    # CENTRA_SMS_API_ID is set; a channel without its settings is printed to the console.
    notification_sender: str = _env("CENTRA_NOTIFICATION_SENDER", "tables.notifications:GatewaySender")
    smtp_host: str = _env("CENTRA_SMTP_HOST", "")
    smtp_port: int = _env("CENTRA_SMTP_PORT", 587, ge=0, le=65535)
    # "starttls" (submission, 587), "ssl" (implicit TLS, 465) or "none" (a local relay).
    smtp_security: Literal["starttls", "ssl", "none"] = _env("CENTRA_SMTP_SECURITY", "starttls")
    smtp_username: str = _env("CENTRA_SMTP_USERNAME", "")
    smtp_password: SecretStr = _env("CENTRA_SMTP_PASSWORD", SecretStr(""))
    mail_from: str = _env("CENTRA_MAIL_FROM", "Centra <noreply@centra.local>")
    # An SMS.ru-style HTTP gateway (providers/sms.py); without an api_id SMS go to the console.
    sms_api_url: str = _env("CENTRA_SMS_API_URL", "https://sms.ru")
    sms_api_id: SecretStr = _env("CENTRA_SMS_API_ID", SecretStr(""))
    sms_sender: str = _env("CENTRA_SMS_SENDER", "")
    # Messages per second each gateway takes (the SMS gateway's contract limit, the mail relay's),
    # shared by every worker process through the database (tables/send_rate.py); 0: no limit.
    sms_rate: int = _env("CENTRA_SMS_RATE", 20, ge=0, le=10_000)
    email_rate: int = _env("CENTRA_EMAIL_RATE", 20, ge=0, le=10_000)
    # The site's address as subscribers reach it, for links in messages (unsubscribe).
    public_url: str = _env("CENTRA_PUBLIC_URL", "http://127.0.0.1:8000")
    # Fiscal receipts (54-FZ, tables/payments/receipts.py): the seller printed on every receipt
    # and the online cash register (ATOL Online v5) they are sent to. Without a login, group
    # and INN receipts are built and shown as «не фискализирован», and nothing is sent.
    receipt_seller_name: str = _env("CENTRA_RECEIPT_SELLER_NAME", "ООО «Центра»")
    receipt_seller_inn: str = _env("CENTRA_RECEIPT_SELLER_INN", "")
    receipt_seller_email: str = _env("CENTRA_RECEIPT_SELLER_EMAIL", "")
    # Place of settlement (тег 1187): the site's address for payments on the site.
    receipt_place: str = _env("CENTRA_RECEIPT_PLACE", "https://centra.example")
    receipt_tax_system: Literal["osn", "usn_income", "usn_income_outcome", "esn", "patent"] = _env(
        "CENTRA_RECEIPT_TAX_SYSTEM", "osn")
    # VAT of a top-up (an advance: the computed rates vat120/vat122 on OSN; "none" without VAT).
    receipt_vat: Literal["none", "vat0", "vat5", "vat7", "vat10", "vat20", "vat22", "vat105",
                         "vat107", "vat110", "vat120", "vat122"] = _env("CENTRA_RECEIPT_VAT", "vat122")
    atol_url: str = _env("CENTRA_ATOL_URL", "https://online.atol.ru/possystem/v5")
    atol_login: str = _env("CENTRA_ATOL_LOGIN", "")
    atol_password: SecretStr = _env("CENTRA_ATOL_PASSWORD", SecretStr(""))
    atol_group_code: str = _env("CENTRA_ATOL_GROUP_CODE", "")
    # Where subscribers reach the site, for links in messages (autopay's pay link).
    site_url: str = _env("CENTRA_SITE_URL", "http://127.0.0.1:8000")
    # Autopay: off-session charges of a saved card per contract and month, at most this many
    # attempts (one a day) before the subscriber is left to pay by hand.
    autopay_attempts: int = _env("CENTRA_AUTOPAY_ATTEMPTS", 2, ge=1, le=5)
    # Days before the monthly charge when a balance that will not cover it is reported.
    balance_reminder_days: int = _env("CENTRA_BALANCE_REMINDER_DAYS", 3, ge=1, le=28)
    # How long pages may show (and the quick-pay search may use) directory and site data read
    # earlier. The browser tests set 0: their one server process outlives each test's rows.
    site_cache_seconds: float = _env("CENTRA_SITE_CACHE_SECONDS", 30.0, ge=0)
    # Password hashes (argon2) run at once in this process; 0: one per core (tables/passwords.py).
    hashing_threads: int = _env("CENTRA_HASHING_THREADS", 0, ge=0)
    # "standard": argon2id at argon2-cffi's defaults. "test-minimal": argon2id at its minimal
    # cost, for the test suite only (a hash takes microseconds); production refuses it.
    password_hashing: Literal["standard", "test-minimal"] = _env("CENTRA_PASSWORD_HASHING", "standard")
    # Staff logins per address in five minutes (an office shares one address behind NAT).
    admin_login_limit: int = _env("CENTRA_ADMIN_LOGIN_LIMIT", 100, gt=0)
    # Payment agents and terminals, JSON: {"<code>": {"name": "...", "secret": "...",
    # "allowed_ips": ["203.0.113.0/24"]}}; each answers at /payments/agents/<code>.
    payment_agents: dict[str, PaymentAgent] = _env("CENTRA_PAYMENT_AGENTS", {})
    # FreeRADIUS's rlm_rest calls /radius/… (docs/network.md) with this key (HTTP basic auth);
    # empty: derived from CENTRA_SECRET_KEY (network.endpoint.api_key), which the generated
    # FreeRADIUS configuration reads the same way.
    radius_api_key: SecretStr = _env("CENTRA_RADIUS_API_KEY", SecretStr(""))
    # Addresses FreeRADIUS servers call from, comma-separated; everyone else gets 404.
    radius_clients: Annotated[tuple[str, ...], NoDecode] = _env("CENTRA_RADIUS_CLIENTS",
                                                                ("127.0.0.1", "::1"))
    # The job engine (jobs/): a worker's heartbeat; a worker silent this long counts as dead and
    # its jobs are queued again, looked for this often; jobs one worker runs at once; the
    # engine's own PostgreSQL pool (docs/architecture.md).
    jobs_heartbeat: float = _env("CENTRA_JOBS_HEARTBEAT", 10.0, gt=0)
    jobs_stalled_after: float = _env("CENTRA_JOBS_STALLED_AFTER", 60.0, gt=0)
    jobs_recover_every: float = _env("CENTRA_JOBS_RECOVER_EVERY", 15.0, gt=0)
    jobs_concurrency: int = _env("CENTRA_JOBS_CONCURRENCY", 4, ge=1)
    jobs_pool_size: int = _env("CENTRA_JOBS_POOL_SIZE", 4, ge=1)
    # A worker inside the web process: unset, on SQLite only (its queue lives in that process);
    # on or off when set. The queues it takes, comma-separated (empty: all).
    embedded_worker: bool | None = _env("CENTRA_EMBEDDED_WORKER", None)
    embedded_queues: Annotated[tuple[str, ...], NoDecode] = _env("CENTRA_EMBEDDED_QUEUES", ())
    # The queue exports go to: a separate set of hosts (the browser tests' server) can keep its own.
    export_queue: str = _env("CENTRA_EXPORT_QUEUE", "exports", min_length=1, max_length=60)
    # Hours a finished export's file can be downloaded (tables/background.py).
    export_ttl_hours: int = _env("CENTRA_EXPORT_TTL_HOURS", 24, gt=0)
    # The provider's bank details: bank statements are checked against the account, payment
    # slips and their QR code (GOST R 56042-2014) carry all of them.
    payee_name: str = _env("CENTRA_PAYEE_NAME", "ООО «Центра»")
    payee_inn: str = _env("CENTRA_PAYEE_INN", DEMO_PAYEE_INN, pattern=r"^(\d{10}|\d{12})$")
    payee_kpp: str = _env("CENTRA_PAYEE_KPP", "421701001", pattern=r"^(\d{9})?$")
    payee_account: str = _env("CENTRA_PAYEE_ACCOUNT", DEMO_PAYEE_ACCOUNT, pattern=r"^\d{20}$")
    payee_bank: str = _env("CENTRA_PAYEE_BANK", "Кемеровское отделение № 8615 ПАО Сбербанк")
    payee_bic: str = _env("CENTRA_PAYEE_BIC", "043207612", pattern=r"^\d{9}$")
    payee_corr_account: str = _env("CENTRA_PAYEE_CORR_ACCOUNT", "30101810200000000612",
                                   pattern=r"^\d{20}$")
    # `make run` only (run.py): the local Stripe sandbox's preferred port and uvicorn's log level.
    stripe_sandbox_port: int = _env("STRIPE_SANDBOX_PORT", 8420, ge=0, le=65535)
    log_level: str = _env("LOG_LEVEL", "info")

    @field_validator("database_url", "database_replica_url", mode="before")
    @classmethod
    def _postgres_only(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = value.strip()
            return value if value.startswith(("postgres://", "postgresql://")) else None
        return value

    @field_validator("allowed_hosts", "radius_clients", "embedded_queues", mode="before")
    @classmethod
    def _comma_separated(cls, value: Any) -> Any:
        if isinstance(value, str):
            return tuple(h.strip() for h in value.split(",") if h.strip())
        return value

    @property
    def production(self) -> bool:
        return not self.debug

    def replace(self, **changes: Any) -> Settings:
        """A copy with ``changes`` (by field name), validated like the environment's values."""
        return type(self).model_validate({**self.model_dump(), **changes})

    def production_problems(self) -> list[str]:
        """What makes this configuration unsafe to serve in production (empty: nothing)."""
        if self.debug:
            return []
        problems = []
        secret_key = self.secret_key.get_secret_value()
        if not secret_key:
            problems.append("CENTRA_SECRET_KEY is not set (one secret for every host and deploy: "
                            "it signs links and forms and encrypts MFA secrets; "
                            "python -c 'import secrets; print(secrets.token_hex(32))')")
        elif len(secret_key) < MIN_SECRET_KEY:
            problems.append(f"CENTRA_SECRET_KEY is shorter than {MIN_SECRET_KEY} characters")
        if not self.database_url:
            problems.append("DATABASE_URL is not set to a postgresql:// URL "
                            "(the SQLite file is for development)")
        if not self.allowed_hosts:
            problems.append("CENTRA_ALLOWED_HOSTS is not set (comma-separated host names the "
                            "site answers to; without it any Host header is accepted)")
        if self.payee_account == DEMO_PAYEE_ACCOUNT or self.payee_inn == DEMO_PAYEE_INN:
            problems.append("CENTRA_PAYEE_ACCOUNT / CENTRA_PAYEE_INN are the demo's: payment slips "
                            "(their QR code) and bank statements would name a made-up account "
                            "(set the provider's bank details, CENTRA_PAYEE_*)")
        if self.password_hashing != "standard":
            problems.append(f"CENTRA_PASSWORD_HASHING is {self.password_hashing!r}: passwords "
                            "hashed at the test suite's minimal cost (unset it)")
        return problems


class UnsafeStart(RuntimeError):
    """Production settings that must not serve requests; the message lists what to set."""


class InvalidSettings(SystemExit):
    """A value that is not what its setting expects. A ``SystemExit`` whose code is the message:
    the process ends printing the list of bad values, without a traceback."""


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


def describe_errors(error: ValidationError) -> str:
    """The bad values, one line each, named by their environment variable (secrets not shown)."""
    lines = []
    for item in error.errors(include_url=False):
        if item["type"] == "default_factory_not_called":
            continue  # a default that depends on a field named above
        name = ".".join(str(part) for part in item["loc"]) or "settings"
        top = name.split(".")[0]
        field = next((f for f, info in Settings.model_fields.items()
                      if top in (f, info.validation_alias)), None)
        # The agents' JSON carries their secrets: never echoed either.
        secret = field is not None and (Settings.model_fields[field].annotation is SecretStr
                                        or field == "payment_agents")
        shown = "" if secret or item["type"] == "missing" else f"={item['input']!r}"
        lines.append(f"  - {name}{shown}: {item['msg']}")
    return ("Centra cannot start: invalid settings (from the environment or the .env file):\n"
            + "\n".join(lines) + "\nCorrect them, or unset them to take the default.")


@functools.cache
def get_settings() -> Settings:
    """The process's settings, read from the environment (and ``.env``) on the first call.

    Hot paths (every quick-pay search signs a ticket) call this per request, so they are read
    once. Whoever changes the environment afterwards (the local sandbox in run.py, tests)
    calls ``get_settings.cache_clear()``.

    :raises InvalidSettings: a value that is not valid (the process exits with the list).
    """
    env_file = os.environ.get("CENTRA_ENV_FILE", PROJECT_DIR / ".env") or None
    try:
        return Settings(_env_file=env_file)
    except ValidationError as exc:
        raise InvalidSettings(describe_errors(exc)) from None


def database_url() -> str | None:
    """``DATABASE_URL`` when it names PostgreSQL, else ``None`` (SQLite)."""
    return get_settings().database_url


def sqlite_path() -> Path:
    return get_settings().sqlite_path
