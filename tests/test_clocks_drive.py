"""Reading a drive into clock inputs: execution workbooks, weekly reports, cycles."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

pytest.importorskip("automation.io.validation", reason="the validator (helper B) is not there")

from automation.api import clocks, explain_clocks  # noqa: E402
from automation.io.drive import drive_paths  # noqa: E402
from automation.io.templates import write_workbook  # noqa: E402
from automation.process.clocks import department_records, read_inputs  # noqa: E402
from automation.process.context import new_context  # noqa: E402
from automation.rules import load_rules  # noqa: E402
from tests.test_cli_calendar import _fill_drive  # noqa: E402

D = dt.date
TZ = dt.timezone(dt.timedelta(hours=8))


def _weekly_row(week: str, dept: str, item: str = "XT-2026-0002", done: str = "完成试产准备"):
    return {
        "week": week,
        "department": dept,
        "item_id": item,
        "done": done,
        "submitted_by": "赵磊",
        "submitted_date": D(2026, 9, 30),
    }


def test_weekly_reports_and_execution_rows_become_department_records(drive: Path) -> None:
    rules = load_rules()
    _fill_drive(drive)
    paths = drive_paths(drive)
    write_workbook(
        "weekly",
        rules,
        paths.weekly / "周进度报告_生产部_2026-W40.xlsx",
        rows=[
            _weekly_row("2026-W40", "生产部"),
            _weekly_row("2026-W41", "生产部", done=""),  # not a report: nothing written
            _weekly_row("2026-W39", "生产部", item="XT-2026-0999"),  # another item
        ],
    )
    (paths.weekly / "~$周进度报告_生产部_2026-W41.xlsx").write_bytes(b"lock")  # Excel owner file
    records = department_records(new_context(paths, rules), "XT-2026-0002")
    prod = records["生产部"]
    assert prod.weekly_weeks == frozenset({"2026-W40"})
    assert prod.daily_dates == frozenset({D(2026, 9, 28), D(2026, 9, 29), D(2026, 10, 8)})
    assert prod.fields["plan_submitted_date"] == D(2026, 9, 21)

    rows = [
        r.as_dict() for r in clocks(drive, as_of=dt.datetime(2026, 10, 9, 10, tzinfo=TZ)).results
    ]
    weekly = next(r for r in rows if r["clock"] == "weekly_report")
    assert weekly["missing"] == [] and weekly["state"] == "at_risk"  # W41: 10-08, 10-09 only


def test_an_execution_workbook_of_another_item_in_the_folder_is_ignored(drive: Path) -> None:
    rules = load_rules()
    _fill_drive(drive)
    paths = drive_paths(drive)
    folder = next(paths.items.glob("XT-2026-0002*"))
    write_workbook(
        "execution",
        rules,
        folder / "copied.xlsx",
        values={"item_id": "XT-2026-0001", "department": "生产部"},
        rows=[
            {
                "date": D(2026, 9, 30),
                "task": "x",
                "owner": "y",
                "progress": 0.1,
                "status": "进行中",
                "updated_by": "y",
            }
        ],
    )
    records = department_records(new_context(paths, rules), "XT-2026-0002")
    assert D(2026, 9, 30) not in records["生产部"].daily_dates


def test_every_cycle_is_read_and_only_the_latest_gets_departments(drive: Path) -> None:
    rules = load_rules()
    paths = drive_paths(drive)
    rows = [
        {
            "item_id": "XT-2026-0003",
            "revision": 1,
            "submitted_date": D(2026, 3, 2),
            "registered_date": D(2026, 3, 2),
            "evaluation_result": "不通过",
            "evaluation_date": D(2026, 3, 3),
            "title": "第一版",
        },
        {
            "item_id": "XT-2026-0003",
            "revision": 2,
            "submitted_date": D(2026, 3, 9),
            "registered_date": D(2026, 3, 10),
            "title": "第二版",
        },
    ]
    paths.tracking.unlink()
    write_workbook("tracking", rules, paths.tracking, rows=rows)
    inputs = read_inputs(new_context(paths, rules))
    assert [(c.item_id, c.cycle) for c in inputs.cycles] == [
        ("XT-2026-0003", 1),
        ("XT-2026-0003", 2),
    ]
    out = explain_clocks(drive, "xt-2026-0003", as_of=dt.datetime(2026, 3, 12, 10, tzinfo=TZ))
    assert [c["cycle"] for c in out["cycles"]] == [1, 2]
    assert out["cycles"][0]["state_zh"] == "按时完成"
    assert out["cycles"][1]["state_zh"] == "预警"


def test_clocks_are_kept_while_their_inputs_are_the_same(drive: Path) -> None:
    """The write-back's own columns are not inputs, and department records worked out again
    with the same values are the same inputs: the kept clocks, the very list object."""
    from automation.core.clocks import DeptRecord, ItemCycle
    from automation.process.clocks import clock_results_by_cycle

    rules = load_rules()
    ctx = new_context(drive_paths(drive), rules, as_of=dt.datetime(2026, 10, 9, 10, tzinfo=TZ))
    fields = {
        "item_id": "XT-2026-0002",
        "revision": 1,
        "registered_date": D(2026, 9, 1),
        "evaluation_result": "通过",
        "evaluation_date": D(2026, 9, 2),
        "coop_depts": ["生产部"],
        "approval_date": D(2026, 9, 20),
    }

    def record(*days: dt.date) -> dict[str, DeptRecord]:
        return {"生产部": DeptRecord({"plan_submitted_date": D(2026, 9, 21)}, frozenset(days))}

    first = clock_results_by_cycle(
        ctx, [ItemCycle("XT-2026-0002", 1, fields, record(D(2026, 9, 28)))]
    )
    written = {**fields, "current_stage": "执行", "clock_state": "已超期", "late_workdays": 3}
    again = clock_results_by_cycle(
        ctx, [ItemCycle("XT-2026-0002", 1, written, record(D(2026, 9, 28)))]
    )
    assert again[0] is first[0]
    new_row = clock_results_by_cycle(
        ctx, [ItemCycle("XT-2026-0002", 1, written, record(D(2026, 9, 28), D(2026, 9, 29)))]
    )
    assert new_row[0] is not first[0]
    moved = clock_results_by_cycle(
        ctx,
        [ItemCycle("XT-2026-0002", 1, {**written, "approval_date": D(2026, 9, 22)}, record())],
    )
    assert moved[0] is not new_row[0] and moved[0] != new_row[0]


def test_clocks_taken_as_they_were_in_business_hours_read_as_worked_out_afresh(
    tmp_path, monkeypatch
):
    """A service's cycles through a working day: each cycle's clocks are taken as they were
    worked out earlier that day until a moment told in advance, and read (but for the share
    of time used) as clocks worked out afresh at every moment, item statuses included."""
    from automation.core import clocks as core
    from automation.core.calendar import week_label
    from automation.demo import DEFAULT_AS_OF, run_demo
    from automation.process import clocks as process
    from automation.process import execution
    from automation.process.context import open_context

    root = tmp_path / "drive"
    run_demo(root, as_of=DEFAULT_AS_OF, echo=lambda *a: None)
    worked_out: list[dt.datetime] = []
    real = process.compute_clocks

    def counting(cycles, rules, calendar, as_of, **kw):
        worked_out.append(as_of)
        return real(cycles, rules, calendar, as_of, **kw)

    monkeypatch.setattr(process, "compute_clocks", counting)
    rolled: list[str] = []
    real_rollups = execution.item_rollups

    def rolling(item, *args):
        rolled.append(item.item_id)
        return real_rollups(item, *args)

    monkeypatch.setattr(execution, "item_rollups", rolling)
    day = DEFAULT_AS_OF.date()
    start = DEFAULT_AS_OF.replace(hour=9, minute=0)
    moments = [start + dt.timedelta(minutes=m) for m in range(0, 9 * 60, 17)]  # to 17:58
    asked = 0
    for moment in moments:  # as a service's cycles come through the day
        with open_context(root, as_of=moment) as ctx:
            assert moment.date() == day and ctx.moment == moment  # business hours
            cycles = read_inputs(ctx).cycles
            parts = process.clock_results_by_cycle(ctx, cycles)
            fresh = [
                core.compute_clocks([c], ctx.rules.clocks, ctx.calendar, moment, explain=False)
                for c in cycles
            ]
            week = execution.parse_target_week(None, moment)
            items, rollups, _ = execution.compute_weekly(ctx, week)
            filed = [r for it in items for r in it.weekly_reports]
            sent = execution.weekly_submissions(ctx, [], filed, week=week_label(*week))
            assert rollups == [
                r
                for it in items
                for r in real_rollups(it, ctx.rules, ctx.calendar, moment, week, sent)
            ]
        assert [list(map(core.steady_view, p)) for p in parts] == [
            list(map(core.steady_view, f)) for f in fresh
        ]
        assert [core.item_status(p) for p in parts] == [core.item_status(f) for f in fresh]
        asked += len(cycles)
    again = [m for m in worked_out if m in moments]  # not the probes ten minutes ahead
    assert len(cycles) < len(again) < asked / 2  # most taken as they were, some worked out again
    assert len(items) <= len(rolled) < len(items) * len(moments) / 2  # the rollups too
