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
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from automation.core.calendar import (
    WorkCalendar,
    add_days,
    check_day,
    week_summary,
)
from automation.core.clocks import (
    ClockResult,
    DeptRecord,
    ItemCycle,
    as_date,
    compute_clocks,
    input_fields,
    status_by_cycle,
    steady_until,
    steady_view,
)
from automation.core.digest import CountedRow, report_digest, weekly_needed
from automation.core.normalize import is_blank
from automation.core.text import printable
from automation.errors import XietongError
from automation.io.cache import cache_key, file_identity, settled
from automation.io.drive import DrivePaths, archived_item_folders, item_folder_index
from automation.io.files import list_workbooks
from automation.process.context import RunContext, calendar_of, rules_for
from automation.process.tracking import read_tracking, revision_of
from automation.rules import Rules

T = TypeVar("T")

# -- calendar operations -------------------------------------------------------------------------


def calendar_for(
    drive: str | Path | None = None, rules_dir: str | Path | None = None
) -> WorkCalendar:
    return calendar_of(rules_for(drive, rules_dir))


def calendar_check(
    text: str, *, drive: str | Path | None = None, rules_dir: str | Path | None = None
) -> dict[str, Any]:
    return check_day(calendar_for(drive, rules_dir), text)


def calendar_add(
    text: str, n: int, *, drive: str | Path | None = None, rules_dir: str | Path | None = None
) -> dict[str, Any]:
    return add_days(calendar_for(drive, rules_dir), text, n)


def calendar_week(
    text: str, *, drive: str | Path | None = None, rules_dir: str | Path | None = None
) -> dict[str, Any]:
    return week_summary(calendar_for(drive, rules_dir), text)


# -- reading the drive ---------------------------------------------------------------------------


@dataclass
class DriveInputs:
    cycles: list[ItemCycle]
    warnings: list[str] = field(default_factory=list)


def workbooks_in(folder: Path, *, recursive: bool) -> list[Path]:
    """The readable workbooks in a folder (see ``automation.io.files.list_workbooks``)."""
    return list_workbooks(folder, recursive=recursive)


def item_folders(paths: DrivePaths, item_id: str) -> list[Path]:
    """The folders of an item: ``<ID>`` or ``<ID> <title>`` under the items folder."""
    return item_folder_index(paths).get(item_id, [])


def _filled(value: Any) -> bool:
    return not is_blank(value)


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


def _add_execution(rec: _Records, report: Any, item_id: str, warn: list[str]) -> None:
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
    rec.daily[dept].update(r.date for r in report_digest(report, ()).get("daily", ()))


def counted_rows(report: Any, rules: Rules) -> tuple[CountedRow, ...]:
    """Rows of a weekly report that are a report: every required column people fill is filled
    and the week is readable (worked out once per report, see ``automation.core.digest``)."""
    return report_digest(report, weekly_needed(rules.form("weekly").columns)).get("counted", ())


def _read(ctx: RunContext, path: Path, warnings: list[str]) -> Any | None:
    try:
        return ctx.cache.validate(path)
    except XietongError as exc:
        warnings.append(f"{printable(path.name)} 无法读取：{exc.message}")
        return None


RECORD_KINDS = ("execution", "weekly")  # the workbooks of an item folder the clocks read


def department_records(
    ctx: RunContext,
    item_id: str,
    *,
    warnings: list[str] | None = None,
    weekly_reports: list[Any] | None = None,
    folders: dict[str, list[Path]] | None = None,
) -> dict[str, DeptRecord]:
    """The department records of one item from its folder (and the weekly folder).

    Workbooks unchanged since the context's cache stored their result are not read again, and
    the records of an item none of whose workbooks changed are not worked out again;
    ``folders`` is the :func:`item_folder_index` of the drive, when the caller has it.

    Within one run the item's folders are looked at once: the write-back, the summary and the
    notifications of a run count the same versions of its workbooks (a save during the run
    is counted by the next run, as one after it would be).
    """
    warn = warnings if warnings is not None else []
    if weekly_reports is None:
        weekly_reports = read_weekly_reports(ctx, warn)
    mine = item_folders(ctx.paths, item_id) if folders is None else folders.get(item_id, [])
    # the weekly folder by what its reports say of this item: a report rewritten for other
    # items (the weekly rollup rewrites a department's report every week) changes nothing here
    marks = weekly_index(ctx, weekly_reports).get(item_id.strip().upper(), ())
    this_run = ctx.memo.setdefault("department_records", {})
    held = this_run.get(item_id)
    if held is not None and held[0] == (mine, marks):
        warn.extend(held[2])
        return held[1]
    read = []
    source = []
    for folder in mine:
        for path, report, ident in folder_reports(ctx, folder, warn):
            if report.kind in RECORD_KINDS:  # what the automation writes there changes nothing
                read.append((path, report))
                source.append((path, ident))
    key = (tuple(source), marks)
    records, notes = ctx.cache.derive(
        "department_records",
        item_id,
        key,
        lambda: _department_records(ctx, item_id, read, weekly_reports, marks),
    )
    this_run[item_id] = ((mine, marks), records, notes)
    warn.extend(notes)
    return records


def folder_reports(
    ctx: RunContext, folder: Path, warnings: list[str]
) -> list[tuple[Path, Any, str | None]]:
    """(path, report, identity) of every workbook in an item's folder (and below).

    A folder is looked at once per run: the clocks, the rollup, the exceptions, the summary and
    the notifications of one run all ask, and all count the same versions (a file saved during
    the run is counted by the next run, as one saved just after it would be). A later run
    takes the reports of the last one while the folder lists the same files, each of the same
    identity (size, times); a file replaced the way Excel and WPS save (a new file renamed over
    the old) or rewritten in place is read again. Writers never use this: they read what they
    patch afresh. The workbooks this process wrote there (see
    ``ValidationCache.note_written``) are left out while they stay as written."""
    where = str(folder)
    held = ctx.memo.get(("folder_reports", where))
    if held is not None:
        warnings.extend(held[1])
        return held[0]
    listing = workbooks_in(folder, recursive=True)
    # every file as this process found it in an earlier run (settled, see io.cache): the
    # same list, each file looked at once (no report asked for again)
    idents = tuple(map(file_identity, listing))
    before = ctx.cache.recall("folder_reports", where, (listing, idents))
    if before is not None:
        out, notes, keys = before
        ctx.cache.saw_keys(keys, idents)  # type: ignore[arg-type]  # settled: not None
    else:
        out, notes = [], []
        for path in listing:
            if ctx.cache.written_here(path):  # a report the run wrote there: no form to read
                continue
            report = _read(ctx, path, notes)
            if report is not None:
                out.append((path, report, ctx.cache.last_identity))
        # kept when each report read is of the version listed (no file saved meanwhile)
        listed = dict(zip(listing, idents, strict=True))
        if all(map(settled, idents)) and all(listed[p] == i for p, _r, i in out):
            keys = tuple(map(cache_key, listing))
            ctx.cache.keep("folder_reports", where, (listing, idents), (out, notes, keys))
    ctx.memo[("folder_reports", where)] = (out, notes)
    warnings.extend(notes)
    return out


def weekly_index(ctx: RunContext, reports: list[Any]) -> dict[str, tuple[tuple[str, str], ...]]:
    """The (week, department) marks of the weekly folder's reports by item (upper case), worked
    out once per list of reports."""

    def index() -> dict[str, tuple[tuple[str, str], ...]]:
        found: dict[str, list[tuple[str, str]]] = {}
        for report in reports:
            for item, marks in weekly_marks(ctx, report).items():
                found.setdefault(item, []).extend(marks)
        return {item: tuple(marks) for item, marks in found.items()}

    return _per_reports(ctx, "weekly_index", reports, index)


def _weekly_paths(ctx: RunContext, reports: list[Any]) -> set[Path]:
    """The paths of the weekly folder's reports, made once per list of reports (every item's
    records ask: thousands of paths built again for each item otherwise)."""
    return _per_reports(ctx, "weekly_paths", reports, lambda: {Path(r.path) for r in reports})


def _per_reports(ctx: RunContext, name: str, reports: list[Any], make: Callable[[], T]) -> T:
    """``make()`` once per run and list of reports: by the report objects (the cache gives the
    same object for a file read before, so the lists of one run, each caller listing the
    folder, share one value)."""
    ids = tuple(map(id, reports))
    held = ctx.memo.get(name)
    if held is not None and held[0] == ids:
        return held[1]
    value = make()
    ctx.memo[name] = (ids, value, reports)  # the reports held: their ids stay theirs
    return value


def _department_records(
    ctx: RunContext,
    item_id: str,
    read: list[tuple[Path, Any]],
    weekly_reports: list[Any],
    marks: tuple[tuple[str, str], ...],
) -> tuple[dict[str, DeptRecord], list[str]]:
    warn: list[str] = []
    rec = _Records()
    known = _weekly_paths(ctx, weekly_reports)
    found = list(marks)
    wanted = item_id.strip().upper()
    for path, report in read:
        if report.kind == "execution":
            _add_execution(rec, report, item_id, warn)
        elif report.kind == "weekly" and path not in known:  # a report kept in the item's folder
            found.extend(weekly_marks(ctx, report).get(wanted, ()))
    for week, dept in found:
        rec.dept(dept)
        rec.weekly[dept].add(week)
    return rec.build(), warn


def weekly_marks(ctx: RunContext, report: Any) -> dict[str, list[tuple[str, str]]]:
    """The (week, department) each counted row of a weekly report names, by item (upper case);
    worked out once per version of the file: a department's report names every item."""
    path = Path(report.path)
    ident = ctx.cache.identity(path)
    if ident is None:  # not read through this cache (no version to key on)
        return _weekly_marks(ctx.rules, report)
    return ctx.cache.derive(
        "weekly_marks", str(path), ident, lambda: _weekly_marks(ctx.rules, report), carry=True
    )


def _weekly_marks(rules: Rules, report: Any) -> dict[str, list[tuple[str, str]]]:
    out: dict[str, list[tuple[str, str]]] = {}
    for row in counted_rows(report, rules):
        item, dept = row.item, row.department
        if _filled(item) and _filled(dept):
            out.setdefault(str(item).strip().upper(), []).append((row.week, str(dept)))
    return out


def read_weekly_reports(ctx: RunContext, warnings: list[str]) -> list[Any]:
    """Every weekly report workbook in the drive's weekly folder."""
    out = []
    for path in workbooks_in(ctx.paths.weekly, recursive=True):
        report = _read(ctx, path, warnings)
        if report is not None and report.kind == "weekly":
            out.append(report)
    return out


def item_cycles(
    ctx: RunContext, rows: list[dict[str, Any]], warnings: list[str]
) -> list[ItemCycle]:
    """The clock engine's input: one cycle per tracking row; an item's latest cycle gets the
    records of its departments (execution workbooks, weekly reports).

    Asked again in the same run for the very rows, with the same weekly reports and folders,
    it gives the list it gave (the write-back, the summary and the notifications all ask)."""
    first = len(warnings)
    weekly = read_weekly_reports(ctx, warnings)
    # an archived item's workbooks are read from its bag (read only), so its clocks stay final
    folders = {**archived_item_folders(ctx.paths), **item_folder_index(ctx.paths)}
    key = (tuple(map(id, rows)), tuple(map(id, weekly)))
    held = ctx.memo.get("item_cycles")
    if held is not None and held[0] == key and held[1] == folders:
        del warnings[first:]  # the weekly folder's warnings are among those given before
        warnings.extend(held[3])
        return list(held[2])
    latest: dict[str, int] = {}
    for row in rows:
        if _filled(row.get("item_id")):
            item = str(row["item_id"]).strip()
            latest[item] = max(latest.get(item, 0), revision_of(row.get("revision")))
    cycles = []
    for row in rows:
        if not _filled(row.get("item_id")):
            continue
        item = str(row["item_id"]).strip()
        cycle = revision_of(row.get("revision"))
        depts: Mapping[str, DeptRecord] = _NO_DEPARTMENTS
        if cycle == latest[item]:
            depts = department_records(
                ctx, item, warnings=warnings, weekly_reports=weekly, folders=folders
            )
        # the very cycle of the last call while its row and records are the same objects
        # (see process.tracking): the stages after key their work on it
        cycles.append(
            ctx.cache.made_from(
                "item_cycle",
                (item, cycle),
                (row, depts),
                lambda row=row, item=item, cycle=cycle, depts=depts: ItemCycle(
                    item, cycle, {k: v for k, v in row.items() if k != "_row"}, depts
                ),
            )
        )
    # the rows and reports held: their ids stay theirs while the key is kept
    ctx.memo["item_cycles"] = (key, folders, cycles, warnings[first:], rows, weekly)
    return list(cycles)


_NO_DEPARTMENTS: Mapping[str, DeptRecord] = {}  # an earlier cycle's records: none (never changed)


def clock_results(ctx: RunContext, cycles: Iterable[ItemCycle]) -> list[ClockResult]:
    """``compute_clocks`` of the cycles at the context's moment, each cycle's clocks worked out
    again only when its inputs (row, department records, moment) changed since this process
    last computed them."""
    return [r for part in clock_results_by_cycle(ctx, cycles) for r in part]


def clock_results_by_cycle(ctx: RunContext, cycles: Iterable[ItemCycle]) -> list[list[ClockResult]]:
    """:func:`clock_results` one list per cycle; a cycle whose inputs did not change gets the
    very list object it got before (callers may key their own work on it).

    In business hours "now" moves at every cycle, and with it the share of working time each
    running clock used; what the clocks show besides (states, levels, the clock an item's row
    names) changes only at moments told in advance (``core.clocks.steady_until``). A cycle's
    clocks worked out earlier the same day are taken as they were until the first of those
    moments: their share used is then that of when they were worked out, and nothing reads it
    but the at-risk notice queued when a level is reached, which is worked out at that moment."""
    out: list[list[ClockResult]] = []
    rules, calendar, as_of = ctx.rules.clocks, ctx.calendar, ctx.as_of
    # the clocks read "now" through the calendar only: the same for every moment of a span
    # out of business hours (see RunContext.moment)
    moment = ctx.moment
    used = input_fields(rules)
    for c in cycles:
        slot = (c.item_id, c.cycle)
        held = ctx.cache.last("clocks", slot)
        if held is not None and held[0] is c and (held[2] == moment or held[2] <= moment < held[3]):
            out.append(held[1])  # no key to build
            continue
        # the same cycle at another moment: its decided deadline clocks are taken as they were
        earlier = held[1] if held is not None and held[0] is c else ()
        key = (moment, _cycle_key(c, used))
        held = ctx.cache.recall("clocks", slot, key)
        if held is not None:
            results, until = held[1], held[3]
        else:
            results = compute_clocks([c], rules, calendar, as_of, explain=False, earlier=earlier)
            before = ctx.cache.last("clocks", slot)
            if before is not None and before[1] == results:
                # worked out again at a new moment and the same (a clock decided, or out of
                # working hours, does not move): the very list, so what is built on it is kept
                results = before[1]
            until = _steady_until(ctx, c, results)
        ctx.cache.keep("clocks", slot, key, (c, results, moment, until))
        out.append(results)
    return out


STEADY_PROBE = dt.timedelta(minutes=10)  # how far ahead the clocks' rates are measured


def _steady_until(ctx: RunContext, c: ItemCycle, results: list[ClockResult]) -> dt.datetime:
    """Until when the clocks of ``c`` worked out now read the same but for the share used (see
    ``core.clocks.steady_until``): the moment itself out of business hours (the moment
    already stands for its whole quiet span) and when it cannot be told."""
    moment, calendar = ctx.moment, ctx.calendar
    if moment != ctx.as_of:
        return moment
    now = calendar.local(moment)
    close = calendar.close_at(now.date())
    probe = min(now + STEADY_PROBE, now + (close - now) / 2)
    later = compute_clocks([c], ctx.rules.clocks, calendar, probe, explain=False, earlier=results)
    until = steady_until(results, later, now, probe, close, ctx.rules.clocks.at_risk)
    return moment if until is None or until <= moment else until


def steady_views(
    ctx: RunContext, cycles: Iterable[ItemCycle], clocks: Iterable[list[ClockResult]]
) -> list[tuple[Any, ...]]:
    """Each cycle's clocks as they read but for the share of working time used: a stage that
    reads nothing else of them keys its work on this view, and keeps it while a running clock
    merely ran on. The very tuple of the last run while it reads the same."""
    return [
        ctx.cache.made_from(
            "clock_view", (c.item_id, c.cycle), (part,), lambda p=part: tuple(map(steady_view, p))
        )
        for c, part in zip(cycles, clocks, strict=True)
    ]


def _cycle_key(c: ItemCycle, used: frozenset[str]) -> tuple[Any, ...]:
    """What a cycle's clocks depend on: the row's values the clock rules read (the other
    columns, several of them filled by the write-back, change nothing), and the department
    records by value (records worked out again from the same rows compare equal)."""
    return (
        # compared with ==, never hashed: values may be lists
        tuple(sorted((k, v) for k, v in c.fields.items() if k in used)),
        tuple(sorted(c.departments.items())),
    )


def read_inputs(ctx: RunContext) -> DriveInputs:
    """Every cycle of the tracking table, with the records of its departments."""
    table = read_tracking(ctx)
    warnings: list[str] = []
    return DriveInputs(item_cycles(ctx, table.rows, warnings), warnings)


# -- the clocks of a drive -----------------------------------------------------------------------


@dataclass
class DriveClocks:
    """Every clock of a drive at one moment, with what could not be read."""

    as_of: dt.datetime
    results: list[ClockResult]
    warnings: list[str]


def provisional_warning(ctx: RunContext, results: Iterable[ClockResult] = ()) -> str | None:
    """The warning that dates were counted with a calendar no installed source covers."""
    years = sorted({r.due_at.year for r in results if r.provisional and r.due_at is not None})
    if not years and ctx.calendar.is_provisional(ctx.as_of.date()):
        years = [ctx.as_of.year]
    if not years:
        return None
    listed = "、".join(str(y) for y in years)
    return (
        f"{listed} 年的节假日安排尚无数据来源，按周末推算（结果标记为推算）；"
        f"请在规则文件 calendar.yaml 的 years 中补充该年的安排"
    )


def compute_drive(ctx: RunContext) -> DriveClocks:
    """Every clock of every item of the drive as of the context's moment."""
    inputs = read_inputs(ctx)
    results = clock_results(ctx, inputs.cycles)
    return DriveClocks(ctx.as_of, results, inputs.warnings)


def explain_item(ctx: RunContext, item_id: str) -> dict[str, Any]:
    """``xietong clocks DRIVE --item ID``: every clock of one item with how its due date was
    derived (the start, the working days counted, the days off and makeup days passed)."""
    inputs = read_inputs(ctx)
    wanted = item_id.strip().upper()
    mine = [c for c in inputs.cycles if c.item_id.upper() == wanted]
    # explained: the kept clocks of a run leave the derivation out
    results = compute_clocks(mine, ctx.rules.clocks, ctx.calendar, ctx.as_of, explain=True)
    found = DriveClocks(ctx.as_of, results, inputs.warnings)
    if not results:
        raise XietongError(
            f"跟踪表中没有事项 {printable(item_id)}", code="E_UNKNOWN_ITEM", exit_code=2
        )
    statuses = status_by_cycle(results)
    labels = {f.key: f.label for f in ctx.rules.form("execution").all_fields}
    labels.update({f.key: f.label for f in ctx.rules.form("tracking").all_fields})
    cycles = []
    for (_item, cycle), status in sorted(statuses.items(), key=lambda kv: kv[0][1]):
        cycles.append(
            {
                "cycle": cycle,
                "stage": status.stage,
                "clock": status.clock,
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
