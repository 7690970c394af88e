"""The tracking table (模板二 跟踪表): reading its rows and writing the cells the automation owns.

Rows are read with the one validator (``automation.io.validation.validate_file``) from a private
copy of exactly the bytes that were snapshotted, so the rows, the bytes patched and the change
check of the safe write all describe the same version of the file (bytes validated before are
not validated again: ``automation.io.cache``). Writes patch only the owned
cells in the sheet XML (``automation.io.xlsxpatch``) and replace the file through
``automation.io.safewrite``; every other part of the person's workbook is carried over as is.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from automation.core.intake import highest_seq
from automation.core.layout import Layout, layout
from automation.core.normalize import is_blank
from automation.errors import XietongError
from automation.io.drive import DrivePaths
from automation.io.journal import make_entry
from automation.io.safewrite import FileSnapshot, WriteResult, read_with_snapshot, safe_write
from automation.io.xlsxpatch import CellEdit, patch_workbook
from automation.process.context import RunContext
from automation.rules import Rules
from automation.rules.forms import FormRules

BACKUP_FOLDER = "备份"  # inside the drive's log folder

ACTION_REASONS = {
    "register": "登记新申请",
    "approval_route": "评估通过，写入审批路径",
    "computed": "更新计算列（当前阶段、当前时限、截止时间、时限状态、超期工作日）",
    "restore_row": "恢复被删除的已登记行",
    "archive": "归档完成，写入归档日期（仅当该单元格为空）",
}


@dataclass
class TrackingTable:
    """One version of the tracking table: its bytes, their snapshot and the rows they hold."""

    path: Path
    data: bytes
    snapshot: FileSnapshot
    rows: list[dict[str, Any]]  # typed values by key, plus "_row" (Excel row number)
    form: FormRules
    lay: Layout
    problems: list[Any] = field(default_factory=list)

    @property
    def errors(self) -> int:
        """Entries of the office that do not pass validation (reported, never corrected)."""
        return sum(1 for p in self.problems if getattr(p, "severity", "error") == "error")

    @property
    def sheet(self) -> str:
        return self.form.sheet

    def next_free_row(self, planned: int = 0) -> int:
        """The Excel row of the next new item, after the last used row (and ``planned`` new ones)."""
        assert self.lay.first_data_row is not None
        last = max((r["_row"] for r in self.rows), default=self.lay.first_data_row - 1)
        return last + 1 + planned

    def find(self, item_id: str, revision: int) -> dict[str, Any] | None:
        for row in self.rows:
            if row.get("item_id") == item_id and revision_of(row.get("revision")) == revision:
                return row
        return None

    def highest_seq(self, year: int, rules: Rules) -> int:
        return highest_seq((r.get("item_id") for r in self.rows), year, rules.drive.item_ids)

    def cell(self, key: str, row: int) -> str:
        return f"{self.lay.columns[key]}{row}"


def is_withdrawn(row: dict[str, Any]) -> bool:
    """The office marked the row 撤销 (withdrawn): it stays in the table, and nothing runs for it."""
    value = row.get("withdrawn")
    return value is True or (isinstance(value, str) and value.strip() == "是")


def revision_of(value: Any) -> int:
    """The 版次 of a tracking row as a number (1 when blank or not a number)."""
    try:
        return max(1, int(value))
    except (TypeError, ValueError):
        return 1


def read_tracking(ctx: RunContext) -> TrackingTable:
    """Read the tracking table's current version (bytes, snapshot and typed rows).

    The rows of bytes validated before (same SHA-256, same rules) are taken from the context's
    cache instead of validating the table again.
    """
    paths = ctx.paths
    form = ctx.rules.form("tracking")
    data, snap = read_with_snapshot(paths.tracking)
    if not snap.exists:
        raise XietongError(
            f"找不到跟踪表：{paths.tracking}（请先运行 xietong init）",
            code="E_NO_TRACKING",
            exit_code=2,
        )
    # one validation per version of the table per run, whether or not the cache is on: every
    # stage of a cycle reads the table, and the bytes tell whether it is still the same
    memo = ctx.memo.get("tracking")
    if memo is not None and memo[0] == snap.sha256:
        report, rows = memo[1], memo[2]
    else:
        report = ctx.cache.validate_bytes(paths.tracking, data, snap.sha256)
        rows = _kept_rows(ctx, report)
        ctx.memo["tracking"] = (snap.sha256, report, rows)
    if not getattr(report, "readable", True) or report.kind != "tracking":
        # never guess where rows are in a table we cannot read: nothing is written
        why = "；".join(getattr(p, "message", str(p)) for p in report.problems[:3])
        what = f"识别为 {report.kind}" if report.kind else why or "无法识别"
        raise XietongError(
            f"{paths.tracking.name} 无法作为跟踪表读取（{what}），本次未写入任何文件",
            code="E_NOT_TRACKING",
            exit_code=2,
        )
    return TrackingTable(
        paths.tracking, data, snap, list(rows), form, layout(form), list(report.problems)
    )


def _kept_rows(ctx: RunContext, report: Any) -> list[dict[str, Any]]:
    """The table's filled rows; a row equal to one of the version this process read before is
    that very dict (the write-back rewrites the table when one row's clock moves: the stages
    after it, which key their work on the row objects, then redo only that row's). The rows
    are shared, never changed: callers build their own dicts."""
    before = {r["_row"]: r for r in ctx.cache.last("tracking_rows", "") or ()}
    rows = []
    for r in report.rows:
        if any(not is_blank(v) for k, v in r.items() if k != "_row"):
            held = before.get(r["_row"])
            rows.append(held if held == r else dict(r))
    ctx.cache.keep("tracking_rows", "", None, rows)
    return rows


@dataclass(frozen=True)
class CellChange:
    """One owned cell to write, with what it showed before (for the journal)."""

    item: str | None
    key: str
    cell: str
    row: int
    before: Any
    after: Any
    action: str  # register | approval_route | computed
    input_hash: str | None = None


def row_changes(
    table: TrackingTable,
    row: int,
    values: dict[str, Any],
    *,
    current: dict[str, Any] | None,
    item: str | None,
    action: str,
    input_hash: str | None = None,
) -> list[CellChange]:
    """Changes for the owned (computed) columns of one row; other columns are never written."""
    owned = {f.key for f in table.form.columns if f.computed}
    out = []
    for key, value in values.items():
        if key not in owned:
            raise XietongError(
                f"internal: column '{key}' is not owned by the automation", code="E_NOT_OWNED"
            )
        before = None if current is None else current.get(key)
        out.append(
            CellChange(item, key, table.cell(key, row), row, before, value, action, input_hash)
        )
    return out


def cell_value(value: Any) -> str | int | float | dt.date | None:
    """What the patcher writes: text stays text (never a formula), blanks clear the cell."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, (int, float, dt.date)):
        return value
    if isinstance(value, (list, tuple)):
        return "、".join(str(v) for v in value)
    return str(value)


def patch_tracking(table: TrackingTable, changes: list[CellChange]) -> bytes:
    """The tracking table's bytes with the changes applied (every other part untouched)."""
    first = table.lay.first_data_row
    edits = []
    for c in changes:
        style_from = None
        if first is not None and c.row > first:
            style_from = f"{table.lay.columns[c.key]}{c.row - 1}"
        edits.append(CellEdit(c.cell, cell_value(c.after), style_from=style_from))
    # rows appended just below the Excel table make the table grow with them
    return patch_workbook(table.data, table.sheet, edits, grow_tables=True)


def backup_dir(paths: DrivePaths) -> Path:
    return paths.log / BACKUP_FOLDER


def write_tracking(
    ctx: RunContext, table: TrackingTable, changes: list[CellChange]
) -> WriteResult | None:
    """Patch and safely replace the tracking table; journal every cell. None when no change.

    Raises ``WriteDeferred`` (nothing written) when the table is open or changed since read.
    """
    if not changes:
        return None
    data = patch_tracking(table, changes)
    if data == table.data:
        return None
    result = safe_write(
        ctx.paths.tracking,
        data,
        expected=table.snapshot,
        backup_dir=backup_dir(ctx.paths),
        keep=ctx.rules.drive.backups_kept,
    )
    ctx.journal(journal_entries(ctx, table, changes))
    _hold_written(ctx, table, changes, result)
    return result


def _hold_written(
    ctx: RunContext, table: TrackingTable, changes: list[CellChange], result: WriteResult
) -> None:
    """The report of the table as written, told from the version read and the cells written
    (a table of thousands of rows is not validated again for the clock cells of one row):
    the stages after the write-back read the table without validating it. When it cannot be
    told so (a new row, a date), the next read validates the file."""
    held = ctx.memo.get("tracking")
    if held is None or held[0] != table.snapshot.sha256:
        return
    cells = [(c.row, c.key, c.cell, cell_value(c.after)) for c in changes]
    ctx.cache.hold_written(table.path, result.snapshot.sha256, held[1], cells)


def journal_entries(
    ctx: RunContext, table: TrackingTable, changes: Iterable[CellChange]
) -> list[dict[str, Any]]:
    """One journal entry per item and action, listing its cells with before and after."""
    groups: dict[tuple[str | None, str], list[CellChange]] = {}
    for c in changes:
        groups.setdefault((c.item, c.action), []).append(c)
    out = []
    for (item, action), cs in groups.items():
        out.append(
            make_entry(
                action=action,
                item=item,
                file=ctx.rel(table.path),
                sheet=table.sheet,
                cells=[c.cell for c in cs],
                before={c.cell: _plain(c.before) for c in cs},
                after={c.cell: _plain(cell_value(c.after)) for c in cs},
                reason=ACTION_REASONS.get(action, action),
                input_hash=cs[0].input_hash,
                as_of=ctx.as_of,
            )
        )
    return out


def _plain(value: Any) -> Any:
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    return value


def changes_as_edits(changes: Iterable[CellChange]) -> list[dict[str, Any]]:
    """Changes as JSON-able dicts, for the pending-write queue."""
    return [
        {
            "item": c.item,
            "cell": c.cell,
            "key": c.key,
            "after": _plain(cell_value(c.after)),
            "action": c.action,
        }
        for c in changes
    ]


def values_hash(values: Any) -> str:
    text = json.dumps(values, ensure_ascii=False, sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
