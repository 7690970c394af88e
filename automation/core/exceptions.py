"""Exceptions (异常处理, stage 5c): opened by daily rows, resolved, climbing the escalation ladder.

Pure: the daily rows of one item and department (``automation.core.rollup.DailyRow``), the
office's resolution marks and the rules of ``rules/escalation.yaml`` in; the exceptions with the
ladder level reached at ``as_of`` out.

- A row whose status is one of ``open_statuses`` (滞后, 受阻), or which has text in 需协调事项,
  opens an exception — one per problem: a row repeating a problem that is still open (same text
  in 存在问题, else in 需协调事项, whitespace ignored) opens nothing new.
- A later row with one of ``resolve_statuses`` (进行中, 已完成) and no coordination need resolves
  every open exception of that department; so does the office's mark (``OfficeMark``) for the
  exceptions opened on or before its date.
- Level 1 (the lead department) is reached the day it opens; level N on the ``after_workdays``-th
  working day after that day, if still unresolved then (a step falling on the day it is resolved
  or later is never reached).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from automation.core.calendar import WorkCalendar
from automation.core.rollup import DailyRow
from automation.rules.process import EscalationRules, EscalationStep


@dataclass(frozen=True)
class OfficeMark:
    """The office marked the exceptions of ``department`` (of one item) resolved on ``date``."""

    department: str
    date: dt.date


@dataclass(frozen=True)
class Step:
    level: int
    to: str  # lead_dept / office / leader / gm_meeting
    label: str
    date: dt.date  # the working day it is reached (if still unresolved)


@dataclass(frozen=True)
class ExceptionCase:
    item: str
    department: str
    opened: dt.date
    reason: str
    resolved: dt.date | None
    resolved_by: str | None  # "row" | "office"
    level: int  # the ladder step reached at as-of (1 = lead department)
    to: str  # that step's label
    role: str  # that step's ``to`` key
    reached: tuple[Step, ...]  # every step reached so far (each is notified once)

    def as_dict(self) -> dict[str, object]:
        return {
            "item": self.item,
            "department": self.department,
            "opened": self.opened.isoformat(),
            "reason": self.reason,
            "level": self.level,
            "to": self.to,
            "role": self.role,
            "resolved": None if self.resolved is None else self.resolved.isoformat(),
            "resolved_by": self.resolved_by,
            "steps": [
                {"level": s.level, "to": s.label, "role": s.to, "date": s.date.isoformat()}
                for s in self.reached
            ],
        }


def _key(text: str) -> str:
    return "".join(text.split())


def _opens(row: DailyRow, rules: EscalationRules) -> str | None:
    """The problem a row reports (its identity), or None when it opens nothing."""
    if row.status in rules.open_statuses:
        return _key(row.problems) or _key(row.coordination) or row.status
    if rules.open_on_coordination and _key(row.coordination):
        return _key(row.problems) or _key(row.coordination)
    return None


def _reason(row: DailyRow) -> str:
    parts = [row.status] if row.status else []
    if row.problems.strip():
        parts.append(row.problems.strip())
    if row.coordination.strip():
        parts.append(f"需协调：{row.coordination.strip()}")
    return "；".join(parts)


def ladder_steps(
    calendar: WorkCalendar, opened: dt.date, ladder: Sequence[EscalationStep]
) -> list[Step]:
    """The day each step of the ladder is reached by an exception opened on ``opened``."""
    out = []
    for i, s in enumerate(ladder):
        day = opened if i == 0 else calendar.add_workdays(opened, s.after_workdays)
        out.append(Step(s.level, s.to, s.label, day))
    return out


def _case(
    item: str,
    dept: str,
    opened: dt.date,
    reason: str,
    resolved: tuple[dt.date, str] | None,
    calendar: WorkCalendar,
    rules: EscalationRules,
    today: dt.date,
) -> ExceptionCase:
    steps = ladder_steps(calendar, opened, rules.ladder)
    stop = resolved[0] if resolved else None
    reached = tuple(
        s
        for i, s in enumerate(steps)
        if i == 0 or (s.date <= today and (stop is None or s.date < stop))
    )
    top = reached[-1]
    return ExceptionCase(
        item=item,
        department=dept,
        opened=opened,
        reason=reason,
        resolved=stop,
        resolved_by=resolved[1] if resolved else None,
        level=top.level,
        to=top.label,
        role=top.to,
        reached=reached,
    )


def department_exceptions(
    item: str,
    department: str,
    rows: Iterable[DailyRow],
    *,
    rules: EscalationRules,
    calendar: WorkCalendar,
    as_of: dt.datetime,
    marks: Iterable[OfficeMark] = (),
) -> list[ExceptionCase]:
    """Every exception of one item and department up to ``as_of`` (rows after it are ignored)."""
    today = calendar.local(as_of).date()
    ordered = sorted((r for r in rows if r.date <= today), key=lambda r: r.date)
    office = sorted(m.date for m in marks if m.department == department and m.date <= today)
    open_: dict[str, tuple[dt.date, str]] = {}  # problem → (opened, reason)
    done: list[tuple[dt.date, str, tuple[dt.date, str]]] = []

    def close(on: dt.date, by: str) -> None:
        for opened, reason in open_.values():
            done.append((opened, reason, (on, by)))
        open_.clear()

    for row in ordered:
        while office and office[0] < row.date:  # the office marked it before this row's day
            close(office.pop(0), "office")
        problem = _opens(row, rules)
        if problem is not None:
            open_.setdefault(problem, (row.date, _reason(row)))
        elif row.status in rules.resolve_statuses and not _key(row.coordination):
            close(row.date, "row")
    for day in office:
        close(day, "office")
    cases = [_case(item, department, o, r, res, calendar, rules, today) for o, r, res in done] + [
        _case(item, department, o, r, None, calendar, rules, today) for o, r in open_.values()
    ]
    return sorted(cases, key=lambda c: (c.opened, c.reason))


_MARK = r"{marker}\s*[:：]?\s*(?P<dept>[^\s\d:：,，;；]+)\s*(?P<date>\d{{4}}[-/.年]\d{{1,2}}[-/.月]\d{{1,2}}日?)?"


def office_marks(notes: str | None, marker: str, default: dt.date) -> list[OfficeMark]:
    """The resolution marks in a tracking row's 备注 text: ``异常已解决：生产部 2026-09-28``
    (a mark without a date counts from ``default``, the as-of day)."""
    if not notes:
        return []
    out = []
    for m in re.finditer(_MARK.format(marker=re.escape(marker)), str(notes)):
        day = default
        if m.group("date"):
            nums = [int(n) for n in re.findall(r"\d+", m.group("date"))]
            try:
                day = dt.date(*nums[:3])
            except ValueError:
                day = default
        out.append(OfficeMark(m.group("dept"), day))
    return out


def escalation_events(cases: Iterable[ExceptionCase]) -> list[dict[str, object]]:
    """One event per ladder step reached, for the notifications: ``key`` is stable from run to
    run (item, department, day opened, level), so each step is notified once."""
    return [
        {
            "key": f"{c.item}|{c.department}|{c.opened.isoformat()}|{s.level}",
            "item": c.item,
            "department": c.department,
            "reason": c.reason,
            "level": s.level,
            "to": s.to,
            "label": s.label,
            "date": s.date.isoformat(),
        }
        for c in cases
        for s in c.reached
    ]


__all__ = [
    "ExceptionCase",
    "OfficeMark",
    "Step",
    "department_exceptions",
    "escalation_events",
    "ladder_steps",
    "office_marks",
]
