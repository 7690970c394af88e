"""Reacting to the tracking table: an item that passed evaluation gets its workbooks.

When the office records evaluation 通过 with a lead department and cooperating departments,
the item's folder receives, once:

- the minutes (模板三 会议纪要) pre-filled with the item, the lead department, one attendee row
  per department and the deadlines of the coordination stages as milestone rows;
- one execution workbook (模板四 执行跟踪表) per cooperating department, pre-filled with the
  item, the department and the lead department;

and the approval route (审批路径, from ``rules/routing.yaml``) is written into the item's row.
An existing workbook is never overwritten, and a workbook once created is not created again
even if someone deletes it (the ledger remembers).
"""

from __future__ import annotations

import datetime as dt
import tempfile
import time
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from automation.core import intake as core
from automation.core.text import printable
from automation.io.drive import item_folder_index
from automation.io.files import LISTING_UNSETTLED_NS, folder_mtime
from automation.io.journal import make_entry
from automation.io.ledger import Ledger
from automation.io.names import fit_name
from automation.io.safewrite import WriteDeferred, safe_write, snapshot
from automation.io.templates import write_workbook
from automation.process.context import RunContext
from automation.process.intake import item_folder
from automation.process.tracking import (
    CellChange,
    TrackingTable,
    is_withdrawn,
    row_changes,
    values_hash,
)
from automation.rules import Rules


@dataclass
class CreatedWorkbook:
    item_id: str
    kind: str  # minutes | execution
    department: str | None
    file: str  # relative to the drive

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def passed_rows(ctx: RunContext, table: TrackingTable) -> list[dict[str, Any]]:
    """Latest revision rows that passed evaluation with a lead and cooperating departments
    (the table's own row dicts, to be read only: a row equal to the one read before is the
    same object, see ``read_tracking``).

    A row whose 事项编号 does not follow the rules' pattern is left out and reported once in the
    context's warnings: its ID never reaches a path.
    """
    out = []
    for row in core.latest_revisions(table.rows).values():
        if row.get("evaluation_result") != core.PASSED or is_withdrawn(row):
            continue
        if core.parse_item_id(str(row.get("item_id") or ""), ctx.rules.drive.item_ids) is None:
            warning = (
                f"跟踪表第 {row.get('_row')} 行的事项编号“{printable(row.get('item_id'))}”"
                "不符合编号规则，未创建该事项的工作簿 [E_BAD_ITEM_ID]"
            )
            if warning not in ctx.warnings:
                ctx.warnings.append(warning)
            continue
        if not row.get("lead_dept") or not _depts(row.get("coop_depts")):
            continue
        out.append(row)
    return out


def _depts(value: Any) -> list[str]:
    if isinstance(value, (list, tuple)):
        return [str(v) for v in value if str(v).strip()]
    if not value:
        return []
    text = str(value)
    for sep in ("，", ",", "；", ";", "/", " "):
        text = text.replace(sep, "、")
    return [p.strip() for p in text.split("、") if p.strip()]


def workbook_names(rules: Rules, item_id: str, departments: list[str]) -> dict[str, str]:
    """File names of an item's workbooks: ``minutes`` and ``execution:<dept>``."""
    names = _names(
        rules.form("minutes").file_name,
        rules.form("execution").file_name,
        item_id,
        tuple(departments),
    )
    return dict(names)


@lru_cache(maxsize=1 << 14)  # asked for every item by every run's summary and write-back
def _names(
    minutes_file: str, execution_file: str, item_id: str, departments: tuple[str, ...]
) -> tuple[tuple[str, str], ...]:
    minutes = Path(minutes_file)
    execution = Path(execution_file)
    names = [("minutes", f"{minutes.stem}_{item_id}{minutes.suffix}")]
    for d in departments:
        names.append((f"execution:{d}", f"{execution.stem}_{item_id}_{d}{execution.suffix}"))
    return tuple(names)


def deadline_milestones(rules: Rules, row: dict[str, Any], calendar: Any) -> list[dict[str, Any]]:
    """Milestone rows for the minutes: each coordination/approval clock with its rule, and its
    due date when the start date is already known (e.g. the meeting, from the evaluation)."""
    tracking = rules.form("tracking")
    labels = {f.key: f.label for f in tracking.all_fields}
    labels.update({f.key: f.label for f in rules.form("execution").all_fields})
    stages = {"沟通协商", "方案审批"}
    out = []
    for clock in rules.clocks.clocks:
        if clock.stage not in stages or clock.per not in ("item", "department"):
            continue
        if clock.when_field and row.get(clock.when_field) != clock.when_equals:
            continue
        start = labels.get(clock.start, clock.start)
        entry: dict[str, Any] = {
            "ms_name": f"{clock.label}（{start}后 {clock.workdays} 个工作日内）",
            "ms_dept": row.get("lead_dept") if clock.per == "item" else None,
        }
        begun = row.get(clock.start)
        if isinstance(begun, dt.date) and calendar is not None:
            entry["ms_date"] = calendar.add_workdays(begun, clock.workdays)
        out.append({k: v for k, v in entry.items() if v is not None})
    return out


def create_item_workbooks(
    ctx: RunContext, table: TrackingTable, rows: list[dict[str, Any]] | None = None
) -> tuple[list[CreatedWorkbook], list[str]]:
    """Create the missing workbooks of every passed item (``rows``: :func:`passed_rows` when
    the caller has them); (created, deferred messages)."""
    rules, ledger = ctx.rules, ctx.need_ledger()
    created: list[CreatedWorkbook] = []
    deferred: list[str] = []
    folders = item_folder_index(ctx.paths)  # one listing of the items folder for all items
    for row in rows if rows is not None else passed_rows(ctx, table):
        item_id = str(row["item_id"])
        lead = str(row["lead_dept"])
        coop = _depts(row.get("coop_depts"))
        folder = item_folder(ctx, item_id, str(row.get("title") or ""), folders)
        names = workbook_names(rules, item_id, coop)
        # every workbook was there (or made once) when this process last looked, and the
        # folder's listing has not changed since: nothing to create
        seen = (str(folder), folder_mtime(folder), tuple(names.items()), lead)
        if ctx.cache.recall("item_workbooks", item_id, seen):
            continue
        complete = True
        for key, name in names.items():
            target = fit_name(folder, Path(name).stem, Path(name).suffix)
            rel = ctx.rel(target)
            if target.exists() or ledger.was_created(rel):
                continue
            kind, _, dept = key.partition(":")
            if kind == "minutes":
                depts = [lead, *[d for d in coop if d != lead]]
                content = {
                    "values": {
                        "item_id": item_id,
                        "item_title": row.get("title"),
                        "lead_dept": lead,
                    },
                    "tables": {
                        "attendees": [{"att_dept": d} for d in depts],
                        "milestones": deadline_milestones(rules, row, ctx.calendar),
                    },
                }
            else:
                content = {
                    "values": {
                        "item_id": item_id,
                        "item_title": row.get("title"),
                        "department": dept,
                        "exec_lead_dept": lead,
                    }
                }
            with tempfile.TemporaryDirectory(prefix="xietong-") as tmp:
                made = write_workbook(kind, rules, Path(tmp) / name, **content)
                data = made.read_bytes()
            target.parent.mkdir(parents=True, exist_ok=True)
            complete = False
            try:
                safe_write(target, data, expected=snapshot(target))  # create; never overwrite
            except WriteDeferred as exc:
                deferred.append(f"{rel}：{exc.message_zh}")
                continue
            ledger.mark_created(rel, item_id, kind)
            entry = make_entry(
                action="create_workbook",
                item=item_id,
                file=rel,
                reason=f"评估通过，创建{rules.form(kind).title}" + (f"（{dept}）" if dept else ""),
                input_hash=values_hash({k: row.get(k) for k in ("lead_dept", "coop_depts")}),
                as_of=ctx.as_of,
                kind=kind,
                department=dept or None,
            )
            ctx.journal([entry])
            created.append(CreatedWorkbook(item_id, kind, dept or None, rel))
        if complete and _settled(seen[1]):
            ctx.cache.keep("item_workbooks", item_id, seen)
    return created, deferred


def _settled(mtime_ns: int | None) -> bool:
    """A folder time old enough that a further change must show another time."""
    return mtime_ns is not None and time.time_ns() - mtime_ns >= LISTING_UNSETTLED_NS


def approval_route_changes(
    ctx: RunContext, table: TrackingTable, rows: list[dict[str, Any]] | None = None
) -> list[CellChange]:
    """Approval routes to write for the passed items whose route cell differs. An item's
    route is worked out again only when its row or the registrations changed."""
    rules, ledger = ctx.rules, ctx.need_ledger()
    registered = tuple(
        ledger.conn.execute("SELECT COUNT(*), MAX(rowid) FROM registrations").fetchone()
    )
    out: list[CellChange] = []
    for row in rows if rows is not None else passed_rows(ctx, table):
        item_id = str(row["item_id"])

        def route_of(row: dict[str, Any] = row, item_id: str = item_id) -> tuple[Any, str]:
            revision = int(row.get("revision") or 1)
            fields = _request_fields(ledger, item_id, revision, row)
            route = core.approval_route(
                fields, rules.routing, rules.departments, lead_dept=row.get("lead_dept")
            )
            return route, values_hash(fields)

        # the very row while its values stay (see read_tracking): compared at once
        route, fields_hash = ctx.cache.derive(
            "approval_route", item_id, (row, registered), route_of
        )
        if core.same_value(row.get("approval_route"), route):
            continue
        out.extend(
            row_changes(
                table,
                row["_row"],
                {"approval_route": route},
                current=row,
                item=item_id,
                action="approval_route",
                input_hash=fields_hash,
            )
        )
    return out


def _request_fields(
    ledger: Ledger, item_id: str, revision: int, row: dict[str, Any]
) -> dict[str, Any]:
    """The request behind a tracking row (from the ledger; the row's copy when unknown)."""
    regs = ledger.registrations_of(item_id)
    match = [r for r in regs if r.revision == revision] or regs[-1:]
    if match:
        return dict(match[0].request_fields)
    return {k: v for k, v in row.items() if k != "_row"}
