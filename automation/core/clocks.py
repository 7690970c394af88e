"""The clock (SLA, 时限) engine: for every item cycle and every clock of ``rules/clocks.yaml``,
when it started, when it is due, and whether it is running, at risk, breached or met.

Inputs are plain records built by ``automation.process.clocks`` from the tracking table (one
row = one cycle: a rejected request that is resubmitted comes back as a new row with the same
item ID and the next revision) and the items' execution workbooks. Pure: "now" is ``as_of``.
"""

from __future__ import annotations

import datetime as dt
import functools
import itertools
import operator
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from automation.core.calendar import WorkCalendar, parse_week, week_of, week_text
from automation.core.normalize import is_blank
from automation.rules.clocks import ClockSpec, ClocksRules

Value = dt.date | str | None

STATES = ("not_started", "running", "at_risk", "breached", "met", "met_late")
# The Chinese names, as in the tracking table's 时限状态 column (rules/forms/tracking.yaml).
STATE_ZH = {
    "not_started": "未开始",
    "running": "进行中",
    "at_risk": "预警",
    "breached": "已超期",
    "met": "按时完成",
    "met_late": "逾期完成",
}
OPEN_STATES = ("running", "at_risk", "breached")
_WORST_FIRST = ("breached", "at_risk", "running")
_WEEK_SEARCH = 26  # weeks looked ahead for the next weekly due date


@dataclass(frozen=True)
class DeptRecord:
    """One department's part of an item: header fields of its execution workbook (模板四),
    the dates of its daily rows and the ISO weeks (``2026-W41``) it sent a weekly report for."""

    fields: Mapping[str, Any] = field(default_factory=dict)
    daily_dates: frozenset[dt.date] | set[dt.date] = frozenset()
    weekly_weeks: frozenset[str] | set[str] = frozenset()

    @functools.cached_property
    def sent_weeks(self) -> frozenset[str]:
        """The weeks of :attr:`weekly_weeks` as ISO week labels (a malformed label counts as
        no report); worked out once per record (the weekly clock asks every cycle)."""
        return frozenset(w for w in map(week_text, self.weekly_weeks) if w)


_NO_RECORD = DeptRecord()  # a department that sent nothing yet


@dataclass(frozen=True)
class ItemCycle:
    """One row of the tracking table: an item in one cycle (revision) of its life."""

    item_id: str
    cycle: int
    fields: Mapping[str, Any]
    departments: Mapping[str, DeptRecord] = field(default_factory=dict)


@dataclass(frozen=True)
class ClockResult:
    item: str
    cycle: int
    clock: str
    label: str
    stage: str
    department: str | None
    start: dt.date | None
    due_at: dt.datetime | None
    end: dt.date | None
    state: str
    used: float | None  # share of the allowed working time used (> 1 once late)
    late_workdays: int
    provisional: bool
    derivation: dict[str, Any]  # how it was worked out; empty when computed without it
    at_risk_level: int = 0  # how many at-risk thresholds are passed (0 = none)
    missing: tuple[str, ...] = ()  # daily rows / weekly reports not there by their deadline

    @property
    def state_zh(self) -> str:
        return STATE_ZH[self.state]

    def as_dict(self) -> dict[str, Any]:
        return {
            "item": self.item,
            "cycle": self.cycle,
            "clock": self.clock,
            "label": self.label,
            "stage": self.stage,
            "department": self.department,
            "start": _iso(self.start),
            "due_at": _iso(self.due_at),
            "end": _iso(self.end),
            "state": self.state,
            "state_zh": self.state_zh,
            "used": None if self.used is None else round(self.used, 3),
            "at_risk_level": self.at_risk_level,
            "late_workdays": self.late_workdays,
            "provisional": self.provisional,
            "missing": list(self.missing),
        }


@dataclass(frozen=True)
class ItemStatus:
    """The computed columns of a tracking row: 当前阶段, 当前截止时间, 时限状态, 超期工作日."""

    stage: str
    deadline: dt.datetime | None
    state: str
    state_zh: str
    late_workdays: int
    clock: str = ""  # the clock the deadline, state and days late belong to (当前时限)


def _iso(value: dt.date | dt.datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def as_date(value: Any) -> dt.date | None:
    """A date from a typed cell value; anything that is not a date is treated as blank."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str) and value.strip():
        try:
            return dt.date.fromisoformat(value.strip()[:10])
        except ValueError:
            return None
    return None


def _blank(value: Any) -> bool:
    return is_blank(value)  # the one blank rule: automation.core.normalize.is_blank


def departments_of(cycle: ItemCycle, rules: ClocksRules) -> list[str]:
    """The departments of an item: the tracking field (配合部门), else those with records."""
    if rules.departments_field in cycle.fields:
        raw = cycle.fields[rules.departments_field]
        names = (
            raw if isinstance(raw, list | tuple) else re.split(r"[、,，;；/\s]+", str(raw or ""))
        )
    else:
        names = list(cycle.departments)
    out: list[str] = []
    for name in names:
        name = str(name).strip()
        if name and name not in out:
            out.append(name)
    return out


def input_fields(rules: ClocksRules) -> frozenset[str]:
    """The tracking fields the clocks read: every other field of a row can change (the
    write-back fills several) without changing a clock."""
    keys = {rules.departments_field}
    for spec in rules.clocks:
        keys.update(k for k in (spec.start, spec.end, spec.when_field) if k)
    return frozenset(keys)


def _record(cycle: ItemCycle, dept: str) -> DeptRecord:
    return cycle.departments.get(dept) or _NO_RECORD


def _field(cycle: ItemCycle, key: str, dept: str | None, depts: list[str]) -> tuple[Any, dict]:
    """A field's value for a clock, and where it came from (for the explanation).

    A department clock reads its department's record first, then the item. An item clock
    reads the item; a key only the departments have is their latest date, once all have one.
    """
    if dept is not None:
        rec = _record(cycle, dept)
        if key in rec.fields:
            return rec.fields[key], {"from": dept}
        return cycle.fields.get(key), {}
    if key in cycle.fields:
        return cycle.fields[key], {}
    per_dept = {d: as_date(_record(cycle, d).fields.get(key)) for d in depts}
    source = {
        "from": "latest_of_departments",
        "departments": {d: _iso(v) for d, v in per_dept.items()},
    }
    if not per_dept or any(v is None for v in per_dept.values()):
        return None, source
    return max(v for v in per_dept.values() if v is not None), source


def _applies(spec: ClockSpec, cycle: ItemCycle, depts: list[str]) -> bool:
    if spec.when_field is None:
        return True
    value, _ = _field(cycle, spec.when_field, None, depts)
    if _blank(value):
        return spec.applies_while_blank
    if spec.when_equals is None:
        return True
    return str(value).strip() == spec.when_equals


def _level(used: float, thresholds: Sequence[float]) -> int:
    return sum(1 for t in thresholds if used >= t)


class _Ctx:
    def __init__(
        self,
        cycle: ItemCycle,
        rules: ClocksRules,
        cal: WorkCalendar,
        as_of: dt.datetime,
        explain: bool = True,
    ) -> None:
        self.explain = explain  # build each result's derivation (else it is left empty)
        self.cycle = cycle
        self.rules = rules
        self.cal = cal
        self.now = cal.local(as_of)
        self.today = self.now.date()
        self.depts = departments_of(cycle, rules)

    def result(
        self,
        spec: ClockSpec,
        dept: str | None,
        *,
        start: dt.date | None = None,
        due_at: dt.datetime | None = None,
        end: dt.date | None = None,
        state: str = "not_started",
        used: float | None = None,
        late_workdays: int = 0,
        provisional: bool = False,
        derivation: dict[str, Any] | None = None,
        at_risk_level: int = 0,
        missing: tuple[str, ...] = (),
    ) -> ClockResult:
        # positional: tens of thousands of results per cycle on a large drive
        return ClockResult(
            self.cycle.item_id,
            self.cycle.cycle,
            spec.key,
            spec.label,
            spec.stage,
            dept,
            start,
            due_at,
            end,
            state,
            used,
            late_workdays,
            provisional,
            {} if derivation is None else derivation,
            at_risk_level,
            missing,
        )


def _explain_start(spec: ClockSpec, start: dt.date | None, end: dt.date | None, src: dict) -> dict:
    out: dict[str, Any] = {
        "start_field": spec.start,
        "start": _iso(start),
        "end_field": spec.end,
        "end": _iso(end),
        "workdays": spec.workdays,
    }
    if src:
        out["start_source"] = src
    return out


def _deadline_clock(ctx: _Ctx, spec: ClockSpec, dept: str | None) -> ClockResult:
    """A clock with one deadline: N working days after its start date."""
    cal = ctx.cal
    raw_start, src = _field(ctx.cycle, spec.start, dept, ctx.depts)
    raw_end, _ = _field(ctx.cycle, spec.end, dept, ctx.depts)
    start, end = as_date(raw_start), as_date(raw_end)
    explain = _explain_start(spec, start, end, src) if ctx.explain else {}
    if start is None:
        # done although its start date was never entered: met, but nothing to measure
        state = "not_started" if end is None else "met"
        return ctx.result(spec, dept, end=end, state=state, derivation=explain)
    der = cal.add_workdays_explained(start, spec.workdays)
    due_at = cal.close_at(der.due)
    if ctx.explain:
        explain.update(der.as_dict())
        explain["due_at"] = due_at.isoformat()
    window = len(der.counted)
    if end is not None:
        late = max(0, cal.workdays_between(der.due, end))
        done = sum(1 for d in der.counted if d <= end) + late
        provisional = der.provisional or (end > der.due and cal.span_provisional(der.due, end))
        return ctx.result(
            spec,
            dept,
            start=start,
            due_at=due_at,
            end=end,
            state="met" if end <= der.due else "met_late",
            used=done / window,
            late_workdays=late,
            provisional=provisional,
            derivation=explain,
        )
    elapsed = sum(cal.day_share_used(d, ctx.now) for d in der.counted)
    if ctx.now > due_at:
        elapsed += cal.time_used(der.due, ctx.now)
        late = max(0, cal.workdays_between(der.due, ctx.today))
        return ctx.result(
            spec,
            dept,
            start=start,
            due_at=due_at,
            state="breached",
            used=elapsed / window,
            late_workdays=late,
            provisional=der.provisional or cal.span_provisional(der.due, ctx.today),
            derivation=explain,
        )
    used = elapsed / window
    level = _level(used, ctx.rules.at_risk)
    return ctx.result(
        spec,
        dept,
        start=start,
        due_at=due_at,
        state="at_risk" if level else "running",
        used=used,
        at_risk_level=level,
        provisional=der.provisional,
        derivation=explain,
    )


def _dept_span(
    ctx: _Ctx, spec: ClockSpec, dept: str
) -> tuple[dt.date | None, dt.date | None, dict[str, Any]]:
    """Start and end dates of a department's execution clock, with the start of its explanation."""
    start = as_date(_field(ctx.cycle, spec.start, dept, ctx.depts)[0])
    end = as_date(_field(ctx.cycle, spec.end, dept, ctx.depts)[0])
    return start, end, _explain_start(spec, start, end, {}) if ctx.explain else {}


def _daily_clock(ctx: _Ctx, spec: ClockSpec, dept: str) -> ClockResult:
    """A daily progress row (模板四) for every working day of execution."""
    cal = ctx.cal
    start, end, explain = _dept_span(ctx, spec, dept)
    if start is None:
        return ctx.result(spec, dept, end=end, derivation=explain)
    first = cal.add_workdays_explained(start, spec.workdays)
    last = min(end, ctx.today) if end is not None else ctx.today
    rows = _record(ctx.cycle, dept).daily_dates
    # counted, not listed: the cost does not grow with the span (only the first days are listed)
    n_required = 1 + cal.workdays_between(first.due, last) if first.due <= last else 0
    counted = cal.workdays_among(rows, first.due, last)
    n_rows = len(counted)
    today_open = (
        n_required > 0
        and last == ctx.today
        and cal.is_workday(last)
        and last not in rows
        and cal.close_at(last) > ctx.now
    )
    pending = [last] if today_open else []
    n_missing = n_required - n_rows - len(pending)
    missing = _first_missing(cal, first.due, last, rows, set(pending), n_missing)
    provisional = first.provisional or (n_required > 0 and cal.span_provisional(start, last))
    if ctx.explain:
        explain.update(
            first_day=first.due.isoformat(),
            first_day_derivation=first.as_dict(),
            required_days=n_required,
            rows=[d.isoformat() for d in sorted(counted)],
            missing=[d.isoformat() for d in missing],
            missing_count=n_missing,
        )
    if pending:
        due_at: dt.datetime | None = cal.close_at(pending[0])
        used: float | None = cal.day_share_used(pending[0], ctx.now)
    elif end is None:  # today's row is in (or today is off): the next working day's row
        due_at = cal.close_at(first.due if first.due > last else cal.add_workdays(last, 1))
        used = 0.0
    else:
        due_at, used = None, None
    if n_missing:
        state = "breached"
        if ctx.explain:
            explain["next_due_at"] = _iso(due_at)  # the next row still to come
        due_at = cal.close_at(missing[0])  # the deadline missed first, the one that is overdue
    elif pending or end is None:
        state = "at_risk" if used and _level(used, ctx.rules.at_risk) else "running"
    else:
        state = "met"
    level = _level(used, ctx.rules.at_risk) if used and state == "at_risk" else 0
    return ctx.result(
        spec,
        dept,
        start=start,
        due_at=due_at,
        end=end,
        state=state,
        used=used,
        at_risk_level=level,
        late_workdays=n_missing,
        provisional=provisional,
        derivation=explain,
        missing=tuple(d.isoformat() for d in missing),
    )


MAX_LISTED = 370  # missing days listed one by one (the count is always exact)


def _first_missing(
    cal: WorkCalendar, first: dt.date, last: dt.date, rows: Any, skip: set[dt.date], count: int
) -> list[dt.date]:
    """The oldest missing days, at most ``MAX_LISTED``; stops as soon as all ``count`` are found."""
    want = min(count, MAX_LISTED)
    out: list[dt.date] = []
    if want <= 0 or first > last:
        return out
    for day in cal.workdays_in(first - dt.timedelta(days=1), last):
        if day not in rows and day not in skip:
            out.append(day)
            if len(out) == want:
                break
    return out


def _weekly_clock(ctx: _Ctx, spec: ClockSpec, dept: str) -> ClockResult:
    """A weekly progress report (周进度报告) for every ISO week of execution."""
    cal = ctx.cal
    start, end, explain = _dept_span(ctx, spec, dept)
    if start is None:
        return ctx.result(spec, dept, end=end, derivation=explain)
    first = cal.add_workdays(start, spec.workdays)
    last = end if end is not None else ctx.today
    # a malformed week label in a report counts as no report
    sent = _record(ctx.cycle, dept).sent_weeks
    due_by_week = dict(cal.week_dues(first, max(first, last)))
    missing = [
        w for w, due in due_by_week.items() if w not in sent and cal.close_at(due) <= ctx.now
    ]
    pending = [w for w, due in due_by_week.items() if w not in sent and cal.close_at(due) > ctx.now]
    provisional = cal.span_provisional(start, max(first, last))
    due_at: dt.datetime | None = None
    used: float | None = None
    if pending:
        due = due_by_week[pending[0]]
        due_at = cal.close_at(due)
        week_days = [d for d in cal.week_workdays(*parse_week(pending[0])) if first <= d <= due]
        used = sum(cal.day_share_used(d, ctx.now) for d in week_days) / max(len(week_days), 1)
    elif end is None:
        due_at = _next_week_due(cal, max(last, first))
        used = 0.0
    # once execution is complete, a missing report stays on record but its lateness stops growing
    until = ctx.today if end is None else min(ctx.today, max(end, first))
    late = max((cal.workdays_between(due_by_week[w], until) for w in missing), default=0)
    if missing:
        state = "breached"
        next_due = due_at
        due_at = cal.close_at(due_by_week[missing[0]])  # the report missed first
        late = max(late, 1) if end is not None else late
    elif pending or end is None:
        state = "at_risk" if used and _level(used, ctx.rules.at_risk) else "running"
    else:
        state = "met"
    if ctx.explain:
        explain.update(
            first_day=first.isoformat(),
            weeks={w: {"due": d.isoformat(), "sent": w in sent} for w, d in due_by_week.items()},
            missing=missing,
        )
        if missing:
            explain["next_due_at"] = _iso(next_due)  # the next report still to come
    return ctx.result(
        spec,
        dept,
        start=start,
        due_at=due_at,
        end=end,
        state=state,
        used=used,
        at_risk_level=_level(used, ctx.rules.at_risk) if used and state == "at_risk" else 0,
        late_workdays=max(late, 0),
        provisional=provisional,
        derivation=explain,
        missing=tuple(missing),
    )


def _next_week_due(cal: WorkCalendar, after: dt.date) -> dt.datetime | None:
    """The first weekly due time strictly after the day ``after``."""
    day = after
    for _ in range(_WEEK_SEARCH):
        y, w, _ = day.isocalendar()
        due = cal.week_due_date(y, w)
        if due is not None and due > after:
            return cal.close_at(due)
        day += dt.timedelta(days=7)
    return None


def compute_clocks(
    cycles: Iterable[ItemCycle],
    rules: ClocksRules,
    calendar: WorkCalendar,
    as_of: dt.datetime,
    *,
    explain: bool = True,
    earlier: Sequence[ClockResult] = (),
) -> list[ClockResult]:
    """Every applicable clock of every cycle, in the order of the cycles and of ``rules.clocks``.

    ``explain=False`` leaves each result's ``derivation`` empty: the explanation (every day
    counted, every row and week seen) is most of a result's size and time, and only
    ``xietong clocks --item`` shows it.

    ``earlier``: results computed without explanation for the same cycles (the same values),
    rules and calendar at another moment. A deadline clock there that was decided (its end
    date entered) or never started does not read the moment: it is taken as it was."""
    out: list[ClockResult] = []
    kept = {  # (results with their explanation are always worked out)
        (r.item, r.cycle, r.clock, r.department): r
        for r in (earlier if not explain else ())
        if r.end is not None or r.start is None
    }
    for cycle in cycles:
        ctx = _Ctx(cycle, rules, calendar, as_of, explain)
        for spec in rules.clocks:
            if not _applies(spec, cycle, ctx.depts):
                continue
            if spec.per == "item":
                held = kept.get((cycle.item_id, cycle.cycle, spec.key, None))
                out.append(held or _deadline_clock(ctx, spec, None))
            for dept in ctx.depts if spec.per != "item" else ():
                if spec.per == "department":
                    held = kept.get((cycle.item_id, cycle.cycle, spec.key, dept))
                    out.append(held or _deadline_clock(ctx, spec, dept))
                elif spec.per == "department_day":
                    out.append(_daily_clock(ctx, spec, dept))
                else:
                    out.append(_weekly_clock(ctx, spec, dept))
    return out


# what a clock shows but for the share of working time used (``used``), which in business hours
# moves every instant while the clock runs
steady_view = operator.attrgetter(
    "clock", "department", "stage", "label", "state", "start", "due_at", "end",
    "late_workdays", "at_risk_level", "missing", "provisional",
)  # fmt: skip

STEADY_MARGIN = dt.timedelta(seconds=2)  # a change of state is looked for this much early


def next_threshold_at(
    now: dt.datetime, used: float, rate: float, thresholds: Sequence[float]
) -> dt.datetime | None:
    """When a share ``used`` at ``now``, growing by ``rate`` a second, reaches the first of
    ``thresholds`` above it; None when it grows not or is past them all."""
    ahead = [t for t in thresholds if t > used]
    if rate <= 0 or not ahead:
        return None
    return now + dt.timedelta(seconds=(ahead[0] - used) / rate)


def steady_until(
    results: Sequence[ClockResult],
    later: Sequence[ClockResult],
    as_of: dt.datetime,
    probe: dt.datetime,
    close: dt.datetime,
    thresholds: Sequence[float],
) -> dt.datetime | None:
    """Until when one cycle's clocks, worked out at ``as_of`` (``results``) and again at
    ``probe`` a little later the same working day (``later``), read as at ``as_of`` but for
    their share of working time used; None when that cannot be told (they already read
    otherwise at ``probe``).

    Within one day's business hours a clock's state changes only at its day's close (a row or
    report due, a deadline passed) or when its share of time used reaches an at-risk threshold,
    and :func:`item_status` picks among clocks at risk the one with the most time used. Every
    share used grows at a steady rate through business hours (today's share of the day, times
    a constant), measured here between ``as_of`` and ``probe``. The answer is the earliest of
    the close, each running clock's next threshold and the moment one clock at risk overtakes
    another, less :data:`STEADY_MARGIN`; never past ``close``."""
    span = (probe - as_of).total_seconds()
    if span <= 0 or len(results) != len(later) or probe >= close:
        return None
    if list(map(steady_view, results)) != list(map(steady_view, later)):
        return None
    until = close
    rates: list[float] = []
    for now, then in zip(results, later, strict=True):
        if (now.used is None) != (then.used is None):
            return None
        rate = 0.0 if now.used is None or then.used is None else (then.used - now.used) / span
        if rate < 0:
            return None
        rates.append(rate)
        if now.used is not None and now.state in ("running", "at_risk"):
            reached = next_threshold_at(as_of, now.used, rate, thresholds)
            if reached is not None:
                until = min(until, reached)
    risky = [
        (r.used or 0.0, rate)
        for r, rate in zip(results, rates, strict=True)
        if r.state == "at_risk"
    ]
    for (used_a, rate_a), (used_b, rate_b) in itertools.combinations(risky, 2):
        if rate_a != rate_b:
            meet = (used_b - used_a) / (rate_a - rate_b)
            if meet >= 0:
                until = min(until, as_of + dt.timedelta(seconds=meet))
    return until - STEADY_MARGIN


def _closed_breach(r: ClockResult) -> bool:
    """A missed daily row or weekly report of a department whose execution is complete: it stays
    on record as breached, but no longer drives the row's state."""
    return r.state == "breached" and r.end is not None


def _attention(r: ClockResult) -> tuple[Any, ...]:
    """Sort key: the clock that needs attention most comes first — a breached clock (most working
    days late, then the oldest deadline) before an at-risk one (most time used) before the
    running one due soonest."""
    due = r.due_at.timestamp() if r.due_at is not None else float("inf")
    if r.state == "breached":
        return (0, -r.late_workdays, due)
    if r.state == "at_risk":
        return (1, -(r.used or 0.0), due)
    return (2, due, 0)


def clock_name(r: ClockResult) -> str:
    """How a row names its clock: ``周进度报告 · IT部``."""
    return f"{r.label} · {r.department}" if r.department else r.label


def item_status(results: Sequence[ClockResult]) -> ItemStatus:
    """The tracking row's computed columns from the clocks of one cycle.

    The current stage is that of the first open clock (in the order of ``clocks.yaml``). The
    deadline, state and working days late all belong to ONE clock, named in ``clock``: the one
    that needs attention most (see :func:`_attention`). With nothing open: the next clock
    waiting to start, else the last stage, met or met late.
    """
    open_ = [r for r in results if r.state in OPEN_STATES and not _closed_breach(r)]
    if open_:
        chosen = min(open_, key=_attention)
        return ItemStatus(
            stage=open_[0].stage,
            deadline=chosen.due_at,
            state=chosen.state,
            state_zh=STATE_ZH[chosen.state],
            late_workdays=chosen.late_workdays,
            clock=clock_name(chosen),
        )
    waiting = [r for r in results if r.state == "not_started"]
    if waiting or not results:
        stage = waiting[0].stage if waiting else ""
        return ItemStatus(stage, None, "not_started", STATE_ZH["not_started"], 0)
    closed = [r for r in results if r.state in ("met_late", "breached")]
    if closed:  # done, some of it late: the latest of them names the row
        worst = max(closed, key=lambda r: (r.late_workdays, -_attention(r)[2]))
        return ItemStatus(
            results[-1].stage,
            None,
            "met_late",
            STATE_ZH["met_late"],
            worst.late_workdays,
            clock=clock_name(worst),
        )
    return ItemStatus(results[-1].stage, None, "met", STATE_ZH["met"], 0)


def status_by_cycle(results: Iterable[ClockResult]) -> dict[tuple[str, int], ItemStatus]:
    """``item_status`` of every (item, cycle) in the results."""
    groups: dict[tuple[str, int], list[ClockResult]] = {}
    for r in results:
        groups.setdefault((r.item, r.cycle), []).append(r)
    return {key: item_status(rs) for key, rs in groups.items()}


__all__ = [
    "STATES",
    "STATE_ZH",
    "ClockResult",
    "DeptRecord",
    "ItemCycle",
    "ItemStatus",
    "as_date",
    "compute_clocks",
    "departments_of",
    "input_fields",
    "item_status",
    "next_threshold_at",
    "status_by_cycle",
    "steady_until",
    "steady_view",
    "week_of",
]
