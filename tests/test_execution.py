"""执行反馈: the weekly rollup of daily rows, pre-filled weekly reports, the lead department's
view and exceptions, on a real drive of .xlsx files."""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import shutil
import time
from pathlib import Path

import openpyxl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from openpyxl.chart import BarChart, Reference
from openpyxl.comments import Comment

from automation import api
from automation.core.calendar import WorkCalendar
from automation.core.exceptions import (
    OfficeMark,
    department_exceptions,
    escalation_events,
    office_marks,
)
from automation.core.layout import layout
from automation.core.rollup import DailyRow, weekly_rollup
from automation.io.drive import drive_paths
from automation.io.journal import read_journal
from automation.io.templates import write_workbook
from automation.io.xlsxpatch import CellEdit, patch_workbook
from automation.io.xlsxpatch.package import Package
from automation.process.execution import weekly_path
from automation.rules import load_rules
from tests.conftest import convert_with_libreoffice, run_cli
from tests.test_xlsxpatch_helpers import assert_cells_kept, changed_parts

D = dt.date
TZ = dt.timezone(dt.timedelta(hours=8))
ITEM = "XT-2026-0001"
LATE = dt.datetime(2026, 10, 12, 10, 0, tzinfo=TZ)  # Monday after W41
BLOCKED = "缺少测试设备"


def _row(day: dt.date, status: str = "进行中", progress: float = 0.3, **more: str) -> dict:
    return {
        "date": day,
        "task": f"任务{day.day}",
        "owner": "赵磊",
        "progress": progress,
        "status": status,
        "updated_by": "赵磊",
        **more,
    }


PRODUCTION = [  # 09-29 and 10-09 left out; blocked on Thursday 09-24 (Friday is Mid-Autumn)
    _row(D(2026, 9, 23), progress=0.1),
    _row(D(2026, 9, 24), "受阻", 0.15, problems=BLOCKED, needs_coordination="请采购部协调设备"),
    _row(D(2026, 9, 28), "受阻", 0.15, problems=BLOCKED, needs_coordination="请采购部协调设备"),
    _row(D(2026, 9, 30), "进行中", 0.3),
    _row(D(2026, 10, 8), "进行中", 0.4),
    _row(D(2026, 10, 10), "进行中", 0.5),  # the makeup Saturday
]
MARKETING = [  # 09-24 left out
    _row(d, progress=0.1 * i)
    for i, d in enumerate(
        [D(2026, 9, 23), D(2026, 9, 28), D(2026, 9, 29), D(2026, 9, 30), D(2026, 10, 8)]
        + [D(2026, 10, 9), D(2026, 10, 10)],
        start=1,
    )
]


def _execution_drive(root: Path, *, notes: str = "", more: tuple[str, ...] = ()) -> None:
    """An item approved Tuesday 2026-09-22 with two cooperating departments and their rows
    (and ``more`` items just like it)."""
    rules = load_rules()
    paths = drive_paths(root)
    paths.tracking.unlink()
    row = {
        "item_id": ITEM,
        "revision": 1,
        "submitted_date": D(2026, 9, 14),
        "registered_date": D(2026, 9, 14),
        "requesting_dept": "研发部",
        "title": "新品联合推广",
        "evaluation_result": "通过",
        "evaluation_date": D(2026, 9, 15),
        "lead_dept": "研发部",
        "coop_depts": ["生产部", "市场部"],
        "meeting_date": D(2026, 9, 16),
        "minutes_date": D(2026, 9, 17),
        "plan_date": D(2026, 9, 18),
        "approval_date": D(2026, 9, 22),
    }
    if notes:
        row["notes"] = notes
    items = (ITEM, *more)
    write_workbook("tracking", rules, paths.tracking, rows=[{**row, "item_id": i} for i in items])
    for item in items:
        folder = paths.items / f"{item} 新品联合推广"
        folder.mkdir(parents=True, exist_ok=True)
        for dept, rows in (("生产部", PRODUCTION), ("市场部", MARKETING)):
            write_workbook(
                "execution",
                rules,
                folder / f"模板四_跨部门任务执行跟踪表_{item}_{dept}.xlsx",
                values={"item_id": item, "department": dept, "exec_lead_dept": "研发部"},
                rows=rows,
            )


@pytest.fixture
def exec_drive(drive: Path) -> Path:
    _execution_drive(drive)
    return drive


# -- the rollup: working days, missing days and due times around Mid-Autumn and National Day ----


EXPECTED = {
    "2026-W39": {
        "expected": ["2026-09-23", "2026-09-24"],
        "due": "2026-09-24T18:00:00+08:00",  # Friday 09-25 is Mid-Autumn
        "missing": {"生产部": [], "市场部": ["2026-09-24"]},
    },
    "2026-W40": {
        "expected": ["2026-09-28", "2026-09-29", "2026-09-30"],
        "due": "2026-09-30T18:00:00+08:00",  # Friday 10-02 is National Day
        "missing": {"生产部": ["2026-09-29"], "市场部": []},
    },
    "2026-W41": {
        "expected": ["2026-10-08", "2026-10-09", "2026-10-10"],  # with the makeup Saturday
        "due": "2026-10-09T18:00:00+08:00",
        "missing": {"生产部": ["2026-10-09"], "市场部": []},
    },
}


def test_weekly_rollup_around_mid_autumn_and_national_day(exec_drive: Path) -> None:
    proc = run_cli(
        "weekly", str(exec_drive), "--week", "2026-W39", "--as-of", LATE.isoformat(), "--json"
    )
    assert proc.returncode == 0, proc.stderr
    by_week = {"2026-W39": json.loads(proc.stdout)}
    for week in ("2026-W40", "2026-W41"):
        by_week[week] = api.weekly(exec_drive, week=week, as_of=LATE, dry_run=True).as_list()
    for week, want in EXPECTED.items():
        rows = {r["department"]: r for r in by_week[week]}
        assert set(rows) == {"生产部", "市场部"}, week
        for dept, r in rows.items():
            assert r["week"] == week and r["item"] == ITEM
            assert r["expected_days"] == want["expected"], (week, dept)
            assert r["missing_days"] == want["missing"][dept], (week, dept)
            assert r["due_at"] == want["due"], (week, dept)
            assert r["report_state"] == "breached"  # nobody sent a report
            assert len(r["days_with_row"]) == len(want["expected"]) - len(want["missing"][dept])
    w40 = {r["department"]: r for r in by_week["2026-W40"]}["生产部"]
    assert w40["latest_progress"] == 0.3 and w40["latest_status"] == "进行中"
    assert w40["problems"] == [{"date": "2026-09-28", "text": BLOCKED}]
    w39 = {r["department"]: r for r in by_week["2026-W39"]}["生产部"]
    assert w39["coordination"] == [{"date": "2026-09-24", "text": "请采购部协调设备"}]


def test_expected_days_stop_at_the_as_of_day_and_todays_row_is_not_missing_yet() -> None:
    cal = WorkCalendar.from_rules(load_rules().calendar)
    rows = [DailyRow(D(2026, 10, 8), progress=0.4, status="进行中")]
    r = weekly_rollup(
        ITEM,
        "生产部",
        rows,
        week="2026-W41",
        start=D(2026, 9, 22),
        end=None,
        calendar=cal,
        as_of=dt.datetime(2026, 10, 9, 10, tzinfo=TZ),
    )
    assert r is not None
    assert r.expected_days == (D(2026, 10, 8), D(2026, 10, 9))
    assert r.missing_days == () and r.report_state in ("running", "at_risk")
    completed = weekly_rollup(
        ITEM,
        "生产部",
        rows,
        week="2026-W41",
        start=D(2026, 9, 22),
        end=D(2026, 10, 8),
        calendar=cal,
        as_of=LATE,
    )
    assert completed is not None and completed.expected_days == (D(2026, 10, 8),)


# -- exceptions --------------------------------------------------------------------------------


def _exceptions(drive: Path, day: dt.date) -> list[dict]:
    return api.exceptions(drive, as_of=dt.datetime.combine(day, dt.time(17), tzinfo=TZ))


def test_a_blocked_row_climbs_the_ladder_until_a_later_row_resolves_it(exec_drive: Path) -> None:
    steps = {}
    for day in (D(2026, 9, 24), D(2026, 9, 28), D(2026, 9, 29)):
        cases = _exceptions(exec_drive, day)
        assert len(cases) == 1  # the 09-28 row repeats the problem: still one exception
        (case,) = cases
        assert case["item"] == ITEM and case["department"] == "生产部"
        assert case["opened"] == "2026-09-24" and BLOCKED in case["reason"]
        assert case["resolved"] is None
        steps[day] = (case["level"], case["to"])
    assert steps == {
        D(2026, 9, 24): (1, "报牵头部门"),
        D(2026, 9, 28): (2, "报协调管理办公室"),
        D(2026, 9, 29): (3, "报分管领导"),
    }
    # the tracking row counts the open exception while it is open, and not once resolved
    from automation.process.cycle import run_cycle
    from tests.intake_helpers import tracking_rows

    run_cycle(exec_drive, as_of=dt.datetime(2026, 9, 29, 17, tzinfo=TZ), settle_s=0)
    [row] = [r for r in tracking_rows(exec_drive, load_rules()) if r["item_id"] == ITEM]
    assert row["open_exceptions"] == 1
    proc = run_cli("exceptions", str(exec_drive), "--as-of", "2026-10-12", "--json")
    assert proc.returncode == 0, proc.stderr
    (case,) = json.loads(proc.stdout)
    assert case["resolved"] == "2026-09-30" and case["resolved_by"] == "row"  # 进行中, no need
    run_cycle(exec_drive, as_of=dt.datetime(2026, 10, 12, 17, tzinfo=TZ), settle_s=0)
    [row] = [r for r in tracking_rows(exec_drive, load_rules()) if r["item_id"] == ITEM]
    assert not row.get("open_exceptions")
    assert case["level"] == 3 and [s["date"] for s in case["steps"]] == [
        "2026-09-24",
        "2026-09-28",
        "2026-09-29",
    ]


def test_resolving_stops_the_ladder() -> None:
    rules = load_rules()
    cal = WorkCalendar.from_rules(rules.calendar)
    rows = [
        DailyRow(D(2026, 9, 24), status="受阻", problems=BLOCKED),
        DailyRow(D(2026, 9, 28), status="进行中"),
        DailyRow(D(2026, 9, 29), status="滞后", problems="供应商延迟交货"),
    ]
    cases = department_exceptions(
        ITEM,
        "生产部",
        rows,
        rules=rules.escalation,
        calendar=cal,
        as_of=dt.datetime(2026, 10, 12, 10, tzinfo=TZ),
    )
    first, second = cases
    assert (first.level, first.resolved) == (1, D(2026, 9, 28))  # resolved before reaching 2
    assert second.opened == D(2026, 9, 29) and second.resolved is None
    assert second.level == 3 and second.to == "报分管领导"


def test_the_office_marks_an_exception_resolved_in_the_tracking_notes(drive: Path) -> None:
    _execution_drive(drive, notes="9月28日电话沟通\n异常已解决：生产部 2026-09-28")
    (case,) = _exceptions(drive, D(2026, 9, 29))
    assert case["resolved"] == "2026-09-28" and case["resolved_by"] == "office"
    assert case["level"] == 1
    assert office_marks("异常已解决：市场部", "异常已解决", D(2026, 10, 9)) == [
        OfficeMark("市场部", D(2026, 10, 9))
    ]


# -- the weekly report workbook: pre-filled, never overwriting a person, lossless ------------------


def _person_report(path: Path) -> None:
    """生产部 typed its W40 row (本周完成情况, 存在问题) and decorated the workbook."""
    rules = load_rules()
    path.parent.mkdir(parents=True, exist_ok=True)
    write_workbook(
        "weekly",
        rules,
        path,
        rows=[
            {
                "week": "2026-W40",
                "department": "生产部",
                "item_id": ITEM,
                "done": "=完成设备调试（本人填写）",
                "problems": "测试设备仍未到位",
            }
        ],
    )
    wb = openpyxl.load_workbook(path)
    ws = wb[rules.form("weekly").sheet]
    ws["P5"] = "部门备注"
    ws["P5"].comment = Comment("王芳：周五前补齐", "生产部")
    chart = BarChart()
    chart.add_data(Reference(ws, min_col=8, min_row=3, max_row=6), titles_from_data=True)
    ws.add_chart(chart, "R4")
    wb.save(path)


def _journal_cells(drive: Path, since: int, name: str) -> dict[str, object]:
    out: dict[str, object] = {}
    for e in read_journal(drive_paths(drive).log)[since:]:
        if e["action"] == "weekly_rollup" and e["file"].endswith(name):
            out.update(e["after"])
    return out


def _check_lossless_runs(drive: Path, path: Path) -> None:
    """Runs on a report where 生产部 typed 本周完成情况 and 存在问题 for W40: those cells stay,
    the computed columns are current, every other part and cell is unchanged, reruns change
    no byte."""
    rules = load_rules()
    form = rules.form("weekly")
    lay = layout(form)
    row = lay.first_data_row
    typed = {f"{lay.columns['done']}{row}", f"{lay.columns['problems']}{row}"}
    before = path.read_bytes()
    start = len(read_journal(drive_paths(drive).log))
    api.weekly(drive, week="2026-W40", as_of=LATE)
    after = path.read_bytes()
    edited = _journal_cells(drive, start, path.name)
    assert edited and not typed & set(edited)
    sheets = {e.part for e in Package(before).entries if e.part.startswith("xl/worksheets/sheet")}
    changed = changed_parts(before, after)
    assert len(changed & sheets) == 1 and changed <= sheets | {
        e.part for e in Package(before).entries if e.part.startswith("xl/tables/")
    }
    assert_cells_kept(before, after, form.sheet, edited)
    ws = openpyxl.load_workbook(io.BytesIO(after))[form.sheet]
    c = lay.columns
    assert ws[f"{c['done']}{row}"].value == "=完成设备调试（本人填写）"
    assert ws[f"{c['problems']}{row}"].value == "测试设备仍未到位"
    # the blank 需协调事项 is pre-filled from the daily rows
    assert ws[f"{c['coordination']}{row}"].value == "9月28日：请采购部协调设备"
    assert ws[f"{c['daily_rows']}{row}"].value == 2
    assert ws[f"{c['missing_days']}{row}"].value == "2026-09-29"
    assert ws[f"{c['latest_progress']}{row}"].value == 0.3
    assert ws[f"{c['report_due']}{row}"].value == "2026-09-30 18:00"
    assert ws["P5"].value == "部门备注"
    for _ in range(2):  # later runs change no byte
        api.weekly(drive, week="2026-W40", as_of=LATE)
        assert path.read_bytes() == after


def test_typed_cells_survive_every_run_and_the_rest_is_byte_identical(exec_drive: Path) -> None:
    path = weekly_path(drive_paths(exec_drive), "生产部")
    _person_report(path)
    _check_lossless_runs(exec_drive, path)
    ws = openpyxl.load_workbook(path)[load_rules().form("weekly").sheet]
    assert ws["P5"].comment is not None and len(ws._charts) == 1


@pytest.mark.libreoffice
def test_a_weekly_report_saved_by_libreoffice(exec_drive: Path, soffice, tmp_path) -> None:
    path = weekly_path(drive_paths(exec_drive), "生产部")
    _person_report(path)
    saved = convert_with_libreoffice(soffice, path, tmp_path / "lo", "xlsx")
    shutil.copy(saved, path)
    _check_lossless_runs(exec_drive, path)


def test_text_columns_are_prefilled_while_blank_and_a_persons_edit_is_kept(
    exec_drive: Path,
) -> None:
    rules = load_rules()
    form = rules.form("weekly")
    c = layout(form).columns
    paths = drive_paths(exec_drive)
    api.weekly(exec_drive, week="2026-W39", as_of=dt.datetime(2026, 9, 24, 12, tzinfo=TZ))
    path = weekly_path(paths, "生产部")
    ws = openpyxl.load_workbook(path)[form.sheet]
    row = layout(form).first_data_row
    assert ws[f"{c['week']}{row}"].value == "2026-W39"
    assert ws[f"{c['item_id']}{row}"].value == ITEM
    assert "任务23" in ws[f"{c['done']}{row}"].value
    assert ws[f"{c['problems']}{row}"].value == f"9月24日：{BLOCKED}"
    # the department rewrites 本周完成情况; the automation's own 需协调事项 text stays refreshable
    data = patch_workbook(
        path.read_bytes(), form.sheet, [CellEdit(f"{c['done']}{row}", "本部门自己写的总结")]
    )
    path.write_bytes(data)
    api.weekly(exec_drive, week="2026-W39", as_of=LATE)
    ws = openpyxl.load_workbook(path)[form.sheet]
    assert ws[f"{c['done']}{row}"].value == "本部门自己写的总结"
    assert ws[f"{c['report_due']}{row}"].value == "2026-09-24 18:00"
    assert ws[f"{c['submitted_by']}{row}"].value is None  # never written by the automation
    # 市场部 got its own workbook, created from the template
    assert weekly_path(paths, "市场部").is_file()
    lead = next(paths.items.glob(f"{ITEM}*")) / "周进度汇总_2026-W39.html"
    html = lead.read_text(encoding="utf-8")
    assert "生产部" in html and "市场部" in html and BLOCKED in html


def test_a_report_counts_as_submitted_once_filed_by_and_date_are_typed(exec_drive: Path) -> None:
    rules = load_rules()
    form = rules.form("weekly")
    c = layout(form).columns
    api.weekly(exec_drive, week="2026-W40", as_of=LATE)
    path = weekly_path(drive_paths(exec_drive), "生产部")
    row = layout(form).first_data_row
    edits = [
        CellEdit(f"{c['submitted_by']}{row}", "赵磊"),
        CellEdit(f"{c['submitted_date']}{row}", D(2026, 10, 8)),  # after the 09-30 due day
    ]
    path.write_bytes(patch_workbook(path.read_bytes(), form.sheet, edits))
    rows = {
        r["department"]: r
        for r in api.weekly(exec_drive, week="2026-W40", as_of=LATE, dry_run=True).as_list()
    }
    assert rows["生产部"]["report_state"] == "met_late"
    assert rows["市场部"]["report_state"] == "breached"
    clocks = api.clocks(exec_drive, as_of=LATE).results
    weekly = {r.department: r for r in clocks if r.clock == "weekly_report"}
    assert "2026-W40" not in weekly["生产部"].missing  # the weekly clock agrees
    assert "2026-W40" in weekly["市场部"].missing


def test_a_bad_week_is_a_coded_error(exec_drive: Path) -> None:
    proc = run_cli("weekly", str(exec_drive), "--week", "2026-41", "--dry-run")
    assert proc.returncode == 2 and "E_BAD_WEEK" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_each_escalation_step_is_one_event_with_a_stable_key() -> None:
    rules = load_rules()
    cal = WorkCalendar.from_rules(rules.calendar)
    rows = [DailyRow(D(2026, 9, 24), status="受阻", problems=BLOCKED)]

    def events(day: dt.date) -> list[dict]:
        cases = department_exceptions(
            ITEM,
            "生产部",
            rows,
            rules=rules.escalation,
            calendar=cal,
            as_of=dt.datetime.combine(day, dt.time(9), tzinfo=TZ),
        )
        return escalation_events(cases)

    assert [e["to"] for e in events(D(2026, 9, 28))] == ["lead_dept", "office"]
    later = events(D(2026, 10, 12))
    assert [e["level"] for e in later] == [1, 2, 3]
    assert [e["key"] for e in later[:2]] == [e["key"] for e in events(D(2026, 9, 28))]


_CAL = WorkCalendar.from_rules(load_rules().calendar)


@settings(max_examples=120, deadline=None)
@given(
    start=st.dates(D(2026, 9, 1), D(2026, 10, 20)),
    day=st.dates(D(2026, 10, 12), D(2026, 10, 23)),
    minute=st.integers(0, 9 * 60 - 1),
    later=st.integers(0, 9 * 60 * 60),
    sent=st.booleans(),
)
def test_a_rollup_reads_the_same_at_every_moment_before_its_steady_until(
    start, day, minute, later, sent
) -> None:
    """Worked out in business hours, a rollup reads the same until ``steady_until`` (the
    day's close, or the week's share used reaching its next at-risk threshold)."""
    from automation.core.rollup import steady_until

    if not _CAL.is_workday(day):
        return
    y, w, _ = day.isocalendar()
    rows = [DailyRow(d, progress=0.5) for d in _CAL.week_workdays(y, w) if d < day]

    def rollup(as_of):
        return weekly_rollup(
            ITEM, "生产部", rows, week=(y, w), start=start, end=None, calendar=_CAL,
            as_of=as_of, sent=sent, submitted_on=day if sent else None,
        )  # fmt: skip

    now = _CAL.open_at(day) + dt.timedelta(minutes=minute)
    first = rollup(now)
    if first is None:
        return
    until = steady_until(first, _CAL, now)
    assert until is not None and now.date() == until.date() and until < _CAL.close_at(day)
    moment = min(now + dt.timedelta(seconds=later), until - dt.timedelta(microseconds=1))
    if moment >= now:
        assert rollup(moment) == first
    assert steady_until(first, _CAL, _CAL.close_at(day) + dt.timedelta(hours=1)) is None


def test_a_rollup_at_risk_changes_level_at_the_moment_told():
    from automation.core.rollup import steady_until

    # W43 of 2026, due Friday 10-23: on Monday 10-19 the week's share used is that of the one
    # day expected so far (see report_state), a half of it at 13:30
    rows = [DailyRow(D(2026, 10, 16))]
    now = dt.datetime(2026, 10, 19, 10, tzinfo=TZ)
    kw = dict(week=(2026, 43), start=D(2026, 9, 1), end=None, calendar=_CAL)
    before = weekly_rollup(ITEM, "生产部", rows, as_of=now, **kw)
    assert before is not None and before.report_state == "running"
    until = steady_until(before, _CAL, now)
    assert until == dt.datetime(2026, 10, 19, 13, 30, tzinfo=TZ) - dt.timedelta(seconds=2)
    after = weekly_rollup(ITEM, "生产部", rows, as_of=until + dt.timedelta(seconds=3), **kw)
    assert after is not None and after.report_state == "at_risk"


@settings(max_examples=60, deadline=None)
@given(
    start=st.dates(D(2026, 1, 1), D(2026, 11, 30)),
    offset=st.integers(0, 8),
    hour=st.integers(0, 23),
    skipped=st.sets(st.integers(0, 40), max_size=15),
)
def test_rollup_days_agree_with_the_calendar(start, offset, hour, skipped) -> None:
    first = _CAL.add_workdays(start, 1)
    days = [first]
    while len(days) < 40:
        days.append(_CAL.add_workdays(days[-1], 1))
    rows = [DailyRow(d, progress=0.5) for i, d in enumerate(days) if i not in skipped]
    as_of = dt.datetime.combine(start + dt.timedelta(days=offset * 3), dt.time(hour), tzinfo=TZ)
    y, w, _ = first.isocalendar()
    r = weekly_rollup(
        ITEM, "生产部", rows, week=(y, w), start=start, end=None, calendar=_CAL, as_of=as_of
    )
    week_days = _CAL.week_workdays(y, w)
    if r is None:
        assert not [d for d in week_days if first <= d <= as_of.date()]
        return
    assert set(r.expected_days) == {d for d in week_days if first <= d <= as_of.date()}
    assert set(r.days_with_row) | set(r.missing_days) <= set(r.expected_days)
    assert not set(r.days_with_row) & set(r.missing_days)
    have = {row.date for row in rows}
    for d in r.expected_days:
        if d not in have and _CAL.close_at(d) <= as_of:
            assert d in r.missing_days
    due = _CAL.week_due_date(y, w)
    assert r.due_at == (_CAL.close_at(due) if due is not None and due >= first else None)


# the market department's report for W39, filed in the item folder
MARKET_W39 = {
    "week": "2026-W39",
    "department": "市场部",
    "item_id": ITEM,
    "done": "完成渠道对接",
    "submitted_by": "李娜",
    "submitted_date": D(2026, 9, 24),
}


def test_a_report_filed_in_the_item_folder_counts_as_the_clock_counts_it(exec_drive: Path) -> None:
    folder = next(drive_paths(exec_drive).items.glob(f"{ITEM}*"))
    write_workbook(
        "weekly",
        load_rules(),
        folder / "市场部周报_W39.xlsx",
        rows=[MARKET_W39],
    )
    rows = api.weekly(exec_drive, week="2026-W39", as_of=LATE, dry_run=True).as_list()
    state = {r["department"]: (r["report_state"], r["submitted_on"]) for r in rows}
    assert state == {"市场部": ("met", "2026-09-24"), "生产部": ("breached", None)}
    weekly = {
        r.department: r
        for r in api.clocks(exec_drive, as_of=LATE).results
        if r.clock == "weekly_report"
    }
    assert "2026-W39" not in weekly["市场部"].missing and "2026-W39" in weekly["生产部"].missing


def test_the_reports_filed_in_item_folders_are_not_merged_again_for_a_weekly_folder_change(
    exec_drive: Path, monkeypatch
) -> None:
    import automation.process.execution as execution

    rules = load_rules()
    folder = next(drive_paths(exec_drive).items.glob(f"{ITEM}*"))
    row = MARKET_W39
    filed = folder / "市场部周报_W39.xlsx"
    write_workbook("weekly", rules, filed, rows=[row])
    old = time.time() - 60  # settled: the cache keeps what it read
    os.utime(filed, (old, old))
    merged: list[list[str]] = []
    real = execution._merge_sent
    monkeypatch.setattr(
        execution,
        "_merge_sent",
        lambda ctx, reports, week: (
            merged.append([Path(r.path).name for r in reports]) or real(ctx, reports, week)
        ),
    )

    def states() -> dict:
        rows = api.weekly(exec_drive, week="2026-W39", as_of=LATE, dry_run=True).as_list()
        return {r["department"]: (r["report_state"], r["submitted_on"]) for r in rows}

    assert states() == {"市场部": ("met", "2026-09-24"), "生产部": ("breached", None)}
    assert ["市场部周报_W39.xlsx"] in merged
    merged.clear()
    later = {**row, "department": "生产部", "submitted_by": "赵磊"}
    weekly = drive_paths(exec_drive).weekly / "周进度报告_生产部.xlsx"
    write_workbook("weekly", rules, weekly, rows=[later, {**row, "submitted_date": D(2026, 9, 23)}])
    os.utime(weekly, (old, old))
    assert states() == {"市场部": ("met", "2026-09-23"), "生产部": ("met", "2026-09-24")}
    # the item folders' reports as merged before: only the weekly folder's merged again
    assert merged and not any(filed.name in group for group in merged)


def test_an_untouched_prefilled_text_follows_later_daily_rows(exec_drive: Path) -> None:
    form = load_rules().form("weekly")
    c = layout(form).columns
    row = layout(form).first_data_row
    path = weekly_path(drive_paths(exec_drive), "生产部")
    api.weekly(exec_drive, week="2026-W40", as_of=dt.datetime(2026, 9, 28, 12, tzinfo=TZ))
    ws = openpyxl.load_workbook(path)[form.sheet]
    assert ws[f"{c['done']}{row}"].value == "任务28（最新进度 15%，受阻）"
    # the department edits 存在问题 only; 本周完成情况 is still the automation's text
    edited = patch_workbook(
        path.read_bytes(), form.sheet, [CellEdit(f"{c['problems']}{row}", "设备下周到货")]
    )
    path.write_bytes(edited)
    api.weekly(exec_drive, week="2026-W40", as_of=LATE)
    ws = openpyxl.load_workbook(path)[form.sheet]
    assert ws[f"{c['done']}{row}"].value == "任务28、任务30（最新进度 30%，进行中）"
    assert ws[f"{c['problems']}{row}"].value == "设备下周到货"
    assert ws[f"{c['daily_rows']}{row}"].value == 2


def test_the_lead_view_is_not_read_again_while_unchanged(exec_drive: Path) -> None:
    """The generated view is no template: the cache remembers that, as long as it is unchanged."""
    import os
    import time

    from automation.io.cache import ValidationCache
    from automation.io.ledger import open_ledger

    api.weekly(exec_drive, week="2026-W40", as_of=LATE)
    view = next(drive_paths(exec_drive).items.glob(f"{ITEM}*")) / "周进度汇总_2026-W40.xlsx"
    ws = openpyxl.load_workbook(view).active
    assert ws["A5"].value == "生产部" and ws["D5"].value == "9月29日"
    old = time.time() - 3600
    os.utime(view, (old, old))
    rules = load_rules()
    with open_ledger(exec_drive) as ledger:
        first = ValidationCache(ledger, rules)
        assert first.validate(view).kind is None and first.misses == 1
        again = ValidationCache(ledger, rules)
        again.validate(view)
        assert (again.hits, again.misses) == (1, 0)


def test_xietong_run_rolls_up_the_current_week_and_a_second_run_writes_nothing(
    exec_drive: Path,
) -> None:
    from automation.process.cycle import run_cycle
    from tests.intake_helpers import drive_hashes

    as_of = dt.datetime(2026, 10, 9, 17, 30, tzinfo=TZ)  # Friday of W41, before close
    run_cycle(exec_drive, as_of=as_of, settle_s=0)
    form = load_rules().form("weekly")
    c = layout(form).columns
    row = layout(form).first_data_row
    ws = openpyxl.load_workbook(weekly_path(drive_paths(exec_drive), "生产部"))[form.sheet]
    assert ws[f"{c['week']}{row}"].value == "2026-W41"
    assert ws[f"{c['missing_days']}{row}"].value is None  # 10-09 not missing before 18:00
    assert ws[f"{c['report_due']}{row}"].value == "2026-10-09 18:00"
    before = drive_hashes(exec_drive)
    run_cycle(exec_drive, as_of=as_of, settle_s=0)
    assert drive_hashes(exec_drive) == before


def test_lead_reports_written_moments_ago_are_known_by_their_bytes_next_cycle(
    exec_drive: Path, monkeypatch
) -> None:
    """The cycle after one that wrote the lead reports (their times too young to be trusted)
    reads and hashes them instead of building them again; one changed since is built again
    and written back."""
    from automation.process import execution
    from automation.process.cycle import run_cycle

    built: list[str] = []
    real = execution._lead_workbook

    def counting(head, week, rows):
        built.append(head["item_id"])
        return real(head, week, rows)

    monkeypatch.setattr(execution, "_lead_workbook", counting)
    as_of = dt.datetime(2026, 10, 9, 17, 30, tzinfo=TZ)
    run_cycle(exec_drive, as_of=as_of, settle_s=0)
    assert built == [ITEM]
    lead = next(drive_paths(exec_drive).items.glob(f"{ITEM}*")) / "周进度汇总_2026-W41.html"
    written = lead.read_bytes()
    built.clear()
    run_cycle(exec_drive, as_of=as_of, settle_s=0)
    assert built == []
    lead.write_bytes(written.replace("生产部".encode(), "销售部".encode()))
    run_cycle(exec_drive, as_of=as_of, settle_s=0)
    assert built == [ITEM] and lead.read_bytes() == written


@pytest.mark.parametrize("parallel", [False, True])
def test_lead_reports_on_every_core_match_and_a_held_report_waits(
    exec_drive: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, parallel: bool
) -> None:
    """Many lead reports are built and written in worker processes (a cold run): the same
    bytes as one process writes, one journal entry per item, and a report someone has open is
    deferred while the item's other file is still written."""
    from automation.process import execution

    reference = tmp_path / "reference"
    shutil.copytree(exec_drive, reference, symlinks=True)
    api.weekly(reference, week="2026-W39", as_of=LATE)
    folder = next(drive_paths(exec_drive).items.glob(f"{ITEM}*"))
    expected = {
        suffix: (
            next(drive_paths(reference).items.glob(f"{ITEM}*")) / f"周进度汇总_2026-W39{suffix}"
        )
        for suffix in (".xlsx", ".html")
    }
    (folder / "~$周进度汇总_2026-W39.xlsx").write_bytes(b"\x05" + "王五".encode("utf-16-le"))
    if parallel:
        monkeypatch.setattr(execution, "LEAD_PARALLEL_MIN", 1)
    result = api.weekly(exec_drive, week="2026-W39", as_of=LATE)
    assert [d["file"] for d in result.deferred] == [ITEM]
    assert "正被" in result.deferred[0]["reason"]
    assert not (folder / "周进度汇总_2026-W39.xlsx").exists()
    html = folder / "周进度汇总_2026-W39.html"
    assert html.read_bytes() == expected[".html"].read_bytes()
    entries = [e for e in read_journal(drive_paths(exec_drive).log) if e["action"] == "weekly_lead"]
    assert [e["item"] for e in entries] == [ITEM] and entries[0]["file"].endswith(".html")
    (folder / "~$周进度汇总_2026-W39.xlsx").unlink()
    result = api.weekly(exec_drive, week="2026-W39", as_of=LATE)
    assert result.deferred == []
    assert (folder / "周进度汇总_2026-W39.xlsx").read_bytes() == expected[".xlsx"].read_bytes()


def test_a_run_builds_the_lead_reports_in_a_worker_while_it_goes_on(
    exec_drive: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``xietong run`` with many lead reports to build hands them to a worker process and
    goes on with the department reports, the archive, the summary and the notifications; they
    are finished before the run ends: the same bytes and journal as built in the process, and
    a second run writes nothing."""
    from automation.process import execution
    from automation.process.cycle import run_cycle
    from tests.intake_helpers import drive_hashes

    as_of = dt.datetime(2026, 10, 9, 17, 30, tzinfo=TZ)
    reference = tmp_path / "reference"
    shutil.copytree(exec_drive, reference, symlinks=True)
    run_cycle(reference, as_of=as_of, settle_s=0)  # few reports: built in the process
    started: list[execution.LeadsInFlight] = []

    class Watched(execution.LeadsInFlight):
        def __init__(self, ctx, first, rest) -> None:  # type: ignore[no-untyped-def]
            super().__init__(ctx, first, rest)
            # while the worker builds them, the run's readers leave its files alone
            assert all(ctx.cache.written_here(t) for job in first + rest for t in job.targets)
            started.append(self)

    monkeypatch.setattr(execution, "LEAD_PARALLEL_MIN", 1)
    monkeypatch.setattr(execution, "LeadsInFlight", Watched)
    run_cycle(exec_drive, as_of=as_of, settle_s=0)
    assert len(started) == 1 and started[0].written
    assert started[0].groups == [[], []]  # every job waited for
    made = sorted(p.relative_to(reference) for p in reference.rglob("周进度汇总_*"))
    assert made and made == sorted(
        p.relative_to(exec_drive) for p in exec_drive.rglob("周进度汇总_*")
    )
    for rel in made:
        assert (exec_drive / rel).read_bytes() == (reference / rel).read_bytes()

    def leads(drive: Path) -> list[str]:
        log = read_journal(drive_paths(drive).log)
        return sorted(e["file"] for e in log if e["action"] == "weekly_lead")

    assert leads(exec_drive) == leads(reference) and leads(exec_drive)
    before = drive_hashes(exec_drive)
    run_cycle(exec_drive, as_of=as_of, settle_s=0)
    assert drive_hashes(exec_drive) == before


def test_a_cold_run_starts_the_lead_report_worker_before_the_write_back(
    exec_drive: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run that read many workbooks starts the lead-report worker ahead; the rollup hands
    that same worker the reports; a worker started ahead and not taken ends with the run."""
    import multiprocessing

    from automation.io import cache
    from automation.process import cycle, execution
    from automation.process.cycle import run_cycle

    as_of = dt.datetime(2026, 10, 9, 17, 30, tzinfo=TZ)
    taken: list[bool] = []
    real_pool = execution._lead_pool

    def watched_pool():  # type: ignore[no-untyped-def]
        taken.append(bool(execution._READY))
        return real_pool()

    monkeypatch.setattr(cache, "PARALLEL_MIN", 1)  # this small drive read as a cold one
    monkeypatch.setattr(cycle, "LEAD_PARALLEL_MIN", 1)
    monkeypatch.setattr(execution, "LEAD_PARALLEL_MIN", 1)
    monkeypatch.setattr(execution, "_lead_pool", watched_pool)
    run_cycle(exec_drive, as_of=as_of, settle_s=0)
    assert taken == [True] and execution._READY == []
    assert list(exec_drive.rglob("周进度汇总_*.xlsx"))

    # started ahead, not taken: let go, its process ends
    execution.prepare_lead_worker()
    [pool] = execution._READY
    pid = pool.submit(os.getpid).result(timeout=60)
    execution.release_lead_worker()
    assert execution._READY == []
    deadline = time.monotonic() + 30
    while pid in {p.pid for p in multiprocessing.active_children()}:
        assert time.monotonic() < deadline, "the worker started ahead did not end"
        time.sleep(0.05)


def test_waiting_for_the_lead_reports_the_run_builds_those_the_worker_has_not_started(
    exec_drive: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Waited for at once (the worker process is still starting), the run builds the chunks
    of the queue the worker has not taken, from the last one back: every report written
    once, the same bytes as the worker's, each booked in the journal."""
    import dataclasses

    from automation.process import execution
    from automation.process.context import open_context
    from automation.process.cycle import run_cycle

    as_of = dt.datetime(2026, 10, 9, 17, 30, tzinfo=TZ)
    seen: list[execution._LeadJob] = []

    class Capture(execution.LeadsInFlight):
        def __init__(self, ctx, first, rest) -> None:  # type: ignore[no-untyped-def]
            seen.extend(first + rest)
            super().__init__(ctx, first, rest)

    monkeypatch.setattr(execution, "LEAD_PARALLEL_MIN", 1)
    monkeypatch.setattr(execution, "LeadsInFlight", Capture)
    run_cycle(exec_drive, as_of=as_of, settle_s=0)
    job = seen[0]
    copies = []
    for n in range(8):
        base = job.base.with_name(f"副本{n}_{job.base.name}")
        targets = (base.with_suffix(".xlsx"), base.with_suffix(".html"))
        copies.append(dataclasses.replace(job, base=base, targets=targets))
    monkeypatch.setattr(execution, "LEAD_CHUNK_MIN", 1)  # one report a chunk
    with open_context(exec_drive, as_of=as_of) as ctx:
        flight = execution.LeadsInFlight(ctx, [], copies)
        assert flight.finish() == []
    assert flight.built_here >= 1  # the worker takes at most the two chunks queued for it
    assert len(flight.written) == 16
    for copy in copies:
        for made, original in zip(copy.targets, job.targets, strict=True):
            assert made.read_bytes() == original.read_bytes()
    log = [e for e in read_journal(drive_paths(exec_drive).log) if e["action"] == "weekly_lead"]
    booked = sorted(e["file"] for e in log if "副本" in e["file"])  # one entry per report
    assert booked == sorted(c.targets[0].relative_to(exec_drive).as_posix() for c in copies)


def test_the_item_folder_readers_skip_the_reports_the_run_wrote_until_someone_replaces_them(
    exec_drive: Path,
) -> None:
    from automation.core.calendar import parse_week
    from automation.process.clocks import folder_reports
    from automation.process.context import open_context
    from automation.process.execution import run_weekly

    folder = next(drive_paths(exec_drive).items.glob(f"{ITEM}*"))
    lead = folder / "周进度汇总_2026-W39.xlsx"
    with open_context(exec_drive, as_of=LATE) as ctx:
        run_weekly(ctx, parse_week("2026-W39"))
        assert lead.is_file() and ctx.cache.written_here(lead)
        before = ctx.cache.misses
        listed = [p for p, _r, _i in folder_reports(ctx, folder, [])]
        assert lead not in listed and len(listed) == 2  # the two execution workbooks
        assert ctx.cache.misses == before  # nothing read: the workbooks were read before
    # someone saves a workbook of their own under that name: it is read again
    shutil.copyfile(next(folder.glob("模板四_*生产部.xlsx")), lead)
    with open_context(exec_drive, as_of=LATE) as ctx:
        assert not ctx.cache.written_here(lead)
        found = {p: r for p, r, _i in folder_reports(ctx, folder, [])}
        assert found[lead].kind == "execution"


def test_a_row_the_table_kept_keeps_its_objects_through_the_stages(exec_drive: Path) -> None:
    """The write-back rewrites the tracking table when one row's clock moves; the stages after
    it key their work on the row objects, so a row whose values stayed is the very dict of the
    version read before, and its item and clock cycle the very objects: only the row that
    changed is worked out again (a warm cycle of a large drive does not redo every item)."""
    from automation.process.clocks import clock_results_by_cycle, item_cycles
    from automation.process.context import open_context
    from automation.process.execution import read_items
    from automation.process.tracking import read_tracking

    rules = load_rules()
    form = rules.form("tracking")
    tracking = drive_paths(exec_drive).tracking
    other = "XT-2026-0002"

    def row_5(**values: object) -> None:
        cells = [CellEdit(f"{layout(form).columns[k]}5", v) for k, v in values.items()]
        tracking.write_bytes(patch_workbook(tracking.read_bytes(), form.sheet, cells))

    def stages() -> tuple[dict, dict, dict, dict]:
        with open_context(exec_drive, as_of=LATE) as ctx:
            rows = read_tracking(ctx).rows
            cycles = item_cycles(ctx, rows, [])
            clocks = clock_results_by_cycle(ctx, cycles)
            return (
                {r["item_id"]: r for r in rows},
                {i.item_id: i for i in read_items(ctx, [])},
                {c.item_id: c for c in cycles},
                {c.item_id: part for c, part in zip(cycles, clocks, strict=True)},
            )

    row_5(item_id=other, revision=1, title="第二件事", lead_dept="市场部", notes="")
    first = stages()
    row_5(notes="已电话沟通")  # the office notes something on the other row
    again = stages()
    for before, after in zip(first, again, strict=True):
        assert before.keys() == after.keys() == {ITEM, other}
        assert after[ITEM] is before[ITEM]  # untouched: the same object, nothing redone
    rows, items, cycles, clocks = zip(first, again, strict=True)
    assert rows[1][other] is not rows[0][other] and rows[1][other]["notes"] == "已电话沟通"
    assert items[1][other] is not items[0][other]
    assert items[1][other].fields["notes"] == "已电话沟通"
    assert cycles[1][other] is not cycles[0][other]
    # the notes are no input of a clock: its clocks are those worked out before
    assert clocks[1][other] is clocks[0][other]


def test_an_item_folder_found_as_before_is_not_read_again_and_a_file_saved_in_place_is(
    exec_drive: Path,
) -> None:
    """A later run of the process finds an item folder's workbooks as they were (each file
    looked at once, the same reports); one saved again in place — the folder's listing and
    time unchanged — is read again."""
    from automation.process.clocks import folder_reports
    from automation.process.context import open_context

    folder = next(drive_paths(exec_drive).items.glob(f"{ITEM}*"))
    old = time.time() - 3600
    for p in [*folder.iterdir(), folder]:
        os.utime(p, (old, old))

    def reports() -> tuple[list, dict]:
        with open_context(exec_drive, as_of=LATE) as ctx:
            found = folder_reports(ctx, folder, [])
            return found, {p.name: ctx.cache.identity(p) for p, _r, _i in found}

    first, idents = reports()
    again, idents_again = reports()
    assert again is first and idents_again == idents and all(idents.values())
    path = folder / f"模板四_跨部门任务执行跟踪表_{ITEM}_生产部.xlsx"
    form = load_rules().form("execution")
    lay = layout(form)
    day = lay.first_data_row + len(PRODUCTION)
    edits = [
        CellEdit(f"{lay.columns['date']}{day}", dt.datetime(2026, 10, 9)),
        CellEdit(f"{lay.columns['task']}{day}", "补一行"),
    ]
    path.write_bytes(patch_workbook(path.read_bytes(), form.sheet, edits))
    os.utime(path, (old + 60, old + 60))
    os.utime(folder, (old, old))  # saved in place: the listing says nothing
    third, idents_third = reports()
    assert third is not first and idents_third[path.name] != idents[path.name]
    rows = {p.name: r for p, r, _i in third}[path.name].rows
    assert any(r.get("task") == "补一行" for r in rows)


def _one_more_day(drive: Path, item: str, progress: float) -> Path:
    """生产部 of ``item`` adds a row for Friday 10-09 to its execution workbook (of
    :func:`_execution_drive`); the workbook."""
    folder = drive_paths(drive).items / f"{item} 新品联合推广"
    path = folder / f"模板四_跨部门任务执行跟踪表_{item}_生产部.xlsx"
    form = load_rules().form("execution")
    lay = layout(form)
    day = lay.first_data_row + len(PRODUCTION)
    values = {"date": dt.datetime(2026, 10, 9), "task": "补一行", "owner": "赵磊",
              "progress": progress, "status": "进行中", "updated_by": "赵磊"}  # fmt: skip
    edits = [CellEdit(f"{lay.columns[k]}{day}", v) for k, v in values.items()]
    path.write_bytes(patch_workbook(path.read_bytes(), form.sheet, edits))
    return path


def test_a_department_report_is_planned_again_only_for_the_rollups_that_changed(
    drive: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A department's report as this process left it holds the rollups planned into it: after
    one item's workbook changed, only that item's rollup is planned again (a department of a
    large drive reports on hundreds of items), and the report comes out as planned afresh."""
    from automation.core.calendar import parse_week
    from automation.io.cache import forget_kept_reports
    from automation.process import execution
    from automation.process.context import open_context

    other = "XT-2026-0002"
    _execution_drive(drive, more=(other,))
    paths = drive_paths(drive)
    week = parse_week("2026-W41")
    planned: list[tuple[str, ...]] = []
    plan = execution.plan_weekly_edits

    def counted(rules, rows, rollups, remembered):  # type: ignore[no-untyped-def]
        rollups = list(rollups)
        planned.append(tuple(sorted(f"{r.item}|{r.department}" for r in rollups)))
        return plan(rules, rows, rollups, remembered)

    monkeypatch.setattr(execution, "plan_weekly_edits", counted)

    def age(*files: Path) -> None:  # saved long enough ago for times to tell a later save apart
        old = time.time() - 3600
        for p in files or [*paths.items.rglob("*"), *paths.weekly.rglob("*"), paths.tracking]:
            os.utime(p, (old, old))

    def weekly() -> None:
        with open_context(drive, as_of=LATE) as ctx:
            execution.run_weekly(ctx, week)

    weekly()  # both reports written
    planned.clear()
    weekly()  # moments later: the reports as this process wrote them, known by their bytes
    assert planned == []  # the same rollups into the same reports: nothing planned
    age()
    weekly()
    assert planned == []  # and when their times have settled
    production = _one_more_day(drive, other, 0.6)
    age(production)
    state = Path(os.environ["XIETONG_STATE_DIR"])
    kept = {drive: tmp_path / "drive-before", state: tmp_path / "state-before"}
    for where, copy in kept.items():
        shutil.copytree(where, copy)
    weekly()
    # the other item's rollups only (both of its departments' are worked out again)
    assert sorted(planned) == [(f"{other}|市场部",), (f"{other}|生产部",)]
    report = weekly_path(paths, "生产部")
    wform = load_rules().form("weekly")
    ws = openpyxl.load_workbook(report)[wform.sheet]
    cols, first = layout(wform).columns, layout(wform).first_data_row
    done = {
        ws[f"{cols['item_id']}{r}"].value: ws[f"{cols['daily_rows']}{r}"].value
        for r in (first, first + 1)
    }
    assert done == {ITEM: 2, other: 3}  # the new daily row counted, the other row as it was

    def cells(path: Path) -> list[tuple]:
        return list(openpyxl.load_workbook(path)[wform.sheet].iter_rows(values_only=True))

    # the same report as a new process planning it whole from the same drive and state
    incremental = cells(report)
    for where, copy in kept.items():
        shutil.rmtree(where)
        shutil.copytree(copy, where)
    forget_kept_reports()
    planned.clear()
    weekly()
    assert len(planned[-1]) > 1  # planned whole
    assert cells(report) == incremental


def test_within_one_run_an_item_folder_is_looked_at_once_and_the_cycles_given_again(
    exec_drive: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The write-back, the summary and the notifications of one run ask for the same cycles:
    the second ask for the very rows works nothing out again. A workbook saved into an item
    folder during the run is counted by the next run."""
    from automation.process import clocks
    from automation.process.context import open_context
    from automation.process.tracking import read_tracking

    asked: list[str] = []
    records = clocks.department_records

    def counted(ctx, item_id, **kw):  # type: ignore[no-untyped-def]
        asked.append(item_id)
        return records(ctx, item_id, **kw)

    monkeypatch.setattr(clocks, "department_records", counted)
    folder = next(drive_paths(exec_drive).items.glob(f"{ITEM}*"))
    production = folder / f"模板四_跨部门任务执行跟踪表_{ITEM}_生产部.xlsx"
    with open_context(exec_drive, as_of=LATE) as ctx:
        rows = read_tracking(ctx).rows
        first = clocks.item_cycles(ctx, rows, [])
        again = clocks.item_cycles(ctx, list(rows), [])
        assert asked == [ITEM] and len(again) == 1 and again[0] is first[0]
        shutil.copyfile(production, folder / "模板四_跨部门任务执行跟踪表_副本.xlsx")
        listed = [p.name for p, _r, _i in clocks.folder_reports(ctx, folder, [])]
        assert "模板四_跨部门任务执行跟踪表_副本.xlsx" not in listed and len(listed) == 2
    with open_context(exec_drive, as_of=LATE) as ctx:
        listed = [p.name for p, _r, _i in clocks.folder_reports(ctx, folder, [])]
        assert "模板四_跨部门任务执行跟踪表_副本.xlsx" in listed


def test_the_tracking_table_as_written_is_read_without_validating_it_and_as_validated(
    drive: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After the write-back rewrote clock cells, the stages after it (and the next run) read
    the table as written without validating its thousands of rows again: the rows and
    problems told from the cells written are those validating the file gives — a number the
    office typed as text in a clock cell, overwritten, is no longer a problem."""
    from automation.io import cache as cache_module
    from automation.io.validation import validate_file
    from automation.process.context import open_context
    from automation.process.cycle import run_cycle
    from automation.process.tracking import read_tracking

    _execution_drive(drive, more=("XT-2026-0002", "XT-2026-0003"))
    paths = drive_paths(drive)
    rules = load_rules()
    form = rules.form("tracking")
    lay = layout(form)
    run_cycle(drive, as_of=LATE, settle_s=0)
    garbage = CellEdit(f"{lay.columns['late_workdays']}{lay.first_data_row + 1}", "很多")
    paths.tracking.write_bytes(patch_workbook(paths.tracking.read_bytes(), form.sheet, [garbage]))
    validated: list[Path] = []
    real = cache_module.ValidationCache._validate

    def counted(self, path):  # type: ignore[no-untyped-def]
        validated.append(path)
        return real(self, path)

    monkeypatch.setattr(cache_module.ValidationCache, "_validate", counted)
    for day in range(4):
        as_of = LATE + dt.timedelta(days=day)
        before = paths.tracking.read_bytes()
        validated.clear()
        run_cycle(drive, as_of=as_of, settle_s=0)
        assert paths.tracking.read_bytes() != before  # the clock cells moved: written
        with open_context(drive, as_of=as_of) as ctx:
            table = read_tracking(ctx)
        # the office's version (the first day) validated; the version written by the run
        # neither by the stages after the write-back nor by the next read
        assert len([p for p in validated if p.name == paths.tracking.name]) == (day == 0)
        fresh = validate_file(paths.tracking, rules)
        assert repr(table.rows) == repr(fresh.rows)
        assert sorted((p.code, p.cell, p.field) for p in table.problems) == sorted(
            (p.code, p.cell, p.field) for p in fresh.problems
        )
        assert not any(p.field == "late_workdays" for p in fresh.problems)


def test_a_weekly_report_as_written_is_read_without_validating_it_and_as_validated(
    drive: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The rollup's cells written into a department's report: the clocks, the summary and
    the next run read the report as written without validating it again (it was saved
    moments ago: known by its bytes), and it reads as validating the file gives."""
    from automation.core.calendar import parse_week
    from automation.io import cache as cache_module
    from automation.io.validation import validate_file
    from automation.process import execution
    from automation.process.context import open_context

    other = "XT-2026-0002"
    _execution_drive(drive, more=(other,))
    paths = drive_paths(drive)
    rules = load_rules()
    week = parse_week("2026-W41")
    with open_context(drive, as_of=LATE) as ctx:
        execution.run_weekly(ctx, week)  # the reports made
    _one_more_day(drive, other, 0.55)
    report = weekly_path(paths, "生产部")
    before = report.read_bytes()
    validated: list[str] = []
    real = cache_module.ValidationCache._validate
    monkeypatch.setattr(
        cache_module.ValidationCache,
        "_validate",
        lambda self, path: validated.append(path.name) or real(self, path),
    )
    with open_context(drive, as_of=LATE) as ctx:
        execution.run_weekly(ctx, week)
    assert report.read_bytes() != before  # the other item's row rewritten
    validated.clear()
    with open_context(drive, as_of=LATE) as ctx:
        told = ctx.cache.validate(report)
    assert report.name not in validated  # not read again
    fresh = validate_file(report, rules)
    assert repr(told.rows) == repr(fresh.rows)
    assert [(p.code, p.cell) for p in told.problems] == [(p.code, p.cell) for p in fresh.problems]
    assert {r["item_id"]: r["daily_rows"] for r in told.rows} == {ITEM: 2, other: 3}
