"""The weekly rollup of one week over a whole drive: 2,000 items × 3 departments × 60 working
days of daily rows, held in memory as records (no workbooks), rolled up with the plain-Python
core (``automation.core.rollup.weekly_rollup``) and with a pandas group-by.

Run by hand: ``python -m pytest -m benchmark benchmarks/bench_rollup.py -o addopts="" -q -s``.
Both ways run in alternating rounds in one process and must give the same days with a row,
missing days, latest progress and problems; every round's time is printed (never asserted).
"""

from __future__ import annotations

import datetime as dt
import statistics
import time

import pandas as pd
import pytest

from automation.core.calendar import WorkCalendar, parse_week
from automation.core.rollup import DailyRow, first_execution_day, weekly_rollup
from automation.rules import load_rules

pytestmark = pytest.mark.benchmark

ITEMS = 2_000
DEPTS = ("生产部", "市场部", "财务部")
WORKDAYS = 60
ROUNDS = 3
WEEK = "2026-W24"
AS_OF = dt.datetime(2026, 6, 15, 10, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))
PROBLEMS = ("", "", "", "设备未到位", "", "人手不足", "", "")


def _drive(cal: WorkCalendar) -> tuple[dict[str, dt.date], dict[tuple[str, str], list[DailyRow]]]:
    """Approval dates by item and the daily rows by (item, department); a few days skipped."""
    starts: dict[str, dt.date] = {}
    rows: dict[tuple[str, str], list[DailyRow]] = {}
    for i in range(ITEMS):
        item = f"XT-2026-{i + 1:04d}"
        start = dt.date(2026, 5, 6) + dt.timedelta(days=i % 5)
        starts[item] = start
        days = [first_execution_day(cal, start, 1)]
        while len(days) < WORKDAYS:
            days.append(cal.add_workdays(days[-1], 1))
        for j, dept in enumerate(DEPTS):
            rows[(item, dept)] = [
                DailyRow(
                    date=d,
                    task=f"任务{n % 7}",
                    progress=round(n / WORKDAYS, 2),
                    status="滞后" if PROBLEMS[(n + i + j) % 8] else "进行中",
                    problems=PROBLEMS[(n + i + j) % 8],
                )
                for n, d in enumerate(days)
                if (n * 7 + i + j) % 23 != 0  # about one day in 23 left out
            ]
    return starts, rows


def _plain(cal, starts, rows) -> dict[tuple[str, str], tuple]:
    out = {}
    for (item, dept), mine in rows.items():
        r = weekly_rollup(
            item, dept, mine, week=WEEK, start=starts[item], end=None, calendar=cal, as_of=AS_OF
        )
        assert r is not None
        out[(item, dept)] = (
            len(r.days_with_row),
            r.missing_days,
            r.latest_progress,
            tuple(t for _, t in r.problems),
        )
    return out


def _frame(rows) -> pd.DataFrame:
    return pd.DataFrame(
        [
            (item, dept, r.date, r.progress, r.status, r.problems)
            for (item, dept), mine in rows.items()
            for r in mine
        ],
        columns=["item", "dept", "date", "progress", "status", "problems"],
    )


def _pandas(cal, starts, frame: pd.DataFrame) -> dict[tuple[str, str], tuple]:
    y, w = parse_week(WEEK)
    monday = dt.date.fromisocalendar(y, w, 1)
    last = min(monday + dt.timedelta(days=6), AS_OF.date())
    now = cal.local(AS_OF)
    week = frame[(frame["date"] >= monday) & (frame["date"] <= last)].sort_values(
        ["item", "dept", "date"], kind="stable"
    )
    groups = week.groupby(["item", "dept"], sort=False)
    dates = groups["date"].agg(lambda s: frozenset(s))
    latest = groups["progress"].last()
    problems = groups["problems"].agg(lambda s: tuple(dict.fromkeys(p for p in s if p)))
    expected_by_start = {}
    out = {}
    for (item, dept), have in dates.items():
        start = starts[item]
        if start not in expected_by_start:
            first = first_execution_day(cal, start, 1)
            expected_by_start[start] = [d for d in cal.week_workdays(y, w) if first <= d <= last]
        expected = expected_by_start[start]
        missing = tuple(d for d in expected if d not in have and cal.close_at(d) <= now)
        out[(item, dept)] = (
            sum(1 for d in expected if d in have),
            missing,
            float(latest[(item, dept)]),
            problems[(item, dept)],
        )
    return out


def test_weekly_rollup_of_a_whole_drive_plain_python_against_pandas() -> None:
    cal = WorkCalendar.from_rules(load_rules().calendar)
    t0 = time.perf_counter()
    starts, rows = _drive(cal)
    frame = _frame(rows)
    n = sum(len(v) for v in rows.values())
    print(
        f"\n{ITEMS} items × {len(DEPTS)} departments: {n:,} daily rows built in "
        f"{time.perf_counter() - t0:.1f} s (the DataFrame built once, not timed below)"
    )
    plain_times, pandas_times = [], []
    for _ in range(ROUNDS):
        t = time.perf_counter()
        plain = _plain(cal, starts, rows)
        plain_times.append(time.perf_counter() - t)
        t = time.perf_counter()
        frames = _pandas(cal, starts, frame)
        pandas_times.append(time.perf_counter() - t)
        assert plain == frames
        assert any(v[1] for v in plain.values()) and any(v[3] for v in plain.values())
    print("plain Python rounds: " + ", ".join(f"{t:.2f} s" for t in plain_times))
    print("pandas rounds:       " + ", ".join(f"{t:.2f} s" for t in pandas_times))
    print(
        f"median: plain {statistics.median(plain_times):.2f} s, "
        f"pandas {statistics.median(pandas_times):.2f} s"
    )
