"""Reading a drive into the clock engine's inputs, and the clock and calendar operations as plain
Python calls (``xietong clocks`` / ``xietong calendar`` call exactly these).

- the tracking table (模板二): one row per item cycle, read by ``automation.process.tracking``;
- each item's execution workbooks (模板四, one per department) in its folder under the drive's
  items folder: the department, its plan submission date and the dates of its daily rows;
- weekly reports (周进度报告) in the drive's weekly folder and the item folders: the ISO weeks
  each department reported on.

Every workbook is read through the one validator (``automation.io.validation.validate_file``),
or, given a ``ValidationCache`` (``automation.io.cache``), not read again while unchanged.
This layer may read the wall clock (the default ``as_of``); the core never does.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from automation.core.calendar import WorkCalendar, parse_date, parse_week, week_label
from automation.core.clocks import (
    ClockResult,
    DeptRecord,
    ItemCycle,
    as_date,
    compute_clocks,
    departments_of,
    status_by_cycle,
)
from automation.errors import XietongError
from automation.io.drive import DrivePaths, drive_rules, item_folder_index, require_drive
from automation.rules import Rules, load_rules

if TYPE_CHECKING:
    from automation.io.cache import ValidationCache

WORKBOOK_SUFFIXES = (".xlsx", ".xlsm")


# -- rules, calendar and "now" ---------------------------------------------------------------------


def rules_for(drive: str | Path | None = None, rules_dir: str | Path | None = None) -> Rules:
    """The rules in force: an explicit rules folder, else the drive's, else the package defaults."""
    if rules_dir is not None:
        return load_rules(rules_dir)
    if drive is not None:
        root = Path(drive)
        if not root.is_dir():
            raise XietongError(f"共享盘目录不存在：{root}", code="E_NO_DRIVE", exit_code=2)
        return drive_rules(root)
    return load_rules()


def calendar_for(
    drive: str | Path | None = None, rules_dir: str | Path | None = None
) -> WorkCalendar:
    return WorkCalendar.from_rules(rules_for(drive, rules_dir).calendar)


def now_in(rules: Rules) -> dt.datetime:
    """The wall clock in the rules' time zone (the default "as of")."""
    return dt.datetime.now(rules.calendar.tzinfo())


def parse_as_of(text: str | None, rules: Rules) -> dt.datetime:
    """``--as-of``: an ISO date-time (naive = the rules' time zone) or a date (its close of
    business); none = now."""
    if text is None or not str(text).strip():
        return now_in(rules)
    tz = rules.calendar.tzinfo()
    raw = str(text).strip()
    try:
        moment = dt.datetime.fromisoformat(raw)
    except ValueError:
        day = parse_date(raw)  # E_BAD_DATE when it is not a date either
        return dt.datetime.combine(day, rules.calendar.close_of_business, tzinfo=tz)
    if len(raw) <= 10:  # a bare date
        return dt.datetime.combine(moment.date(), rules.calendar.close_of_business, tzinfo=tz)
    return moment.replace(tzinfo=tz) if moment.tzinfo is None else moment.astimezone(tz)


# -- calendar operations -------------------------------------------------------------------------


def calendar_check(
    text: str, *, drive: str | Path | None = None, rules_dir: str | Path | None = None
):
    from automation.core.calendar import check_day

    return check_day(calendar_for(drive, rules_dir), text)


def calendar_add(
    text: str, n: int, *, drive: str | Path | None = None, rules_dir: str | Path | None = None
):
    from automation.core.calendar import add_days

    return add_days(calendar_for(drive, rules_dir), text, n)


def calendar_week(
    text: str, *, drive: str | Path | None = None, rules_dir: str | Path | None = None
):
    from automation.core.calendar import week_summary

    return week_summary(calendar_for(drive, rules_dir), text)


# -- reading the drive ---------------------------------------------------------------------------


@dataclass
class DriveInputs:
    cycles: list[ItemCycle]
    warnings: list[str] = field(default_factory=list)


def _validate(
    path: Path, rules: Rules, calendar: WorkCalendar | None, cache: ValidationCache | None
) -> Any:
    from automation.io.validation import validate_file

    if cache is not None:
        return cache.validate(path)
    return validate_file(path, rules, calendar=calendar)


def _is_temporary(path: Path) -> bool:
    from automation.io.locks import is_temporary

    return is_temporary(path)


def _workbooks(folder: Path, *, recursive: bool) -> list[Path]:
    if not folder.is_dir():
        return []
    found = folder.rglob("*") if recursive else folder.iterdir()
    return sorted(
        p
        for p in found
        if p.is_file() and p.suffix.lower() in WORKBOOK_SUFFIXES and not _is_temporary(p)
    )


def item_folders(paths: DrivePaths, item_id: str) -> list[Path]:
    """The folders of an item: ``<ID>`` or ``<ID> <title>`` under the items folder."""
    return item_folder_index(paths).get(item_id, [])


def _filled(value: Any) -> bool:
    return value is not None and not (isinstance(value, str) and not value.strip()) and value != []


def _same_item(value: Any, item_id: str) -> bool:
    return not _filled(value) or str(value).strip().upper() == item_id.upper()


class _Records:
    """Collects department records of items; merges several workbooks of one department."""

    def __init__(self) -> None:
        self.fields: dict[str, dict[str, Any]] = {}
        self.daily: dict[str, set[dt.date]] = {}
        self.weekly: dict[str, set[str]] = {}

    def dept(self, name: str) -> None:
        self.fields.setdefault(name, {})
        self.daily.setdefault(name, set())
        self.weekly.setdefault(name, set())

    def build(self) -> dict[str, DeptRecord]:
        return {
            d: DeptRecord(
                fields=self.fields[d],
                daily_dates=frozenset(self.daily[d]),
                weekly_weeks=frozenset(self.weekly[d]),
            )
            for d in self.fields
        }


def _add_execution(rec: _Records, report: Any, rules: Rules, item_id: str, warn: list[str]) -> None:
    header = report.fields
    if not _same_item(header.get("item_id"), item_id):
        return
    dept = header.get("department")
    if not _filled(dept):
        warn.append(f"{report.path.name}：未填写“本部门”，其每日进度未计入时限")
        return
    dept = str(dept)
    rec.dept(dept)
    for key, value in header.items():
        if key not in ("item_id", "department") and _filled(value):
            old = rec.fields[dept].get(key)
            # two workbooks of one department: the later plan date counts
            if old is None or (as_date(value) and as_date(old) and as_date(value) > as_date(old)):
                rec.fields[dept][key] = value
    for row in report.rows:
        day = as_date(row.get("date"))
        if day is not None:
            rec.daily[dept].add(day)


def _weekly_rows(report: Any, rules: Rules) -> Iterable[dict[str, Any]]:
    """Rows of a weekly report that are a report: every required column people fill is filled."""
    form = rules.form("weekly")
    needed = [f.key for f in form.columns if f.required and not f.computed]
    for row in report.rows:
        if all(_filled(row.get(k)) for k in needed):
            yield row


def _week_text(value: Any) -> str | None:
    try:
        return week_label(*parse_week(str(value)))
    except XietongError:
        return None


def department_records(
    paths: DrivePaths,
    rules: Rules,
    item_id: str,
    *,
    calendar: WorkCalendar | None = None,
    warnings: list[str] | None = None,
    weekly_reports: list[Any] | None = None,
    cache: ValidationCache | None = None,
    folders: dict[str, list[Path]] | None = None,
) -> dict[str, DeptRecord]:
    """The department records of one item from its folder (and the weekly folder).

    With a ``cache``, workbooks unchanged since it stored their result are not read again;
    ``folders`` is the :func:`item_folder_index` of the drive, when the caller has it.
    """
    warn = warnings if warnings is not None else []
    rec = _Records()
    if weekly_reports is None:
        weekly_reports = read_weekly_reports(paths, rules, calendar, warn, cache=cache)
    reports = list(weekly_reports)
    mine = item_folders(paths, item_id) if folders is None else folders.get(item_id, [])
    for folder in mine:
        for path in _workbooks(folder, recursive=True):
            try:
                report = _validate(path, rules, calendar, cache)
            except XietongError as exc:
                warn.append(f"{path.name} 无法读取：{exc.message}")
                continue
            if report.kind == "execution":
                _add_execution(rec, report, rules, item_id, warn)
            elif report.kind == "weekly" and path not in _paths(reports):
                reports.append(report)
    for report in reports:
        for row in _weekly_rows(report, rules):
            if not _same_item(row.get("item_id"), item_id) or not _filled(row.get("item_id")):
                continue
            week = _week_text(row.get("week"))
            dept = row.get("department")
            if week and _filled(dept):
                rec.dept(str(dept))
                rec.weekly[str(dept)].add(week)
    return rec.build()


def _paths(reports: list[Any]) -> set[Path]:
    return {Path(r.path) for r in reports}


def read_weekly_reports(
    paths: DrivePaths,
    rules: Rules,
    calendar: WorkCalendar | None,
    warnings: list[str],
    *,
    cache: ValidationCache | None = None,
) -> list[Any]:
    """Every weekly report workbook in the drive's weekly folder."""
    out = []
    for path in _workbooks(paths.weekly, recursive=True):
        try:
            report = _validate(path, rules, calendar, cache)
        except XietongError as exc:
            warnings.append(f"{path.name} 无法读取：{exc.message}")
            continue
        if report.kind == "weekly":
            out.append(report)
    return out


def _revision(value: Any) -> int:
    try:
        return max(1, int(value))
    except (TypeError, ValueError):
        return 1


def read_inputs(
    paths: DrivePaths,
    rules: Rules,
    calendar: WorkCalendar,
    *,
    cache: ValidationCache | None = None,
) -> DriveInputs:
    """Every cycle of the tracking table; the latest cycle of an item gets its departments."""
    from automation.process.tracking import read_tracking

    table = read_tracking(paths, rules, calendar=calendar, cache=cache)
    warnings: list[str] = []
    latest: dict[str, int] = {}
    for row in table.rows:
        if _filled(row.get("item_id")):
            item = str(row["item_id"]).strip()
            latest[item] = max(latest.get(item, 0), _revision(row.get("revision")))
    weekly = read_weekly_reports(paths, rules, calendar, warnings, cache=cache)
    folders = item_folder_index(paths)
    cycles = []
    for row in table.rows:
        if not _filled(row.get("item_id")):
            continue
        item = str(row["item_id"]).strip()
        cycle = _revision(row.get("revision"))
        fields = {k: v for k, v in row.items() if k != "_row"}
        depts: dict[str, DeptRecord] = {}
        if cycle == latest[item]:
            depts = department_records(
                paths,
                rules,
                item,
                calendar=calendar,
                warnings=warnings,
                weekly_reports=weekly,
                cache=cache,
                folders=folders,
            )
        cycles.append(ItemCycle(item, cycle, fields, depts))
    return DriveInputs(cycles, warnings)


# -- the clocks of a drive -----------------------------------------------------------------------


@dataclass
class DriveClocks:
    as_of: dt.datetime
    results: list[ClockResult]
    warnings: list[str]


def compute_drive(
    root: str | Path, as_of: dt.datetime | None = None, *, rules_dir: str | Path | None = None
) -> DriveClocks:
    paths = require_drive(root)
    rules = rules_for(root, rules_dir)
    calendar = WorkCalendar.from_rules(rules.calendar)
    moment = calendar.local(as_of) if as_of is not None else now_in(rules)
    inputs = read_inputs(paths, rules, calendar)
    results = compute_clocks(inputs.cycles, rules.clocks, calendar, moment)
    return DriveClocks(moment, results, inputs.warnings)


def drive_clocks(
    root: str | Path, as_of: dt.datetime | None = None, *, rules_dir: str | Path | None = None
) -> list[dict[str, Any]]:
    """``xietong clocks DRIVE``: one row per item cycle × clock (× department)."""
    return [r.as_dict() for r in compute_drive(root, as_of, rules_dir=rules_dir).results]


def explain_item(
    root: str | Path,
    item_id: str,
    as_of: dt.datetime | None = None,
    *,
    rules_dir: str | Path | None = None,
) -> dict[str, Any]:
    """``xietong clocks DRIVE --item ID``: every clock of one item with how its due date was
    derived (the start, the working days counted, the days off and makeup days passed)."""
    found = compute_drive(root, as_of, rules_dir=rules_dir)
    wanted = item_id.strip().upper()
    results = [r for r in found.results if r.item.upper() == wanted]
    if not results:
        raise XietongError(f"跟踪表中没有事项 {item_id}", code="E_UNKNOWN_ITEM", exit_code=2)
    statuses = status_by_cycle(results)
    rules = rules_for(root, rules_dir)
    labels = {f.key: f.label for f in rules.form("execution").all_fields}
    labels.update({f.key: f.label for f in rules.form("tracking").all_fields})
    cycles = []
    for (_item, cycle), status in sorted(statuses.items(), key=lambda kv: kv[0][1]):
        cycles.append(
            {
                "cycle": cycle,
                "stage": status.stage,
                "deadline": status.deadline.isoformat() if status.deadline else None,
                "state": status.state,
                "state_zh": status.state_zh,
                "late_workdays": status.late_workdays,
                "clocks": [
                    {**r.as_dict(), "derivation": _labelled(r.derivation, labels)}
                    for r in results
                    if r.cycle == cycle
                ],
            }
        )
    return {
        "item": results[0].item,
        "as_of": found.as_of.isoformat(),
        "cycles": cycles,
        "warnings": found.warnings,
    }


def _labelled(derivation: dict[str, Any], labels: dict[str, str]) -> dict[str, Any]:
    """The derivation with the Chinese labels of its start and end fields."""
    out = dict(derivation)
    for side in ("start", "end"):
        key = out.get(f"{side}_field")
        if key:
            out[f"{side}_label"] = labels.get(key, key)
    return out


__all__ = [
    "DriveClocks",
    "DriveInputs",
    "calendar_add",
    "calendar_check",
    "calendar_for",
    "calendar_week",
    "compute_drive",
    "department_records",
    "departments_of",
    "drive_clocks",
    "explain_item",
    "item_folder_index",
    "item_folders",
    "now_in",
    "parse_as_of",
    "read_inputs",
    "read_weekly_reports",
    "rules_for",
]
