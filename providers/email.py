"""E-mail over SMTP (aiosmtplib): plain text + HTML from Jinja templates, in Russian.

One message per call. The transport security comes from settings: ``starttls``
(submission on 587), ``ssl`` (implicit TLS on 465) or ``none`` (a local relay or
the development mail catcher). A 5xx answer is permanent (the address or the
message is refused); everything else (4xx, a dropped connection, a timeout) may
succeed later.
"""

from __future__ import annotations

import email.utils
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path

import aiosmtplib
import jinja2

from providers.errors import PermanentFailure

TEMPLATES = jinja2.Environment(
    loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=jinja2.select_autoescape(["html"]),
    keep_trailing_newline=True,
)
SECURITY_MODES = ("starttls", "ssl", "none")


class EmailRejected(PermanentFailure):
    """The server refused the message for good (5xx): retrying will not help."""


class EmailTemporaryError(Exception):
    """The message did not go now (4xx, connection, timeout): try again later."""


@dataclass(frozen=True)
class SmtpConfig:
    host: str
    port: int = 587
    security: str = "starttls"
    username: str = ""
    password: str = ""
    from_address: str = "Centra <noreply@centra.local>"
    timeout: float = 20.0

    def __post_init__(self) -> None:
        if self.security not in SECURITY_MODES:
            raise ValueError(f"SMTP security must be one of {SECURITY_MODES}, not {self.security!r}")


@dataclass(frozen=True)
class Letter:
    """What to write: the text is the notification's, the templates add greeting and footer."""

    to: str
    subject: str
    text: str
    unsubscribe_url: str = ""
    message_key: str = ""


def build_message(letter: Letter, config: SmtpConfig) -> EmailMessage:
    """A multipart/alternative message (plain + HTML) with our headers.

    ``List-Unsubscribe`` only when an unsubscribe link is given,
    i.e. for optional (non-transactional) mail.
    """
    context = {"subject": letter.subject, "text": letter.text,
               "paragraphs": [p for p in letter.text.split("\n") if p.strip()],
               "unsubscribe_url": letter.unsubscribe_url}
    message = EmailMessage()
    message["From"] = config.from_address
    message["To"] = letter.to
    message["Subject"] = letter.subject
    message["Date"] = email.utils.formatdate(localtime=False)
    domain = email.utils.parseaddr(config.from_address)[1].rpartition("@")[2] or "centra.local"
    message["Message-ID"] = email.utils.make_msgid(idstring=letter.message_key or None, domain=domain)
    if letter.unsubscribe_url:
        # A page with a confirmation button (a form with its CSRF token), not RFC 8058's one-click
        # POST: that would need a form that anyone may post without a token.
        message["List-Unsubscribe"] = f"<{letter.unsubscribe_url}>"
    message.set_content(TEMPLATES.get_template("email/message.txt").render(context))
    message.add_alternative(TEMPLATES.get_template("email/message.html").render(context),
                            subtype="html")
    return message


async def send_letter(letter: Letter, config: SmtpConfig) -> str:
    """Send one letter; returns its Message-ID.

    :raises EmailRejected: on a permanent refusal (5xx).
    :raises EmailTemporaryError: on anything that may pass later.
    """
    message = build_message(letter, config)
    try:
        await aiosmtplib.send(
            message, hostname=config.host, port=config.port,
            username=config.username or None, password=config.password or None,
            use_tls=config.security == "ssl", start_tls=config.security == "starttls",
            timeout=config.timeout,
        )
    except aiosmtplib.SMTPRecipientsRefused as exc:
        codes = [r.code for r in exc.recipients]
        if all(500 <= c < 600 for c in codes):
            raise EmailRejected(f"адрес отклонён сервером: {exc.recipients[0].message}") from exc
        raise EmailTemporaryError(str(exc)) from exc
    except aiosmtplib.SMTPResponseException as exc:
        if 500 <= exc.code < 600 and not isinstance(exc, aiosmtplib.SMTPAuthenticationError):
            raise EmailRejected(f"{exc.code} {exc.message}") from exc
        raise EmailTemporaryError(f"{exc.code} {exc.message}") from exc
    except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
        raise EmailTemporaryError(f"{type(exc).__name__}: {exc}") from exc
    return message["Message-ID"]
