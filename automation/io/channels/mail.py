"""Mail: one MIME message (plain text + HTML, UTF-8), written to the outbox or sent by SMTP."""

from __future__ import annotations

import base64
import smtplib
import ssl
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from email.utils import format_datetime, formataddr
from pathlib import Path

from automation.errors import XietongError
from automation.io.channels import ChannelError
from automation.io.safewrite import safe_write
from automation.rules.process import Smtp


def build_mail(
    *,
    msg_id: str,
    sender: str,
    to: str,
    subject: str,
    text: str,
    html: str,
    date: str,
) -> bytes:
    """The message bytes; the Message-ID and Date come from the composed message, so the same
    message written twice gives the same bytes."""
    msg = EmailMessage(policy=SMTP_POLICY)
    msg["From"] = formataddr(("协同系统", sender))
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = date
    msg["Message-ID"] = f"<{msg_id}@xietong>"
    msg["Auto-Submitted"] = "auto-generated"
    msg.set_content(text, charset="utf-8")
    msg.add_alternative(html, subtype="html", charset="utf-8")
    # a fixed MIME boundary keeps re-writes byte-identical
    msg.set_boundary(f"xietong-{msg_id}")
    return msg.as_bytes()


def mail_date(moment) -> str:  # noqa: ANN001 - an aware datetime
    return format_datetime(moment)


def write_outbox(folder: Path, name: str, data: bytes) -> Path:
    """Write ``name`` into the outbox: a file already there with these bytes is left alone, so a
    message sent again after a crash is not a second file."""
    path = folder / name
    try:
        if path.is_file() and path.read_bytes() == data:
            return path
    except OSError:
        pass
    try:
        folder.mkdir(parents=True, exist_ok=True)
        safe_write(path, data, expected=None)
    except (OSError, XietongError) as exc:  # a full disk, a missing share: retried later
        raise ChannelError(f"无法写入待发邮件目录 {folder}：{exc}") from None
    return path


def _login(server: smtplib.SMTP, username: str, password: str) -> None:
    """Log in with AUTH PLAIN in UTF-8 when offered (smtplib encodes ASCII only, and after a
    refusal would try mechanism after mechanism); else smtplib's own choice."""
    offered = server.esmtp_features.get("auth", "").upper().split()
    if "PLAIN" not in offered:
        server.login(username, password)
        return
    token = base64.b64encode(f"\0{username}\0{password}".encode()).decode()
    code, answer = server.docmd("AUTH", f"PLAIN {token}")
    if code != 235:
        raise smtplib.SMTPAuthenticationError(code, answer)


def send_smtp(config: Smtp, password: str, sender: str, to: str, data: bytes) -> None:
    """Send by SMTP: implicit TLS (``ssl``), STARTTLS, or plain on a trusted relay."""
    if not config.host:
        raise ChannelError("notify.yaml 中未配置 SMTP 服务器（smtp.host）")
    context = ssl.create_default_context()
    try:
        if config.ssl:
            server: smtplib.SMTP = smtplib.SMTP_SSL(
                config.host, config.port, timeout=config.timeout_seconds, context=context
            )
        else:
            server = smtplib.SMTP(config.host, config.port, timeout=config.timeout_seconds)
        with server:
            server.ehlo()
            if config.starttls and not config.ssl:
                server.starttls(context=context)
                server.ehlo()
            if config.username:
                _login(server, config.username, password)
            server.sendmail(sender, [to], data)
    except (OSError, smtplib.SMTPException) as exc:
        raise ChannelError(f"SMTP 发送失败（{config.host}:{config.port}）：{exc}") from None
