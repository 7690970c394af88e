"""执行反馈 (stage 5): weekly rollup of the daily rows, pre-filled weekly reports, the lead
department's consolidated view, and exceptions.

Reads the drive with the clock engine's own readers (``automation.process.clocks``, through
the ``ValidationCache``); the rollup and the exceptions are computed by the pure
``automation.core.rollup`` and ``automation.core.exceptions``. Writes:

- each department's 周进度报告 workbook (``<weekly>/周进度报告_<部门>.xlsx``, created from the
  template when missing): one row per item and week, patched losslessly
  (``automation.io.xlsxpatch``) through ``safe_write``; computed columns are kept current, text
  columns are pre-filled only while blank (or still showing exactly what the automation
  pre-filled, as remembered in the local state); a cell a person typed is never changed;
- per item and week, in the item folder, the lead department's consolidated report
  ``周进度汇总_<周次>.xlsx`` (xlsxwriter) and ``.html`` (jinja2), owned by the automation.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import io
import os
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from automation.core.calendar import WorkCalendar, parse_week, week_label, week_of
from automation.core.clocks import STEADY_MARGIN, ItemCycle, as_date, departments_of
from automation.core.digest import report_digest
from automation.core.digest import text as _text
from automation.core.exceptions import ExceptionCase, department_exceptions, office_marks
from automation.core.intake import latest_revisions, same_value
from automation.core.layout import layout
from automation.core.rollup import (
    DailyRow,
    WeekRollup,
    computed_columns,
    prefill_texts,
    weekly_rollup,
)
from automation.core.rollup import steady_until as rollup_steady_until
from automation.errors import XietongError
from automation.io.cache import file_identity, settled
from automation.io.drive import DrivePaths, item_folder_index
from automation.io.journal import make_entry
from automation.io.safewrite import (
    E_DEFERRED_CHANGED,
    WriteDeferred,
    read_with_snapshot,
    safe_write,
    snapshot,
)
from automation.io.templates import write_workbook
from automation.io.xlsxpatch import CellEdit, patch_workbook
from automation.process.clocks import (
    RECORD_KINDS,
    counted_rows,
    folder_reports,
    read_weekly_reports,
)
from automation.process.context import RunContext
from automation.process.tracking import cell_value, read_tracking
from automation.rules import Rules
from automation.rules.clocks import ClockSpec

# the person's columns of a weekly row the automation pre-fills while blank
TEXT_KEYS = ("done", "problems", "coordination")
KEY_KEYS = ("week", "department", "item_id")
WEEKLY_FILE = "周进度报告_{dept}.xlsx"  # as the demo and the departments name it
LEAD_FILE = "周进度汇总_{week}"
BACKUP_FOLDER = "备份"
_PREFILL_META = "weekly_prefill"


# -- reading the drive ---------------------------------------------------------------------------


@dataclass
class DeptExecution:
    fields: dict[str, Any] = field(default_factory=dict)
    rows: list[DailyRow] = field(default_factory=list)


@dataclass
class ItemExecution:
    """An item of the tracking table (latest cycle) with its departments' daily rows."""

    item_id: str
    title: str
    lead_dept: str
    fields: dict[str, Any]
    departments: dict[str, DeptExecution]
    folder: Path | None
    weekly_reports: list[Any] = field(default_factory=list)  # found in the item's folder
    source: tuple[Any, ...] = ()  # the workbooks read: (path, identity) of each

    def span(self, rules: Rules, dept: str) -> tuple[dt.date | None, dt.date | None, int]:
        """Start, end and offset of a department's daily-row clock (``rules/clocks.yaml``):
        the department's own workbook field first, else the item's, as the clock engine reads."""
        spec = _daily_spec(rules)
        own = self.departments.get(dept, DeptExecution()).fields

        def pick(key: str) -> dt.date | None:
            return as_date(own[key]) if key in own else as_date(self.fields.get(key))

        return pick(spec.start), pick(spec.end), spec.workdays


def _daily_spec(rules: Rules) -> Any:
    specs = [c for c in rules.clocks.clocks if c.per == "department_day"]
    if not specs:  # no daily clock configured: execution runs from approval to completion
        return ClockSpec(
            key="daily_rows",
            label="每日进度更新",
            stage="执行反馈",
            start="approval_date",
            end="completion_date",
            workdays=1,
        )
    return specs[0]


def _same_item(value: Any, item_id: str) -> bool:
    return not _text(value) or _text(value).upper() == item_id.upper()


def read_items(ctx: RunContext, warnings: list[str]) -> list[ItemExecution]:
    """Every item of the tracking table (latest cycle) with its execution workbooks' rows.

    An item none of whose workbooks changed since this process last read it is not worked out
    again (see ``ValidationCache.derive``); one whose row (the very row object: see
    ``process.tracking``) and workbooks are those of the last call is the same object, so the
    stages keyed on it (the exceptions, the rollup, the lead reports) redo only what moved."""
    table = read_tracking(ctx)
    folders = item_folder_index(ctx.paths)
    out = []
    for row in latest_revisions(table.rows).values():
        item_id = _text(row.get("item_id"))
        mine = folders.get(item_id, [])
        # a file that cannot be read is reported in the warnings
        lists = [folder_reports(ctx, folder, warnings) for folder in mine]
        held = ctx.cache.last("item_execution", item_id)
        same_row = held is not None and held[0] is row
        if (
            same_row
            and len(held[1]) == len(lists)
            and all(a is b for a, b in zip(held[1], lists, strict=True))
        ):  # within a run: the folders' very listings (each stage asks)
            out.append(held[3])
            continue
        read = []
        idents = []
        for found in lists:
            for path, report, ident in found:
                if report.kind in RECORD_KINDS:  # not the lead reports written there
                    read.append(report)
                    idents.append((path, ident))
        source = tuple(idents)
        folder = mine[0] if mine else None
        if same_row and held[2] == source and held[3].folder == folder:
            item = held[3]
        else:
            depts, weekly = ctx.cache.derive(
                "execution",
                item_id,
                source,
                lambda item_id=item_id, read=read: _item_execution(item_id, read),
            )
            fields = {k: v for k, v in row.items() if k != "_row"}
            item = ItemExecution(
                item_id=item_id,
                title=_text(row.get("title")),
                lead_dept=_text(row.get("lead_dept")),
                fields=fields,
                departments=depts,
                folder=folder,
                weekly_reports=weekly,
                source=source,
            )
        ctx.cache.keep("item_execution", item_id, None, (row, lists, source, item))
        out.append(item)
    return out


def _item_execution(item_id: str, reports: list[Any]) -> tuple[dict[str, DeptExecution], list[Any]]:
    """The departments' execution rows and the weekly reports among an item's workbooks."""
    depts: dict[str, DeptExecution] = {}
    weekly: list[Any] = []
    for report in reports:
        if report.kind == "weekly":  # a report filed in the item folder counts too
            weekly.append(report)
            continue
        if report.kind != "execution" or not _same_item(report.fields.get("item_id"), item_id):
            continue
        dept = _text(report.fields.get("department"))
        if not dept:
            continue
        rec = depts.setdefault(dept, DeptExecution())
        for key, value in report.fields.items():
            if key not in ("item_id", "department") and value not in (None, "", []):
                rec.fields.setdefault(key, value)
        rec.rows.extend(report_digest(report, ()).get("daily", ()))
    return depts, weekly


@functools.lru_cache(maxsize=1 << 17)
def _same_path(path: str | os.PathLike[str]) -> str:
    """A path as text that is the same for the same file the way ``Path`` compares
    (normalised; case folded on Windows), without building a ``Path`` for each."""
    return os.path.normcase(os.path.normpath(path))


@dataclass(frozen=True)
class SentReport:
    submitted_on: dt.date | None


def weekly_submissions(
    ctx: RunContext, warnings: list[str], extra: Iterable[Any] = (), *, week: str | None = None
) -> dict[tuple[str, str, str], SentReport]:
    """The weekly reports that count as submitted, by (item, department, week): a row whose
    columns the department fills (本周完成情况, 填报人, 提交日期, …) are all filled — the same
    rule as the weekly clock's (``process.clocks.counted_rows``). Read from the weekly folder and
    ``extra`` (the reports filed in item folders), as the clock reads them; ``week``
    (``2026-W41``): that week's only."""
    reports = read_weekly_reports(ctx, warnings)
    seen = {_same_path(r.path) for r in reports}
    filed = [r for r in extra if _same_path(r.path) not in seen]
    # merged apart: the reports filed in item folders (thousands, seldom changed) and the
    # weekly folder's (rewritten by every rollup); each merge kept while its reports are the
    # very objects the cache gave before (the same versions of the files)
    merged = [
        ctx.cache.derive(
            name, week, (tuple(group), week), lambda g=group: _merge_sent(ctx, g, week)
        )
        for name, group in (("sent_filed", filed), ("sent", reports))
    ]
    return ctx.cache.derive("sent_all", week, (*merged, week), lambda: _earliest(*merged))


def _earliest(
    *parts: dict[tuple[str, str, str], SentReport],
) -> dict[tuple[str, str, str], SentReport]:
    """The merged answers of several groups of reports: for each key the earliest day."""
    out = dict(parts[0])
    for part in parts[1:]:
        for key, sent in part.items():
            _keep_earliest(out, key, sent.submitted_on)
    return out


def _keep_earliest(
    out: dict[tuple[str, str, str], SentReport], key: tuple[str, str, str], day: dt.date | None
) -> None:
    old = out.get(key)
    if old is None or (day and (old.submitted_on is None or day < old.submitted_on)):
        out[key] = SentReport(day)


def _merge_sent(
    ctx: RunContext, reports: list[Any], week: str | None
) -> dict[tuple[str, str, str], SentReport]:
    out: dict[tuple[str, str, str], SentReport] = {}
    for report in reports:
        path = os.fspath(report.path)  # text: thousands of reports, no Path built for each
        by_week = ctx.cache.derive(
            "sent_rows", path, ctx.cache.identity(path), lambda r=report: _sent_rows(ctx, r)
        )
        weeks = by_week.values() if week is None else [by_week.get(week, ())]
        for rows in weeks:
            for key, day in rows:
                _keep_earliest(out, key, day)
    return out


def _sent_rows(
    ctx: RunContext, report: Any
) -> dict[str, list[tuple[tuple[str, str, str], dt.date | None]]]:
    """By week: (item, department, week) and submission day of each row of one report that
    counts."""
    out: dict[str, list[tuple[tuple[str, str, str], dt.date | None]]] = {}
    for row in counted_rows(report, ctx.rules):
        key = (_text(row.item).upper(), _text(row.department), row.week)
        out.setdefault(row.week, []).append((key, row.submitted))
    return out


# -- the rollup ------------------------------------------------------------------------------------


def item_rollups(
    item: ItemExecution,
    rules: Rules,
    calendar: WorkCalendar,
    as_of: dt.datetime,
    week: tuple[int, int],
    sent: dict[tuple[str, str, str], SentReport],
) -> list[WeekRollup]:
    """The rollup of one item for one week, one per cooperating department in execution."""
    cycle = ItemCycle(item.item_id, 1, item.fields, {})
    out = []
    for dept in departments_of(cycle, rules.clocks) or sorted(item.departments):
        start, end, offset = item.span(rules, dept)
        if start is None:
            continue
        monday = dt.date.fromisocalendar(*week, 1)
        if end is not None and end < monday:
            continue  # completed before this week
        report = sent.get((item.item_id.upper(), dept, week_label(*week)))
        rows = item.departments.get(dept, DeptExecution()).rows
        r = weekly_rollup(
            item.item_id,
            dept,
            rows,
            week=week,
            start=start,
            end=end,
            calendar=calendar,
            as_of=as_of,
            workdays=offset,
            submitted_on=report.submitted_on if report else None,
            sent=report is not None,
            at_risk=rules.clocks.at_risk,
        )
        if r is not None:
            out.append(r)
    return out


@dataclass
class WeeklyResult:
    week: str
    as_of: dt.datetime
    rollups: list[WeekRollup]
    written: list[str] = field(default_factory=list)
    deferred: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    # lead reports still being built by a worker (``run_weekly(overlap=...)``): the caller
    # finishes them
    in_flight: LeadsInFlight | None = None

    def as_list(self) -> list[dict[str, Any]]:
        return [r.as_dict() for r in self.rollups]


def parse_target_week(text: str | None, as_of: dt.datetime) -> tuple[int, int]:
    """``--week 2026-W41``; none = the ISO week of the as-of day (E_BAD_WEEK when unreadable)."""
    if text is None or not str(text).strip():
        return parse_week(week_of(as_of.date()))
    return parse_week(str(text))


def compute_weekly(
    ctx: RunContext, week: tuple[int, int]
) -> tuple[list[ItemExecution], list[WeekRollup], list[str]]:
    warnings: list[str] = []
    items = read_items(ctx, warnings)
    filed = [r for item in items for r in item.weekly_reports]
    label = week_label(*week)
    sent = weekly_submissions(ctx, warnings, filed, week=label)
    sent_in_week: dict[str, list[tuple[str, SentReport]]] = {}
    for (item_id, dept, when), report in sent.items():
        if when == label:
            sent_in_week.setdefault(item_id, []).append((dept, report))
    rollups = []
    moment, at_risk = ctx.moment, ctx.rules.clocks.at_risk
    in_hours = ctx.calendar.quiet_until(ctx.as_of) is None
    closing = ctx.calendar.close_at(ctx.calendar.local(ctx.as_of).date()) - STEADY_MARGIN
    for item in items:
        mine = tuple(sorted(sent_in_week.get(item.item_id.upper(), [])))
        # in business hours: the rollups of the same item, week and reports worked out earlier
        # today, until their state can change (core.rollup.steady_until)
        held = ctx.cache.last("rollup_span", item.item_id)
        if (
            held is not None
            and held[0] is item
            and held[1] == (week, mine)
            and held[2] <= moment < held[3]
        ):
            rollups.extend(held[4])
            continue
        key = (
            item,  # the very object while its row and workbooks stay (see read_items)
            moment,  # "now" as the calendar reads it (the same all evening)
            week,
            mine,
        )
        made = ctx.cache.derive(
            "rollup",
            item.item_id,
            key,
            lambda item=item: item_rollups(item, ctx.rules, ctx.calendar, ctx.as_of, week, sent),
            same=True,  # the reports below are written again only for new objects
        )
        if in_hours:
            until = min(
                (rollup_steady_until(r, ctx.calendar, ctx.as_of, at_risk) or moment for r in made),
                default=closing,
            )
            span = (item, (week, mine), moment, until, made)
            ctx.cache.keep("rollup_span", item.item_id, None, span)
        rollups.extend(made)
    return items, rollups, warnings


# -- writing the departments' weekly reports -------------------------------------------------------


def weekly_path(paths: DrivePaths, dept: str) -> Path:
    return paths.weekly / WEEKLY_FILE.format(dept=dept)


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _template_bytes(rules: Rules) -> bytes:
    with tempfile.TemporaryDirectory(prefix="xietong-") as tmp:
        return write_workbook("weekly", rules, Path(tmp) / "weekly.xlsx").read_bytes()


def _same(current: Any, wanted: Any) -> bool:
    return same_value(current, wanted)


def plan_weekly_edits(
    rules: Rules,
    rows: list[dict[str, Any]],
    rollups: Iterable[WeekRollup],
    remembered: dict[str, str],
) -> tuple[list[tuple[str, int, str, Any, Any]], dict[str, str]]:
    """The cells to write into one department's weekly report: ``(item, row, key, before,
    after)``, and the pre-filled texts to remember (meta key → digest).

    ``rows`` are the workbook's rows (typed values and ``_row``), ``remembered`` the digests of
    the texts the automation pre-filled earlier (by meta key)."""
    lay = layout(rules.form("weekly"))
    assert lay.first_data_row is not None
    used = [r for r in rows if any(not _blank(v) for k, v in r.items() if k != "_row")]
    next_row = max((r["_row"] for r in used), default=lay.first_data_row - 1) + 1
    edits: list[tuple[str, int, str, Any, Any]] = []
    remember: dict[str, str] = {}
    # the rows by (item, week), in sheet order: each rollup finds its row without a scan
    by_item_week: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for r in used:
        key = (_text(r.get("item_id")).upper(), _text(r.get("week")).upper())
        by_item_week.setdefault(key, []).append(r)
    for roll in rollups:
        found = next(
            (
                r
                for r in by_item_week.get((roll.item.upper(), roll.week), ())
                if _text(r.get("department")) in ("", roll.department)
            ),
            None,
        )
        current: dict[str, Any] = found or {}
        row_no = found["_row"] if found else next_row
        if found is None:
            next_row += 1
        wanted: dict[str, Any] = {}
        if found is None:
            wanted.update(week=roll.week, department=roll.department, item_id=roll.item)
        elif _blank(current.get("department")):
            wanted["department"] = roll.department
        wanted.update(computed_columns(roll))
        for key, text in prefill_texts(roll).items():
            meta = _prefill_key(roll, key)
            have = current.get(key)
            ours = not _blank(have) and remembered.get(meta) == _digest(_text(have))
            if (_blank(have) or ours) and text:
                wanted[key] = text
                remember[meta] = _digest(text)
        for key, value in wanted.items():
            have = current.get(key)
            if _blank(value) and _blank(have):
                continue
            if not _same(have, value):
                edits.append((roll.item, row_no, key, have, value))
    return edits, remember


def _cell_edits(rules: Rules, edits: list[tuple[str, int, str, Any, Any]]) -> list[Any]:
    lay = layout(rules.form("weekly"))
    first = lay.first_data_row
    out = []
    for _item, row, key, _before, after in edits:
        col = lay.columns[key]
        style = f"{col}{row - 1}" if first is not None and row > first else None
        out.append(CellEdit(f"{col}{row}", cell_value(after), style_from=style))
    return out


def write_department_report(
    ctx: RunContext,
    dept: str,
    rollups: list[WeekRollup],
    *,
    dry_run: bool = False,
    only: list[WeekRollup] | None = None,
) -> tuple[bool, list[tuple[str, int, str, Any, Any]]]:
    """Patch (or create) one department's weekly report; (written, cells). Raises
    ``WriteDeferred`` when the workbook is open or changed while being patched.

    ``only``: the rollups among ``rollups`` to plan, the others being in the report as it is
    (the caller knows: this process planned them into this very version)."""
    paths, rules, cache, ledger = ctx.paths, ctx.rules, ctx.cache, ctx.ledger
    path = weekly_path(paths, dept)
    data, snap = read_with_snapshot(path)
    form = rules.form("weekly")
    if snap.exists:
        # validated by path, as the clock's reader does (one cache entry per file); the bytes
        # must still be those read, or the rows might not describe them
        report = cache.validate(path)
        if snapshot(path).sha256 != snap.sha256:
            raise WriteDeferred(
                E_DEFERRED_CHANGED, f"{path.name} 刚刚被修改，本次写入已推迟，下次运行时重试。"
            )
        if report.kind != "weekly":
            raise _not_weekly(path)
        rows = [dict(r) for r in report.rows]
        base = data
    else:
        rows, base = [], _template_bytes(rules)
        only = None  # a new report: every rollup goes in
    planned = rollups if only is None else only
    remembered = _remembered(ledger, planned)
    edits, remember = plan_weekly_edits(rules, rows, planned, remembered)
    if not edits:
        return False, []
    new = patch_workbook(base, form.sheet, _cell_edits(rules, edits), grow_tables=True)
    if dry_run or new == data:
        return False, edits
    written = safe_write(
        path,
        new,
        expected=snap,
        backup_dir=paths.log / BACKUP_FOLDER,
        keep=rules.drive.backups_kept,
    )
    if ledger is not None:
        ledger.set_metas(remember)
    lay = layout(form)
    if snap.exists:
        # the report as written, told from the one read and the cells written: the next
        # readers (the clocks, this run's summary, the next run) do not read it again
        cells = [(r, k, f"{lay.columns[k]}{r}", cell_value(a)) for _i, r, k, _b, a in edits]
        cache.hold_written(path, written.snapshot.sha256, report, cells)
    entries = []
    by_item: dict[str, list[tuple[str, int, str, Any, Any]]] = {}
    for e in edits:
        by_item.setdefault(e[0], []).append(e)
    for item, mine in by_item.items():
        cells = [f"{lay.columns[k]}{r}" for _i, r, k, _b, _a in mine]
        entries.append(
            make_entry(
                action="weekly_rollup",
                item=item,
                file=ctx.rel(path),
                sheet=form.sheet,
                cells=cells,
                before={c: _plain(e[3]) for c, e in zip(cells, mine, strict=True)},
                after={c: _plain(cell_value(e[4])) for c, e in zip(cells, mine, strict=True)},
                reason="周进度报告：更新汇总列、预填空白的文字列",
                as_of=ctx.as_of,
            )
        )
    ctx.journal(entries)
    return True, edits


def _prefill_key(roll: WeekRollup, key: str) -> str:
    return f"{_PREFILL_META}|{roll.item}|{roll.week}|{roll.department}|{key}"


def _remembered(ledger: Any, rollups: list[WeekRollup]) -> dict[str, str]:
    """The digests of the texts pre-filled earlier (kept in the local state, not on the share:
    when it is lost, a pre-filled text is simply never refreshed again)."""
    if ledger is None:
        return {}
    return ledger.get_metas(_prefill_key(roll, key) for roll in rollups for key in TEXT_KEYS)


def _not_weekly(path: Path) -> Exception:
    return XietongError(
        f"{path.name} 无法作为周进度报告读取，本次未写入",
        code="E_NOT_WEEKLY",
        exit_code=2,
    )


def _plain(value: Any) -> Any:
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    return value


# -- the lead department's consolidated report -----------------------------------------------------

STATE_LABELS = {
    "not_started": "无需提交",
    "running": "未到期",
    "at_risk": "即将到期",
    "breached": "已超期未交",
    "met": "按时提交",
    "met_late": "逾期提交",
}
LEAD_COLUMNS = (
    ("department", "配合部门", 10),
    ("expected", "应报天数", 8),
    ("with_row", "已报天数", 8),
    ("missing", "缺报日期", 22),
    ("progress", "最新进度", 8),
    ("status", "最新状态", 8),
    ("problems", "存在问题", 36),
    ("coordination", "需协调事项", 36),
    ("due", "周报截止时间", 17),
    ("state", "周报状态", 10),
)


def lead_rows(rollups: Iterable[WeekRollup]) -> list[dict[str, Any]]:
    """One row per department: what the lead department sees for one item and week."""

    def dated(pairs: tuple[tuple[dt.date, str], ...]) -> str:
        return "\n".join(f"{d.month}月{d.day}日：{t}" for d, t in pairs)

    return [
        {
            "department": r.department,
            "expected": len(r.expected_days),
            "with_row": len(r.days_with_row),
            "missing": "、".join(f"{d.month}月{d.day}日" for d in r.missing_days),
            "progress": "" if r.latest_progress is None else f"{round(r.latest_progress * 100)}%",
            "status": r.latest_status,
            "problems": dated(r.problems),
            "coordination": dated(r.coordination),
            "due": "" if r.due_at is None else r.due_at.strftime("%Y-%m-%d %H:%M"),
            "state": STATE_LABELS.get(r.report_state, r.report_state),
        }
        for r in rollups
    ]


def lead_workbook(item: ItemExecution, week: str, rollups: list[WeekRollup]) -> bytes:
    """The consolidated report as an .xlsx (all text written as text, never a formula)."""
    return _lead_workbook(_lead_head(item), week, lead_rows(rollups))


def _lead_head(item: ItemExecution) -> dict[str, str]:
    """What the reports show of the item besides its rows (plain values: a worker gets them)."""
    return {"item_id": item.item_id, "title": item.title, "lead_dept": item.lead_dept}


def _lead_workbook(head: dict[str, str], week: str, rows: list[dict[str, Any]]) -> bytes:
    import xlsxwriter

    buf = io.BytesIO()
    wb = xlsxwriter.Workbook(buf, {"in_memory": True, "strings_to_formulas": False})
    wb.set_properties(
        {"title": "周进度汇总", "author": "xietong", "created": dt.datetime(2026, 1, 1)}
    )
    ws = wb.add_worksheet("周进度汇总")
    bold = wb.add_format({"bold": True, "font_size": 14})
    header = wb.add_format({"bold": True, "bg_color": "#D9D9D9", "border": 1, "text_wrap": True})
    cell = wb.add_format({"border": 1, "text_wrap": True, "valign": "top"})
    ws.write_string(0, 0, f"{head['item_id']} {head['title']} · {week} 周进度汇总", bold)
    ws.write_string(1, 0, f"牵头部门：{head['lead_dept'] or '（未填写）'}")
    for c, (_key, label, width) in enumerate(LEAD_COLUMNS):
        ws.set_column(c, c, width)
        ws.write_string(3, c, label, header)
    for r, row in enumerate(rows, start=4):
        for c, (key, _label, _w) in enumerate(LEAD_COLUMNS):
            value = row[key]
            if isinstance(value, int):
                ws.write_number(r, c, value, cell)
            else:
                ws.write_string(r, c, str(value), cell)
    ws.freeze_panes(4, 1)
    ws.set_landscape()
    ws.fit_to_pages(1, 0)
    wb.close()
    return buf.getvalue()


@functools.cache
def _lead_template() -> Any:
    """The page's template, compiled once per process."""
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("automation", "templates"),
        autoescape=True,
        keep_trailing_newline=True,
    )
    return env.get_template("weekly_lead.html.j2")


def lead_html(item: ItemExecution, week: str, rollups: list[WeekRollup]) -> str:
    """The consolidated report as HTML (the body of the weekly mail), from the package's
    jinja2 template ``automation/templates/weekly_lead.html.j2``."""
    return _lead_html(_lead_head(item), week, lead_rows(rollups))


def _lead_html(head: dict[str, str], week: str, rows: list[dict[str, Any]]) -> str:
    return _lead_template().render(
        item=head,
        week=week,
        columns=[(k, label) for k, label, _w in LEAD_COLUMNS],
        rows=rows,
    )


def _lead_key(content: tuple[Any, ...], targets: tuple[Path, ...]) -> tuple[Any, ...]:
    return (content, tuple(file_identity(p) for p in targets))


LEAD_PARALLEL_MIN = 200  # reports to build worth starting worker processes for
# what building one job's reports gave: the files written, the (code, reason) of a write that
# must wait, and the SHA-256 of the bytes each of its two files should now hold
_Outcome = tuple[list[str], tuple[str, str] | None, tuple[str, str]]


@dataclass(frozen=True)
class _LeadJob:
    """One item's consolidated reports to build: plain values, so a worker process can."""

    item: str
    base: Path
    targets: tuple[Path, Path]
    content: tuple[Any, ...]
    head: dict[str, str]
    week: str
    rows: list[dict[str, Any]]


def write_lead_reports(
    ctx: RunContext, item: ItemExecution, week: str, rollups: list[WeekRollup]
) -> list[str]:
    """Write the item's consolidated workbook and page when their content changed (journalled)."""
    written, deferred = _write_leads(ctx, [(item, rollups)], week)
    if deferred:
        raise XietongError(deferred[0]["reason"], code=deferred[0]["code"])
    return written


def _write_leads(
    ctx: RunContext, items: list[tuple[ItemExecution, list[WeekRollup]]], week: str
) -> tuple[list[str], list[dict[str, str]]]:
    """Write the consolidated reports whose content changed, on every core when there are
    many (a cold run: every lead department's report); one journal append for all. Returns
    the files written (relative to the drive) and the items deferred, with the reason."""
    jobs = _lead_jobs(ctx, items, week)
    return _book_leads(ctx, jobs, _run_lead_jobs(jobs))


def _lead_jobs(
    ctx: RunContext, items: list[tuple[ItemExecution, list[WeekRollup]]], week: str
) -> list[_LeadJob]:
    """The reports whose content changed, or whose files are not as this process left them."""
    jobs: list[_LeadJob] = []
    for item, rollups in items:
        if item.folder is None or not rollups:
            continue
        # the item and rollups of the last run (the very objects while they stay, see
        # read_items and compute_weekly): the same rows, not laid out again
        made = (item, tuple(rollups), week)
        held = ctx.cache.recall("lead_rows", item.item_id, made)
        if held is None:
            base = item.folder / LEAD_FILE.format(week=week)
            targets = (base.with_suffix(".xlsx"), base.with_suffix(".html"))
            rows = lead_rows(rollups)
            head = _lead_head(item)
            content = (week, head["item_id"], head["title"], head["lead_dept"], repr(rows))
            held = (base, targets, rows, head, content)
            ctx.cache.keep("lead_rows", item.item_id, made, held)
        base, targets, rows, head, content = held
        # the same content, and both files as this process last left them: nothing to build
        if ctx.cache.recall("lead_reports", str(base), _lead_key(content, targets)):
            continue
        if _as_left(ctx, base, targets, content):
            continue
        jobs.append(_LeadJob(item.item_id, base, targets, content, head, week, rows))
    return jobs


def _as_left(ctx: RunContext, base: Path, targets: tuple[Path, ...], content: Any) -> bool:
    """Whether the reports of ``content`` this process wrote moments before a cycle (their
    times could not yet tell a later save apart) still hold the very bytes it built: read and
    hashed instead of built again (the cycle after one that wrote a week's 1,600 reports).
    Known by their times from then on, once settled."""
    young = ctx.cache.last("lead_young", str(base))
    if young is None or young[0] != content:
        return False
    try:
        shas = tuple(hashlib.sha256(p.read_bytes()).hexdigest() for p in targets)
    except OSError:
        return False
    if shas != young[1]:
        return False
    key = _lead_key(content, targets)
    if all(settled(ident) for ident in key[1]):
        ctx.cache.keep("lead_reports", str(base), key)
    return True


def _book_leads(
    ctx: RunContext,
    jobs: list[_LeadJob],
    outcomes: list[_Outcome],
) -> tuple[list[str], list[dict[str, str]]]:
    """What the jobs wrote: noted as this run's own, kept, journalled in one append."""
    written: list[str] = []
    deferred: list[dict[str, str]] = []
    entries: list[dict[str, Any]] = []
    for job, (paths, problem, shas) in zip(jobs, outcomes, strict=True):
        for target in job.targets:  # no longer being written (see LeadsInFlight)
            ctx.cache.done_writing(target)
        if problem is not None:
            deferred.append({"file": job.item, "reason": problem[1], "code": problem[0]})
        for path in paths:
            ctx.cache.note_written(path)
        mine = [ctx.rel(p) for p in paths]
        written.extend(mine)
        key = _lead_key(job.content, job.targets)
        if problem is None and all(settled(ident) for ident in key[1]):
            ctx.cache.keep("lead_reports", str(job.base), key)
        elif problem is None:  # written moments ago: known next time by the bytes it holds
            ctx.cache.keep("lead_young", str(job.base), None, (job.content, shas))
        if mine:
            entries.append(
                make_entry(
                    action="weekly_lead",
                    item=job.item,
                    file=mine[0],
                    reason=f"牵头部门周进度汇总（{job.week}）重新生成：{'、'.join(mine)}",
                    as_of=ctx.as_of,
                )
            )
    ctx.journal(entries)
    return written, deferred


LEAD_CHUNK_MIN = 16  # lead reports handed to the worker at a time, at least

_READY: list[Any] = []  # a lead-report worker started ahead (see prepare_lead_worker)


def prepare_lead_worker() -> None:
    """Start the lead-report worker ahead of the rollup: a cold run calls this before the
    write-back, which keeps one core only, so that the worker's start and imports are done
    when :class:`LeadsInFlight` hands it the reports. Let go by :func:`release_lead_worker`
    when the run made no use of it."""
    import concurrent.futures as cf
    import multiprocessing

    if _READY or (os.cpu_count() or 1) < 2:
        return
    pool = cf.ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"))
    pool.submit(_warm_lead_worker)  # the process starts now, not at the first real chunk
    _READY.append(pool)


def release_lead_worker() -> None:
    """Shut down a worker started by :func:`prepare_lead_worker` and not taken."""
    while _READY:
        _READY.pop().shutdown(wait=False, cancel_futures=True)


def _lead_pool() -> Any:
    """The worker started ahead, else a new one."""
    import concurrent.futures as cf
    import multiprocessing

    if _READY:
        return _READY.pop()
    return cf.ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"))


def _warm_lead_worker() -> int:
    """In the worker: what building the first report would import and compile; its pid."""
    head = {"item_id": "", "title": "", "lead_dept": ""}
    _lead_workbook(head, "", [])
    _lead_html(head, "", [])
    return os.getpid()


class LeadsInFlight:
    """Lead reports built by one worker process while the run goes on (``xietong run`` on a
    cold drive: 1,600 reports at 2,000 items, built while this process writes the
    department reports, the checklists, the summary and the notifications).

    Their files count as this run's own from the start (the readers of an item's folder skip
    them, see ``ValidationCache.note_writing``). The items the archive may touch are built
    first and waited for before it (:meth:`settle_first`); :meth:`finish` waits for the rest
    and books what was written, before the caller lets go of the drive lock. While it waits,
    this process builds the chunks the worker has not started. A worker lost leaves its jobs
    to this process."""

    def __init__(self, ctx: RunContext, first: list[_LeadJob], rest: list[_LeadJob]) -> None:
        self.ctx = ctx
        self.groups: list[list[tuple[list[_LeadJob], Any]]] = [[], []]
        self.warnings: list[str] = []
        self.written: list[str] = []
        self.built_here = 0  # chunks this process built while it waited
        for job in (*first, *rest):
            for target in job.targets:
                ctx.cache.note_writing(target)
        self.pool = _lead_pool()
        # small chunks: the end of the queue is built by this process while it waits
        size = max(LEAD_CHUNK_MIN, min(50, len(rest) // 8 or 1))
        for n, jobs in enumerate((first, rest)):
            for i in range(0, len(jobs), size):
                chunk = jobs[i : i + size]
                self.groups[n].append((chunk, self.pool.submit(_lead_chunk, chunk)))

    def settle_first(self) -> None:
        """Wait for the reports of the items the archive may touch, and book them."""
        self._settle(self.groups[0])
        self.groups[0] = []

    def finish(self) -> list[str]:
        """Wait for every report, book them; the warnings of the reports left unwritten."""
        try:
            self._settle([*self.groups[0], *self.groups[1]])
        finally:
            self.groups = [[], []]
            self.pool.shutdown(wait=True, cancel_futures=True)
        return self.warnings

    def _settle(self, group: list[tuple[list[_LeadJob], Any]]) -> None:
        """Wait for the group's chunks and book them in order. Rather than wait idle, this
        process builds the chunks the worker has not started, from the last one back (the
        worker takes them from the first): the two meet in the middle."""
        import concurrent.futures as cf

        here: dict[int, list[_Outcome]] = {}
        for n in range(len(group) - 1, -1, -1):
            jobs, future = group[n]
            if not future.cancel():  # started or done: so are all before it
                break
            here[n] = _lead_chunk(jobs)
            self.built_here += 1
        for n, (jobs, future) in enumerate(group):
            outcomes = here.get(n)
            if outcomes is None:
                try:
                    outcomes = future.result()
                except (cf.process.BrokenProcessPool, cf.CancelledError):
                    outcomes = _lead_chunk(jobs)  # the worker was lost: done here
            written, deferred = _book_leads(self.ctx, jobs, outcomes)
            self.written.extend(written)
            self.warnings.extend(f"推迟写入 {d['file']}：{d['reason']}" for d in deferred)


def _worth_workers(jobs: list[_LeadJob]) -> bool:
    """Enough reports to build, and more than one core, for worker processes."""
    return (os.cpu_count() or 1) >= 2 and len(jobs) >= LEAD_PARALLEL_MIN


def _run_lead_jobs(jobs: list[_LeadJob]) -> list[_Outcome]:
    """Each job built and written, in worker processes when there are many and more than one
    core (a worker lost ends the parallel part; what is left is done here)."""
    if not _worth_workers(jobs):
        return _lead_chunk(jobs)
    workers = os.cpu_count() or 1
    import concurrent.futures as cf
    import multiprocessing

    size = max(16, len(jobs) // (workers * 4))
    chunks = [jobs[i : i + size] for i in range(0, len(jobs), size)]
    out: list[_Outcome] = []
    try:
        with cf.ProcessPoolExecutor(
            max_workers=workers, mp_context=multiprocessing.get_context("spawn")
        ) as pool:
            for result in pool.map(_lead_chunk, chunks):
                out.extend(result)
    except cf.process.BrokenProcessPool:
        pass
    return out + _lead_chunk(jobs[len(out) :])


def _lead_chunk(jobs: list[_LeadJob]) -> list[_Outcome]:
    """Build and write each job's two files (only those whose bytes differ). Per job: the
    paths written and the (code, reason) of the first write that must wait (someone has the
    file open, or changed it meanwhile)."""
    out: list[_Outcome] = []
    for job in jobs:
        written: list[str] = []
        problem = None
        built = (
            _lead_workbook(job.head, job.week, job.rows),
            _lead_html(job.head, job.week, job.rows).encode("utf-8"),
        )
        for path, data in zip(job.targets, built, strict=True):
            old, snap = read_with_snapshot(path)
            if old == data:
                continue
            try:
                safe_write(path, data, expected=snap)
            except XietongError as exc:  # held open: the other file is still written
                problem = problem or (exc.code, exc.message)
                continue
            written.append(str(path))
        shas = (hashlib.sha256(built[0]).hexdigest(), hashlib.sha256(built[1]).hexdigest())
        out.append((written, problem, shas))
    return out


# -- the whole drive ---------------------------------------------------------------------------------


def run_weekly(
    ctx: RunContext,
    week: tuple[int, int],
    *,
    dry_run: bool = False,
    overlap: Callable[[ItemExecution], bool] | None = None,
) -> WeeklyResult:
    """The rollup of ``week`` over the drive, written into the weekly reports and the lead
    departments' consolidated reports unless ``dry_run``. A workbook someone has open is
    skipped (reported in ``deferred``) and written by a later run.

    ``overlap``: the lead reports may be left to a worker process that builds them while the
    caller goes on (``result.in_flight``, see :class:`LeadsInFlight`; the caller finishes
    it); the items for which ``overlap`` is true are built first."""
    items, rollups, warnings = compute_weekly(ctx, week)
    result = WeeklyResult(week_label(*week), ctx.as_of, rollups, warnings=warnings)
    if dry_run:
        return result
    by_item: dict[str, list[WeekRollup]] = {}
    for r in rollups:
        by_item.setdefault(r.item, []).append(r)
    jobs = _lead_jobs(ctx, [(item, by_item.get(item.item_id, [])) for item in items], result.week)
    if overlap is not None and _worth_workers(jobs):
        first = {item.item_id for item in items if overlap(item)}
        result.in_flight = LeadsInFlight(
            ctx, [j for j in jobs if j.item in first], [j for j in jobs if j.item not in first]
        )
    by_dept: dict[str, list[WeekRollup]] = {}
    for r in rollups:
        by_dept.setdefault(r.department, []).append(r)
    for dept, mine in sorted(by_dept.items()):
        # the report as this process left it (the same bytes): the rollups it was planned
        # with hold there; only the others are planned (none: no cells at all)
        path = weekly_path(ctx.paths, dept)
        seen = (snapshot(path).sha256, len(mine))
        held = ctx.cache.recall("weekly_report", dept, seen)
        only = None
        if held is not None:
            only = [b for a, b in zip(held, mine, strict=True) if a is not b]
            if not only:
                continue
        try:
            written, _ = write_department_report(ctx, dept, mine, only=only)
        except XietongError as exc:  # open, changed while patched, or not a weekly report
            result.deferred.append(
                {"file": ctx.rel(weekly_path(ctx.paths, dept)), "reason": exc.message}
            )
            continue
        if written:
            result.written.append(ctx.rel(path))
        seen = (snapshot(path).sha256, len(mine))
        if seen[0]:  # "" when there is no report
            ctx.cache.keep("weekly_report", dept, seen, list(mine))
    if result.in_flight is None:
        written, deferred = _book_leads(ctx, jobs, _run_lead_jobs(jobs))
        result.written.extend(written)
        result.deferred.extend({"file": d["file"], "reason": d["reason"]} for d in deferred)
    return result


def weekly_in_cycle(
    ctx: RunContext, *, overlap: Callable[[ItemExecution], bool] | None = None
) -> tuple[list[str], LeadsInFlight | None]:
    """``xietong run``'s weekly step (the caller holds the drive lock): the current week's
    rollup written; returns warnings, and the lead reports still being built when
    ``overlap`` let them be (see :func:`run_weekly`; the caller finishes them before it lets
    go of the lock)."""
    result = run_weekly(ctx, parse_target_week(None, ctx.as_of), overlap=overlap)
    warnings = [f"推迟写入 {d['file']}：{d['reason']}" for d in result.deferred]
    return warnings, result.in_flight


# -- exceptions ------------------------------------------------------------------------------------


def drive_exceptions(ctx: RunContext) -> tuple[list[ExceptionCase], list[str]]:
    """Every exception of every item on the drive as of the context's moment (worked out once
    per run and version of the tracking table: the row counts, the summary and the
    notifications all ask)."""
    version = read_tracking(ctx).snapshot.sha256
    memo = ctx.memo.get("exceptions")
    if memo is not None and memo[0] == version:
        return memo[1]
    found = _drive_exceptions(ctx)
    ctx.memo["exceptions"] = (version, found)
    return found


def _drive_exceptions(ctx: RunContext) -> tuple[list[ExceptionCase], list[str]]:
    warnings: list[str] = []
    items = read_items(ctx, warnings)
    # exceptions change with the day only (core.exceptions reads the as-of moment's local day,
    # office marks default to the run's day): a service's cycles a few minutes apart reuse them
    days = (ctx.today, ctx.calendar.local(ctx.as_of).date())
    out: list[ExceptionCase] = []
    for item in items:
        notes = _text(item.fields.get("notes"))
        out.extend(
            ctx.cache.derive(
                "exceptions",
                item.item_id,
                (item.source, notes, days),
                lambda item=item, notes=notes: _item_exceptions(ctx, item, notes),
                carry=True,  # a key of values: handed to the next process
            )
        )
    return out, warnings


def _item_exceptions(ctx: RunContext, item: ItemExecution, notes: str) -> list[ExceptionCase]:
    esc = ctx.rules.escalation
    marks = office_marks(notes, esc.office_marker, ctx.today)
    out: list[ExceptionCase] = []
    for dept, rec in sorted(item.departments.items()):
        out.extend(
            department_exceptions(
                item.item_id,
                dept,
                rec.rows,
                rules=esc,
                calendar=ctx.calendar,
                as_of=ctx.as_of,
                marks=marks,
            )
        )
    return out


def open_exception_counts(cases: Iterable[ExceptionCase]) -> dict[str, int]:
    """Unresolved exceptions per item (for the tracking row, see docs/execution.md)."""
    counts: dict[str, int] = {}
    for c in cases:
        if c.resolved is None:
            counts[c.item] = counts.get(c.item, 0) + 1
    return counts


__all__ = [
    "ItemExecution",
    "WeeklyResult",
    "drive_exceptions",
    "lead_html",
    "lead_workbook",
    "open_exception_counts",
    "parse_target_week",
    "read_items",
    "run_weekly",
    "weekly_in_cycle",
    "weekly_path",
]
