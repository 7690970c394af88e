"""Mail: one MIME message (plain text + HTML, UTF-8), written to the outbox or sent by SMTP."""

from __future__ import annotations

import base64
import smtplib
import ssl
from email.utils import format_datetime, formataddr, getaddresses
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
    message written twice gives the same bytes.

    Written out directly (a Monday on a drive of 2,000 items composes a thousand mails, and
    ``email``'s header registry took 3–6 ms on each): headers with anything but printable
    ASCII are RFC 2047 encoded words (UTF-8, base64), folded; both bodies UTF-8 in base64 with
    CRLF line ends. A line break in a header value can never start another header."""
    boundary = f"xietong-{_plain_token(msg_id)}"
    try:
        sender_text, to_text = (
            formataddr(("协同系统", _one_line(sender)), charset="utf-8"),
            _addresses(to),
        )
        sender_text.encode("ascii")
        to_text.encode("ascii")
    except UnicodeEncodeError:  # an address itself (not its display name) in Chinese
        raise ChannelError(
            f"邮件地址含有非 ASCII 字符，无法发送：{_one_line(to)}（发件人 {_one_line(sender)}）"
        ) from None
    headers = [
        ("From", sender_text),
        ("To", to_text),
        ("Subject", _header_text(subject)),
        ("Date", _one_line(date)),
        ("Message-ID", f"<{_plain_token(msg_id)}@xietong>"),
        ("Auto-Submitted", "auto-generated"),
        ("MIME-Version", "1.0"),
        ("Content-Type", f'multipart/alternative;\r\n boundary="{boundary}"'),
    ]
    lines = [f"{name}: {value}" for name, value in headers]
    for subtype, body in (("plain", text), ("html", html)):
        lines += [
            "",
            f"--{boundary}",
            f'Content-Type: text/{subtype}; charset="utf-8"',
            "Content-Transfer-Encoding: base64",
            "",
            _base64_lines(body),
        ]
    lines += [f"--{boundary}--", ""]
    return "\r\n".join(lines).encode("ascii")


def _one_line(value: str) -> str:
    return " ".join(str(value).splitlines())


def _plain_token(value: str) -> str:
    """An ID as it may stand in a header and a boundary: letters, digits and ``-._``."""
    return "".join(c if c.isascii() and (c.isalnum() or c in "-._") else "_" for c in value)


def _header_text(value: str) -> str:
    """A header value: as it is when short printable ASCII, else encoded words (at most 75
    characters each, one per folded line), never splitting a character."""
    value = _one_line(value)
    if len(value) <= 60 and all(" " <= c <= "~" for c in value):
        return value
    words, chunk = [], b""
    for char in value:
        data = char.encode("utf-8")
        if len(chunk) + len(data) > 39:  # 39 bytes: 52 characters of base64, 64 in all
            words.append(chunk)
            chunk = b""
        chunk += data
    words.append(chunk)
    return "\r\n ".join(f"=?utf-8?b?{base64.b64encode(w).decode('ascii')}?=" for w in words)


def _addresses(to: str) -> str:
    """The To header: each address as it is, a display name encoded when not plain ASCII."""
    pairs = getaddresses([_one_line(to)])
    return ",\r\n ".join(formataddr((name, addr), charset="utf-8") for name, addr in pairs)


def _base64_lines(body: str) -> str:
    canonical = body.replace("\r\n", "\n").replace("\r", "\n").replace("\n", "\r\n")
    return (
        base64.encodebytes(canonical.encode("utf-8"))
        .decode("ascii")
        .replace("\n", "\r\n")
        .rstrip("\r\n")
    )


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
