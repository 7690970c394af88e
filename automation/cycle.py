"""One full cycle of the automation (``xietong run``): intake → reactions → clocks → write-back.

The cycle takes "now" as ``as_of`` (the CLI reads the wall clock). Order of work:

1. leftovers of a killed run are cleaned up (our own temporary files), the local state is rebuilt
   from the workbooks when it is new;
2. intake: forms in the inbox are validated and registered in the local ledger (IDs allocated);
   this part may run in two processes at once;
3. under the drive's write lock: the tracking table's latest version is read (a person's newer
   edits included — this is also the retry of writes deferred in earlier runs); new rows, the
   approval routes of passed items and the computed columns are planned from it; the item
   workbooks of passed items are created; the owned cells that changed are patched in and the
   table is replaced safely — or, when someone has it open, the write is queued as pending and
   reported with who has it open;
4. registered forms whose row is written are filed into their item folders with a receipt.

Nothing changes → nothing is written: a second run leaves every file's bytes as they were.
Workbooks unchanged since an earlier run are not read again: their validation results are kept
in the local state database (``automation.io.cache``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from automation.core import intake as core
from automation.io.cache import ValidationCache
from automation.io.drive import DrivePaths, drive_rules, require_drive
from automation.io.intake import (
    IntakeOutcome,
    file_registered,
    intake_files,
    rebuild_state,
    relative,
    scan_inbox,
    settle_seconds,
)
from automation.io.ledger import Ledger, drive_lock, open_ledger
from automation.io.reactions import (
    CreatedWorkbook,
    approval_route_changes,
    create_item_workbooks,
    passed_rows,
)
from automation.io.safewrite import E_DEFERRED_CHANGED, WriteDeferred, cleanup_temp
from automation.io.tracking import (
    CellChange,
    TrackingTable,
    changes_as_edits,
    read_tracking,
    row_changes,
    values_hash,
    write_tracking,
)
from automation.rules import Rules

CHANGED_RETRIES = 3  # the table saved by someone while we patched it: re-read and retry at once
COMPUTED_KEYS = ("current_stage", "current_deadline", "clock_state", "late_workdays")


@dataclass
class CycleReport:
    """What one run did, for the summary line, ``--json`` and the watcher."""

    drive: str
    as_of: str
    intake: list[IntakeOutcome] = field(default_factory=list)
    filed: list[IntakeOutcome] = field(default_factory=list)
    created: list[CreatedWorkbook] = field(default_factory=list)
    rows_added: int = 0
    cells_updated: int = 0
    tracking_written: bool = False
    deferred: list[dict[str, Any]] = field(default_factory=list)
    retried: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def _count(self, *results: str) -> int:
        return sum(1 for o in self.intake if o.result in results)

    @property
    def registered(self) -> int:
        return self._count("registered", "revision")

    @property
    def revisions(self) -> int:
        return self._count("revision")

    @property
    def duplicates(self) -> int:
        return self._count("duplicate")

    @property
    def invalid(self) -> int:
        return self._count("invalid")

    def as_dict(self) -> dict[str, Any]:
        return {
            "drive": self.drive,
            "as_of": self.as_of,
            "registered": self.registered,
            "revisions": self.revisions,
            "duplicates": self.duplicates,
            "invalid": self.invalid,
            "rows_added": self.rows_added,
            "cells_updated": self.cells_updated,
            "tracking_written": self.tracking_written,
            "items_created": [c.as_dict() for c in self.created],
            "filed": [o.as_dict() for o in self.filed],
            "intake": [o.as_dict() for o in self.intake],
            "deferred": self.deferred,
            "retried": self.retried,
            "warnings": self.warnings,
        }

    def __str__(self) -> str:
        return "\n".join(self.summary_lines())

    def summary_lines(self) -> list[str]:
        lines = [
            f"登记 {self.registered}（其中新版次 {self.revisions}），重复 {self.duplicates}，"
            f"未通过校验 {self.invalid}；新建事项工作簿 {len(self.created)}；"
            f"跟踪表新增行 {self.rows_added}，更新单元格 {self.cells_updated}",
        ]
        for o in self.intake:
            if o.result in ("registered", "revision"):
                lines.append(f"  登记 {o.item_id} 第{o.revision}版 ← {o.file}")
            elif o.result == "duplicate":
                lines.append(f"  重复 {o.file}：{o.message}")
            elif o.result == "invalid":
                lines.append(f"  未登记 {o.file}：{o.message}")
        for c in self.created:
            lines.append(f"  新建 {c.file}")
        for d in self.deferred:
            who = d.get("holder") or ""
            reason = d["reason"] if who in d["reason"] else f"{d['reason']}（{who}）"
            lines.append(f"  推迟写入 {d['file']}：{reason}")
        for w in self.warnings:
            lines.append(f"  注意：{w}")
        return lines


def _as_of(as_of: dt.datetime, rules: Rules) -> dt.datetime:
    tz = ZoneInfo(rules.calendar.timezone)
    return as_of.replace(tzinfo=tz) if as_of.tzinfo is None else as_of.astimezone(tz)


def _calendar(rules: Rules) -> Any:
    from automation.core.calendar import WorkCalendar

    return WorkCalendar.from_rules(rules.calendar)


def run_cycle(
    root: str | Path, *, as_of: dt.datetime, settle_s: float | None = None
) -> CycleReport:
    """One full cycle on the drive at ``root`` as of ``as_of`` (see the module docstring)."""
    paths = require_drive(root)
    rules = drive_rules(root)
    as_of = _as_of(as_of, rules)
    calendar = _calendar(rules)
    report = CycleReport(drive=str(paths.root), as_of=as_of.isoformat())
    with open_ledger(paths.root) as ledger:
        if ledger.get_meta("rebuilt") is None:
            rebuild_state(paths.root, ledger=ledger)
        _cleanup(paths)
        report.retried = [p.file for p in ledger.pending()]
        cache = ValidationCache(ledger, rules, calendar)
        table = read_tracking(paths, rules, calendar=calendar, cache=cache)
        files = scan_inbox(
            paths,
            settle_s=settle_seconds(rules) if settle_s is None else settle_s,
            skip=ledger.known_unchanged,
        )
        report.intake = intake_files(
            paths, rules, ledger, table, files, as_of=as_of, calendar=calendar
        )
        with drive_lock(paths.root):
            for _attempt in range(CHANGED_RETRIES):
                report.deferred = []
                _write_back(paths, rules, ledger, cache, report, as_of=as_of)
                if not any(d["code"] == E_DEFERRED_CHANGED for d in report.deferred):
                    break  # written, nothing to write, or someone has it open: next run
            report.filed = file_registered(paths, rules, ledger, as_of=as_of)
        # 汇总 (issue 11): rebuild the leaders' summary when what it shows changed (the only
        # summary wiring here; the lead moves it into process/cycle.py)
        report.warnings.extend(_summary_step(paths, rules, ledger, cache, as_of))
        cache.prune()
    return report


def _summary_step(
    paths: DrivePaths, rules: Rules, ledger: Ledger, cache: ValidationCache, as_of: dt.datetime
) -> list[str]:
    """Issue 11 wiring: refresh the summary; a deferred summary file is a warning, not a failure."""
    from automation.process.summary import refresh_summary

    result = refresh_summary(
        paths.root, as_of=as_of, rules=rules, ledger=ledger, cache=cache, paths=paths
    )
    return [f"汇总 {d['file']} 推迟写入：{d['reason']}" for d in result.deferred]


def _cleanup(paths: DrivePaths) -> None:
    folders = [paths.root, paths.inbox, paths.feedback, paths.items]
    if paths.items.is_dir():
        folders += [p for p in paths.items.iterdir() if p.is_dir()]
    for folder in folders:
        cleanup_temp(folder)


def _write_back(
    paths: DrivePaths,
    rules: Rules,
    ledger: Ledger,
    cache: ValidationCache,
    report: CycleReport,
    *,
    as_of: dt.datetime,
) -> None:
    calendar = cache.calendar
    # the latest version, under the lock (its bytes are hashed: validated again only if changed)
    table = read_tracking(paths, rules, calendar=calendar, cache=cache)
    if table.errors and not any(w.startswith("跟踪表有") for w in report.warnings):
        report.warnings.append(
            f"跟踪表有 {table.errors} 处填写问题，相关时限可能不准确"
            f"（运行 xietong validate {paths.tracking.name} 查看）"
        )
    new_changes, written_fps, added = _registration_changes(rules, ledger, table)
    if written_fps and not new_changes:
        ledger.mark_written(written_fps)  # rows already there (written by a parallel run)
    rows = [*table.rows, *added]
    created, deferred = create_item_workbooks(
        paths, rules, ledger, table, as_of=as_of, calendar=calendar
    )
    report.created.extend(created)
    report.warnings.extend(deferred)
    changes = [
        *new_changes,
        *approval_route_changes(rules, ledger, table, passed_rows(table)),
        *_computed_changes(
            paths, rules, table, rows, as_of=as_of, cache=cache, warnings=report.warnings
        ),
    ]
    rel = relative(paths, paths.tracking)
    try:
        result = write_tracking(paths, rules, table, changes, ledger=ledger, as_of=as_of)
    except WriteDeferred as exc:
        pending = ledger.defer(
            rel,
            changes_as_edits(changes),
            reason=exc.message_zh,
            code=exc.reason_code,
            holder=exc.holder,
        )
        report.deferred.append(
            {
                "file": rel,
                "reason": exc.message_zh,
                "code": exc.reason_code,
                "holder": exc.holder,
                "first_seen": pending.first_seen,
                "cells": len(changes),
            }
        )
        return
    ledger.clear_pending(rel)
    ledger.mark_written(written_fps)
    if result is not None:
        report.tracking_written = True
        report.rows_added = len(added)
        report.cells_updated = len(changes)


def _registration_changes(
    rules: Rules, ledger: Ledger, table: TrackingTable
) -> tuple[list[CellChange], list[str], list[dict[str, Any]]]:
    """New rows for registrations not yet in the table; (changes, fingerprints, new rows)."""
    form = rules.form("tracking")
    owned = {f.key for f in form.columns if f.computed}
    changes: list[CellChange] = []
    fps: list[str] = []
    added: list[dict[str, Any]] = []
    for reg in ledger.registrations("pending"):
        fps.append(reg.fingerprint)
        if table.find(reg.item_id, reg.revision) is not None:
            continue
        values = core.from_json_values(reg.row_values, form)
        values = {
            f.key: values[f.key]
            for f in form.columns  # in column order
            if f.key in owned and values.get(f.key) not in (None, "")
        }
        row_no = table.next_free_row(planned=len(added))
        changes.extend(
            row_changes(
                table,
                row_no,
                values,
                current=None,
                item=reg.item_id,
                action="register",
                input_hash=reg.source_sha256,
            )
        )
        added.append({**values, "_row": row_no})
    return changes, fps, added


def _computed_changes(
    paths: DrivePaths,
    rules: Rules,
    table: TrackingTable,
    rows: list[dict[str, Any]],
    *,
    as_of: dt.datetime,
    cache: ValidationCache,
    warnings: list[str],
) -> list[CellChange]:
    """Current stage, deadline, clock state and working days late of every row that changed."""
    from automation.core.clocks import ItemCycle, compute_clocks, status_by_cycle

    cycles = []
    keyed: dict[tuple[str, int], dict[str, Any]] = {}
    calendar = cache.calendar
    departments = _department_records(paths, rules, rows, cache, warnings)
    for row in rows:
        item_id = row.get("item_id")
        if not item_id:
            continue
        item_id = str(item_id).strip()
        cycle = int(row.get("revision") or 1)
        keyed[(item_id, cycle)] = row
        fields = {k: v for k, v in row.items() if k != "_row"}
        cycles.append(
            ItemCycle(str(item_id), cycle, fields, departments.get((str(item_id), cycle), {}))
        )
    statuses = status_by_cycle(compute_clocks(cycles, rules.clocks, calendar, as_of))
    changes: list[CellChange] = []
    for key, row in keyed.items():
        status = statuses.get(key)
        if status is None:
            wanted: dict[str, Any] = dict.fromkeys(COMPUTED_KEYS, "")
        else:
            wanted = {
                "current_stage": status.stage,
                "current_deadline": core.format_deadline(status.deadline),
                "clock_state": status.state_zh,
                "late_workdays": int(status.late_workdays),
            }
        diff = core.changed_values(row, wanted)
        if diff:
            changes.extend(
                row_changes(
                    table,
                    row["_row"],
                    diff,
                    current=row,
                    item=key[0],
                    action="computed",
                    input_hash=values_hash([row, as_of.isoformat()]),
                )
            )
    return changes


def _department_records(
    paths: DrivePaths,
    rules: Rules,
    rows: list[dict[str, Any]],
    cache: ValidationCache,
    warnings: list[str],
) -> dict[tuple[str, int], dict[str, Any]]:
    """The execution-workbook records (DeptRecord by department) of the latest cycle of every
    item, read by the clock engine's own reader of the drive."""
    from automation.io.clock_inputs import (
        department_records,
        item_folder_index,
        read_weekly_reports,
    )

    calendar = cache.calendar
    weekly = read_weekly_reports(paths, rules, calendar, warnings, cache=cache)
    folders = item_folder_index(paths)
    out: dict[tuple[str, int], dict[str, Any]] = {}
    for row in core.latest_revisions(rows).values():
        item_id = str(row["item_id"]).strip()
        out[(item_id, int(row.get("revision") or 1))] = department_records(
            paths,
            rules,
            item_id,
            calendar=calendar,
            warnings=warnings,
            weekly_reports=weekly,
            cache=cache,
            folders=folders,
        )
    return out
