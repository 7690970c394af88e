"""The summary model (汇总) for leaders: what the summary workbook and its HTML twin show.

Pure: built from the tracking rows (as clock-engine cycles) and the clock results
(``automation.core.clocks``) at ``as_of``; no file is touched here. The numbers:

- **on-time rate** (按时率) of a set of clocks = met / (met + met late + breached); running, at
  risk and not started clocks are not decided yet and do not count. A clock counts in a period
  (this week / month / year, a trend week) by the day it was decided: its end date when it is
  met or met late, its due date when it is breached (the day of ``as_of`` when its current due
  time is still ahead, as for a daily-row clock that missed an earlier day);
- **open items**: the latest cycle of an item whose clocks are not all met (a rejected request
  whose rejection was sent is closed until it comes back as a new revision);
- **daily rows missing / weekly reports late** per department: the missing days and weeks of
  the ``department_day`` / ``department_week`` clocks;
- **open exceptions** per department come from the caller (the execution-feedback stage).
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Any

from automation.core.calendar import week_of
from automation.core.clocks import (
    OPEN_STATES,
    ClockResult,
    ItemCycle,
    ItemStatus,
    departments_of,
    item_status,
)
from automation.rules import Rules

TREND_WEEKS = 12  # ISO weeks shown in the trend, up to the week of as_of
PERIODS = (("week", "本周"), ("month", "本月"), ("year", "本年"), ("all", "累计"))


@dataclass(frozen=True)
class Rate:
    """Clocks decided on time and late; ``rate`` is None when none was decided."""

    on_time: int = 0
    late: int = 0

    @property
    def decided(self) -> int:
        return self.on_time + self.late

    @property
    def rate(self) -> float | None:
        return None if not self.decided else self.on_time / self.decided

    def as_dict(self) -> dict[str, Any]:
        rate = self.rate
        return {
            "on_time": self.on_time,
            "late": self.late,
            "rate": None if rate is None else round(rate, 4),
        }


@dataclass(frozen=True)
class Overview:
    open_items: int
    closed_items: int
    stages: list[tuple[str, int]]  # open items per stage, in process order
    items_at_risk: int
    items_breached: int
    clocks_at_risk: int
    clocks_breached: int
    due_this_week: int  # open items with a clock due between as_of and the end of its week
    rates: dict[str, Rate]  # week / month / year / all


@dataclass(frozen=True)
class DepartmentRow:
    name: str
    led: int
    cooperated: int
    on_time: int
    late: int
    daily_missing: int
    weekly_late: int
    open_exceptions: int

    @property
    def rate(self) -> float | None:
        return Rate(self.on_time, self.late).rate


@dataclass(frozen=True)
class OverdueRow:
    """A breached or at-risk clock (超期清单)."""

    item: str
    cycle: int
    title: str
    clock: str
    label: str
    stage: str
    state: str
    state_zh: str
    responsible: str
    department: str | None  # the department of a per-department clock
    due_at: str | None
    late_workdays: int
    missing: int  # daily rows / weekly reports missing


@dataclass(frozen=True)
class TrendWeek:
    week: str
    opened: int
    completed: int
    breached: int
    rate: Rate


@dataclass(frozen=True)
class ItemRow:
    """One item (its latest cycle), with the summary form's fields (rules/forms/summary.yaml)."""

    item: str
    cycle: int
    values: dict[str, Any]

    @functools.cached_property
    def key(self) -> tuple[tuple[str, Any], ...] | None:
        """The values as a key (lists as tuples; None when one cannot be a key): a row
        rendered for a key before shows the same (worked out once: the workbook and the page
        both ask)."""
        key = tuple((k, tuple(v) if isinstance(v, list) else v) for k, v in self.values.items())
        try:
            hash(key)
        except TypeError:
            return None
        return key


@dataclass(frozen=True)
class SummaryModel:
    as_of: dt.datetime
    overview: Overview
    departments: list[DepartmentRow]
    overdue: list[OverdueRow]
    trend: list[TrendWeek]
    dept_trend: dict[str, list[int]]  # late clocks per department per trend week
    items: list[ItemRow]
    warnings: list[str] = field(default_factory=list)

    @property
    def as_of_date(self) -> dt.date:
        return self.as_of.date()

    def as_dict(self) -> dict[str, Any]:
        ov = self.overview
        return {
            "as_of": self.as_of.isoformat(),
            "overview": {
                "open_items": ov.open_items,
                "closed_items": ov.closed_items,
                "stages": [{"stage": s, "items": n} for s, n in ov.stages],
                "items_at_risk": ov.items_at_risk,
                "items_breached": ov.items_breached,
                "clocks_at_risk": ov.clocks_at_risk,
                "clocks_breached": ov.clocks_breached,
                "due_this_week": ov.due_this_week,
                "on_time": {k: r.as_dict() for k, r in ov.rates.items()},
            },
            "departments": [
                {**_flat(d), "rate": None if d.rate is None else round(d.rate, 4)}
                for d in self.departments
            ],
            "overdue": [_flat(o) for o in self.overdue],
            "trend": [
                {
                    "week": t.week,
                    "opened": t.opened,
                    "completed": t.completed,
                    "breached": t.breached,
                    "on_time": t.rate.as_dict(),
                }
                for t in self.trend
            ],
            "department_trend": self.dept_trend,
            "items": [{"item": i.item, "cycle": i.cycle, **i.values} for i in self.items],
            "warnings": list(self.warnings),
        }

    def content_hash(self, extra: Any = None) -> str:
        """A hash of what the summary shows: the as-of *day* and every number and row (not the
        time of day, so a rerun with nothing changed the same day hashes the same).

        Made of the values' ``repr`` (plain values and frozen dataclasses: the same text for
        the same content in every process), the long lists as tuples of their fields: a
        summary of thousands of rows hashes in a third of the time of its JSON."""
        names = _field_names(OverdueRow)
        shown = (
            self.as_of_date.isoformat(),
            self.overview,
            self.departments,
            [tuple(getattr(o, n) for n in names) for o in self.overdue],
            self.trend,
            self.dept_trend,
            [(i.item, i.cycle, i.values) for i in self.items],
            self.warnings,
            extra,
        )
        return hashlib.sha256(repr(shown).encode("utf-8")).hexdigest()


def _flat(row: Any) -> dict[str, Any]:
    """A dataclass of plain values as a dict (``asdict`` deep-copies: thousands of rows)."""
    return {name: getattr(row, name) for name in _field_names(type(row))}


@functools.cache
def _field_names(cls: type) -> tuple[str, ...]:
    return tuple(f.name for f in fields(cls))


# -- building blocks -------------------------------------------------------------------------


def decided_on(result: ClockResult, as_of: dt.datetime) -> tuple[dt.date | None, bool] | None:
    """(the day a clock was decided, on time?) — None while it is not decided."""
    if result.state == "met":
        return result.end, True
    if result.state == "met_late":
        return result.end, False
    if result.state == "breached":
        if result.due_at is not None and result.due_at <= as_of:
            return result.due_at.date(), False
        return as_of.date(), False
    return None


def rate_of(results: Iterable[ClockResult], as_of: dt.datetime) -> Rate:
    on, late = 0, 0
    for r in results:
        d = decided_on(r, as_of)
        if d is not None:
            on, late = (on + 1, late) if d[1] else (on, late + 1)
    return Rate(on, late)


def _in_period(day: dt.date | None, period: str, as_of: dt.date) -> bool:
    if period == "all":
        return True
    if day is None:
        return False
    if period == "week":
        return day.isocalendar()[:2] == as_of.isocalendar()[:2]
    if period == "month":
        return (day.year, day.month) == (as_of.year, as_of.month)
    return day.year == as_of.year


def period_rates(results: Sequence[ClockResult], as_of: dt.datetime) -> dict[str, Rate]:
    return _period_rates([decided_on(r, as_of) for r in results], as_of)


def _period_rates(
    decided: Sequence[tuple[dt.date | None, bool] | None], as_of: dt.datetime
) -> dict[str, Rate]:
    """On time / late per period of the decided clocks (each distinct day looked at once)."""
    counts = Counter(d for d in decided if d is not None)
    out: dict[str, Rate] = {}
    for period, _label in PERIODS:
        on = late = 0
        for (day, ok), n in counts.items():
            if _in_period(day, period, as_of.date()):
                on, late = (on + n, late) if ok else (on, late + n)
        out[period] = Rate(on, late)
    return out


def responsible_of(result: ClockResult, cycle: ItemCycle | None, rules: Rules) -> str:
    """Who answers for a clock: its department, the office, the lead department or approvers."""
    spec = next((c for c in rules.clocks.clocks if c.key == result.clock), None)
    kind = spec.responsible if spec is not None else "lead_dept"
    return _responsible(result, cycle, kind, rules)


def _responsible(result: ClockResult, cycle: ItemCycle | None, kind: str, rules: Rules) -> str:
    if result.department:
        return result.department
    fields = cycle.fields if cycle is not None else {}
    if kind == "office":
        return rules.departments.roles.office
    if kind == "approvers":
        route = str(fields.get("approval_route") or "").strip()
        return route or "审批人"
    lead = str(fields.get("lead_dept") or "").strip()
    return lead or rules.departments.roles.office


def _latest(cycles: Iterable[ItemCycle]) -> dict[str, ItemCycle]:
    out: dict[str, ItemCycle] = {}
    for c in cycles:
        if c.item_id not in out or c.cycle >= out[c.item_id].cycle:
            out[c.item_id] = c
    return out


def _date(value: Any) -> dt.date | None:
    from automation.core.clocks import as_date

    return as_date(value)


def _week_labels(as_of: dt.date, n: int) -> list[str]:
    monday = as_of - dt.timedelta(days=as_of.weekday())
    return [week_of(monday - dt.timedelta(weeks=k)) for k in range(n - 1, -1, -1)]


def _clock_kinds(rules: Rules) -> dict[str, str]:
    return {c.key: c.per for c in rules.clocks.clocks}


# -- the model --------------------------------------------------------------------------------


def build_summary(
    cycles: Sequence[ItemCycle],
    results: Sequence[ClockResult],
    rules: Rules,
    as_of: dt.datetime,
    *,
    pending_requests: int = 0,
    open_exceptions: Mapping[str, int] | None = None,
    warnings: Sequence[str] = (),
) -> SummaryModel:
    """The summary model (see the module docstring for how each number is counted).

    ``pending_requests``: forms waiting in the inbox (the first stage, 需求发起);
    ``open_exceptions``: open exceptions per department (0 where absent).
    """
    latest = _latest(cycles)
    by_cycle: dict[tuple[str, int], list[ClockResult]] = {}
    for r in results:
        by_cycle.setdefault((r.item, r.cycle), []).append(r)
    statuses: dict[str, ItemStatus] = {
        item: item_status(by_cycle.get((item, c.cycle), [])) for item, c in latest.items()
    }
    facts = _Facts(cycles, results, rules, as_of)
    return SummaryModel(
        as_of=as_of,
        overview=_overview(latest, statuses, by_cycle, facts, rules, as_of, pending_requests),
        departments=_departments(latest, facts, rules, open_exceptions or {}),
        overdue=_overdue(facts),
        trend=_trend(cycles, latest, facts, as_of),
        dept_trend=_dept_trend(facts, rules, as_of),
        items=_items(latest, statuses, facts, rules),
        warnings=list(warnings),
    )


class _Facts:
    """What every part of the model asks of each clock result, worked out once per result:
    when it was decided and whether on time (:func:`decided_on`), who answers for it
    (:func:`responsible_of`), and its cycle; and the ISO week of each distinct day."""

    def __init__(
        self,
        cycles: Sequence[ItemCycle],
        results: Sequence[ClockResult],
        rules: Rules,
        as_of: dt.datetime,
    ) -> None:
        by_key = {(c.item_id, c.cycle): c for c in cycles}
        self.results = results
        self.cycles = [by_key.get((r.item, r.cycle)) for r in results]
        self.decided = [decided_on(r, as_of) for r in results]
        kinds = {c.key: c.responsible for c in rules.clocks.clocks}
        self.who = [
            _responsible(r, c, kinds.get(r.clock, "lead_dept"), rules)
            for r, c in zip(results, self.cycles, strict=True)
        ]
        self._weeks: dict[dt.date, str] = {}
        # clocks decided on time and late of each cycle (its on-time rate, :func:`rate_of`)
        self.decided_by_cycle: dict[tuple[str, int], list[int]] = {}
        for r, d in zip(results, self.decided, strict=True):
            if d is not None:
                counts = self.decided_by_cycle.setdefault((r.item, r.cycle), [0, 0])
                counts[0 if d[1] else 1] += 1

    def week(self, day: dt.date) -> str:
        held = self._weeks.get(day)
        if held is None:
            held = self._weeks[day] = week_of(day)
        return held


def _is_open(status: ItemStatus) -> bool:
    return status.state not in ("met", "met_late")


def _overview(
    latest: Mapping[str, ItemCycle],
    statuses: Mapping[str, ItemStatus],
    by_cycle: Mapping[tuple[str, int], list[ClockResult]],
    facts: _Facts,
    rules: Rules,
    as_of: dt.datetime,
    pending_requests: int,
) -> Overview:
    order = rules.clocks.stage_order
    clock_stages = [c.stage for c in rules.clocks.clocks]
    first_clock_stage = clock_stages[0] if clock_stages else ""
    counts = dict.fromkeys(order, 0)
    open_items = [i for i, s in statuses.items() if _is_open(s)]
    for item in open_items:
        stage = statuses[item].stage or first_clock_stage
        counts[stage] = counts.get(stage, 0) + 1
    if order and order[0] not in clock_stages:  # 需求发起: forms not registered yet
        counts[order[0]] += pending_requests
    week_end = as_of.date() + dt.timedelta(days=6 - as_of.weekday())
    due = set()
    for item in open_items:
        for r in by_cycle.get((item, latest[item].cycle), []):
            ahead = r.due_at is not None and as_of <= r.due_at
            if r.state in OPEN_STATES and ahead and r.due_at.date() <= week_end:
                due.add(item)
    return Overview(
        open_items=len(open_items),
        closed_items=len(statuses) - len(open_items),
        stages=list(counts.items()),
        items_at_risk=sum(1 for i in open_items if statuses[i].state == "at_risk"),
        items_breached=sum(1 for i in open_items if statuses[i].state == "breached"),
        clocks_at_risk=sum(1 for r in facts.results if r.state == "at_risk"),
        clocks_breached=sum(1 for r in facts.results if r.state == "breached"),
        due_this_week=len(due),
        rates=_period_rates(facts.decided, as_of),
    )


def _departments(
    latest: Mapping[str, ItemCycle],
    facts: _Facts,
    rules: Rules,
    open_exceptions: Mapping[str, int],
) -> list[DepartmentRow]:
    names = list(rules.departments.names)
    led: dict[str, int] = {}
    coop: dict[str, int] = {}
    for c in latest.values():
        lead = str(c.fields.get("lead_dept") or "").strip()
        if lead:
            led[lead] = led.get(lead, 0) + 1
        for d in departments_of(c, rules.clocks):
            coop[d] = coop.get(d, 0) + 1
    latest_keys = {(c.item_id, c.cycle) for c in latest.values()}
    kinds = _clock_kinds(rules)
    on: dict[str, int] = {}
    late: dict[str, int] = {}
    daily: dict[str, int] = {}
    weekly: dict[str, int] = {}
    for r, c, d, who in zip(facts.results, facts.cycles, facts.decided, facts.who, strict=True):
        if c is not None and (r.item, r.cycle) not in latest_keys:
            who = responsible_of(r, None, rules)  # here only the latest cycles' fields count
        if d is not None:
            bucket = on if d[1] else late
            bucket[who] = bucket.get(who, 0) + 1
        if r.department and kinds.get(r.clock) == "department_day":
            daily[r.department] = daily.get(r.department, 0) + len(r.missing)
        if r.department and kinds.get(r.clock) == "department_week":
            weekly[r.department] = weekly.get(r.department, 0) + len(r.missing)
    seen = set(led) | set(coop) | set(on) | set(late) | set(open_exceptions)
    # departments of the rules first (in their order), then any other name seen (a typo shows)
    extra = sorted(n for n in seen if n not in names and n in set(led) | set(coop))
    return [
        DepartmentRow(
            name=n,
            led=led.get(n, 0),
            cooperated=coop.get(n, 0),
            on_time=on.get(n, 0),
            late=late.get(n, 0),
            daily_missing=daily.get(n, 0),
            weekly_late=weekly.get(n, 0),
            open_exceptions=int(open_exceptions.get(n, 0)),
        )
        for n in [*names, *extra]
    ]


def _overdue(facts: _Facts) -> list[OverdueRow]:
    rows = []
    for r, cycle, who in zip(facts.results, facts.cycles, facts.who, strict=True):
        if r.state not in ("breached", "at_risk"):
            continue
        title = str((cycle.fields if cycle else {}).get("title") or "")
        rows.append(
            OverdueRow(
                item=r.item,
                cycle=r.cycle,
                title=title,
                clock=r.clock,
                label=r.label,
                stage=r.stage,
                state=r.state,
                state_zh=r.state_zh,
                responsible=who,
                department=r.department,
                due_at=None if r.due_at is None else r.due_at.isoformat(),
                late_workdays=r.late_workdays,
                missing=len(r.missing),
            )
        )
    # breached first, most working days late first; then at risk, the earliest due first
    rows.sort(
        key=lambda o: (
            o.state != "breached",
            -o.late_workdays,
            -o.missing,
            o.due_at or "9999",
            o.item,
            o.label,
        )
    )
    return rows


def _trend(
    cycles: Sequence[ItemCycle],
    latest: Mapping[str, ItemCycle],
    facts: _Facts,
    as_of: dt.datetime,
) -> list[TrendWeek]:
    weeks = _week_labels(as_of.date(), TREND_WEEKS)
    opened = {w: 0 for w in weeks}
    completed = {w: 0 for w in weeks}
    first: dict[str, ItemCycle] = {}
    for c in cycles:
        if c.item_id not in first or c.cycle < first[c.item_id].cycle:
            first[c.item_id] = c
    for c in first.values():
        day = _date(c.fields.get("submitted_date")) or _date(c.fields.get("registered_date"))
        if day is not None and facts.week(day) in opened:
            opened[facts.week(day)] += 1
    for c in latest.values():
        day = _date(c.fields.get("completion_date"))
        if day is not None and facts.week(day) in completed:
            completed[facts.week(day)] += 1
    on = {w: 0 for w in weeks}
    late = {w: 0 for w in weeks}
    for d in facts.decided:
        if d is None or d[0] is None:
            continue
        week = facts.week(d[0])
        if week in on:
            (on if d[1] else late)[week] += 1
    return [TrendWeek(w, opened[w], completed[w], late[w], Rate(on[w], late[w])) for w in weeks]


def _dept_trend(facts: _Facts, rules: Rules, as_of: dt.datetime) -> dict[str, list[int]]:
    weeks = _week_labels(as_of.date(), TREND_WEEKS)
    index = {w: n for n, w in enumerate(weeks)}
    out: dict[str, list[int]] = {n: [0] * len(weeks) for n in rules.departments.names}
    for d, who in zip(facts.decided, facts.who, strict=True):
        if d is None or d[1] or d[0] is None or who not in out:
            continue
        n = index.get(facts.week(d[0]))
        if n is not None:
            out[who][n] += 1
    return out


def _items(
    latest: Mapping[str, ItemCycle],
    statuses: Mapping[str, ItemStatus],
    facts: _Facts,
    rules: Rules,
) -> list[ItemRow]:
    from automation.core.intake import format_deadline

    form = rules.form("summary")
    rows = []
    for item in sorted(latest):
        c = latest[item]
        status = statuses[item]
        rate = Rate(*facts.decided_by_cycle.get((item, c.cycle), (0, 0))).rate
        computed = {
            "item_id": item,
            "coop_depts": "、".join(departments_of(c, rules.clocks)),
            "current_stage": status.stage,
            "current_deadline": format_deadline(status.deadline),
            "clock_state": status.state_zh,
            "late_workdays": int(status.late_workdays),
            "on_time_rate": rate,
        }
        values: dict[str, Any] = {}
        for f in form.columns:
            value = computed[f.key] if f.key in computed else c.fields.get(f.key)
            values[f.key] = "" if value is None else value
        rows.append(ItemRow(item, c.cycle, values))
    return rows


__all__ = [
    "PERIODS",
    "TREND_WEEKS",
    "DepartmentRow",
    "ItemRow",
    "Overview",
    "OverdueRow",
    "Rate",
    "SummaryModel",
    "TrendWeek",
    "build_summary",
    "decided_on",
    "period_rates",
    "rate_of",
    "responsible_of",
]
