"""The per-file results the later stages share (``automation.core.digest``)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from automation.core.digest import (
    counted_weekly_rows,
    daily_rows,
    report_digest,
    week_text,
    weekly_needed,
)
from automation.core.rollup import DailyRow
from automation.io.validation import FileReport
from automation.rules import load_rules


def test_daily_rows_keep_the_dated_rows_in_order_as_typed_values():
    rows = [
        {"date": dt.datetime(2026, 10, 12), "task": " 调研 ", "progress": 0.5, "status": "进行中"},
        {"date": None, "task": "没有日期"},
        {
            "date": "2026-10-13",
            "task": ["甲", "乙"],
            "progress": "x",
            "needs_coordination": "需财务",
        },
    ]
    got = daily_rows(rows)
    assert got == (
        DailyRow(dt.date(2026, 10, 12), "调研", 0.5, "进行中", "", ""),
        DailyRow(dt.date(2026, 10, 13), "甲、乙", None, "", "", "需财务"),
    )


def test_a_weekly_row_counts_only_when_every_needed_column_is_filled_and_the_week_reads():
    needed = ("item_id", "done", "submitted_by")
    rows = [
        {
            "week": "2026-W41",
            "item_id": "XT-1",
            "department": "财务部",
            "done": "完成",
            "submitted_by": "张三",
            "submitted_date": dt.datetime(2026, 10, 9),
        },
        {"week": "2026-W41", "item_id": "XT-2", "done": "  ", "submitted_by": "张三"},
        {"week": "第41周", "item_id": "XT-3", "done": "完成", "submitted_by": "张三"},
        {"week": "2026-w42", "item_id": "XT-4", "done": "完成", "submitted_by": "李四"},
    ]
    got = counted_weekly_rows(rows, needed)
    assert [(r.week, r.item, r.submitted) for r in got] == [
        ("2026-W41", "XT-1", dt.date(2026, 10, 9)),
        ("2026-W42", "XT-4", None),
    ]
    assert week_text(None) is None and week_text("2026-W53") is week_text("2026-W53")


def test_a_reports_digest_is_made_once_and_again_for_other_weekly_columns():
    rules = load_rules()
    needed = weekly_needed(rules.form("weekly").columns)
    assert needed and "week" in needed
    row = {k: "x" for k in needed} | {"week": "2026-W41", "item_id": "XT-1"}
    report = FileReport(Path("w.xlsx"), kind="weekly", rows=[row])
    first = report_digest(report, needed)
    assert report.digest is first and len(first["counted"]) == 1
    assert report_digest(report, needed) is first  # kept on the report
    stricter = report_digest(report, (*needed, "not_a_column"))
    assert stricter is not first and stricter["counted"] == ()
    assert report_digest(FileReport(Path("m.xlsx"), kind="minutes"), needed) == {}
