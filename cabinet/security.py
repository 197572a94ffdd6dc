"""Security headers on every response, and a body-size cap that also covers the admin mount."""

from __future__ import annotations

from urllib.parse import urlsplit

from litestar.types import ASGIApp, Message, Receive, Scope, Send

from settings import Settings


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
    """Litestar middleware factory: headers on every response, 413 above the body cap."""
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

    def factory(app: ASGIApp) -> ASGIApp:
        async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] != "http":
                await app(scope, receive, send)
                return
            length = dict(scope["headers"]).get(b"content-length")
            if length and length.isdigit() and int(length) > settings.max_body_bytes:
                await send({"type": "http.response.start", "status": 413,
                            "headers": [(b"content-type", b"text/plain; charset=utf-8"), *common]})
                await send({"type": "http.response.body",
                            "body": "Слишком большой запрос.".encode()})
                return
            csp = admin if scope["path"].startswith("/admin") else site

            async def send_with_headers(message: Message) -> None:
                if message["type"] == "http.response.start":
                    headers = list(message.get("headers", []))
                    present = {k.lower() for k, _ in headers}
                    headers += [h for h in common if h[0] not in present]
                    if b"content-security-policy" not in present:
                        headers.append((b"content-security-policy", csp))
                    message = {**message, "headers": headers}
                await send(message)

            await app(scope, receive, send_with_headers)

        return middleware

    return factory
