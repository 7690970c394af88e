"""Secrets (SMTP password, robot webhooks and signing secrets): never on the share.

The rules folder on the share is readable by everyone who can read the share, so a password or
key there is already leaked. :func:`check_share_rules` refuses such a rules folder with the coded
error ``E_SECRET_ON_SHARE`` naming the file and the key; :func:`load_secrets` reads the secrets
from the server's local disk and the environment:

- the file ``$XIETONG_SECRETS_FILE``, else ``%APPDATA%\\xietong\\secrets.yaml`` on Windows,
  ``$XDG_CONFIG_HOME/xietong/secrets.yaml`` or ``~/.config/xietong/secrets.yaml`` elsewhere::

      smtp_password: "…"
      robots:
        rd: {webhook: "https://oapi.dingtalk.com/robot/send?access_token=…", secret: "SEC…"}

- environment variables, which win over the file: the SMTP password in the variable named by
  notify.yaml's ``smtp.password_env`` (default ``XIETONG_SMTP_PASSWORD``), a robot's webhook and
  secret in ``XIETONG_ROBOT_<ID>_WEBHOOK`` and ``XIETONG_ROBOT_<ID>_SECRET``.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from automation.errors import XietongError

_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when PyYAML has it

E_SECRET_ON_SHARE = "E_SECRET_ON_SHARE"
E_SECRETS_FILE = "E_SECRETS_FILE"

# keys whose value is a secret; ``*_env`` keys name an environment variable and are fine
_SECRET_KEY = re.compile(
    r"(password|passwd|^pwd$|^pass$|secret|token|api_?key|access_?key|private_?key|webhook|credential)",
    re.I,
)
# values that carry a robot's key whatever the key is called
_SECRET_VALUE = re.compile(
    r"(access_token=\w{8,}|[?&]key=[\w-]{8,}|/bot/v2/hook/[\w-]{8,}|^SEC[0-9a-f]{20,}$)", re.I
)


def _walk(node: Any, path: str) -> Any:
    if isinstance(node, Mapping):
        for k, v in node.items():
            yield from _walk(v, f"{path}.{k}" if path else str(k))
            yield path, k, v
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _walk(v, f"{path}[{i}]")
            yield path, None, v


def _secret_at(data: Any) -> str | None:
    """The key path of the first secret in parsed YAML, or None."""
    for parent, key, value in _walk(data, ""):
        if isinstance(value, Mapping | list) or value in (None, "", False):
            continue
        where = f"{parent}.{key}" if parent and key is not None else (str(key) if key else parent)
        name = str(key) if key is not None else ""
        if name and _SECRET_KEY.search(name) and not name.lower().endswith("_env"):
            return where
        if isinstance(value, str) and _SECRET_VALUE.search(value):
            return where
    return None


# files already looked at in this process, by identity: a run checks the share's rules once
_CHECKED: dict[tuple[str, int, int], str | None] = {}


def _secret_in(path: Path) -> str | None:
    """The key path of the first secret in one YAML file (None: none, or unreadable — the rules
    loader reports an unreadable file by name)."""
    try:
        st = path.stat()
    except OSError:
        return None
    ident = (str(path), st.st_size, st.st_mtime_ns)
    if ident not in _CHECKED:
        try:
            data = yaml.load(path.read_text(encoding="utf-8"), Loader=_LOADER)  # noqa: S506
        except (OSError, UnicodeDecodeError, yaml.YAMLError):
            data = None
        _CHECKED[ident] = _secret_at(data) if data is not None else None
    return _CHECKED[ident]


def check_share_rules(rules_dir: str | Path) -> None:
    """Refuse a rules folder on the share that holds a password, key, token or webhook."""
    folder = Path(rules_dir)
    if not folder.is_dir():
        return
    for path in sorted(folder.rglob("*.y*ml")):
        if path.is_symlink() or not path.is_file():
            continue
        key = _secret_in(path)
        if key is not None:
            raise XietongError(
                f"{path}：{key}：共享盘上的规则文件中不得保存密码、密钥或机器人地址"
                "（共享盘人人可读）。请删除该项，改用服务器本地的环境变量或 secrets.yaml"
                "（见 docs/notify.md）",
                code=E_SECRET_ON_SHARE,
                exit_code=2,
            )


@dataclass(frozen=True)
class RobotSecret:
    webhook: str = ""
    secret: str = ""  # the signing secret (加签密钥); empty when the robot is not signed


@dataclass(frozen=True)
class Secrets:
    smtp_password: str = ""
    robots: dict[str, RobotSecret] = field(default_factory=dict)
    source: str = ""  # the local file read, if any

    def robot(self, rid: str) -> RobotSecret:
        return self.robots.get(rid, RobotSecret())


def secrets_path(env: Mapping[str, str] | None = None) -> Path:
    env = os.environ if env is None else env
    explicit = env.get("XIETONG_SECRETS_FILE")
    if explicit:
        return Path(explicit)
    if sys.platform == "win32":
        base = env.get("APPDATA") or str(Path.home() / "AppData" / "Roaming")
        return Path(base) / "xietong" / "secrets.yaml"
    xdg = env.get("XDG_CONFIG_HOME")
    return (Path(xdg) if xdg else Path.home() / ".config") / "xietong" / "secrets.yaml"


def load_secrets(
    password_env: str = "XIETONG_SMTP_PASSWORD",
    *,
    env: Mapping[str, str] | None = None,
    share: str | Path | None = None,
) -> Secrets:
    """The secrets of this server (file, then environment variables over it)."""
    env = os.environ if env is None else env
    path = secrets_path(env)
    data: dict[str, Any] = {}
    if path.is_file():
        if share is not None and _inside(path, Path(share)):
            raise XietongError(
                f"{path}：密钥文件位于共享盘上，人人可读。请将其移到服务器本地磁盘",
                code=E_SECRET_ON_SHARE,
                exit_code=2,
            )
        try:
            loaded = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
            raise XietongError(
                f"{path}：密钥文件无法读取（{exc}）", code=E_SECRETS_FILE, exit_code=2
            ) from None
        if not isinstance(loaded, dict):
            raise XietongError(
                f"{path}：密钥文件的顶层必须是键值对", code=E_SECRETS_FILE, exit_code=2
            )
        data = loaded
    robots: dict[str, RobotSecret] = {}
    for rid, value in (data.get("robots") or {}).items():
        value = value if isinstance(value, dict) else {}
        robots[str(rid)] = RobotSecret(str(value.get("webhook", "")), str(value.get("secret", "")))
    prefix = "XIETONG_ROBOT_"
    for name, value in env.items():
        if name.startswith(prefix) and name.endswith(("_WEBHOOK", "_SECRET")):
            rid, _, part = name[len(prefix) :].rpartition("_")
            rid = rid.lower()
            old = robots.get(rid, RobotSecret())
            robots[rid] = (
                RobotSecret(value, old.secret)
                if part == "WEBHOOK"
                else RobotSecret(old.webhook, value)
            )
    password = env.get(password_env) or str(data.get("smtp_password") or "")
    return Secrets(password, robots, str(path) if data else "")


def _inside(path: Path, root: Path) -> bool:
    try:
        path.resolve().relative_to(root.resolve())
    except (ValueError, OSError):
        return False
    return True
