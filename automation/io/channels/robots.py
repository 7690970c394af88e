"""Group robots: 企业微信 (WeCom) group robot, 钉钉 (DingTalk) custom robot, 飞书 (Feishu/Lark)
custom bot, over HTTPS with httpx.

- 企业微信: POST ``{"msgtype": "markdown", "markdown": {"content": …}}`` to the webhook
  (``…/cgi-bin/webhook/send?key=…``); the content is at most 4096 bytes of UTF-8; people are
  mentioned with ``<@userid>`` in the content. Answer ``{"errcode": 0}``. 20 messages a minute.
- 钉钉: with 加签, ``timestamp`` (milliseconds) and ``sign`` go into the query string, where
  sign = urlencode(base64(HMAC-SHA256(key=secret, msg=f"{timestamp}\\n{secret}")));
  body ``{"msgtype": "markdown", "markdown": {"title", "text"}, "at": {"atMobiles": […]}}``.
  Answer ``{"errcode": 0}``. 20 messages a minute.
- 飞书: ``timestamp`` (seconds, as text) and ``sign`` go into the JSON body, where
  sign = base64(HMAC-SHA256(key=f"{timestamp}\\n{secret}", msg=b"")) — the roles of key and
  message are the other way round from 钉钉. A markdown card (``msg_type: interactive``).
  Answer ``{"code": 0}``. 5 messages a second; a request body of at most 20 KB.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
import urllib.parse
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from automation.io.channels import ChannelError


@dataclass(frozen=True)
class Platform:
    name_zh: str
    max_bytes: int  # the markdown content a message may carry, in UTF-8 bytes
    rate_count: int  # at most this many messages …
    rate_seconds: float  # … per this many seconds, per robot


PLATFORMS = {
    "wecom": Platform("企业微信", 4096, 20, 60.0),
    "dingtalk": Platform("钉钉", 18000, 20, 60.0),
    "feishu": Platform("飞书", 18000, 5, 1.0),
}


def dingtalk_sign(secret: str, timestamp_ms: int) -> str:
    """钉钉 加签: the base64 HMAC-SHA256 of "timestamp\\nsecret" keyed with the secret."""
    string_to_sign = f"{timestamp_ms}\n{secret}".encode()
    digest = hmac.new(secret.encode(), string_to_sign, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def feishu_sign(secret: str, timestamp_s: int) -> str:
    """飞书 签名校验: the base64 HMAC-SHA256 keyed with "timestamp\\nsecret" of an empty message."""
    key = f"{timestamp_s}\n{secret}".encode()
    return base64.b64encode(hmac.new(key, b"", hashlib.sha256).digest()).decode()


def _with_query(url: str, **params: str) -> str:
    parts = urllib.parse.urlsplit(url)
    query = parts.query + ("&" if parts.query else "") + urllib.parse.urlencode(params)
    return urllib.parse.urlunsplit(parts._replace(query=query))


def robot_request(
    platform: str,
    webhook: str,
    secret: str,
    *,
    title: str,
    markdown: str,
    mention: Sequence[str] = (),
    now: Callable[[], float] = time.time,
) -> tuple[str, dict[str, Any]]:
    """The URL and JSON body of one markdown message to a robot."""
    if platform == "wecom":
        content = markdown + "".join(f"\n<@{m}>" for m in mention)
        return webhook, {"msgtype": "markdown", "markdown": {"content": content}}
    if platform == "dingtalk":
        text = markdown + ("\n\n" + " ".join(f"@{m}" for m in mention) if mention else "")
        body = {
            "msgtype": "markdown",
            "markdown": {"title": title, "text": text},
            "at": {"atMobiles": list(mention), "isAtAll": False},
        }
        url = webhook
        if secret:
            ts = int(now() * 1000)
            url = _with_query(webhook, timestamp=str(ts), sign=dingtalk_sign(secret, ts))
        return url, body
    if platform == "feishu":
        body = {
            "msg_type": "interactive",
            "card": {
                "header": {"title": {"tag": "plain_text", "content": title}},
                "elements": [{"tag": "markdown", "content": markdown}],
            },
        }
        if secret:
            ts = int(now())
            body = {"timestamp": str(ts), "sign": feishu_sign(secret, ts), **body}
        return webhook, body
    raise ChannelError(f"未知的机器人平台：{platform}")


def send_robot(
    platform: str,
    webhook: str,
    secret: str,
    *,
    title: str,
    markdown: str,
    mention: Sequence[str] = (),
    client: Any = None,
    timeout: float = 15.0,
) -> None:
    """Post one message; a refusal (HTTP error or a non-zero code in the answer) raises."""
    import httpx  # here, not at the top: every command would pay for it, few ever send

    if not webhook:
        raise ChannelError(
            "机器人未配置 webhook 地址（见 docs/notify.md：本地 secrets.yaml 或环境变量）"
        )
    limit = PLATFORMS[platform].max_bytes
    if len(markdown.encode()) > limit:
        raise ChannelError(f"消息超过{PLATFORMS[platform].name_zh}的长度上限 {limit} 字节")
    url, body = robot_request(
        platform, webhook, secret, title=title, markdown=markdown, mention=mention
    )
    own = client is None
    http = client or httpx.Client(timeout=timeout)
    try:
        response = http.post(url, json=body)
    except httpx.HTTPError as exc:
        raise ChannelError(f"{PLATFORMS[platform].name_zh}机器人无法连接：{exc}") from None
    finally:
        if own:
            http.close()
    try:
        answer = response.json()
    except ValueError:
        answer = {}
    code = answer.get("errcode", answer.get("code", answer.get("StatusCode")))
    if response.status_code != 200 or code not in (0, None) or not answer:
        detail = answer.get("errmsg") or answer.get("msg") or response.text[:200]
        raise ChannelError(
            f"{PLATFORMS[platform].name_zh}机器人拒绝了消息（HTTP {response.status_code}，{code}：{detail}）"
        )
