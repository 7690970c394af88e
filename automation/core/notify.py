"""Deciding what to tell whom (通知): events, their keys, recipients, digests and send hours.

Pure functions: the tracking rows, the clock results and "now" come in, records go out; the
rendering and the sending live in ``automation.io`` and ``automation.process.notify``.

- An :class:`Event` is one thing that happened to an item (registered, rejected, assigned, at
  risk, breached, a daily row missing, an exception escalated) or the weekly digest. Its ``key``
  names it for ever: the same event found again in a later run has the same key.
- A :class:`Notification` is an event for one delivery target (a mailbox or a group robot); its
  key (event key + target) is what the local outbox queue sends once and only once.
- :func:`digests` merges the notifications of one run into one message per target (at most
  ``digest_max_events`` events each), so 50 breaches reach a robot as a handful of messages.

Events produced elsewhere (execution feedback: exceptions; summary: the weekly digest) are made
with :func:`escalated_event`, :func:`daily_missing_event` and :func:`weekly_digest_event` and
passed to ``automation.process.notify.notify_drive(extra_events=...)``.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from automation.core.calendar import WorkCalendar
from automation.core.clocks import ClockResult, as_date
from automation.rules.departments import DepartmentsRules
from automation.rules.process import NotifyRules

EVENT_ZH = {
    "registered": "申请已登记",
    "rejected": "申请未通过评估",
    "assigned": "协调任务分派",
    "at_risk": "时限预警",
    "breached": "已超期",
    "daily_missing": "每日进度未更新",
    "escalated": "异常升级",
    "weekly_digest": "周报",
}
# the order events are listed in a digest: the most pressing first
EVENT_ORDER = tuple(EVENT_ZH)
ROLE_PREFIX = "@"  # an event role value naming a role of departments.yaml (@office, @leaders)


@dataclass(frozen=True)
class Event:
    """One thing to tell people about.

    ``roles`` maps a recipient role of notify.yaml (``requesting_dept``, ``lead_dept``,
    ``coop_depts``, ``responsible_dept``, ``escalation_to``) to department names, or to
    ``@office`` / ``@leaders`` / ``@gm_meeting``; ``data`` is what the templates show.
    """

    kind: str
    item: str = ""
    cycle: int = 0
    ref: str = ""  # clock key, exception id or ISO week
    department: str = ""
    step: str = ""  # at-risk level, ladder level, the missing day
    when: str = ""  # ISO date or date-time of what happened
    roles: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    data: Mapping[str, Any] = field(default_factory=dict)

    @functools.cached_property
    def key(self) -> str:  # worked out once: every run asks for the keys of every event
        return "|".join(
            [self.kind, self.item, str(self.cycle), self.ref, self.department, self.step]
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "item": self.item,
            "cycle": self.cycle,
            "ref": self.ref,
            "department": self.department,
            "step": self.step,
            "when": self.when,
            "roles": {k: list(v) for k, v in self.roles.items()},
            "data": dict(self.data),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Event:
        return cls(
            kind=d["kind"],
            item=d.get("item", ""),
            cycle=int(d.get("cycle", 0)),
            ref=d.get("ref", ""),
            department=d.get("department", ""),
            step=d.get("step", ""),
            when=d.get("when", ""),
            roles={k: tuple(v) for k, v in d.get("roles", {}).items()},
            data=dict(d.get("data", {})),
        )


@dataclass(frozen=True)
class Target:
    """Where a message goes: ``mail`` to an address, or ``robot`` to a robot id."""

    channel: str
    address: str
    mention: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        return f"{self.channel}:{self.address}"


@dataclass(frozen=True)
class Notification:
    event: Event
    target: Target
    recipients: tuple[str, ...]  # who the target stands for (departments, people)

    @functools.cached_property
    def key(self) -> str:
        return f"{self.event.key}>{self.target.key}"


@dataclass(frozen=True)
class Digest:
    """The notifications of one run for one target, merged into one message."""

    target: Target
    notifications: tuple[Notification, ...]

    @property
    def id(self) -> str:
        """A name derived from the keys alone: the same digest composed again has the same id."""
        keys = "\n".join(sorted(n.key for n in self.notifications))
        return hashlib.sha256(f"{self.target.key}\n{keys}".encode()).hexdigest()[:24]

    @property
    def events(self) -> list[Event]:
        return [n.event for n in self.notifications]


# -- events of the tracking table and the clocks ------------------------------------------------


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    return str(value).strip()


def _depts(value: Any) -> tuple[str, ...]:
    if value in (None, ""):
        return ()
    if isinstance(value, list | tuple):
        return tuple(str(v).strip() for v in value if str(v).strip())
    parts = str(value).replace("，", "、").replace(",", "、").replace("；", "、").split("、")
    return tuple(p.strip() for p in parts if p.strip())


def _recent(day: dt.date | None, as_of: dt.datetime, catch_up_days: int) -> bool:
    return day is not None and day <= as_of.date() and (as_of.date() - day).days <= catch_up_days


def _item_roles(row: Mapping[str, Any]) -> dict[str, tuple[str, ...]]:
    roles = {
        "requesting_dept": _depts(row.get("requesting_dept")),
        "lead_dept": _depts(row.get("lead_dept")),
        "coop_depts": _depts(row.get("coop_depts")),
    }
    return {k: v for k, v in roles.items() if v}


def _item_data(row: Mapping[str, Any]) -> dict[str, Any]:
    keys = (
        "item_id",
        "revision",
        "title",
        "requesting_dept",
        "requester",
        "collab_type",
        "urgency",
        "submitted_date",
        "registered_date",
        "evaluation_result",
        "evaluation_date",
        "evaluation_opinion",
        "lead_dept",
        "coop_depts",
        "current_stage",
        "current_deadline",
    )
    data = {k: _text(row.get(k)) for k in keys}
    data["coop_depts"] = "、".join(_depts(row.get("coop_depts")))
    return data


def _deadline(r: ClockResult) -> dict[str, Any]:
    return {
        "clock": r.clock,
        "label": r.label,
        "stage": r.stage,
        "department": r.department or "",
        "due_at": r.due_at.strftime("%Y-%m-%d %H:%M") if r.due_at else "",
        "state": r.state_zh,
    }


def row_events(
    rows: Iterable[Mapping[str, Any]],
    results: Sequence[ClockResult],
    *,
    as_of: dt.datetime,
    catch_up_days: int,
) -> list[Event]:
    """Registered, rejected and assigned events of the tracking rows (recent ones only: a drive
    that starts notifying does not mail a receipt for every item of its past)."""
    by_cycle: dict[tuple[str, int], list[ClockResult]] = {}
    for r in results:
        by_cycle.setdefault((r.item, r.cycle), []).append(r)
    out: list[Event] = []
    for row in rows:
        item = _text(row.get("item_id"))
        if not item:
            continue
        cycle = int(row.get("revision") or 1)
        roles, data = _item_roles(row), _item_data(row)
        registered = as_date(row.get("registered_date"))
        if _recent(registered, as_of, catch_up_days):
            out.append(
                Event("registered", item, cycle, when=_text(registered), roles=roles, data=data)
            )
        result = _text(row.get("evaluation_result"))
        evaluated = as_date(row.get("evaluation_date"))
        if result == "不通过" and _recent(evaluated, as_of, catch_up_days):
            out.append(
                Event("rejected", item, cycle, when=_text(evaluated), roles=roles, data=data)
            )
        if result == "通过" and roles.get("lead_dept") and _recent(evaluated, as_of, catch_up_days):
            ahead = [
                _deadline(r)
                for r in by_cycle.get((item, cycle), [])
                if r.due_at is not None and r.state in ("running", "at_risk", "breached")
            ]
            ahead.sort(key=lambda d: d["due_at"])
            out.append(
                Event(
                    "assigned",
                    item,
                    cycle,
                    when=_text(evaluated),
                    roles=roles,
                    data={**data, "deadlines": ahead},
                )
            )
    return out


def _responsible(r: ClockResult, roles: Mapping[str, tuple[str, ...]], rules: NotifyRules) -> tuple:
    if r.department:
        return (r.department,)
    role = rules.responsible.get(r.clock, "lead_dept")
    if role == "office":
        return (f"{ROLE_PREFIX}office",)
    return roles.get(role, ()) or (f"{ROLE_PREFIX}office",)


def clock_events(
    results: Sequence[ClockResult],
    rows: Iterable[Mapping[str, Any]],
    rules: NotifyRules,
    *,
    daily_clocks: Iterable[str] = ("daily_rows",),
    as_of: dt.datetime | None = None,
    catch_up_days: int | None = None,
) -> list[Event]:
    """At-risk and breached events of open clocks; a missing daily row or weekly report is an
    event of its own day or week (told once, however long it stays missing)."""
    row_of = {(_text(r.get("item_id")), int(r.get("revision") or 1)): r for r in rows}
    daily = set(daily_clocks)  # per: department_day clocks (daily rows of 模板四)
    out: list[Event] = []
    # an item's roles and fields, worked out once for all its clocks (never changed below)
    per_row: dict[tuple[str, int], tuple[dict[str, tuple[str, ...]], dict[str, Any]]] = {}
    for r in results:
        held = per_row.get((r.item, r.cycle))
        if held is None:
            row = row_of.get((r.item, r.cycle), {})
            held = per_row[(r.item, r.cycle)] = (_item_roles(row), _item_data(row))
        roles = dict(held[0])
        roles["responsible_dept"] = _responsible(r, roles, rules)
        data = {**held[1], **_deadline(r), "late_workdays": r.late_workdays}
        data["item_id"] = r.item
        dept = r.department or ""
        if r.missing and r.clock in daily:
            for day in r.missing:
                bounded = as_of is not None and catch_up_days is not None
                if bounded and not _recent(as_date(day), as_of, catch_up_days):
                    continue  # a day missed long before notifications started
                out.append(
                    daily_missing_event(
                        item=r.item,
                        cycle=r.cycle,
                        department=dept,
                        day=day,
                        lead_dept=roles.get("lead_dept", ()),
                        data=data,
                    )
                )
        if r.clock in daily:
            continue  # a daily clock speaks through its missing days only
        if r.state == "breached" and r.missing:  # weekly reports: one event per missing week
            for week in r.missing:
                out.append(
                    Event(
                        "breached", r.item, r.cycle, r.clock, dept, week,
                        when=week, roles=roles, data={**data, "missing": week},
                    )
                )  # fmt: skip
        elif r.state == "breached":
            out.append(
                Event(
                    "breached", r.item, r.cycle, r.clock, dept, "",
                    when=data["due_at"], roles=roles, data=data,
                )
            )  # fmt: skip
        elif r.state == "at_risk" and r.at_risk_level > 0:
            out.append(
                Event(
                    "at_risk", r.item, r.cycle, r.clock, dept, str(r.at_risk_level),
                    when=data["due_at"], roles=roles,
                    data={**data, "used_pct": round((r.used or 0) * 100)},
                )
            )  # fmt: skip
    return out


# -- events built by other stages (the hooks) ---------------------------------------------------


def daily_missing_event(
    *,
    item: str,
    cycle: int,
    department: str,
    day: str,
    lead_dept: Sequence[str] = (),
    data: Mapping[str, Any] | None = None,
) -> Event:
    """A department wrote no daily row (模板四) for working day ``day`` (ISO date); sent from the
    start of business of the next working day."""
    roles = {"responsible_dept": (department,), "lead_dept": tuple(lead_dept)}
    return Event(
        "daily_missing",
        item,
        cycle,
        "daily_rows",
        department,
        day,
        when=day,
        roles={k: v for k, v in roles.items() if v},
        data={**(data or {}), "item_id": item, "department": department, "day": day},
    )


def escalated_event(
    *,
    item: str,
    cycle: int,
    exception_id: str,
    level: int,
    to: str,
    department: str,
    lead_dept: str = "",
    title: str = "",
    label: str = "",
    description: str = "",
    reported: str = "",
) -> Event:
    """An exception (进度滞后, 资源不足 …) climbing one step of escalation.yaml's ladder.

    ``to`` is the ladder step's ``to`` (lead_dept, office, leader, gm_meeting); each step is
    its own event, told once.
    """
    target = {
        "lead_dept": (lead_dept,) if lead_dept else (),
        "office": (f"{ROLE_PREFIX}office",),
        "leader": (f"{ROLE_PREFIX}leaders",),
        "gm_meeting": (f"{ROLE_PREFIX}gm_meeting",),
    }.get(to, ())
    roles = {
        "escalation_to": target,
        "responsible_dept": (department,) if department else (),
        "lead_dept": (lead_dept,) if lead_dept else (),
    }
    return Event(
        "escalated",
        item,
        cycle,
        exception_id,
        department,
        str(level),
        when=reported,
        roles={k: v for k, v in roles.items() if v},
        data={
            "item_id": item,
            "title": title,
            "department": department,
            "lead_dept": lead_dept,
            "level": level,
            "label": label,
            "description": description,
            "reported": reported,
        },
    )


def weekly_digest_event(*, week: str, html: str, text: str, markdown: str = "") -> Event:
    """The weekly digest for leaders (``2026-W41``): the summary's HTML twin for mail, its text
    for the plain part, and markdown (default: the text) for robots."""
    return Event(
        "weekly_digest",
        "",
        0,
        week,
        when=week,
        roles={"leaders": (f"{ROLE_PREFIX}leaders",)},
        data={"week": week, "html": html, "text": text, "markdown": markdown or text},
    )


# -- recipients ---------------------------------------------------------------------------------


def _dept_targets(name: str, depts: DepartmentsRules, rules: NotifyRules) -> list[Target]:
    dept = depts.get(name)
    if dept is None:
        return []
    out = []
    if dept.email:
        out.append(Target("mail", dept.email))
    robot = dept.robot or rules.company_robot
    if robot:
        out.append(Target("robot", robot, tuple(dept.mention)))
    return out


def _leaders_of(departments: Iterable[str], depts: DepartmentsRules) -> list[Any]:
    wanted = {depts.canonical(d) or d for d in departments}
    leaders = depts.roles.leaders
    if not wanted:
        return list(leaders)
    return [p for p in leaders if wanted & set(p.departments)]


def recipients(
    event: Event, to: Sequence[str], depts: DepartmentsRules, rules: NotifyRules
) -> dict[Target, list[str]]:
    """The targets of an event (mail addresses, robots) and whom each stands for."""
    out: dict[Target, list[str]] = {}
    by_key: dict[str, Target] = {}

    def add(target: Target, who: str) -> None:
        known = by_key.get(target.key)
        if known is not None and known != target:  # the same robot for several departments
            names = out.pop(known)
            mention = tuple(dict.fromkeys([*known.mention, *target.mention]))
            target = Target(target.channel, target.address, mention)
            out[target] = names
        by_key[target.key] = target
        names = out.setdefault(target, [])
        if who not in names:
            names.append(who)

    item_depts = [*event.roles.get("lead_dept", ()), *event.roles.get("requesting_dept", ())]
    names: list[str] = []
    for role in to:
        if role in ("office", "leaders", "gm_meeting"):
            names.append(f"{ROLE_PREFIX}{role}")
        else:
            names.extend(event.roles.get(role, ()))
    for name in names:
        if name == f"{ROLE_PREFIX}office":
            office = depts.roles.office
            if depts.roles.office_email:
                add(Target("mail", depts.roles.office_email), depts.roles.office_name)
            for t in _dept_targets(office, depts, rules):
                if t.channel == "robot" or not depts.roles.office_email:
                    add(t, depts.roles.office_name)
        elif name == f"{ROLE_PREFIX}leaders":
            for p in _leaders_of(item_depts, depts):
                if p.email:
                    add(Target("mail", p.email), f"{p.name}（{p.title}）" if p.title else p.name)
        elif name == f"{ROLE_PREFIX}gm_meeting":
            gm = depts.roles.gm_meeting
            if gm.email:
                add(Target("mail", gm.email), gm.name)
        else:
            canonical = depts.canonical(name) or name
            for t in _dept_targets(canonical, depts, rules):
                add(t, canonical)
    return out


def notifications(
    events: Iterable[Event], depts: DepartmentsRules, rules: NotifyRules
) -> list[Notification]:
    """Every (event, target) pair, once: a company robot standing for several departments gets
    an event once, not once per department."""
    seen: dict[str, Notification] = {}
    for event in events:
        spec = rules.events.get(event.kind)
        if spec is None:
            continue  # an event notify.yaml does not configure is not sent
        for target, who in recipients(event, spec.to, depts, rules).items():
            n = Notification(event, target, tuple(who))
            seen.setdefault(n.key, n)
    return list(seen.values())


# -- when, and how merged -----------------------------------------------------------------------


def may_send(kind: str, now: dt.datetime, calendar: WorkCalendar, rules: NotifyRules) -> bool:
    """Whether an event of ``kind`` may leave at ``now``: urgent kinds always, the others on
    working days within the send hours (default the business hours of calendar.yaml)."""
    hours = rules.hours
    if kind in hours.urgent:
        return True
    now = calendar.local(now)
    if hours.workdays_only and not calendar.is_workday(now.date()):
        return False
    start = hours.start or calendar.start_of_business
    end = hours.end or calendar.close_of_business
    return start <= now.time().replace(tzinfo=None) <= end


def _order(n: Notification) -> tuple[int, str, str]:
    kind = n.event.kind
    rank = EVENT_ORDER.index(kind) if kind in EVENT_ORDER else len(EVENT_ORDER)
    return (rank, n.event.item, n.event.key)


def digests(items: Iterable[Notification], max_events: int) -> list[Digest]:
    """One digest per target (split every ``max_events`` events), pressing events first."""
    by_target: dict[str, list[Notification]] = {}
    for n in items:
        by_target.setdefault(n.target.key, []).append(n)
    out: list[Digest] = []
    for key in sorted(by_target):
        group = sorted(by_target[key], key=_order)
        for i in range(0, len(group), max_events):
            part = tuple(group[i : i + max_events])
            # one group robot for several departments: @ the people of every one of them
            mention = tuple(dict.fromkeys(m for n in part for m in n.target.mention))
            first = part[0].target
            out.append(Digest(Target(first.channel, first.address, mention), part))
    return out


def split(digest: Digest) -> list[Digest]:
    """A digest in two halves (for a message over a channel's size limit)."""
    half = len(digest.notifications) // 2
    if half == 0:
        return [digest]
    return [
        Digest(digest.target, digest.notifications[:half]),
        Digest(digest.target, digest.notifications[half:]),
    ]


def backoff_seconds(attempts: int, base: float, cap: float) -> float:
    """Wait before the next try after ``attempts`` failures: doubling from ``base``, capped."""
    if attempts <= 0:
        return 0.0
    return min(cap, base * (2 ** (attempts - 1)))


def digest_subject(digest: Digest, subjects: Mapping[str, str]) -> str:
    """The subject of one event (from notify.yaml), or a count by kind for a digest."""
    events = digest.events
    if len(events) == 1:
        e = events[0]
        return _fill(subjects.get(e.kind, EVENT_ZH.get(e.kind, e.kind)), e)
    counts: dict[str, int] = {}
    for e in events:
        counts[e.kind] = counts.get(e.kind, 0) + 1
    parts = "、".join(f"{EVENT_ZH.get(k, k)} {c}" for k, c in counts.items())
    return f"【协同】通知汇总（{len(events)} 条）：{parts}"


class _Blank(dict):
    def __missing__(self, key: str) -> str:
        return ""


def _fill(template: str, e: Event) -> str:
    values = {k: v for k, v in e.data.items() if isinstance(v, str | int | float)}
    values.setdefault("item_id", e.item)
    values["clock"] = e.data.get("label") or e.data.get("clock", "")
    values.setdefault("department", e.department)
    values.setdefault("week", e.ref if e.kind == "weekly_digest" else "")
    try:
        return " ".join(template.format_map(_Blank(values)).split())
    except (ValueError, IndexError):
        return template
