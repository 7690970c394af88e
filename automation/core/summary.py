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
import operator
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

    @functools.cached_property
    def shown(self) -> str:
        """The row's values as text for :meth:`SummaryModel.content_hash` (once per row: a
        rebuilt summary takes most rows from the parts of the last build)."""
        return repr(_overdue_fields(self))


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

    @functools.cached_property
    def shown(self) -> str:
        """The row as text for :meth:`SummaryModel.content_hash` (once per row)."""
        return repr((self.item, self.cycle, self.values))


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
        the same content in every process); each long list's rows as the text each row worked
        out once (``shown``; a ``repr`` holds no line break), one row a line."""
        head = (
            self.as_of_date.isoformat(),
            self.overview,
            self.departments,
            self.trend,
            self.dept_trend,
            self.warnings,
            extra,
        )
        digest = hashlib.sha256(repr(head).encode("utf-8"))
        for rows in (self.overdue, self.items):
            digest.update(b"\x00")
            digest.update("\n".join(r.shown for r in rows).encode("utf-8"))
        return digest.hexdigest()


def _flat(row: Any) -> dict[str, Any]:
    """A dataclass of plain values as a dict (``asdict`` deep-copies: thousands of rows)."""
    return {name: getattr(row, name) for name in _field_names(type(row))}


@functools.cache
def _field_names(cls: type) -> tuple[str, ...]:
    return tuple(f.name for f in fields(cls))


_overdue_fields = operator.attrgetter(*_field_names(OverdueRow))  # a row's values as a tuple


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
    return _rates_by_period(Counter(d for d in decided if d is not None), as_of)


def _rates_by_period(
    counts: Mapping[tuple[dt.date | None, bool], int], as_of: dt.datetime
) -> dict[str, Rate]:
    """On time / late per period of the decided clocks, counted by (day, on time?) (each
    distinct day looked at once)."""
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
    ``open_exceptions``: open exceptions per department (0 where absent). The same as
    :func:`assemble` of each item's :func:`item_part`.
    """
    by_cycle: dict[tuple[str, int], list[ClockResult]] = {}
    for r in results:
        by_cycle.setdefault((r.item, r.cycle), []).append(r)
    by_item: dict[str, list[ItemCycle]] = {}
    for c in cycles:
        by_item.setdefault(c.item_id, []).append(c)
    parts = [
        item_part(mine, [by_cycle.get((c.item_id, c.cycle), []) for c in mine], rules, as_of)
        for mine in by_item.values()
    ]
    return assemble(
        parts,
        rules,
        as_of,
        pending_requests=pending_requests,
        open_exceptions=open_exceptions,
        warnings=warnings,
    )


@dataclass(frozen=True)
class ItemPart:
    """What one item adds to the summary: its cycles (revisions) and their clocks at one
    moment, worked out once — a summary rebuilt after one item changed works out that item's
    part again and adds up the others' as they were (:func:`assemble`)."""

    item: str
    status: ItemStatus  # of the latest cycle
    due_this_week: bool  # an open clock of the latest cycle due between as_of and week's end
    clocks_at_risk: int
    clocks_breached: int
    # decided clocks of every cycle: (day, on time?, who answers, who the 部门 sheet counts)
    decided: tuple[tuple[tuple[dt.date | None, bool, str, str], int], ...]
    lead: str
    cooperating: tuple[str, ...]
    daily_missing: tuple[tuple[str, int], ...]  # by department
    weekly_late: tuple[tuple[str, int], ...]
    overdue: tuple[OverdueRow, ...]
    opened: dt.date | None  # submitted (or registered) day of the first cycle
    completed: dt.date | None  # completion day of the latest cycle
    row: ItemRow
    # the part reads the moment by its day and by which due times have passed: the same for
    # any moment from the one it was made at until the next midnight or due time
    until: dt.datetime

    @property
    def open(self) -> bool:
        return _is_open(self.status)

    @functools.cached_property
    def shares(self) -> tuple[tuple[str, Any, int], ...]:
        """What the part adds to the summary's counts (see :class:`PartTotals`), worked out
        once: added when the part comes, taken away when another replaces it."""
        return _shares_of(self)


def item_part(
    cycles: Sequence[ItemCycle],
    clocks: Sequence[Sequence[ClockResult]],
    rules: Rules,
    as_of: dt.datetime,
) -> ItemPart:
    """One item's :class:`ItemPart` from its cycles (in table order) and each cycle's clocks.

    It reads of the clocks all but the share of working time used (``used``) — except through
    :func:`item_status` of the latest cycle (:func:`latest_status`), which orders clocks at
    risk by it."""
    latest, mine = _latest(cycles, clocks)
    first = cycles[0]
    for c in cycles:
        if c.cycle < first.cycle:
            first = c
    status = item_status(mine)
    week_end = as_of.date() + dt.timedelta(days=6 - as_of.weekday())
    due = _is_open(status) and any(
        r.state in OPEN_STATES
        and r.due_at is not None
        and as_of <= r.due_at
        and r.due_at.date() <= week_end
        for r in mine
    )
    kinds = {c.key: c.responsible for c in rules.clocks.clocks}
    per = _clock_kinds(rules)
    decided: Counter[tuple[dt.date | None, bool, str, str]] = Counter()
    daily: Counter[str] = Counter()
    weekly: Counter[str] = Counter()
    overdue: list[OverdueRow] = []
    at_risk = breached = 0
    on = late = 0
    for c, part in zip(cycles, clocks, strict=True):
        is_latest = c.cycle == latest.cycle
        title = str(c.fields.get("title") or "")
        for r in part:
            who = _responsible(r, c, kinds.get(r.clock, "lead_dept"), rules)
            d = decided_on(r, as_of)
            if d is not None:
                # the 部门 sheet counts an earlier cycle's clock by the clock alone
                counted = who if is_latest else responsible_of(r, None, rules)
                decided[(d[0], d[1], who, counted)] += 1
                if is_latest:
                    on, late = (on + 1, late) if d[1] else (on, late + 1)
            if r.department and per.get(r.clock) == "department_day":
                daily[r.department] += len(r.missing)
            if r.department and per.get(r.clock) == "department_week":
                weekly[r.department] += len(r.missing)
            if r.state in ("at_risk", "breached"):
                at_risk += r.state == "at_risk"
                breached += r.state == "breached"
                overdue.append(_overdue_row(r, title, who))
    return ItemPart(
        item=latest.item_id,
        status=status,
        due_this_week=due,
        clocks_at_risk=at_risk,
        clocks_breached=breached,
        decided=tuple(decided.items()),
        lead=str(latest.fields.get("lead_dept") or "").strip(),
        cooperating=tuple(departments_of(latest, rules.clocks)),
        daily_missing=tuple(daily.items()),
        weekly_late=tuple(weekly.items()),
        overdue=tuple(overdue),
        opened=_date(first.fields.get("submitted_date"))
        or _date(first.fields.get("registered_date")),
        completed=_date(latest.fields.get("completion_date")),
        row=_item_row(latest, status, Rate(on, late).rate, rules),
        until=_holds_until(as_of, (r.due_at for part in clocks for r in part)),
    )


def _latest(
    cycles: Sequence[ItemCycle], clocks: Sequence[Sequence[ClockResult]]
) -> tuple[ItemCycle, list[ClockResult]]:
    """An item's latest cycle and its clocks (of every row of that revision, should the table
    hold two)."""
    latest = cycles[0]
    for c in cycles:
        if c.cycle >= latest.cycle:
            latest = c
    mine = [
        r for c, part in zip(cycles, clocks, strict=True) if c.cycle == latest.cycle for r in part
    ]
    return latest, mine


def latest_status(
    cycles: Sequence[ItemCycle], clocks: Sequence[Sequence[ClockResult]]
) -> ItemStatus:
    """:func:`item_status` of an item's latest cycle, as :func:`item_part` works it out."""
    return item_status(_latest(cycles, clocks)[1])


def _overdue_row(r: ClockResult, title: str, who: str) -> OverdueRow:
    return OverdueRow(
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


def _holds_until(as_of: dt.datetime, dues: Iterable[dt.datetime | None]) -> dt.datetime:
    """The first moment from which a part made at ``as_of`` may read differently: the next
    midnight (the day, the week, the periods) or the first due time not before ``as_of`` (a
    clock due then counts as decided after it; one due exactly now: at once)."""
    midnight = dt.datetime.combine(as_of.date() + dt.timedelta(days=1), dt.time(), as_of.tzinfo)
    return min([midnight, *(d for d in dues if d is not None and d >= as_of)])


def _item_row(c: ItemCycle, status: ItemStatus, rate: float | None, rules: Rules) -> ItemRow:
    """The 事项 row of an item's latest cycle (the summary form's fields)."""
    from automation.core.intake import format_deadline

    computed = {
        "item_id": c.item_id,
        "coop_depts": "、".join(departments_of(c, rules.clocks)),
        "current_stage": status.stage,
        "current_deadline": format_deadline(status.deadline),
        "clock_state": status.state_zh,
        "late_workdays": int(status.late_workdays),
        "on_time_rate": rate,
    }
    values: dict[str, Any] = {}
    for f in rules.form("summary").columns:
        value = computed[f.key] if f.key in computed else c.fields.get(f.key)
        values[f.key] = "" if value is None else value
    return ItemRow(c.item_id, c.cycle, values)


def assemble(
    parts: Sequence[ItemPart],
    rules: Rules,
    as_of: dt.datetime,
    *,
    pending_requests: int = 0,
    open_exceptions: Mapping[str, int] | None = None,
    warnings: Sequence[str] = (),
) -> SummaryModel:
    """The summary model from every item's part (see :func:`build_summary`)."""
    return assemble_from(
        PartTotals.of(parts),
        rules,
        as_of,
        pending_requests=pending_requests,
        open_exceptions=open_exceptions,
        warnings=warnings,
    )


class PartTotals:
    """The parts of a summary with what each adds to its counts, added up: made from the
    totals of earlier parts (:meth:`updated`), only the shares of the parts that are not the
    same objects are taken away and added (a summary rebuilt after one item changed adds up
    two thousand parts as one)."""

    def __init__(self) -> None:
        self.parts: list[ItemPart] = []
        self._held: dict[int, ItemPart] = {}  # by id: the parts counted, held
        self.sums: dict[str, Counter[Any]] = {}

    @classmethod
    def of(cls, parts: Sequence[ItemPart]) -> PartTotals:
        return cls().updated(parts)

    def updated(self, parts: Sequence[ItemPart]) -> PartTotals:
        """The totals of ``parts``, worked out from these."""
        new = PartTotals()
        new.parts = list(parts)
        new._held = {id(p): p for p in new.parts}
        new.sums = {name: Counter(counts) for name, counts in self.sums.items()}
        for key, part in self._held.items():
            if new._held.get(key) is not part:
                new._count(part, -1)
        for key, part in new._held.items():
            if self._held.get(key) is not part:
                new._count(part, 1)
        return new

    def _count(self, part: ItemPart, sign: int) -> None:
        for name, key, n in part.shares:
            counts = self.sums.setdefault(name, Counter())
            value = counts[key] + sign * n
            if value:
                counts[key] = value
            else:
                del counts[key]

    def get(self, name: str) -> Counter[Any]:
        return self.sums.get(name) or Counter()


def _shares_of(part: ItemPart) -> tuple[tuple[str, Any, int], ...]:
    """What one part adds to the counts of :class:`PartTotals`: (count, key, number)."""
    out: list[tuple[str, Any, int]] = []
    if part.open:
        out.append(("n", "open_items", 1))
        out.append(("stage", part.status.stage or "", 1))
        if part.status.state == "at_risk":
            out.append(("n", "items_at_risk", 1))
        elif part.status.state == "breached":
            out.append(("n", "items_breached", 1))
    out.append(("n", "clocks_at_risk", part.clocks_at_risk))
    out.append(("n", "clocks_breached", part.clocks_breached))
    out.append(("n", "due_this_week", int(part.due_this_week)))
    if part.lead:
        out.append(("led", part.lead, 1))
    out.extend(("coop", d, 1) for d in part.cooperating)
    for (day, ok, who, counted), n in part.decided:
        out.append(("decided", (day, ok), n))
        out.append(("on" if ok else "late", counted, n))
        if day is not None:
            week = _week(day)
            out.append(("week_on" if ok else "week_late", week, n))
            if not ok:
                out.append(("dept_late", (who, week), n))
    out.extend(("daily", d, n) for d, n in part.daily_missing)
    out.extend(("weekly", d, n) for d, n in part.weekly_late)
    if part.opened is not None:
        out.append(("opened", _week(part.opened), 1))
    if part.completed is not None:
        out.append(("completed", _week(part.completed), 1))
    return tuple(out)


@functools.lru_cache(maxsize=1 << 12)
def _week(day: dt.date) -> str:
    return week_of(day)


def assemble_from(
    totals: PartTotals,
    rules: Rules,
    as_of: dt.datetime,
    *,
    pending_requests: int = 0,
    open_exceptions: Mapping[str, int] | None = None,
    warnings: Sequence[str] = (),
) -> SummaryModel:
    """The summary model of the parts ``totals`` holds (see :func:`assemble`)."""
    parts = totals.parts
    return SummaryModel(
        as_of=as_of,
        overview=_overview(totals, rules, as_of, pending_requests),
        departments=_departments(totals, rules, open_exceptions or {}),
        overdue=_overdue(parts),
        trend=_trend(totals, as_of),
        dept_trend=_dept_trend(totals, rules, as_of),
        items=[p.row for p in sorted(parts, key=lambda p: p.item)],
        warnings=list(warnings),
    )


def _is_open(status: ItemStatus) -> bool:
    return status.state not in ("met", "met_late")


def _overview(
    totals: PartTotals, rules: Rules, as_of: dt.datetime, pending_requests: int
) -> Overview:
    order = rules.clocks.stage_order
    clock_stages = [c.stage for c in rules.clocks.clocks]
    first_clock_stage = clock_stages[0] if clock_stages else ""
    counts = dict.fromkeys(order, 0)
    stages = totals.get("stage")
    if all(stage in counts or not stage for stage in stages):
        for stage, n in stages.items():
            counts[stage or first_clock_stage] = counts.get(stage or first_clock_stage, 0) + n
    else:  # a stage the rules do not order: shown after theirs, as the parts name them
        for p in totals.parts:
            if p.open:
                stage = p.status.stage or first_clock_stage
                counts[stage] = counts.get(stage, 0) + 1
    if order and order[0] not in clock_stages:  # 需求发起: forms not registered yet
        counts[order[0]] += pending_requests
    n = totals.get("n")
    open_items = n["open_items"]
    return Overview(
        open_items=open_items,
        closed_items=len(totals.parts) - open_items,
        stages=list(counts.items()),
        items_at_risk=n["items_at_risk"],
        items_breached=n["items_breached"],
        clocks_at_risk=n["clocks_at_risk"],
        clocks_breached=n["clocks_breached"],
        due_this_week=n["due_this_week"],
        rates=_rates_by_period(totals.get("decided"), as_of),
    )


def _departments(
    totals: PartTotals, rules: Rules, open_exceptions: Mapping[str, int]
) -> list[DepartmentRow]:
    names = list(rules.departments.names)
    led, coop = totals.get("led"), totals.get("coop")
    on, late = totals.get("on"), totals.get("late")
    daily, weekly = totals.get("daily"), totals.get("weekly")
    # departments of the rules first (in their order), then any other name that leads or
    # cooperates (a typo shows)
    extra = sorted(n for n in set(led) | set(coop) if n not in names)
    return [
        DepartmentRow(
            name=n,
            led=led[n],
            cooperated=coop[n],
            on_time=on[n],
            late=late[n],
            daily_missing=daily[n],
            weekly_late=weekly[n],
            open_exceptions=int(open_exceptions.get(n, 0)),
        )
        for n in [*names, *extra]
    ]


def _overdue(parts: Sequence[ItemPart]) -> list[OverdueRow]:
    rows = [o for p in parts for o in p.overdue]
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


def _trend(totals: PartTotals, as_of: dt.datetime) -> list[TrendWeek]:
    weeks = _week_labels(as_of.date(), TREND_WEEKS)
    opened, completed = totals.get("opened"), totals.get("completed")
    on, late = totals.get("week_on"), totals.get("week_late")
    return [TrendWeek(w, opened[w], completed[w], late[w], Rate(on[w], late[w])) for w in weeks]


def _dept_trend(totals: PartTotals, rules: Rules, as_of: dt.datetime) -> dict[str, list[int]]:
    weeks = _week_labels(as_of.date(), TREND_WEEKS)
    index = {w: n for n, w in enumerate(weeks)}
    out: dict[str, list[int]] = {n: [0] * len(weeks) for n in rules.departments.names}
    for (who, week), n in totals.get("dept_late").items():
        at = index.get(week)
        if at is not None and who in out:
            out[who][at] += n
    return out


__all__ = [
    "PERIODS",
    "TREND_WEEKS",
    "DepartmentRow",
    "PartTotals",
    "ItemRow",
    "Overview",
    "OverdueRow",
    "Rate",
    "SummaryModel",
    "TrendWeek",
    "ItemPart",
    "assemble",
    "assemble_from",
    "build_summary",
    "decided_on",
    "item_part",
    "latest_status",
    "period_rates",
    "rate_of",
    "responsible_of",
]
