"""需求发起: a filled request form is submitted by copying it into the drive's inbox.

The 提交 button and ``xietong submit`` do exactly what a person does by saving the file into
``01_申请收件箱``: the copy is the hand-off, the service (or the next ``xietong run``)
registers it. Checking the form first spares the requester a round trip: a form with errors
is not copied and the problems are returned instead.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from automation.errors import XietongError
from automation.io.drive import drive_rules, require_drive
from automation.io.safewrite import safe_write, snapshot
from automation.io.validation import validate_file

SUBMITTABLE = (".xlsx", ".xlsm")


def _inbox_target(inbox: Path, name: str, data: bytes) -> tuple[Path, bool]:
    """Where the copy goes, and whether the very same bytes are already there.

    A different file of the same name is never replaced (it may be another department's
    form): the copy gets a numbered name, ``表（2）.xlsx``.
    """
    digest = hashlib.sha256(data).hexdigest()
    stem, suffix = Path(name).stem, Path(name).suffix
    for n in range(1, 1000):
        candidate = inbox / (name if n == 1 else f"{stem}（{n}）{suffix}")
        if not candidate.exists():
            return candidate, False
        if hashlib.sha256(candidate.read_bytes()).hexdigest() == digest:
            return candidate, True
    raise XietongError(f"收件箱中同名文件过多：{name}", code="E_SUBMIT_NAME", exit_code=2)


def submit_form(path: str | Path, drive: str | Path) -> dict[str, Any]:
    """Validate ``path`` and, when it has no error, copy it into the inbox of ``drive``.

    Returns the receipt: ``submitted``, ``already`` (the same file was submitted before),
    ``inbox_file``, ``problems`` (as in ``xietong validate --json``) and ``message`` (Chinese).
    """
    source = Path(path)
    if not source.is_file():
        raise XietongError(f"找不到要提交的文件：{source}", code="E_SUBMIT_FILE", exit_code=2)
    if source.suffix.lower() not in SUBMITTABLE:
        raise XietongError(
            f"只能提交 Excel 工作簿（.xlsx/.xlsm）：{source.name}",
            code="E_SUBMIT_FILE",
            exit_code=2,
        )
    paths = require_drive(drive)
    report = validate_file(source, drive_rules(paths.root))
    problems = [p.as_dict() for p in report.problems]
    if report.kind != "request" and report.readable:
        raise XietongError(
            f"{source.name} 不是部门间工作协调申请表，不能提交到申请收件箱",
            code="E_SUBMIT_KIND",
            exit_code=2,
        )
    if not report.ok:
        return {
            "submitted": False,
            "already": False,
            "inbox_file": "",
            "problems": problems,
            "message": f"申请表有 {len(report.errors)} 处错误，未提交。请按提示修改后再提交。",
        }
    data = source.read_bytes()
    target, already = _inbox_target(paths.inbox, source.name, data)
    if not already:
        safe_write(target, data, expected=snapshot(target))
    return {
        "submitted": True,
        "already": already,
        "inbox_file": str(target),
        "problems": problems,
        "message": (
            f"已提交到申请收件箱：{target.name}"
            + ("（此前已提交过相同内容）" if already else "")
            + f"。系统将在 1 个工作日内登记并分配编号，结果放在“{paths.feedback.name}”文件夹。"
        ),
    }
