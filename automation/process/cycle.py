"""One full cycle of the automation (``xietong run``): intake → evaluation → clocks → write-back.

The cycle takes "now" as ``as_of`` (the CLI reads the wall clock). Order of work:

1. leftovers of a killed run are cleaned up (our own temporary files in every folder we write
   to), the local state is rebuilt from the share when it is new (``process.recovery``);
2. intake: forms in the inbox are validated and registered in the local ledger (IDs allocated);
   this part may run in two processes at once;
3. under the drive's write lock: the tracking table's latest version is read (a person's newer
   edits included — this is also the retry of writes deferred in earlier runs); new rows, rows
   of registered requests that have disappeared from the table (restored, never lost), the
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

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from automation.core import intake as core
from automation.core.clocks import ClockResult, ItemCycle, ItemStatus, item_status
from automation.io.files import LISTING_UNSETTLED_NS
from automation.io.ledger import Registration, drive_lock
from automation.io.reader import reader_pool
from automation.io.safewrite import E_DEFERRED_CHANGED, WriteDeferred, cleanup_temp
from automation.process import heap
from automation.process.archive import ArchiveReport, archive_items
from automation.process.archive import may_touch as archive_may_touch
from automation.process.clocks import (
    clock_results_by_cycle,
    item_cycles,
    provisional_warning,
    workbooks_in,
)
from automation.process.context import RunContext, open_context
from automation.process.evaluation import (
    CreatedWorkbook,
    approval_route_changes,
    create_item_workbooks,
    passed_rows,
)
from automation.process.execution import (
    LEAD_PARALLEL_MIN,
    drive_exceptions,
    open_exception_counts,
    prepare_lead_worker,
    release_lead_worker,
    weekly_in_cycle,
)
from automation.process.intake import (
    IntakeOutcome,
    file_registered,
    intake_files,
    scan_inbox,
    settle_seconds,
)
from automation.process.notify import deliver_after_cycle, notify_after_cycle
from automation.process.recovery import raise_counters, rebuild_state
from automation.process.summary import SummaryResult, refresh_summary
from automation.process.tracking import (
    BACKUP_FOLDER,
    CellChange,
    TrackingTable,
    changes_as_edits,
    is_withdrawn,
    read_tracking,
    revision_of,
    row_changes,
    values_hash,
    write_tracking,
)

CHANGED_RETRIES = 3  # the table saved by someone while we patched it: re-read and retry at once
COMPUTED_KEYS = (
    "current_stage",
    "current_clock",
    "current_deadline",
    "clock_state",
    "late_workdays",
    "open_exceptions",
)
WITHDRAWN_STAGE = "已撤销"


@dataclass
class CycleReport:
    """What one run did, for the summary line, ``--json`` and the watcher."""

    drive: str
    as_of: str
    intake: list[IntakeOutcome] = field(default_factory=list)
    filed: list[IntakeOutcome] = field(default_factory=list)
    created: list[CreatedWorkbook] = field(default_factory=list)
    restored: list[str] = field(default_factory=list)  # "XT-2026-0008 第1版" rows put back
    rows_added: int = 0
    cells_updated: int = 0
    tracking_written: bool = False
    deferred: list[dict[str, Any]] = field(default_factory=list)
    retried: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    archive: ArchiveReport | None = None
    summary: SummaryResult | None = None

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

    @property
    def attachments(self) -> int:
        return self._count("attachment")

    @property
    def errors(self) -> int:
        return self._count("error")

    def as_dict(self) -> dict[str, Any]:
        return {
            "drive": self.drive,
            "as_of": self.as_of,
            "registered": self.registered,
            "revisions": self.revisions,
            "duplicates": self.duplicates,
            "invalid": self.invalid,
            "attachments": self.attachments,
            "errors": self.errors,
            "rows_added": self.rows_added,
            "rows_restored": self.restored,
            "cells_updated": self.cells_updated,
            "tracking_written": self.tracking_written,
            "items_created": [c.as_dict() for c in self.created],
            "filed": [o.as_dict() for o in self.filed],
            "intake": [o.as_dict() for o in self.intake],
            "deferred": self.deferred,
            "retried": self.retried,
            "warnings": self.warnings,
            "archive": self.archive.as_dict() if self.archive is not None else None,
            "summary": self.summary_lines(),
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
            elif o.result == "attachment":
                lines.append(f"  附件 {o.file} → {o.item_id}：{o.message}")
            elif o.result == "error":
                lines.append(f"  出错 {o.file}：{o.message}")
        for c in self.created:
            lines.append(f"  新建 {c.file}")
        for r in self.restored:
            lines.append(
                f"  恢复 跟踪表中被删除的 {r}（已登记的行不能删除，如需撤销请在“撤销”列选“是”）"
            )
        for d in self.deferred:
            who = d.get("holder") or ""
            reason = d["reason"] if who in d["reason"] else f"{d['reason']}（{who}）"
            lines.append(f"  推迟写入 {d['file']}：{reason}")
        for w in self.warnings:
            lines.append(f"  注意：{w}")
        return lines


def run_cycle(root: str | Path, *, as_of: Any = None, settle_s: float | None = None) -> CycleReport:
    """One full cycle on the drive at ``root`` as of ``as_of`` (see the module docstring)."""
    with open_context(root, as_of=as_of) as ctx:
        return cycle(ctx, settle_s=settle_s)


STEPS = (
    "整理本地状态",
    "读取跟踪表",
    "收件箱登记",
    "计算时限并写回跟踪表",
    "申请表归档",
    "周进度汇总",
    "验收归档",
    "更新汇总",
    "发送通知",
)


def cycle(
    ctx: RunContext,
    *,
    settle_s: float | None = None,
    progress: Progress | None = None,
    hold_back: Callable[[str, int, int], bool] | None = None,
    later_stages: bool = True,
) -> CycleReport:
    """One full cycle in an open context. ``progress(step, total, label)`` follows the steps;
    ``hold_back(rel, size, mtime_ns)`` leaves out inbox files not judged ready yet (the watcher
    service decides readiness itself); ``later_stages=False`` stops after the tracking table and
    the filing (the service answers a save at once and runs the rest in its next cycle).

    The collector runs between the steps, over what each step made, not while the millions of
    objects a large drive's run keeps are built (a cold run at 2,000 items spent a tenth of its
    time in collections that walked them again and again); see ``automation.process.heap``."""
    heap.begin()
    try:
        with heap.paused():
            return _cycle(ctx, settle_s, progress, hold_back, later_stages)
    finally:
        release_lead_worker()  # started ahead for a cold drive and not taken


def _cycle(
    ctx: RunContext,
    settle_s: float | None,
    progress: Progress | None,
    hold_back: Callable[[str, int, int], bool] | None,
    later_stages: bool,
) -> CycleReport:
    ledger = ctx.need_ledger()
    report = CycleReport(drive=str(ctx.paths.root), as_of=ctx.as_of.isoformat())
    step = _stepper(progress)
    step()
    _prefetch(ctx)
    if ledger.get_meta("rebuilt") is None:
        rebuild_state(ctx)
    _cleanup(ctx)
    report.retried = [p.file for p in ledger.pending()]
    step()
    table = read_tracking(ctx)
    raise_counters(ctx, table)  # cheap: never issue an ID that the share already names
    step()
    scan = scan_inbox(
        ctx,
        settle_s=settle_seconds(ctx.rules) if settle_s is None else settle_s,
        skip=ledger.known_unchanged
        if hold_back is None
        else lambda *f: ledger.known_unchanged(*f) or hold_back(*f),
    )
    report.intake = intake_files(ctx, table, scan)
    step()
    with drive_lock(ctx.paths.root):
        for _attempt in range(CHANGED_RETRIES):
            report.deferred = []
            _write_back(ctx, report, every_row=later_stages)
            if not any(d["code"] == E_DEFERRED_CHANGED for d in report.deferred):
                break  # written, nothing to write, or someone has it open: next run
        step()
        report.filed = file_registered(ctx)
        if not later_stages:
            return _finish(ctx, report)
        step()
        # 执行反馈: this week's rollup; on a cold drive the lead departments' reports are
        # built by a worker process meanwhile, finished before the lock is let go
        notes, leads = weekly_in_cycle(ctx, overlap=archive_may_touch(ctx))
        report.warnings.extend(notes)
        try:
            step()
            if leads is not None:  # the archive reads the folders of finished items
                leads.settle_first()
            report.archive = archive_items(ctx)  # 结果归档: checklists, bags of ready items
            report.warnings.extend(report.archive.notes())
            step()
            # 汇总: rebuilt only when what it shows changed
            report.summary = refresh_summary(ctx)
            step()
            # 通知: this run's events, each once: queued and composed here, sent below
            notified = notify_after_cycle(ctx, table.rows, report.warnings, deliver=False)
        finally:  # what the lead-report worker builds is written before the lock is let go
            if leads is not None:
                report.warnings.extend(leads.finish())
        report.warnings += [
            f"汇总 {d['file']} 推迟写入：{d['reason']}" for d in report.summary.deferred
        ]
    # sent outside the lock: a robot may make it wait
    deliver_after_cycle(ctx, notified, report.warnings)
    return _finish(ctx, report)


def _finish(ctx: RunContext, report: CycleReport) -> CycleReport:
    ctx.cache.prune()
    heap.settle()  # what this process keeps for the next cycle, out of the collector's way
    for w in ctx.warnings:
        if w not in report.warnings:
            report.warnings.append(w)
    return report


Progress = Callable[[int, int, str], None]


def _stepper(progress: Progress | None) -> Callable[[], None]:
    done = 0

    def step() -> None:
        nonlocal done
        heap.freeze()
        if progress is not None and done < len(STEPS):
            progress(done, len(STEPS), STEPS[done])
        done += 1

    return step


def _prefetch(ctx: RunContext) -> None:
    """A cold run reads the item and weekly workbooks on every core first (see
    ``ValidationCache.prefetch``); a process that already holds the drive skips the listing.
    The reader of this process is started either way: a changed file is read by it."""
    reader_pool(ctx.rules.validation).warm_up()  # starts while the folders are listed
    if ctx.cache.warm:
        return
    paths = ctx.paths
    found = [
        *workbooks_in(paths.items, recursive=True),
        *workbooks_in(paths.weekly, recursive=True),
    ]
    if ctx.cache.prefetch(found) >= LEAD_PARALLEL_MIN:
        # a cold drive: its lead reports will be many; their worker starts while the
        # write-back keeps one core (see execution.prepare_lead_worker)
        prepare_lead_worker()


def _cleanup(ctx: RunContext) -> None:
    """Our own temporary files left by a killed run, in every folder the automation writes to."""
    paths = ctx.paths
    folders = [
        paths.root,
        paths.inbox,
        paths.feedback,
        paths.items,
        paths.weekly,
        paths.summary,
        paths.archive,
        paths.outbox,
        paths.log,
        paths.log / BACKUP_FOLDER,
        paths.templates,
        paths.rules,
    ]
    found: list[tuple[str, int]] = []
    for folder in folders:
        try:
            found.append((os.fspath(folder), os.stat(folder).st_mtime_ns))
        except OSError:
            continue
    try:  # the item folders, from one listing (links not followed, one stat each)
        with os.scandir(paths.items) as entries:
            for entry in entries:
                try:
                    if entry.is_dir(follow_symlinks=False):
                        found.append((entry.path, entry.stat(follow_symlinks=False).st_mtime_ns))
                except OSError:  # gone since listed
                    continue
    except OSError:  # no items folder (yet)
        pass
    for folder, mtime in found:
        # a folder found clean whose listing has not changed since is clean
        if ctx.cache.recall("clean", folder, mtime):
            continue
        young: list[Path] = []
        cleanup_temp(folder, young=young)
        if not young and time.time_ns() - mtime >= LISTING_UNSETTLED_NS:
            ctx.cache.keep("clean", folder, mtime)


def _write_back(ctx: RunContext, report: CycleReport, *, every_row: bool = True) -> None:
    """Plan and write the tracking table's owned cells. ``every_row=False`` (the service's
    answer to a save) computes the clocks of the new rows only; the full cycle queued behind it
    refreshes the rest."""
    ledger = ctx.need_ledger()
    paths = ctx.paths
    # the latest version, under the lock (its bytes are hashed: validated again only if changed)
    table = read_tracking(ctx)
    if table.errors and not any(w.startswith("跟踪表有") for w in report.warnings):
        report.warnings.append(
            f"跟踪表有 {table.errors} 处填写问题，相关时限可能不准确"
            f"（运行 xietong validate {paths.tracking.name} 查看）"
        )
    plan = _registration_changes(ctx, table)
    if plan.fingerprints and not plan.changes:
        ledger.mark_written(plan.fingerprints)  # rows already there (written by a parallel run)
    rows = [*table.rows, *plan.added]
    passed = passed_rows(ctx, table)
    created, deferred = create_item_workbooks(ctx, table, passed)
    report.created.extend(created)
    report.warnings.extend(deferred)
    changes = [
        *plan.changes,
        *approval_route_changes(ctx, table, passed),
        *_computed_changes(
            ctx, table, rows if every_row else plan.added, report.warnings, exceptions=every_row
        ),
    ]
    rel = ctx.rel(paths.tracking)
    try:
        result = write_tracking(ctx, table, changes)
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
    ledger.mark_written(plan.fingerprints)
    if result is not None:
        report.tracking_written = True
        report.rows_added = len(plan.added) - len(plan.restored)
        report.restored = plan.restored
        report.cells_updated = len(changes)


@dataclass
class _RowPlan:
    changes: list[CellChange] = field(default_factory=list)
    fingerprints: list[str] = field(default_factory=list)  # pending registrations now in place
    added: list[dict[str, Any]] = field(default_factory=list)
    restored: list[str] = field(default_factory=list)


def _registration_changes(ctx: RunContext, table: TrackingTable) -> _RowPlan:
    """Rows for every registered revision missing from the table: new registrations, and rows
    that disappeared (a stale copy saved over the table, a row deleted) — restored with the
    values last written, journalled as ``restore_row``."""
    form = ctx.rules.form("tracking")
    owned = {f.key for f in form.columns if f.computed}
    present = {
        (str(r.get("item_id") or "").strip(), revision_of(r.get("revision"))) for r in table.rows
    }
    plan = _RowPlan()
    for reg in ctx.need_ledger().registrations():
        if reg.status == "pending":
            plan.fingerprints.append(reg.fingerprint)
        if (reg.item_id, reg.revision) in present:
            continue
        values = core.from_json_values(reg.row_values, form)
        values = {
            f.key: values[f.key]
            for f in form.columns  # in column order
            if f.key in owned and values.get(f.key) not in (None, "")
        }
        values.update(item_id=reg.item_id, revision=reg.revision)
        row_no = table.next_free_row(planned=len(plan.added))
        restoring = reg.status != "pending"
        plan.changes.extend(
            row_changes(
                table,
                row_no,
                values,
                current=None,
                item=reg.item_id,
                action="restore_row" if restoring else "register",
                input_hash=reg.source_sha256,
            )
        )
        plan.added.append({**values, "_row": row_no})
        if restoring:
            plan.restored.append(f"{reg.item_id} 第{reg.revision}版")
    return plan


def _computed_changes(
    ctx: RunContext,
    table: TrackingTable,
    rows: list[dict[str, Any]],
    warnings: list[str],
    *,
    exceptions: bool = True,
) -> list[CellChange]:
    """Current stage, clock, deadline, state and working days late of every row that changed."""
    keyed: dict[tuple[str, int], dict[str, Any]] = {}
    live = []
    for row in rows:
        item_id = str(row.get("item_id") or "").strip()
        if not item_id:
            continue
        keyed[(item_id, revision_of(row.get("revision")))] = row
        if not is_withdrawn(row):
            live.append(row)
    cycles: list[ItemCycle] = item_cycles(ctx, live, warnings)
    parts = clock_results_by_cycle(ctx, cycles)
    notice = provisional_warning(ctx, (r for part in parts for r in part))
    if notice and notice not in warnings:
        warnings.append(notice)
    statuses = {
        (c.item_id, c.cycle): _status(ctx, c, part)
        for c, part in zip(cycles, parts, strict=True)
        if part
    }
    open_counts = (
        open_exception_counts(drive_exceptions(ctx)[0])
        if exceptions and "open_exceptions" in table.lay.columns
        else {}
    )
    changes: list[CellChange] = []
    for key, row in keyed.items():
        status = statuses.get(key)
        opens = open_counts.get(key[0]) or ""
        # the row and status of the last run (the very objects while they stay): the same cells
        held = ctx.cache.last("computed", key)
        if held is not None and held[0] is row and held[1] is status and held[2] == opens:
            diff = held[3]
        else:
            diff = core.changed_values(row, _wanted(table, row, status, opens))
            ctx.cache.keep("computed", key, None, (row, status, opens, diff))
        if diff:
            changes.extend(
                row_changes(
                    table,
                    row["_row"],
                    diff,
                    current=row,
                    item=key[0],
                    action="computed",
                    input_hash=values_hash([row, ctx.as_of.isoformat()]),
                )
            )
    return changes


def _status(ctx: RunContext, cycle: ItemCycle, part: list[ClockResult]) -> ItemStatus:
    """``item_status`` of a cycle's clocks, kept while they are the very list of the last run."""
    # clocks that ran on (a minute later) and read the same: the status kept
    return ctx.cache.made_from(
        "status", (cycle.item_id, cycle.cycle), (part,), lambda: item_status(part)
    )


def _wanted(
    table: TrackingTable, row: dict[str, Any], status: ItemStatus | None, opens: Any
) -> dict[str, Any]:
    """The computed columns a row should show."""
    if is_withdrawn(row):
        wanted: dict[str, Any] = dict.fromkeys(COMPUTED_KEYS, "")
        wanted["current_stage"] = WITHDRAWN_STAGE
    elif status is None:
        wanted = dict.fromkeys(COMPUTED_KEYS, "")
    else:
        wanted = {
            "current_stage": status.stage,
            "current_clock": status.clock,
            "current_deadline": core.format_deadline(status.deadline),
            "clock_state": status.state_zh,
            "late_workdays": int(status.late_workdays),
            "open_exceptions": opens,
        }
    return {k: v for k, v in wanted.items() if k in table.lay.columns}


__all__ = ["CycleReport", "Registration", "cycle", "run_cycle"]
