"""The service's health (运行状态): a status file in the local state folder, a Chinese
``服务状态.txt`` on the share, and reading them back for ``xietong status``.

The status file (JSON, next to the local state database, never on the share) is rewritten every
heartbeat; ``xietong status`` judges "running" by its age. The share's status text is written
through the safe writer, less often (every ``status_file_seconds``), so the office sees at a
glance that the service is alive without the share filling with backups.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path
from typing import Any

from automation.io.ledger import drive_key, pid_alive, state_dir
from automation.io.safewrite import WriteDeferred, safe_write_text

SHARE_STATUS_FILE = "服务状态.txt"
DEAD_AFTER_HEARTBEATS = 3  # no heartbeat for this many periods: not running


def status_path(root: str | Path) -> Path:
    return state_dir() / f"service-{drive_key(root)}.json"


def write_status(root: str | Path, status: dict[str, Any]) -> None:
    """Replace the status file atomically (local disk: a plain temp + replace)."""
    path = status_path(root)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(status, ensure_ascii=False, indent=1, default=str), "utf-8")
    os.replace(tmp, path)


def read_status(root: str | Path) -> dict[str, Any] | None:
    try:
        return json.loads(status_path(root).read_text("utf-8"))
    except (OSError, ValueError):
        return None


def judge(status: dict[str, Any] | None, now: dt.datetime) -> dict[str, Any]:
    """Add ``running`` and ``heartbeat_age_s`` to a status read back (None: never ran)."""
    try:
        beat = dt.datetime.fromisoformat(str((status or {})["heartbeat"]))
    except (KeyError, ValueError):
        beat = None
    if status is None or beat is None:
        return {**(status or {}), "running": False, "heartbeat_age_s": None, "state": "never"}
    age = (now - beat).total_seconds()
    limit = DEAD_AFTER_HEARTBEATS * float(status.get("heartbeat_seconds") or 10)
    running = (
        status.get("state") not in ("stopped",)
        and age <= limit
        and pid_alive(int(status.get("pid") or 0))
    )
    out = dict(status)
    out["heartbeat_age_s"] = round(age, 1)
    out["running"] = running
    if not running and status.get("state") != "stopped":
        out["state"] = "dead"
    return out


_STATE_ZH = {
    "running": "运行中",
    "unavailable": "共享盘暂时无法访问，等待恢复",
    "stopped": "已停止",
    "starting": "正在启动",
}


def share_text(status: dict[str, Any]) -> str:
    """The Chinese status text for the share (CRLF, for Notepad)."""
    last = status.get("last_cycle") or {}
    lines = [
        "协同自动化服务状态（此文件由系统自动生成，请勿修改）",
        "",
        f"状态：{_STATE_ZH.get(status.get('state', ''), status.get('state', ''))}",
        f"更新时间：{str(status.get('heartbeat', ''))[:19].replace('T', ' ')}",
        f"运行主机：{status.get('host', '')}（进程 {status.get('pid', '')}）",
        f"启动时间：{str(status.get('started', ''))[:19].replace('T', ' ')}",
    ]
    if last:
        lines.append(
            f"最近一次处理：{str(last.get('start', ''))[:19].replace('T', ' ')}，"
            f"用时 {last.get('duration_s', '')} 秒，{last.get('summary', '')}"
        )
    lines.append(f"等待处理的文件：{status.get('queue_length', 0)}")
    pending = status.get("pending_writes") or []
    for p in pending:
        lines.append(f"推迟写入：{p.get('file')}（{p.get('holder') or p.get('reason', '')}）")
    for q in status.get("quarantined") or []:
        lines.append(f"已暂停处理（多次失败）：{q.get('file')}")
    if status.get("unavailable"):
        lines.append(f"注意：{status['unavailable']}")
    lines.append("")
    lines.append(
        "若“更新时间”超过几分钟没有变化，说明服务可能已停止，请联系信息部门（运行 xietong status）。"
    )
    return "\r\n".join(lines) + "\r\n"


def write_share_status(root: str | Path, status: dict[str, Any]) -> str | None:
    """Write ``服务状态.txt`` at the top of the drive; the reason when it had to wait."""
    try:
        safe_write_text(Path(root) / SHARE_STATUS_FILE, share_text(status), expected=None)
    except (WriteDeferred, OSError) as exc:
        return getattr(exc, "message_zh", None) or str(exc)
    return None


def relative_to_drive(root: str | Path, path: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return str(path)
