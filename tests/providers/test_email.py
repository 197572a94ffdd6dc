"""The SMTP client against a real SMTP server in process (aiosmtpd)."""

from __future__ import annotations

import ssl
import subprocess

import pytest

from providers.email import EmailRejected, EmailTemporaryError, Letter, SmtpConfig, send_letter
from providers.mail_catcher import MailCatcher
from providers.stripe_sandbox import free_port


@pytest.fixture
def catcher(tmp_path):
    server = MailCatcher(mbox_path=tmp_path / "mail.mbox").start()
    yield server
    server.stop()


def _config(port: int, **kw) -> SmtpConfig:
    return SmtpConfig(host="127.0.0.1", port=port, security=kw.pop("security", "none"), **kw)


async def test_a_letter_arrives_well_formed_with_plain_and_html_parts(catcher, tmp_path):
    text = "Платёж 1 500,00 ₽ зачислен.\nБаланс: 700,00 ₽."
    message_id = await send_letter(Letter(to="ivanov@example.ru", subject="Платёж зачислен",
                                          text=text), _config(catcher.port))
    [received] = catcher.messages
    assert catcher.envelopes == [("noreply@centra.local", ["ivanov@example.ru"])]
    assert received["Subject"] == "Платёж зачислен" and received["Message-ID"] == message_id
    assert received["To"] == "ivanov@example.ru" and received["Date"]
    assert received.get_content_type() == "multipart/alternative"
    plain = received.get_body(("plain",)).get_content()
    html = received.get_body(("html",)).get_content()
    assert "Здравствуйте!" in plain and "Баланс: 700,00 ₽." in plain
    assert "<p>Баланс: 700,00 ₽.</p>" in html and 'lang="ru"' in html
    assert "List-Unsubscribe" not in received  # transactional mail
    assert "Платёж зачислен" in (tmp_path / "mail.mbox").read_text(errors="replace") or \
        (tmp_path / "mail.mbox").stat().st_size > 0


async def test_optional_mail_carries_list_unsubscribe_and_html_is_escaped(catcher):
    url = "https://centra.example/unsubscribe/abc"
    await send_letter(Letter(to="a@example.ru", subject="Новости", text="<b>акция</b>",
                             unsubscribe_url=url), _config(catcher.port))
    [received] = catcher.messages
    assert received["List-Unsubscribe"] == f"<{url}>"
    assert "List-Unsubscribe-Post" not in received  # the link opens a page with a button
    html = received.get_body(("html",)).get_content()
    assert "&lt;b&gt;акция&lt;/b&gt;" in html and url in html
    assert url in received.get_body(("plain",)).get_content()


async def test_a_refused_mailbox_is_permanent_and_a_dead_server_temporary(tmp_path):
    server = MailCatcher(refuse={"gone@example.ru"}).start()
    try:
        with pytest.raises(EmailRejected, match="отклонён"):
            await send_letter(Letter(to="gone@example.ru", subject="x", text="x"),
                              _config(server.port))
    finally:
        server.stop()
    with pytest.raises(EmailTemporaryError):
        await send_letter(Letter(to="a@example.ru", subject="x", text="x"),
                          _config(free_port(), timeout=3))


def _self_signed(tmp_path):
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(cert, key)
    return server_ctx, cert


async def test_starttls_with_login_as_configured(tmp_path, monkeypatch):
    server_ctx, cert = _self_signed(tmp_path)
    server = MailCatcher(credentials=("centra", "s3cret"), tls_context=server_ctx).start()
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))
    try:
        with pytest.raises(EmailTemporaryError):  # wrong password: not delivered, not "rejected"
            await send_letter(Letter(to="a@example.ru", subject="x", text="x"),
                              _config(server.port, security="starttls", username="centra",
                                      password="wrong", timeout=3))
        await send_letter(Letter(to="a@example.ru", subject="Тема", text="текст"),
                          _config(server.port, security="starttls", username="centra",
                                  password="s3cret"))
        assert [m["Subject"] for m in server.messages] == ["Тема"]
    finally:
        server.stop()


def test_unknown_security_mode_is_refused():
    with pytest.raises(ValueError):
        SmtpConfig(host="x", security="tls")
