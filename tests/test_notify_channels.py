"""The channels against real servers on loopback: SMTP (STARTTLS and implicit TLS with a
self-signed certificate) and the 企业微信 / 钉钉 / 飞书 robots, whose local stand-ins recompute
the signature exactly as the platform does."""

from __future__ import annotations

import email
import socket
import time
from email import policy

import httpx
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from notify_servers import RobotServer, self_signed, tls_context

from automation.io.channels import ChannelError
from automation.io.channels.mail import build_mail, send_smtp
from automation.io.channels.robots import dingtalk_sign, feishu_sign, send_robot
from automation.rules.process import Smtp

SUBJECT = "【协同】申请已登记：XT-2026-0001 新产品试产协调（研发部）"
TEXT = "研发部：\n\n申请已登记：XT-2026-0001 新产品试产协调\n  发起部门：研发部　申请人：张三\n"
HTML = "<p>研发部：</p><p><b>申请已登记：XT-2026-0001</b> 新产品试产协调</p>"


class _Inbox:
    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], bytes]] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's API
        self.messages.append((envelope.mail_from, envelope.rcpt_tos, envelope.content))
        return "250 OK"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def cert(tmp_path, monkeypatch):
    cert_file, key_file = self_signed(tmp_path)
    monkeypatch.setenv("SSL_CERT_FILE", str(cert_file))  # the client trusts our test CA only
    return cert_file, key_file


def _check_received(inbox: _Inbox, to: str) -> None:
    [(sender, rcpts, raw)] = inbox.messages
    assert sender == "xietong@example.com" and rcpts == [to]
    msg = email.message_from_bytes(raw, policy=policy.default)
    assert msg["Subject"] == SUBJECT  # RFC 2047 encoded on the wire, intact once decoded
    assert b"=?utf-8?" in raw.split(b"\r\n\r\n", 1)[0].lower()  # encoded, not raw 8-bit
    assert msg.get_content_type() == "multipart/alternative"
    assert msg.get_body(("plain",)).get_content().replace("\r\n", "\n") == TEXT
    assert HTML in msg.get_body(("html",)).get_content()
    assert "协同系统" in str(msg["From"])


def _mail(to: str) -> bytes:
    return build_mail(
        msg_id="abc123",
        sender="xietong@example.com",
        to=to,
        subject=SUBJECT,
        text=TEXT,
        html=HTML,
        date="Fri, 04 Dec 2026 10:00:00 +0800",
    )


@pytest.mark.parametrize(
    ("subject", "to"),
    [
        (SUBJECT, "rd@example.com"),
        ("Weekly report", "rd@example.com"),
        ("周报" * 80 + " — a long subject, folded into encoded words " * 3, "rd@example.com"),
        ("注入\r\nBcc: evil@example.com", "张三 <zs@example.com>, li@example.com"),
        ("=?utf-8?b?not-a-word?= 😀 emoji", "rd@example.com"),
    ],
)
def test_a_built_mail_reads_back_as_written_by_the_standard_parser(subject, to):
    fields = {
        "msg_id": "abc123",
        "sender": "xietong@example.com",
        "to": to,
        "subject": subject,
        "text": TEXT + "\r\nCRLF line\rCR line\n",
        "html": HTML,
        "date": "Fri, 04 Dec 2026 10:00:00 +0800",
    }
    raw = build_mail(**fields)
    head = raw.split(b"\r\n\r\n", 1)[0]
    assert all(len(line) <= 78 for line in head.split(b"\r\n"))
    assert b"\n" not in raw.replace(b"\r\n", b"")  # every line ends CRLF
    msg = email.message_from_bytes(raw, policy=policy.default)
    assert not msg.defects
    assert msg["Subject"] == " ".join(subject.splitlines())  # a line break never starts a header
    assert msg["Bcc"] is None
    assert [a.addr_spec for a in msg["To"].addresses] == [
        a.strip().split("<")[-1].rstrip(">") for a in to.split(",")
    ]
    if "张三" in to:
        assert msg["To"].addresses[0].display_name == "张三"
    assert msg["From"].addresses[0].display_name == "协同系统"
    assert msg["Message-ID"] == "<abc123@xietong>"
    assert msg["Date"].datetime.isoformat() == "2026-12-04T10:00:00+08:00"
    assert msg.get_content_type() == "multipart/alternative"
    plain = msg.get_body(("plain",)).get_content().replace("\r\n", "\n")
    assert plain == TEXT + "\nCRLF line\nCR line\n"
    assert msg.get_body(("html",)).get_content().replace("\r\n", "\n") == HTML
    assert raw == build_mail(**fields)  # the same message twice: the same bytes


def test_a_mail_arrives_over_starttls_with_login_chinese_subject_text_and_html(cert):
    inbox = _Inbox()
    port = _free_port()
    logins = []

    def authenticator(server, session, envelope, mechanism, auth_data):
        ok = isinstance(auth_data, LoginPassword) and auth_data.password == b"s3cret-\xe5\xaf\x86"
        logins.append((mechanism, ok))
        return AuthResult(success=ok, handled=False)

    controller = Controller(
        inbox,
        hostname="127.0.0.1",
        port=port,
        tls_context=tls_context(*cert),
        require_starttls=True,
        authenticator=authenticator,
        auth_require_tls=True,
    )
    controller.start()
    try:
        config = Smtp(host="127.0.0.1", port=port, starttls=True, username="xietong")
        send_smtp(
            config, "s3cret-密", "xietong@example.com", "rd@example.com", _mail("rd@example.com")
        )
        with pytest.raises(ChannelError):  # a wrong password is refused, not ignored
            send_smtp(config, "wrong", "xietong@example.com", "rd@example.com", _mail("x"))
    finally:
        controller.stop()
    assert logins[0][1] is True
    _check_received(inbox, "rd@example.com")


def test_a_mail_arrives_over_implicit_tls_as_on_port_465(cert):
    inbox = _Inbox()
    port = _free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port, ssl_context=tls_context(*cert))
    controller.start()
    try:
        config = Smtp(host="127.0.0.1", port=port, ssl=True)
        send_smtp(config, "", "xietong@example.com", "pmo@example.com", _mail("pmo@example.com"))
    finally:
        controller.stop()
    _check_received(inbox, "pmo@example.com")


def test_an_smtp_server_with_an_untrusted_certificate_is_refused(cert, monkeypatch, tmp_path):
    other, _ = self_signed(tmp_path / "..")  # a different CA than the server's
    monkeypatch.setenv("SSL_CERT_FILE", str(other))
    port = _free_port()
    controller = Controller(
        _Inbox(), hostname="127.0.0.1", port=port, ssl_context=tls_context(*cert)
    )
    controller.start()
    try:
        with pytest.raises(ChannelError, match="SMTP"):
            send_smtp(Smtp(host="127.0.0.1", port=port, ssl=True), "", "a@b", "c@d", _mail("c@d"))
    finally:
        controller.stop()


@pytest.mark.parametrize("platform", ["wecom", "dingtalk", "feishu"])
def test_each_robot_accepts_our_signed_markdown_and_refuses_a_wrong_secret(platform):
    secret = "SECa1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6"
    with RobotServer(platform, secret=secret) as robot, httpx.Client(timeout=5) as client:
        send_robot(
            platform,
            robot.webhook,
            robot.secret if platform != "wecom" else "",
            title="【协同】已超期：XT-2026-0001 召开协调会议",
            markdown="**已超期** XT-2026-0001 召开协调会议（生产部）：超期 1 个工作日",
            mention=["13800000000"],
            client=client,
        )
        assert robot.rejected == []
        [data] = robot.accepted
        assert "XT-2026-0001 召开协调会议" in robot.markdown_of(data)
        if platform == "dingtalk":
            assert data["at"]["atMobiles"] == ["13800000000"]
        if platform == "wecom":
            assert "<@13800000000>" in data["markdown"]["content"]
        if platform != "wecom":
            with pytest.raises(ChannelError, match="拒绝"):
                send_robot(
                    platform, robot.webhook, "SECwrong", title="t", markdown="m", client=client
                )
            assert len(robot.rejected) == 1


def test_the_two_signatures_differ_in_the_roles_of_key_and_message():
    # the same secret and second: 钉钉 keys the HMAC with the secret, 飞书 with "ts\nsecret"
    ts = 1_700_000_000
    assert dingtalk_sign("SECabc", ts * 1000) != feishu_sign("SECabc", ts)
    assert feishu_sign("SECabc", ts) != feishu_sign("SECabd", ts)


def test_a_wecom_message_over_4096_bytes_is_refused_before_sending():
    with RobotServer("wecom", secret="") as robot:
        with pytest.raises(ChannelError, match="4096"):
            send_robot("wecom", robot.webhook, "", title="t", markdown="超" * 1400)
        assert robot.accepted == [] and robot.rejected == []


def test_an_unreachable_robot_is_a_channel_error_not_a_traceback():
    port = _free_port()
    started = time.monotonic()
    with pytest.raises(ChannelError, match="无法连接"):
        send_robot(
            "feishu",
            f"http://127.0.0.1:{port}/open-apis/bot/v2/hook/x",
            "s",
            title="t",
            markdown="m",
        )
    assert time.monotonic() - started < 30


def test_a_drive_in_smtp_mode_sends_its_receipts_through_the_server(
    drive, rules, cert, monkeypatch
):
    import yaml
    from intake_helpers import AS_OF, drop_request, request_values

    from automation.io.drive import drive_paths
    from automation.process.cycle import run_cycle

    inbox = _Inbox()
    port = _free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port, ssl_context=tls_context(*cert))
    path = drive_paths(drive).rules / "notify.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["mode"] = "smtp"
    data["smtp"].update(host="127.0.0.1", port=port, ssl=True)
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    monkeypatch.setenv("XIETONG_SECRETS_FILE", str(drive.parent / "none.yaml"))
    drop_request(drive, rules, "申请.xlsx", request_values())
    from automation.io.notify_queue import NotifyQueue

    marks: list[tuple[int, int]] = []  # (messages received by then, sends marked at once)
    real = NotifyQueue.mark_sent_many

    def marking(self, sends):
        if sends:
            marks.append((len(inbox.messages), len(sends)))
        return real(self, sends)

    monkeypatch.setattr(NotifyQueue, "mark_sent_many", marking)
    controller.start()
    try:
        report = run_cycle(drive, as_of=AS_OF, settle_s=0)
    finally:
        controller.stop()
    assert report.warnings == []
    assert marks == [(1, 1), (2, 1)]  # a mail sent out is marked before the next is sent
    got = {
        tuple(rcpts): email.message_from_bytes(raw, policy=policy.default)
        for _, rcpts, raw in inbox.messages
    }
    assert set(got) == {("rd@example.com",), ("pmo@example.com",)}
    for msg in got.values():
        assert msg["Subject"] == "【协同】申请已登记：XT-2026-0001 新产品试产协调 1"
        assert "申请已登记：XT-2026-0001" in msg.get_body(("plain",)).get_content()
    assert list(drive_paths(drive).outbox.glob("*.eml")) == []  # sent, not written


def test_an_address_that_is_not_ascii_is_a_channel_error_not_a_traceback():
    with pytest.raises(ChannelError, match="非 ASCII"):
        build_mail(
            msg_id="abc123",
            sender="xietong@example.com",
            to="张三@例子.中国",
            subject=SUBJECT,
            text=TEXT,
            html=HTML,
            date="Fri, 04 Dec 2026 10:00:00 +0800",
        )
