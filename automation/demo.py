"""`xietong demo`: a shared drive with a realistic sample year, and every operation run on it.

The demo plays the sample year of ``automation.demo_data`` day by day: departments drop request
forms into the inbox, the coordination office fills dates in the tracking table, departments
write their daily execution rows; after each day the automation's full cycle runs as of that
day. The demo acts for the people through the same safe-write path as the automation.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from automation.core.calendar import WorkCalendar
from automation.core.layout import layout
from automation.demo_data import (
    MISSED_WEEKS,
    PROBLEMS,
    SAMPLE_REQUESTS,
    SKIPPED_DAYS,
    TASKS,
    SampleRequest,
)
from automation.errors import XietongError
from automation.io.drive import drive_paths, drive_rules, require_drive
from automation.io.drive_init import init_drive
from automation.io.journal import read_journal
from automation.io.ledger import state_path
from automation.io.safewrite import read_with_snapshot, safe_write
from automation.io.templates import write_workbook
from automation.io.validation import validate_file, validate_paths
from automation.io.xlsxpatch import CellEdit, patch_workbook
from automation.process.clocks import calendar_add, calendar_week, compute_drive
from automation.process.context import open_context
from automation.process.cycle import run_cycle
from automation.rules import Rules

TZ = ZoneInfo("Asia/Shanghai")
DEFAULT_AS_OF = dt.datetime(2026, 10, 21, 10, 0, tzinfo=TZ)
MARKER = ".xietong-demo"

Echo = Callable[[str], None]


def _at(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=TZ)


def _prepare(root: Path) -> None:
    """A fresh folder: an earlier demo drive is replaced, anything else is left alone."""
    if root.exists() and any(root.iterdir()):
        if not (root / MARKER).is_file():
            raise XietongError(
                f"{root} 已存在且不是演示共享盘，请指定一个新目录",
                code="E_DEMO_EXISTS",
                exit_code=2,
            )

        state = state_path(root)
        for leftover in state.parent.glob(state.name + "*"):
            leftover.unlink()  # the local state of the demo drive replaced (database, WAL, SHM)
        shutil.rmtree(root)
    root.mkdir(parents=True, exist_ok=True)
    (root / MARKER).write_text("xietong demo drive: `xietong demo` rebuilds it\n", encoding="utf-8")


def _workbook_bytes(kind: str, rules: Rules, **content: Any) -> bytes:
    with tempfile.TemporaryDirectory() as tmp:
        return write_workbook(kind, rules, Path(tmp) / "book.xlsx", **content).read_bytes()


class DemoPlayer:
    """Plays the sample year on a drive; each method is one person's action."""

    def __init__(self, root: Path, echo: Echo):
        self.root, self.echo = root, echo
        self.paths = require_drive(root)
        self.rules = drive_rules(root)
        self.weekly: dict[str, dict[tuple[str, str], dict[str, Any]]] = {}

    # -- requesting departments ----------------------------------------------------------------
    def submit(self, req: SampleRequest) -> None:
        target = self.paths.inbox / req.name
        target.write_bytes(_workbook_bytes("request", self.rules, values=req.values))
        stamp = _at(req.submitted, 9, 30).timestamp()
        os.utime(target, (stamp, stamp))
        self.echo(
            f"  {req.submitted}  {req.values['requesting_dept']} 提交《{req.name}》：{req.note}"
        )

    # -- the coordination office ---------------------------------------------------------------
    def office_edit(self, req: SampleRequest, day: dt.date, edits: dict[str, Any]) -> None:

        form = self.rules.form("tracking")
        cols = layout(form).columns
        report = validate_file(self.paths.tracking, self.rules)
        rows = [r for r in report.rows if r.get("title") == req.values["title"]]
        if not rows:
            return
        row = max(rows, key=lambda r: r.get("revision") or 0)["_row"]
        cells = [CellEdit(f"{cols[key]}{row}", value) for key, value in edits.items()]
        data, snap = read_with_snapshot(self.paths.tracking)
        safe_write(self.paths.tracking, patch_workbook(data, form.sheet, cells), expected=snap)
        what = "、".join(form.field(k).label for k in edits)
        self.echo(f"  {day}  协调管理办公室在跟踪表填写：{req.values['title']} · {what}")

    # -- cooperating departments ---------------------------------------------------------------
    def department_rows(self, req: SampleRequest, today: dt.date, calendar: Any) -> int:
        """Rewrite each department's execution workbook with its rows up to ``today``."""

        written = 0
        for path in sorted(self.paths.items.rglob("*.xlsx")):
            report = validate_file(path, self.rules)
            if report.kind != "execution" or report.fields.get("item_title") != req.values["title"]:
                continue
            dept = report.fields.get("department")
            header = {k: v for k, v in report.fields.items() if v not in (None, "", [])}
            if dept in req.plans and req.plans[dept] <= today:
                header["plan_submitted_date"] = req.plans[dept]
            rows = []
            span = req.execution.get(dept)
            if span is not None:
                day, n = span[0], 0
                while day <= min(today, span[1]):
                    if calendar.is_workday(day) and day not in SKIPPED_DAYS:
                        n += 1
                        total = calendar.workdays_between(span[0], span[1]) or 1
                        progress = min(1.0, round(n / total, 2))
                        problem = PROBLEMS.get(n % 10, "")
                        rows.append(
                            {
                                "date": day,
                                "task": TASKS[n % len(TASKS)],
                                "owner": f"{dept}专员",
                                "planned_finish": span[1],
                                "progress": progress,
                                "status": "已完成"
                                if progress >= 1
                                else ("滞后" if problem else "进行中"),
                                "problems": problem,
                                "needs_coordination": "请牵头部门协调" if problem else "",
                                "updated_by": f"{dept}专员",
                            }
                        )
                    day += dt.timedelta(days=1)
            data, snap = read_with_snapshot(path)
            new = _workbook_bytes("execution", self.rules, values=header, rows=rows)
            if new != data:
                safe_write(path, new, expected=snap)
                written += 1
            if rows:
                self.weekly.setdefault(dept, {}).update(
                    _weekly_rows(report.fields.get("item_id"), dept, rows, calendar, today)
                )
        return written

    def weekly_reports(self) -> None:
        """Each department keeps one 周进度报告 workbook with a row per item and week."""

        for dept, weeks in sorted(self.weekly.items()):
            path = self.paths.weekly / f"周进度报告_{dept}.xlsx"
            rows = [row for _, row in sorted(weeks.items())]
            data, snap = read_with_snapshot(path)
            new = _workbook_bytes("weekly", self.rules, rows=rows)
            if new != data:
                safe_write(path, new, expected=snap)


def _weekly_rows(
    item_id: str, dept: str, rows: list[dict[str, Any]], calendar: Any, today: dt.date
) -> dict[tuple[str, str], dict[str, Any]]:
    """One weekly report row per finished ISO week of the daily rows (except the missed ones)."""
    by_week: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        year, week, _ = row["date"].isocalendar()
        by_week.setdefault(f"{year}-W{week:02d}", []).append(row)
    out = {}
    for week, week_rows in by_week.items():
        year, number = int(week[:4]), int(week[6:])
        due = calendar.week_due_date(year, number)
        if (dept, week) in MISSED_WEEKS or due is None or due > today:
            continue
        problems = "；".join(sorted({r["problems"] for r in week_rows if r["problems"]}))
        out[(item_id, week)] = {
            "week": week,
            "department": dept,
            "item_id": item_id,
            "done": "、".join(dict.fromkeys(r["task"] for r in week_rows)) + "已按计划推进",
            "problems": problems,
            "coordination": "请牵头部门协调" if problems else "",
            "next_week": "继续按总体方案推进",
            "submitted_by": f"{dept}专员",
            "submitted_date": due,
        }
    return out


def run_demo(
    root: str | Path = "xietong-demo",
    *,
    as_of: dt.datetime | None = None,
    echo: Echo = print,
    progress: Callable[[int, int, str], None] | None = None,
) -> dict[str, Any]:
    """Build the demo drive, play the sample year up to ``as_of`` and run every operation."""
    as_of = as_of or DEFAULT_AS_OF
    root = Path(root).absolute()
    _prepare(root)
    init_drive(root)
    echo(f"演示共享盘：{root}")
    player = DemoPlayer(root, echo)
    calendar = WorkCalendar.from_rules(player.rules.calendar)

    events: dict[dt.date, list[Callable[[], None]]] = {}
    for req in SAMPLE_REQUESTS:
        events.setdefault(req.submitted, []).append(lambda r=req: player.submit(r))
        for day, edits in req.office:
            events.setdefault(day, []).append(
                lambda r=req, d=day, e=edits: player.office_edit(r, d, e)
            )
    days = sorted(d for d in events if d <= as_of.date())
    echo("\n按日期重放样例年度（每天下班前运行一次完整周期 xietong run）：")
    for done, day in enumerate(days):
        if progress is not None:
            progress(done, len(days), day.isoformat())
        for action in events[day]:
            action()
        _departments_work(player, day, calendar)
        report = run_cycle(root, as_of=_at(day, 17, 30))
        for line in report.summary_lines()[1:]:
            echo("      → " + line.strip())
    _departments_work(player, as_of.date(), calendar)
    final = run_cycle(root, as_of=as_of)
    echo(f"\n截至 {as_of:%Y-%m-%d %H:%M} 运行 xietong run：")
    for line in final.summary_lines():
        echo("  " + line)
    _overview(root, as_of, echo)
    return {"root": str(root), "as_of": as_of.isoformat(), "days": len(days)}


def _departments_work(player: DemoPlayer, day: dt.date, calendar: Any) -> None:
    for req in SAMPLE_REQUESTS:
        if req.execution or req.plans:
            player.department_rows(req, day, calendar)
    player.weekly_reports()


def _overview(root: Path, as_of: dt.datetime, echo: Echo) -> None:
    """What a person would look at next: the clocks at risk or late, and where the files are."""
    with open_context(root, as_of=as_of, with_ledger=False) as ctx:
        rows = [r.as_dict() for r in compute_drive(ctx).results]
    latest: dict[str, int] = {}
    for r in rows:
        latest[r["item"]] = max(latest.get(r["item"], 0), r.get("cycle") or 1)
    current = [r for r in rows if (r.get("cycle") or 1) == latest[r["item"]]]
    for state, title in (("breached", "已超期"), ("at_risk", "预警")):
        hits = [r for r in current if r["state"] == state]
        echo(f"\n{title}的时限（{len(hits)} 项）：")
        for r in hits[:12]:
            dept = f" · {r['department']}" if r.get("department") else ""
            late = f"，超期 {r['late_workdays']} 个工作日" if r.get("late_workdays") else ""
            due = f"，截止 {r['due_at'][:16].replace('T', ' ')}" if r.get("due_at") else ""
            echo(f"  {r['item']} {r['label']}{dept}{due}{late}")
        if len(hits) > 12:
            echo(f"  …… 另有 {len(hits) - 12} 项，运行 xietong clocks {root} 查看全部")
    echo("\n工作日历（含调休）：")
    added = calendar_add("2026-09-30", 2, drive=root)
    skipped = "、".join(d["date"][5:] for d in added["skipped"])
    echo(
        f"  2026-09-30 登记的申请，2 个工作日内完成评估：截止 {added['due_at'][:16].replace('T', ' ')}（跳过 {skipped}）"
    )
    week = calendar_week("2026-W41", drive=root)
    echo(
        f"  2026-W41 的工作日 {'、'.join(d[5:] for d in week['workdays'])}，周报截止 {week['due_at'][:16].replace('T', ' ')}"
    )
    paths = drive_paths(root, drive_rules(root))
    reports = validate_paths([paths.inbox], drive_rules(root))
    problems = sum(len(r.problems) for r in reports)
    echo(
        f"\n收件箱里仍有 {len(reports)} 份未通过校验的申请，共 {problems} 个问题（xietong validate）"
    )
    echo(f"审计日志共 {len(read_journal(paths.log))} 条写入记录（xietong log）")
    feedback = sorted(p.name for p in Path(paths.feedback).glob("*_校验结果.xlsx"))
    echo("\n去哪里看：")
    echo(f"  跟踪表（灰色列为系统计算）：{paths.tracking}")
    echo(f"  事项文件夹（会议纪要、各部门执行跟踪表）：{paths.items}")
    echo(f"  校验反馈（{len(feedback)} 份有错误的申请）：{paths.feedback}")
    echo(f"  领导汇总（总览、部门、超期清单、趋势，含图表和网页版）：{paths.summary}")
    echo(f"  审计日志：{paths.log}")
    echo("\n再试试：")
    echo(f"  xietong clocks {root} --as-of {as_of.date()} --item XT-2026-0002")
    echo(f"  xietong validate {paths.inbox}")
    echo("  xietong calendar add 2026-09-30 2")
    echo(f"  xietong log {root}")
