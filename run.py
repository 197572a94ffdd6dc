"""Development entry point behind ``make run``.

Applies migrations, loads demo data into an empty database, starts the local
Stripe sandbox for card payments (unless STRIPE_API_BASE points elsewhere),
prints where to open the system and how to log in, then serves it with uvicorn.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import subprocess
import sys

import uvicorn

from providers.mail_catcher import MailCatcher
from providers.sms_sandbox import SANDBOX_API_ID, SmsSandbox
from providers.stripe_sandbox import Sandbox, free_port, port_is_free
from settings import PROJECT_DIR, Settings, get_settings


def migrate() -> None:
    subprocess.run(
        [sys.executable, "-m", "piccolo.main", "migrations", "forwards", "all"],
        cwd=PROJECT_DIR, check=True, stdout=subprocess.DEVNULL,
    )


async def seed() -> bool:
    from piccolo.engine.postgres import PostgresEngine

    from piccolo_conf import DB
    from tables.commands.demo import load_demo

    if isinstance(DB, PostgresEngine):
        await DB.start_connection_pool()
    try:
        return await load_demo()
    finally:
        if isinstance(DB, PostgresEngine):
            await DB.close_connection_pool()


def start_stripe_sandbox(settings: Settings) -> Sandbox | None:
    """Without STRIPE_API_BASE, card payments go to a local Stripe-compatible sandbox."""
    if "stripe_api_base" in settings.model_fields_set:
        return None
    port = settings.stripe_sandbox_port
    if not port_is_free(port):
        port = free_port()
    sandbox = Sandbox(port, state_dir=PROJECT_DIR / "var" / "stripe-sandbox").start()
    os.environ.update(sandbox.env())
    get_settings.cache_clear()
    host = settings.host if settings.host not in ("0.0.0.0", "::", "") else "127.0.0.1"
    sandbox.register_webhook(f"http://{host}:{settings.port}/payments/webhook")
    return sandbox


MAIL_DIR = PROJECT_DIR / "var" / "mail"


def start_message_sandboxes(settings: Settings) -> list[str]:
    """Without SMTP or SMS gateway settings, messages go to a local mail catcher (an mbox file)
    and a local SMS gateway (a log file), both under var/mail/. Returns what to print."""
    lines = []
    if not settings.smtp_host:
        port = 8025 if port_is_free(8025) else free_port()
        catcher = MailCatcher(port, mbox_path=MAIL_DIR / "outbox.mbox").start()
        os.environ.update({"CENTRA_SMTP_HOST": "127.0.0.1", "CENTRA_SMTP_PORT": str(catcher.port),
                           "CENTRA_SMTP_SECURITY": "none"})
        lines.append(f"    e-mail: local SMTP catcher on 127.0.0.1:{catcher.port}, letters in "
                     f"{MAIL_DIR / 'outbox.mbox'} (mutt -f …, or any mail client)")
    if not settings.sms_api_id.get_secret_value():
        gateway = SmsSandbox(log_path=MAIL_DIR / "sms.log", auto_deliver=True).start()
        from tables.notifications import SMS_CALLBACK_PATH, sms_callback_key

        host = settings.host if settings.host not in ("0.0.0.0", "::", "") else "127.0.0.1"
        gateway.callback_url = f"http://{host}:{settings.port}{SMS_CALLBACK_PATH}/{sms_callback_key()}"
        os.environ.update({"CENTRA_SMS_API_URL": gateway.base_url, "CENTRA_SMS_API_ID": SANDBOX_API_ID})
        lines.append(f"    SMS: local gateway at {gateway.base_url}, texts in {MAIL_DIR / 'sms.log'}")
    get_settings.cache_clear()
    return lines


def main() -> None:
    from tables.commands.demo import logins_text

    # Development mode is for this command only (plain HTTP cookies, a key file in var/, SQLite,
    # any Host); everywhere else CENTRA_DEBUG defaults to off and production checks its settings.
    os.environ.setdefault("CENTRA_DEBUG", "1")
    get_settings.cache_clear()
    settings = get_settings()
    migrate()
    loaded = asyncio.run(seed())
    sandbox = start_stripe_sandbox(settings)
    message_lines = start_message_sandboxes(settings)
    where = "PostgreSQL (DATABASE_URL)" if settings.database_url else f"SQLite file {settings.sqlite_path}"
    base = f"http://{settings.host}:{settings.port}"
    print(f"\nCentra is starting on {where}{' with fresh demo data' if loaded else ''}.")
    print(f"  site and cabinet: {base}/   cabinet: {base}/cabinet/   admin: {base}/admin/"
          f"   office (subscriber card, cash desk): {base}/office/")
    print(logins_text())
    if settings.database_url:
        print("  background jobs: run by `python -m jobs worker` (Procfile `worker`); none in this "
              "process unless CENTRA_EMBEDDED_WORKER=1")
    else:
        print("  background jobs (charge run, reconciliation, messages, exports) run inside this process")
    if sandbox:
        print(f"  card payments: local Stripe sandbox at {sandbox.base_url} (stopped on exit)\n"
              "    test card 4242 4242 4242 4242, any future month/year (2 digits), any CVC;\n"
              "    confirmation code (3-D Secure) 4000 0027 6000 3184; declined 4000 0000 0000 0341")
    else:
        print(f"  card payments: Stripe API at {settings.stripe_api_base}")
    print(f"  messages (SMS, e-mail): sent every 15 s by the job engine; every message, its attempts and "
          f"delivery: {base}/admin/ → Система → Уведомления")
    for line in message_lines:
        print(line)
    print(flush=True)
    # The engine logs every job it starts and ends (the outbox every 15 s, the NAS queue every 5 s):
    # the console keeps its warnings and errors; the jobs themselves are in the admin.
    logging.getLogger("procrastinate").setLevel(logging.WARNING)
    # uvicorn re-raises SIGTERM after its shutdown; make that an exception so `finally` runs.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        uvicorn.run("app:create_app", factory=True, host=settings.host, port=settings.port,
                    log_level=settings.log_level)
    finally:
        if sandbox:
            sandbox.stop()


if __name__ == "__main__":
    main()
