"""Security headers on every response, ``no-store`` on personal pages, and a body-size cap
that also covers the admin mount."""

from __future__ import annotations

from urllib.parse import urlsplit

from litestar.types import ASGIApp, Message, Receive, Scope, Send

from cabinet.auth import SESSION_COOKIE
from settings import Settings

#: Pages with one person's data (or staff's bulk data): never kept by the browser or a proxy
#: (a shared computer's back button, a caching proxy). Any page answered to a request with a
#: cabinet session is one too: the header names the subscriber.
PRIVATE_PREFIXES = ("/cabinet", "/pay/", "/connect/done/", "/staff-view/", "/reports", "/office",
                    "/admin/api/")
_SESSION_COOKIE = SESSION_COOKIE.encode() + b"="


def _private(scope: Scope) -> bool:
    path = scope["path"]
    if path.startswith(PRIVATE_PREFIXES):
        return True
    if path.startswith("/static/"):
        return False
    return any(name == b"cookie" and _SESSION_COOKIE in value for name, value in scope["headers"])


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else ""


def site_csp(settings: Settings) -> str:
    """Our own scripts plus the payment provider's script, frames and API only."""
    provider = " ".join(sorted({o for o in (_origin(settings.stripe_js_url),
                                            _origin(settings.stripe_api_base)) if o}))
    return (
        "default-src 'self'; "
        f"script-src 'self' {provider}; "
        f"frame-src 'self' {provider}; "
        f"connect-src 'self' {provider}; "
        "img-src 'self' data:; style-src 'self' 'unsafe-inline'; object-src 'none'; "
        "base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
    )


# Piccolo Admin's bundle includes Vue's runtime template compiler (new Function).
ADMIN_CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline' 'unsafe-eval'; "
    "style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; object-src 'none'; "
    "base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)


def security_middleware(settings: Settings):
    """Litestar middleware factory: headers on every response, 413 above the body cap.

    The cap holds for a declared ``Content-Length`` and for a streamed (chunked) body alike,
    on every mount: Piccolo Admin's login wrapper and Litestar's form parser would otherwise
    read a chunked body of any size into memory.
    """
    common = [
        (b"x-content-type-options", b"nosniff"),
        (b"referrer-policy", b"same-origin"),
        (b"x-frame-options", b"DENY"),
        (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
    ]
    if settings.production:
        common.append((b"strict-transport-security", b"max-age=31536000; includeSubDomains"))
    site = site_csp(settings).encode()
    admin = ADMIN_CSP.encode()
    limit = settings.max_body_bytes
    # Bank statements are uploaded whole (tables.payments.bank.MAX_STATEMENT_BYTES, 64 MB): the
    # one path with a larger cap (its handler sets the same one), staff only.
    upload_paths = {"/office/bank", "/office/bank/"}
    upload_limit = 64 * 1024 * 1024 + 64 * 1024

    async def too_large(send: Send) -> None:
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"text/plain; charset=utf-8"),
                                (b"connection", b"close"), *common]})
        await send({"type": "http.response.body", "body": "Слишком большой запрос.".encode()})

    def factory(app: ASGIApp) -> ASGIApp:
        async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] != "http":
                await app(scope, receive, send)
                return
            cap = upload_limit if scope["path"] in upload_paths else limit
            length = dict(scope["headers"]).get(b"content-length")
            if length and length.isdigit() and int(length) > cap:
                await too_large(send)
                return
            csp = admin if scope["path"].startswith("/admin") else site
            private = _private(scope)
            received = 0
            # "started": the app began its answer; "refused": we answered 413 in its place.
            state = {"started": False, "refused": False}

            async def send_with_headers(message: Message) -> None:
                if state["refused"]:
                    return  # the app's late answer to a body it never got in full
                if message["type"] == "http.response.start":
                    state["started"] = True
                    headers = list(message.get("headers", []))
                    if private:
                        headers = [h for h in headers if h[0].lower() != b"cache-control"]
                        headers.append((b"cache-control", b"no-store"))
                    present = {k.lower() for k, _ in headers}
                    headers += [h for h in common if h[0] not in present]
                    if b"content-security-policy" not in present:
                        headers.append((b"content-security-policy", csp))
                    message = {**message, "headers": headers}
                await send(message)

            async def capped_receive() -> Message:
                # A chunked body has no Content-Length: count what arrives, and stop reading
                # at the cap. The app then sees the client gone; it never gets more than the cap.
                nonlocal received
                if state["refused"]:
                    return {"type": "http.disconnect"}
                message = await receive()
                if message["type"] == "http.request":
                    received += len(message.get("body", b""))
                    if received > cap:
                        if not state["started"]:
                            await too_large(send)
                        state["refused"] = True
                        return {"type": "http.disconnect"}
                return message

            try:
                await app(scope, capped_receive, send_with_headers)
            except Exception:
                if not state["refused"]:
                    raise
                # What an app raises on the cut-off body (a "client disconnected" error) is
                # no fault: the client has its 413.

        return middleware

    return factory
