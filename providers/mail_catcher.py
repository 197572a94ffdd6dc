"""A local SMTP server (aiosmtpd) that keeps what it receives: the development mailbox.

``make run`` starts one so that the demo's e-mail goes somewhere a newcomer can read
(an mbox file under ``var/``); the tests start one to read exactly what our SMTP
client sent. It runs in its own thread (aiosmtpd's ``Controller``) and listens on
127.0.0.1 only.
"""

from __future__ import annotations

import mailbox
import threading
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


class _Keeper:
    def __init__(self, mbox_path: Path | None, refuse: set[str]) -> None:
        self.messages: list[EmailMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []
        self.mbox_path = mbox_path
        self.refuse = refuse
        self.lock = threading.Lock()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.refuse:
            return "550 5.1.1 Mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        message = message_from_bytes(envelope.content, policy=policy.default)
        with self.lock:
            self.messages.append(message)
            self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
            if self.mbox_path is not None:
                box = mailbox.mbox(self.mbox_path)
                try:
                    box.lock()
                    box.add(message)
                    box.flush()
                finally:
                    box.unlock()
                    box.close()
        return "250 Message accepted for delivery"


class MailCatcher:
    """``MailCatcher(port).start()`` … ``.messages`` … ``.stop()``.

    :param mbox_path: also append every message to this mbox file.
    :param credentials: require ``AUTH`` with this (login, password).
    :param refuse: addresses answered with 550 at ``RCPT``.
    :param tls_context: offer STARTTLS with this server context.
    """

    def __init__(self, port: int = 0, *, mbox_path: Path | None = None,
                 credentials: tuple[str, str] | None = None, refuse: set[str] = frozenset(),
                 tls_context=None) -> None:
        if mbox_path is not None:
            mbox_path.parent.mkdir(parents=True, exist_ok=True)
        self.keeper = _Keeper(mbox_path, set(refuse))
        self.credentials = credentials
        kwargs = {}
        if credentials:
            kwargs.update(authenticator=self._authenticate, auth_required=True,
                          auth_require_tls=tls_context is not None)
        if tls_context is not None:
            kwargs.update(tls_context=tls_context, require_starttls=True)
        self.controller = Controller(self.keeper, hostname="127.0.0.1", port=port or _free_port(),
                                     **kwargs)

    def _authenticate(self, server, session, envelope, mechanism, auth_data):
        ok = (isinstance(auth_data, LoginPassword) and self.credentials is not None
              and (auth_data.login.decode(), auth_data.password.decode()) == self.credentials)
        return AuthResult(success=ok)

    @property
    def port(self) -> int:
        return self.controller.port

    @property
    def messages(self) -> list[EmailMessage]:
        with self.keeper.lock:
            return list(self.keeper.messages)

    @property
    def envelopes(self) -> list[tuple[str, list[str]]]:
        with self.keeper.lock:
            return list(self.keeper.envelopes)

    def start(self) -> MailCatcher:
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()


def _free_port() -> int:
    from providers.stripe_sandbox import free_port

    return free_port()
