"""Validating 500 filled request forms and one 100,000-row execution table, against
``pandas.read_excel(engine="openpyxl")`` merely reading the same files, in the same run.

Run by hand: ``python -m pytest -m benchmark benchmarks/bench_validate.py -o addopts="" -q -s``.
Target: at least 8x faster. Both sides run on the same files in the same process, in alternating
rounds (xietong, pandas, xietong, pandas …) so that a busy machine slows both alike; every
round's timings are printed, then the ratios of the best and of the median rounds. Asserts only
that every file validated as expected (never a timing).
"""

from __future__ import annotations

import datetime as dt
import statistics
import time
from pathlib import Path

import pandas as pd
import pytest
import xlsxwriter

from automation.core.layout import layout
from automation.io.templates import write_workbook
from automation.io.validation import validate_file
from automation.rules import load_rules

pytestmark = pytest.mark.benchmark

FORMS = 500
ROWS = 100_000
ROUNDS = 3


def _request_values(i: int) -> dict:
    return {
        "requesting_dept": ["研发部", "技术部", "生产部", "IT部"][i % 4],
        "requester": f"张{i}",
        "contact": f"1380013{i:04d}",
        "request_date": ["2026-03-10", "2026/3/10", "2026年3月10日", "20260310"][i % 4],
        "collab_type": "跨部门项目",
        "urgency": "一般",
        "title": f"事项 {i}",
        "goal": "目标",
        "task_content": "内容",
        "milestones": "3月20日完成方案",
        "expected_start": "3月12日",
        "expected_finish": "2026-04-30",
        "expected_results": "成果",
        "budget_amount": ["5万元", "50,000", 50000, ""][i % 4],
        "budget_account": "研发费用",
        "funding_source": "专项预算",
        "suggested_depts": "生产部、IT部",
        "is_major": "否",
        "dept_head": "刘洋",
        "sign_date": dt.datetime(2026, 3, 10),
    }


def _big_execution(rules, path: Path) -> Path:
    """The execution workbook's layout and marker with 100,000 daily rows (xlsxwriter, streamed)."""
    from automation.core.calendar import WorkCalendar

    calendar = WorkCalendar.from_rules(rules.calendar)
    form = rules.form("execution")
    lay = layout(form)
    wb = xlsxwriter.Workbook(str(path), {"constant_memory": True, "strings_to_formulas": False})
    ws = wb.add_worksheet(form.sheet)
    date_fmt = wb.add_format({"num_format": "yyyy-mm-dd"})
    pct = wb.add_format({"num_format": "0%"})
    ws.write_string(0, 0, form.title)
    for f in form.form_fields:
        r = int(lay.cells[f.key][1:]) - 1
        ws.write_string(r, 0, f.label)
        value = {"item_id": "XT-2026-0001", "department": "研发部"}.get(f.key)
        if value:
            ws.write_string(r, 1, value)
    header = lay.header_row - 1
    for i, c in enumerate(form.columns):
        ws.write_string(header, i, c.label)
    cols = {k: i for i, k in enumerate(lay.columns)}
    day = dt.date(2026, 3, 2)
    days = []
    while len(days) < 200:
        if calendar.is_workday(day):
            days.append(day)
        day += dt.timedelta(days=1)
    for n in range(ROWS):
        r = header + 1 + n
        d = days[n % len(days)]
        ws.write_datetime(r, cols["date"], dt.datetime(d.year, d.month, d.day), date_fmt)
        ws.write_string(r, cols["task"], f"任务 {n}")
        ws.write_string(r, cols["owner"], ["张三", "李四", "王五"][n % 3])
        ws.write_number(r, cols["progress"], (n % 100) / 100, pct)
        ws.write_string(r, cols["status"], ["进行中", "已完成", "滞后"][n % 3])
        if n % 7 == 0:
            ws.write_string(r, cols["problems"], f"问题 {n}")
        ws.write_string(r, cols["updated_by"], "张三")
    marker = wb.add_worksheet("_xietong")
    marker.write_string(0, 0, "xietong")
    marker.write_string(0, 1, "execution")
    marker.write_number(0, 2, form.version)
    marker.very_hidden()
    wb.close()
    return path


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    rules = load_rules()
    folder = tmp_path_factory.mktemp("bench")
    forms = [
        write_workbook("request", rules, folder / f"申请_{i:03d}.xlsx", values=_request_values(i))
        for i in range(FORMS)
    ]
    return rules, forms, _big_execution(rules, folder / "执行_大表.xlsx")


def _timed(fn):
    """(seconds, result) of one call."""
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def test_validate_vs_pandas_openpyxl(files):
    rules, forms, big = files
    from automation.core.calendar import WorkCalendar

    calendar = WorkCalendar.from_rules(rules.calendar)
    validate_file(forms[0], rules, calendar=calendar)  # start the reader process once
    today = dt.date(2026, 3, 1)

    timings: dict[str, list[float]] = {
        "ours_forms": [],
        "ours_big": [],
        "pd_forms": [],
        "pd_big": [],
    }
    print()
    for n in range(1, ROUNDS + 1):
        # each result is checked, then dropped before the next timing (as pandas' frames are)
        seconds, reports = _timed(
            lambda: [validate_file(p, rules, calendar=calendar, today=today) for p in forms]
        )
        timings["ours_forms"].append(seconds)
        assert len(reports) == FORMS and all(r.ok for r in reports), [
            r.problems for r in reports if not r.ok
        ][:1]
        assert all(r.fields["requester"] == f"张{i}" for i, r in enumerate(reports))
        del reports
        seconds, report = _timed(lambda: validate_file(big, rules, calendar=calendar, today=today))
        timings["ours_big"].append(seconds)
        assert len(report.rows) == ROWS and report.ok, report.problems[:3]
        assert report.rows[-1]["task"] == f"任务 {ROWS - 1}"
        del report
        seconds, frames = _timed(lambda: [pd.read_excel(p, engine="openpyxl") for p in forms])
        timings["pd_forms"].append(seconds)
        del frames
        seconds, frame = _timed(lambda: pd.read_excel(big, engine="openpyxl"))
        timings["pd_big"].append(seconds)
        assert len(frame) > ROWS
        del frame
        print(
            f"round {n}: xietong {timings['ours_forms'][-1]:5.2f}s + {timings['ours_big'][-1]:5.2f}s"
            f"   pandas/openpyxl {timings['pd_forms'][-1]:5.2f}s + {timings['pd_big'][-1]:5.2f}s"
        )

    for label, pick in (("best", min), ("median", statistics.median)):
        ours_forms, ours_big = pick(timings["ours_forms"]), pick(timings["ours_big"])
        pd_forms, pd_big = pick(timings["pd_forms"]), pick(timings["pd_big"])
        ours, theirs = ours_forms + ours_big, pd_forms + pd_big
        print(f"-- {label} of {ROUNDS} rounds")
        print(
            f"{FORMS} request forms : xietong validate {ours_forms:6.2f}s   "
            f"pandas/openpyxl read {pd_forms:6.2f}s   x{pd_forms / ours_forms:.1f}"
        )
        print(
            f"{ROWS:,}-row table: xietong validate {ours_big:6.2f}s   "
            f"pandas/openpyxl read {pd_big:6.2f}s   x{pd_big / ours_big:.1f}"
        )
        print(
            f"total            : xietong validate {ours:6.2f}s   "
            f"pandas/openpyxl read {theirs:6.2f}s   x{theirs / ours:.1f} (target x8)"
        )
