"""The Litestar application: the cabinet site at ``/`` and Piccolo Admin at ``/admin/``."""

from __future__ import annotations

import gc
import logging
from pathlib import Path
from typing import Any

from litestar import Litestar
from litestar.config.allowed_hosts import AllowedHostsConfig
from litestar.config.csrf import CSRFConfig
from litestar.connection import ASGIConnection
from litestar.exceptions import NotFoundException
from litestar.handlers import BaseRouteHandler, asgi
from litestar.openapi import OpenAPIConfig
from litestar.static_files import create_static_files_router
from litestar.template.config import TemplateConfig
from litestar.types import ASGIApp, Receive, Scope, Send
from piccolo.engine.postgres import PostgresEngine

from backoffice.admin import create_backoffice
from backoffice.bank import BankController
from backoffice.broadcasts import BroadcastController
from backoffice.office import OfficeController
from backoffice.reports.pages import ReportsController
from cabinet.account import AccountController, staff_view
from cabinet.agents import agent_endpoint
from cabinet.auth import AUTH_EXCEPTION_HANDLERS, refuse_staff_view_actions, resolve_session
from cabinet.autopay import AutopayController
from cabinet.connect import ConnectController
from cabinet.content import ContentController
from cabinet.dashboard import DashboardController
from cabinet.health import healthz
from cabinet.internet import InternetController
from cabinet.pause import PauseController
from cabinet.payments import CabinetPaymentsController
from cabinet.preferences import PreferencesController
from cabinet.promised import PromisedPaymentController
from cabinet.public import PublicController
from cabinet.pwa import PwaController
from cabinet.quickpay import QuickPayController
from cabinet.recovery import ContactsController, RecoveryController
from cabinet.requests import RequestsController
from cabinet.security import security_middleware
from cabinet.site import refresh_site_info, site
from cabinet.slip import SlipController
from cabinet.sms_callback import SMS_CALLBACK_PATH, sms_status_callback
from cabinet.statement import StatementController
from cabinet.tariff import TariffController
from cabinet.unsubscribe import UnsubscribeController
from cabinet.webhook import payment_webhook
from db.engine import keep_pooled_session
from db.lanes import back_office_reads
from db.sqlite_pool import PooledSQLiteEngine
from jobs.worker import Embedded
from network.endpoint import PATH as RADIUS_PATH
from network.endpoint import ROUTES as RADIUS_ROUTES
from settings import Settings, check_production, get_settings
from web.errors import EXCEPTION_HANDLERS
from web.formatting import FILTERS

CABINET_DIR = Path(__file__).resolve().parent / "cabinet"
BACKOFFICE_DIR = Path(__file__).resolve().parent / "backoffice"
#: What both front ends' pages share: the base layout and the error pages.
WEB_DIR = Path(__file__).resolve().parent / "web"
#: Where Piccolo Admin is mounted.
ADMIN_PATH = "/admin"


def _admin_handler(admin_app: Any):
    @asgi(ADMIN_PATH, is_mount=True, copy_scope=True)
    async def admin(scope: Scope, receive: Receive, send: Send) -> None:
        # Without the trailing slash the admin's relative asset URLs break.
        if scope["type"] == "http" and scope.get("raw_path", b"").split(b"?")[0] == ADMIN_PATH.encode():
            await send({"type": "http.response.start", "status": 307,
                        "headers": [(b"location", f"{ADMIN_PATH}/".encode())]})
            await send({"type": "http.response.body", "body": b""})
            return
        await admin_app(scope, receive, send)

    return admin


#: Where the back office works: its database work runs in a lane of its own (read turns on
#: SQLite, a pool on PostgreSQL; db/lanes.py), so that a clerk's or a manager's slow
#: query never keeps a subscriber's page waiting.
BACK_OFFICE_PATHS = (ADMIN_PATH, ReportsController.path, OfficeController.path)


def back_office_lane(app: ASGIApp) -> ASGIApp:
    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        if any(path == p or path.startswith(p + "/") for p in BACK_OFFICE_PATHS):
            with back_office_reads():
                await app(scope, receive, send)
        else:
            await app(scope, receive, send)

    return middleware


#: Longer than any file we ship, shorter than the file system's name limit (255).
MAX_STATIC_PATH = 200


def static_name_guard(connection: ASGIConnection, _: BaseRouteHandler) -> None:
    """A static file name the file system cannot even look up (a NUL byte, a name over its
    length limit) is simply not found: the lookup raised ``ValueError``/``OSError`` (500)."""
    path = connection.scope["path"]
    if "\x00" in path or len(path) > MAX_STATIC_PATH:
        raise NotFoundException()


def _register_template_helpers(engine: Any) -> None:
    # Templates ship with the code: no stat() of two files on every page to look for edits.
    engine.engine.auto_reload = False
    for name, func in FILTERS.items():
        engine.engine.filters[name] = func
    engine.engine.globals["site"] = site


def freeze_startup_heap() -> None:
    """Leave what startup built (modules, routes, the admin, locale data: ~190,000 objects) out
    of every later collection: a full collection then walks only what requests left behind,
    ~5 ms instead of ~120 ms during which every request in flight waits (docs/performance.md)."""
    gc.collect()
    gc.freeze()


def create_app(settings: Settings | None = None) -> Litestar:
    """Compose the application; the admin is built once here, never per request."""
    settings = settings or get_settings()
    check_production(settings)  # before anything opens: a clear list of what is missing
    from piccolo_conf import DB

    # The job engine: pages defer jobs through it; on SQLite (and with CENTRA_EMBEDDED_WORKER=1)
    # a worker runs here too, beside the requests (jobs/worker.py).
    job_engine = Embedded()

    async def open_pool() -> None:
        if settings.production and not settings.redis_url:
            logging.getLogger("centra").warning(
                "REDIS_URL is not set: rate limits are kept per process; with several web "
                "processes each one counts on its own (docs/architecture.md)")
        if isinstance(DB, PostgresEngine):
            await DB.start_connection_pool(reset=keep_pooled_session)

    async def close_pool() -> None:
        if isinstance(DB, PostgresEngine):
            await DB.close_connection_pool()
        elif isinstance(DB, PooledSQLiteEngine):
            await DB.close_pool()

    async def before_request(request: Any) -> None:
        await refresh_site_info()
        await resolve_session(request)
        refuse_staff_view_actions(request)

    from litestar.plugins.jinja import JinjaTemplateEngine as Engine

    app = Litestar(
        route_handlers=[
            _admin_handler(create_backoffice(settings)),
            PublicController,
            AccountController,
            staff_view,
            DashboardController,
            ContentController,
            StatementController,
            InternetController,
            SlipController,
            PreferencesController,
            UnsubscribeController,
            AutopayController,
            sms_status_callback,
            CabinetPaymentsController,
            PromisedPaymentController,
            QuickPayController,
            RecoveryController,
            ContactsController,
            TariffController,
            PauseController,
            PwaController,
            payment_webhook,
            agent_endpoint,
            RequestsController,
            ConnectController,
            ReportsController,
            OfficeController,
            BankController,
            BroadcastController,
            healthz,
            *RADIUS_ROUTES,
            create_static_files_router(path="/static", directories=[CABINET_DIR / "static"],
                                       guards=[static_name_guard]),
            create_static_files_router(path="/office/static", directories=[BACKOFFICE_DIR / "static"],
                                       guards=[static_name_guard]),
        ],
        template_config=TemplateConfig(
            directory=[WEB_DIR / "templates", CABINET_DIR / "templates", BACKOFFICE_DIR / "templates"],
            engine=Engine,
            engine_callback=_register_template_helpers,
        ),
        csrf_config=CSRFConfig(
            secret=settings.secret_key.get_secret_value(),
            cookie_name="centra_csrf",
            header_name="x-centra-csrf",
            cookie_secure=settings.production,
            cookie_httponly=True,
            # The webhook is signed, the agents' endpoint address-bound; FreeRADIUS's calls carry
            # the RADIUS API key; the SMS gateway's delivery reports a secret key in the path.
            exclude=[ADMIN_PATH, "/payments/webhook", "/payments/agents/", RADIUS_PATH,
                     SMS_CALLBACK_PATH],
        ),
        allowed_hosts=AllowedHostsConfig(allowed_hosts=list(settings.allowed_hosts))
        if settings.allowed_hosts else None,
        request_max_body_size=settings.max_body_bytes,
        exception_handlers={**EXCEPTION_HANDLERS, **AUTH_EXCEPTION_HANDLERS},  # type: ignore[arg-type]
        before_request=before_request,
        on_startup=[open_pool, job_engine.start, freeze_startup_heap],
        # Unfrozen again, so that a process building another app (tests) can free this one.
        on_shutdown=[job_engine.stop, close_pool, gc.unfreeze],
        # The API description (routes of the webhook, staff-view links, exports) is for
        # developers only: no /schema in production.
        openapi_config=OpenAPIConfig(title="Centra", version="1") if settings.debug else None,
        debug=False,
    )
    # Outermost, so headers and the body cap also cover routing 404s and the admin mount.
    app.asgi_handler = security_middleware(settings)(back_office_lane(app.asgi_handler))
    return app
