"""Helpers of the intake / cycle tests: fill request forms, edit the tracking table as the office
does (through the patcher, on cells the office owns), hash every file of a drive."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
from pathlib import Path
from typing import Any

from automation.core.layout import layout
from automation.io.drive import drive_paths
from automation.io.templates import write_workbook
from automation.io.xlsxpatch import CellEdit, patch_workbook
from automation.rules import Rules

AS_OF = dt.datetime(2026, 3, 10, 10, 0)


def request_values(n: int = 1, **extra: Any) -> dict[str, Any]:
    values = {
        "requesting_dept": "研发部",
        "requester": "张三",
        "contact": "13800000000",
        "request_date": dt.date(2026, 3, 9),
        "collab_type": "跨部门项目",
        "urgency": "一般",
        "title": f"新产品试产协调 {n}",
        "goal": "按期完成试产",
        "task_content": "明确各部门分工，制定试产计划",
        "milestones": "3月20日完成方案，4月10日试产",
        "expected_start": dt.date(2026, 3, 16),
        "expected_finish": dt.date(2026, 4, 30),
        "expected_results": "试产报告",
        "suggested_depts": "生产部、市场部",
        "is_major": "否",
        "dept_head": "刘洋",
        "sign_date": dt.date(2026, 3, 9),
    }
    values.update(extra)
    return values


def drop_request(
    drive: Path,
    rules: Rules,
    name: str,
    values: dict[str, Any],
    *,
    mtime: dt.datetime | None = None,
) -> Path:
    """Save a filled request form into the inbox (written elsewhere, then moved in, as Explorer
    does); ``mtime`` sets its modification time."""
    paths = drive_paths(drive, rules)
    staging = drive / ".." / "staging"
    staging.mkdir(exist_ok=True)
    tmp = write_workbook("request", rules, staging / name, values=values)
    target = paths.inbox / name
    os.replace(tmp, target)
    when = (mtime or dt.datetime(2026, 3, 9, 16, 0)).timestamp()
    os.utime(target, (when, when))
    return target


def office_edit(drive: Path, rules: Rules, row: int, values: dict[str, Any]) -> None:
    """The office types into the tracking table (cells it owns), saving the file."""
    paths = drive_paths(drive, rules)
    form = rules.form("tracking")
    lay = layout(form)
    for key in values:
        assert not form.field(key).computed, f"{key} is not an office column"
    edits = [CellEdit(f"{lay.columns[k]}{row}", v) for k, v in values.items()]
    paths.tracking.write_bytes(patch_workbook(paths.tracking.read_bytes(), form.sheet, edits))


def pass_evaluation(
    drive: Path, rules: Rules, row: int = 4, *, coop: str = "市场部", **more: Any
) -> None:
    """The office records evaluation passed (2026-03-11), lead 生产部, and ``coop`` cooperating."""
    values = {
        "evaluation_result": "通过",
        "evaluation_date": dt.date(2026, 3, 11),
        "lead_dept": "生产部",
        "coop_depts": coop,
    }
    office_edit(drive, rules, row, values | more)


def drive_hashes(drive: Path) -> dict[str, str]:
    """sha256 of every file on the drive, by relative path."""
    return {
        p.relative_to(drive).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(drive.rglob("*"))
        if p.is_file()
    }


def tracking_rows(drive: Path, rules: Rules) -> list[dict[str, Any]]:
    from automation.process.context import new_context
    from automation.process.tracking import read_tracking

    return read_tracking(new_context(drive_paths(drive, rules), rules)).rows
