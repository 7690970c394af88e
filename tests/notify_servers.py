"""Real servers on loopback for the notification tests: an SMTP server (aiosmtpd) with TLS from
a self-signed certificate made here, and one HTTP server per robot platform that checks each
request as the platform does (JSON shape, signature recomputed from the secret, size limits)."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import ssl
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

# -- TLS ------------------------------------------------------------------------------------------


def self_signed(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 / localhost and its key (PEM files)."""
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = folder / "cert.pem", folder / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


# -- robots ---------------------------------------------------------------------------------------


@dataclass
class RobotServer:
    """One platform's robot endpoint: accepts only correctly signed, well-formed requests."""

    platform: str
    secret: str
    token: str = "test-token-0123456789"
    accepted: list[dict[str, Any]] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)
    times: list[float] = field(default_factory=list)
    server: ThreadingHTTPServer | None = None

    @property
    def webhook(self) -> str:
        assert self.server is not None
        host, port = self.server.server_address[:2]
        base = f"http://{host}:{port}"
        if self.platform == "wecom":
            return f"{base}/cgi-bin/webhook/send?key={self.token}"
        if self.platform == "dingtalk":
            return f"{base}/robot/send?access_token={self.token}"
        return f"{base}/open-apis/bot/v2/hook/{self.token}"

    def check(self, path: str, body: bytes) -> str | None:
        """None when the platform would accept the request, else why not."""
        url = urllib.parse.urlsplit(path)
        query = urllib.parse.parse_qs(url.query)
        try:
            data = json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            return "body is not JSON"
        now = time.time()
        if self.platform == "wecom":
            if url.path != "/cgi-bin/webhook/send" or query.get("key") != [self.token]:
                return "invalid webhook key"
            if data.get("msgtype") != "markdown":
                return "msgtype"
            content = data.get("markdown", {}).get("content")
            if not isinstance(content, str) or not content:
                return "markdown.content missing"
            if len(content.encode("utf-8")) > 4096:
                return "content exceeds 4096 bytes"
            return None
        if self.platform == "dingtalk":
            if url.path != "/robot/send" or query.get("access_token") != [self.token]:
                return "invalid access_token"
            ts, sign = query.get("timestamp", [""])[0], query.get("sign", [""])[0]
            if not ts.isdigit() or abs(int(ts) / 1000 - now) > 3600:
                return "timestamp (ms) missing or not within one hour"
            # parse_qs has already url-decoded the sign once, as DingTalk does
            string_to_sign = f"{ts}\n{self.secret}".encode()
            expected = base64.b64encode(
                hmac.new(self.secret.encode(), string_to_sign, hashlib.sha256).digest()
            ).decode()
            if not hmac.compare_digest(sign, expected):
                return "sign not match"
            md = data.get("markdown", {})
            if data.get("msgtype") != "markdown" or not md.get("title") or not md.get("text"):
                return "markdown.title / markdown.text missing"
            return None
        # feishu
        if url.path != f"/open-apis/bot/v2/hook/{self.token}":
            return "invalid hook"
        ts, sign = str(data.get("timestamp", "")), str(data.get("sign", ""))
        if not ts.isdigit() or abs(int(ts) - now) > 3600:
            return "timestamp (s) missing or not within one hour"
        key = f"{ts}\n{self.secret}".encode()
        expected = base64.b64encode(hmac.new(key, b"", hashlib.sha256).digest()).decode()
        if not hmac.compare_digest(sign, expected):
            return "sign match fail"
        if data.get("msg_type") != "interactive":
            return "msg_type"
        elements = data.get("card", {}).get("elements", [])
        if not elements or elements[0].get("tag") != "markdown" or not elements[0].get("content"):
            return "card markdown element missing"
        if len(body) > 20 * 1024:
            return "request body exceeds 20 KB"
        return None

    def answer(self, problem: str | None) -> dict[str, Any]:
        if self.platform == "feishu":
            return (
                {"code": 0, "msg": "success"}
                if problem is None
                else {"code": 19021, "msg": problem}
            )
        return (
            {"errcode": 0, "errmsg": "ok"}
            if problem is None
            else {"errcode": 310000, "errmsg": problem}
        )

    def __enter__(self) -> RobotServer:
        robot = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - the http.server API
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                problem = robot.check(self.path, body)
                robot.times.append(time.time())
                if problem is None:
                    robot.accepted.append(json.loads(body))
                else:
                    robot.rejected.append(problem)
                out = json.dumps(robot.answer(problem)).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        assert self.server is not None
        self.server.shutdown()
        self.server.server_close()

    def markdown_of(self, data: dict[str, Any]) -> str:
        if self.platform == "wecom":
            return data["markdown"]["content"]
        if self.platform == "dingtalk":
            return data["markdown"]["text"]
        return data["card"]["elements"][0]["content"]


def max_in_window(times: list[float], seconds: float) -> int:
    """The most requests that arrived within any window of ``seconds``."""
    times = sorted(times)
    best = 0
    for i, t in enumerate(times):
        best = max(best, sum(1 for u in times[i:] if u - t < seconds))
    return best


def tls_context(cert: Path, key: Path) -> ssl.SSLContext:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(str(cert), str(key))
    return ctx
