"""``xietong calendar …`` and ``xietong clocks DRIVE`` run as a user would, on real workbooks."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from tests.conftest import run_cli

D = dt.date


def test_calendar_check_json_for_a_makeup_saturday() -> None:
    proc = run_cli("calendar", "check", "2026-10-10", "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == {
        "date": "2026-10-10",
        "workday": True,
        "kind": "makeup",
        "name": "国庆节调休上班",
        "provisional": False,
    }


def test_calendar_add_json_across_national_day() -> None:
    proc = run_cli("calendar", "add", "2026-09-30", "2", "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == {
        "start": "2026-09-30",
        "n": 2,
        "due": "2026-10-09",
        "due_at": "2026-10-09T18:00:00+08:00",
        "provisional": False,
    }


def test_calendar_week_json_when_friday_is_a_holiday() -> None:
    proc = run_cli("calendar", "week", "2026-W40", "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == {
        "week": "2026-W40",
        "workdays": ["2026-09-28", "2026-09-29", "2026-09-30"],
        "due_at": "2026-09-30T18:00:00+08:00",
        "provisional": False,
    }


def test_a_provisional_day_is_flagged_and_warned_about() -> None:
    proc = run_cli("calendar", "check", "2027-03-10")
    assert proc.returncode == 0
    assert "推算" in proc.stdout and "rules/calendar.yaml" in proc.stderr


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (("calendar", "check", "2026-02-30"), "E_BAD_DATE"),
        (("calendar", "add", "next friday", "2"), "E_BAD_DATE"),
        (("calendar", "week", "2026-W60"), "E_BAD_WEEK"),
        (("calendar", "add", "--", "2026-09-30", "-3"), "E_BAD_NUMBER"),
    ],
)
def test_bad_input_gives_a_code_and_exit_2(args, code) -> None:
    proc = run_cli(*args)
    assert proc.returncode == 2
    assert f"[{code}]" in proc.stderr and "Traceback" not in proc.stderr


def test_a_2027_override_in_a_rules_folder_is_used(tmp_path: Path) -> None:
    folder = tmp_path / "rules"
    folder.mkdir()
    (folder / "calendar.yaml").write_text(
        "years:\n  2027:\n    holidays:\n      - {date: 2027-03-10, name: 测试假日}\n",
        encoding="utf-8",
    )
    proc = run_cli("calendar", "check", "2027-03-10", "--json", "--rules", str(folder))
    out = json.loads(proc.stdout)
    assert out["workday"] is False and out["name"] == "测试假日" and out["provisional"] is False


def test_a_malformed_override_is_reported_with_file_and_key(tmp_path: Path) -> None:
    folder = tmp_path / "rules"
    folder.mkdir()
    (folder / "calendar.yaml").write_text(
        "years:\n  2027:\n    holidays:\n      - {date: 2027-02-08}\n"
        "    workdays:\n      - {date: 2027-02-08}\n",
        encoding="utf-8",
    )
    proc = run_cli("calendar", "check", "2027-02-08", "--rules", str(folder))
    assert proc.returncode == 2
    assert "calendar.yaml" in proc.stderr and "years[2027].workdays[0]" in proc.stderr
    assert "[E_RULES]" in proc.stderr


# -- clocks DRIVE ----------------------------------------------------------------------------


def _needs_validation() -> None:
    pytest.importorskip("automation.io.validation", reason="the validator (helper B) is not there")


def _fill_drive(root: Path) -> None:
    """A tracking table with two items and one execution workbook, written as real .xlsx."""
    from automation.io.drive import drive_paths
    from automation.io.templates import write_workbook
    from automation.rules import load_rules

    rules = load_rules()
    paths = drive_paths(root)
    rows = [
        {
            "item_id": "XT-2026-0001",
            "revision": 1,
            "submitted_date": D(2026, 9, 29),
            "registered_date": D(2026, 9, 30),
            "requesting_dept": "市场部",
            "title": "国庆活动联合推广",
        },
        {
            "item_id": "XT-2026-0002",
            "revision": 1,
            "submitted_date": D(2026, 9, 14),
            "registered_date": D(2026, 9, 14),
            "requesting_dept": "研发部",
            "title": "新产品试产",
            "evaluation_result": "通过",
            "evaluation_date": D(2026, 9, 15),
            "lead_dept": "研发部",
            "coop_depts": ["生产部"],
            "meeting_date": D(2026, 9, 16),
            "minutes_date": D(2026, 9, 17),
            "plan_date": D(2026, 9, 22),
            "approval_date": D(2026, 9, 28),
        },
    ]
    paths.tracking.unlink()
    write_workbook("tracking", rules, paths.tracking, rows=rows)
    folder = paths.items / "XT-2026-0002 新产品试产"
    folder.mkdir(parents=True, exist_ok=True)
    daily = [
        {
            "date": d,
            "task": "试产准备",
            "owner": "赵磊",
            "progress": 0.2,
            "status": "进行中",
            "updated_by": "赵磊",
        }
        for d in (D(2026, 9, 28), D(2026, 9, 29), D(2026, 10, 8))
    ]
    write_workbook(
        "execution",
        rules,
        folder / "模板四_跨部门任务执行跟踪表_XT-2026-0002_生产部.xlsx",
        values={
            "item_id": "XT-2026-0002",
            "department": "生产部",
            "exec_lead_dept": "研发部",
            "plan_submitted_date": D(2026, 9, 21),
        },
        rows=daily,
    )


def test_clocks_of_a_drive_as_json(drive: Path) -> None:
    _needs_validation()
    _fill_drive(drive)
    proc = run_cli("clocks", str(drive), "--as-of", "2026-10-09T10:00:00", "--json")
    assert proc.returncode == 0, proc.stderr
    rows = json.loads(proc.stdout)
    by = {(r["item"], r["clock"], r["department"]): r for r in rows}
    ev = by[("XT-2026-0001", "evaluation_pass", None)]
    assert ev["due_at"] == "2026-10-09T18:00:00+08:00" and ev["state"] == "at_risk"
    for key in ("item", "clock", "department", "start", "due_at", "state", "used"):
        assert key in ev
    assert "late_workdays" in ev and "provisional" in ev
    daily = by[("XT-2026-0002", "daily_rows", "生产部")]
    assert daily["state"] == "breached" and daily["missing"] == ["2026-09-30"]
    plan = by[("XT-2026-0002", "dept_plan", "生产部")]
    assert plan["state"] == "met"  # 9-21 within 3 working days of the minutes (9-17)
    weekly = by[("XT-2026-0002", "weekly_report", "生产部")]
    assert weekly["state"] == "breached" and weekly["missing"] == ["2026-W40"]


def test_clocks_item_explains_each_due_date(drive: Path) -> None:
    _needs_validation()
    _fill_drive(drive)
    proc = run_cli("clocks", str(drive), "--as-of", "2026-10-09T10:00", "--item", "XT-2026-0001")
    assert proc.returncode == 0, proc.stderr
    assert "2026-10-08、2026-10-09" in proc.stdout  # the working days counted
    assert "跳过：2026-10-01 节假日 国庆节" in proc.stdout
    as_json = run_cli(
        "clocks", str(drive), "--as-of", "2026-10-09T10:00", "--item", "XT-2026-0001", "--json"
    )
    out = json.loads(as_json.stdout)
    ev = next(c for c in out["cycles"][0]["clocks"] if c["clock"] == "evaluation_pass")
    assert ev["derivation"]["counted"] == ["2026-10-08", "2026-10-09"]
    assert len(ev["derivation"]["skipped"]) == 7


def test_clocks_table_and_errors(drive: Path, tmp_path: Path) -> None:
    _needs_validation()
    _fill_drive(drive)
    table = run_cli("clocks", str(drive), "--as-of", "2026-10-09")
    assert table.returncode == 0, table.stderr
    assert "XT-2026-0001" in table.stdout and "评估通过" in table.stdout
    unknown = run_cli("clocks", str(drive), "--item", "XT-2026-0999")
    assert unknown.returncode == 2 and "[E_UNKNOWN_ITEM]" in unknown.stderr
    bad = run_cli("clocks", str(drive), "--as-of", "yesterday")
    assert bad.returncode == 2 and "[E_BAD_DATE]" in bad.stderr
    missing = run_cli("clocks", str(tmp_path / "nowhere"))
    assert missing.returncode == 2 and "[E_NO_DRIVE]" in missing.stderr
