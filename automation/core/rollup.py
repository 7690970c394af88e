"""The weekly rollup (周进度汇总) of a department's daily rows (模板四) for one ISO week.

Pure: plain records in, plain records out, "now" passed in as ``as_of``. The due time and the
first day of execution agree with the clock engine (``automation.core.clocks``): execution
starts ``workdays`` working days after the start date (approval), the weekly report is due at
close of business of ``WorkCalendar.week_due_date`` and is only required for weeks whose due
day is on or after that first day.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from automation.core.calendar import WorkCalendar, parse_week, week_label
from automation.core.clocks import STEADY_MARGIN, next_threshold_at


class DailyRow(NamedTuple):
    """One daily progress row of an execution workbook (one day of one department).

    A named tuple, not a dataclass: a large drive holds hundreds of thousands of them."""

    date: dt.date
    task: str = ""
    progress: float | None = None
    status: str = ""
    problems: str = ""
    coordination: str = ""


@dataclass(frozen=True)
class WeekRollup:
    """The rollup of one item, department and ISO week."""

    item: str
    department: str
    week: str
    expected_days: tuple[dt.date, ...]
    days_with_row: tuple[dt.date, ...]
    missing_days: tuple[dt.date, ...]  # expected, no row, and that day's close of business passed
    latest_progress: float | None
    latest_status: str
    tasks: tuple[str, ...]
    problems: tuple[tuple[dt.date, str], ...]  # deduplicated, each with the first day it was typed
    coordination: tuple[tuple[dt.date, str], ...]
    due_at: dt.datetime | None  # None: no report required for this week
    report_state: str  # one of automation.core.clocks.STATES
    submitted_on: dt.date | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "item": self.item,
            "department": self.department,
            "week": self.week,
            "expected_days": [d.isoformat() for d in self.expected_days],
            "days_with_row": [d.isoformat() for d in self.days_with_row],
            "missing_days": [d.isoformat() for d in self.missing_days],
            "latest_progress": self.latest_progress,
            "latest_status": self.latest_status,
            "due_at": None if self.due_at is None else self.due_at.isoformat(),
            "report_state": self.report_state,
            "submitted_on": None if self.submitted_on is None else self.submitted_on.isoformat(),
            "tasks": list(self.tasks),
            "problems": [{"date": d.isoformat(), "text": t} for d, t in self.problems],
            "coordination": [{"date": d.isoformat(), "text": t} for d, t in self.coordination],
        }


def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()


def _dedup(pairs: Iterable[tuple[dt.date, str]]) -> tuple[tuple[dt.date, str], ...]:
    """Each distinct text once, with the first day it appears (whitespace ignored)."""
    seen: dict[str, tuple[dt.date, str]] = {}
    for day, text in sorted(pairs, key=lambda p: p[0]):
        key = "".join(text.split())
        if key and key not in seen:
            seen[key] = (day, text)
    return tuple(seen.values())


def first_execution_day(calendar: WorkCalendar, start: dt.date, workdays: int) -> dt.date:
    """The first working day a daily row is due: ``workdays`` after the start (approval)."""
    return calendar.add_workdays(start, workdays)


def execution_weeks(calendar: WorkCalendar, first: dt.date, last: dt.date) -> list[tuple[int, int]]:
    """The ISO weeks with working days between ``first`` and ``last`` (both included)."""
    weeks: list[tuple[int, int]] = []
    day = first - dt.timedelta(days=first.weekday())
    while day <= last:
        y, w, _ = day.isocalendar()
        days = [d for d in calendar.week_workdays(y, w) if first <= d <= last]
        if days:
            weeks.append((y, w))
        day += dt.timedelta(days=7)
    return weeks


def report_state(
    calendar: WorkCalendar,
    due: dt.date | None,
    week_days: Sequence[dt.date],
    submitted_on: dt.date | None,
    sent: bool,
    as_of: dt.datetime,
    at_risk: Sequence[float] = (0.5, 0.75),
) -> str:
    """The clock state of one week's report: met / met_late once sent (by 提交日期 against the
    due day), breached when due and not sent, else running or at risk (the share of the week's
    working days up to the due day already used, as the weekly clock computes it)."""
    if due is None:
        return "not_started"
    if sent:
        return "met_late" if submitted_on is not None and submitted_on > due else "met"
    now = calendar.local(as_of)
    if now > calendar.close_at(due):
        return "breached"
    days = [d for d in week_days if d <= due] or [due]
    used = sum(calendar.day_share_used(d, now) for d in days) / len(days)
    return "at_risk" if any(used >= t for t in at_risk) else "running"


def steady_until(
    rollup: WeekRollup,
    calendar: WorkCalendar,
    as_of: dt.datetime,
    at_risk: Sequence[float] = (0.5, 0.75),
) -> dt.datetime | None:
    """Until when :func:`weekly_rollup` of the same rows and reports, worked out at ``as_of``
    in business hours, reads as ``rollup``: the day's close (a day's row becomes missing, a
    report due), or, while the week's report is due and not in, the moment the share of the
    week used (:func:`report_state`) reaches the next at-risk threshold; less
    :data:`STEADY_MARGIN`. None out of business hours (the moment itself stands for its quiet
    span there)."""
    if calendar.quiet_until(as_of) is not None:
        return None
    now = calendar.local(as_of)
    today = now.date()
    opened, close = calendar.open_at(today), calendar.close_at(today)
    until = close
    due = None if rollup.due_at is None else calendar.local(rollup.due_at).date()
    sent = rollup.report_state in ("met", "met_late")
    if due is not None and not sent and now <= calendar.close_at(due):
        days = [d for d in rollup.expected_days if d <= due] or [due]
        if today in days:
            used = sum(calendar.day_share_used(d, now) for d in days) / len(days)
            rate = 1 / (len(days) * (close - opened).total_seconds())  # share per second
            reached = next_threshold_at(now, used, rate, at_risk)
            if reached is not None:
                until = min(until, reached)
    return until - STEADY_MARGIN


def weekly_rollup(
    item: str,
    department: str,
    rows: Iterable[DailyRow],
    *,
    week: str | tuple[int, int],
    start: dt.date,
    end: dt.date | None,
    calendar: WorkCalendar,
    as_of: dt.datetime,
    workdays: int = 1,
    submitted_on: dt.date | None = None,
    sent: bool = False,
    at_risk: Sequence[float] = (0.5, 0.75),
) -> WeekRollup | None:
    """The rollup of one department's daily rows of an item for one ISO week.

    ``start``/``end`` are the execution clock's dates (approval, completion); the working days
    expected run from the first execution day to the earliest of the week's end, ``end`` and
    the as-of day. None when the week has no such working day (not part of execution, or not
    begun yet). ``sent``/``submitted_on``: whether the department's weekly report is in and its
    提交日期.
    """
    y, w = parse_week(week) if isinstance(week, str) else week
    now = calendar.local(as_of)
    first = first_execution_day(calendar, start, workdays)
    week_all = calendar.week_days(y, w)
    last = min(d for d in (week_all[-1], end, now.date()) if d is not None)
    expected = tuple(d for d in calendar.week_workdays(y, w) if first <= d <= last)
    if not expected:
        return None
    mine = sorted(
        (r for r in rows if week_all[0] <= r.date <= min(week_all[-1], now.date())),
        key=lambda r: r.date,
    )  # stable: two rows of one day keep their order, the lower one counts as the later
    dates = {r.date for r in mine}
    with_row = tuple(d for d in expected if d in dates)
    missing = tuple(d for d in expected if d not in dates and calendar.close_at(d) <= now)
    latest = mine[-1] if mine else None
    due = calendar.week_due_date(y, w)
    if due is not None and due < first:
        due = None  # the clock engine requires no report for a week before execution began
    state = report_state(calendar, due, expected, submitted_on, sent, as_of, at_risk)
    return WeekRollup(
        item=item,
        department=department,
        week=week_label(y, w),
        expected_days=expected,
        days_with_row=with_row,
        missing_days=missing,
        latest_progress=latest.progress if latest else None,
        latest_status=latest.status if latest else "",
        tasks=tuple(dict.fromkeys(t for t in (_text(r.task) for r in mine) if t)),
        problems=_dedup((r.date, _text(r.problems)) for r in mine),
        coordination=_dedup((r.date, _text(r.coordination)) for r in mine),
        due_at=None if due is None else calendar.close_at(due),
        report_state=state,
        submitted_on=submitted_on,
    )


def prefill_texts(rollup: WeekRollup) -> dict[str, str]:
    """The text columns of the weekly report pre-filled from the daily rows (本周完成情况,
    存在问题, 需协调事项); 下周计划 is left to the department."""

    def dated(pairs: tuple[tuple[dt.date, str], ...]) -> str:
        return "\n".join(f"{d.month}月{d.day}日：{t}" for d, t in pairs)

    done = "、".join(rollup.tasks)
    if done and rollup.latest_progress is not None:
        done += f"（最新进度 {round(rollup.latest_progress * 100)}%，{rollup.latest_status}）"
    return {
        "done": done,
        "problems": dated(rollup.problems),
        "coordination": dated(rollup.coordination),
    }


def computed_columns(rollup: WeekRollup) -> dict[str, Any]:
    """The weekly report's computed (grey) columns: 日报条数, 缺报日期, 最新进度, 报告截止时间."""
    return {
        "daily_rows": len(rollup.days_with_row),
        "missing_days": "、".join(d.isoformat() for d in rollup.missing_days),
        "latest_progress": rollup.latest_progress,
        "report_due": "" if rollup.due_at is None else rollup.due_at.strftime("%Y-%m-%d %H:%M"),
    }


__all__ = [
    "DailyRow",
    "WeekRollup",
    "computed_columns",
    "execution_weeks",
    "first_execution_day",
    "prefill_texts",
    "report_state",
    "steady_until",
    "weekly_rollup",
]
