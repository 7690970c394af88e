"""Commands of the working-day calendar and the clocks: ``xietong calendar …``, ``xietong clocks``."""

from __future__ import annotations

import sys
from typing import Any

import click

from automation.cli.app import echo_json, xietong

KIND_ZH = {"workday": "工作日", "weekend": "休息日", "holiday": "节假日", "makeup": "调休上班"}
PROVISIONAL_NOTE = (
    "注意：结果涉及尚未发布放假安排的年份（已安装的日历数据和 rules/calendar.yaml 均未覆盖），"
    "按周末和固定节日推算，仅供参考。发布后请在 rules/calendar.yaml 的 years 中补充。"
)


def _rules_options(func: Any) -> Any:
    func = click.option(
        "--rules", "rules_dir", type=click.Path(), help="A rules folder overriding the defaults."
    )(func)
    return click.option(
        "--drive", "drive", type=click.Path(), help="Use the rules of this shared drive."
    )(func)


def _note(provisional: bool) -> None:
    if provisional:
        click.echo(PROVISIONAL_NOTE, err=True)


@xietong.group()
def calendar() -> None:
    """Working-day calendar (工作日历): holidays, makeup working days, due times."""


@calendar.command("check")
@click.argument("date")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@_rules_options
def calendar_check_cmd(date: str, as_json: bool, drive: str | None, rules_dir: str | None) -> None:
    """Is DATE (2026-10-10) a working day, and why."""
    from automation.api import calendar_check

    info = calendar_check(date, drive=drive, rules_dir=rules_dir)
    if as_json:
        echo_json(info)
        return
    what = "工作日" if info["workday"] else "休息"
    detail = [KIND_ZH[str(info["kind"])]] if info["kind"] != "workday" else []
    detail += [str(info["name"])] if info["name"] else []
    why = f"（{'，'.join(detail)}）" if detail else ""
    flag = "（推算）" if info["provisional"] else ""
    click.echo(f"{info['date']} {what}{why}{flag}")
    _note(bool(info["provisional"]))


@calendar.command("add")
@click.argument("date")
@click.argument("n", type=int)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@_rules_options
def calendar_add_cmd(
    date: str, n: int, as_json: bool, drive: str | None, rules_dir: str | None
) -> None:
    """The N-th working day after DATE (DATE itself not counted) and its due time."""
    from automation.api import calendar_add

    out = calendar_add(date, n, drive=drive, rules_dir=rules_dir)
    if as_json:
        echo_json({k: out[k] for k in ("start", "n", "due", "due_at", "provisional")})
        return
    click.echo(f"{out['start']} 后第 {n} 个工作日：{out['due']}，截止 {out['due_at']}")
    for day in out["skipped"]:
        click.echo(f"  跳过 {day['date']} {KIND_ZH[day['kind']]} {day['name']}")
    for day in out["makeup"]:
        click.echo(f"  计入 {day['date']} 调休上班 {day['name']}")
    _note(bool(out["provisional"]))


@calendar.command("week")
@click.argument("week")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@_rules_options
def calendar_week_cmd(week: str, as_json: bool, drive: str | None, rules_dir: str | None) -> None:
    """The working days of an ISO WEEK (2026-W41) and when its weekly report is due."""
    from automation.api import calendar_week

    out = calendar_week(week, drive=drive, rules_dir=rules_dir)
    if as_json:
        echo_json(out)
        return
    days = "、".join(out["workdays"]) or "无"
    due = out["due_at"] or "本周无工作日，不需要周报"
    click.echo(f"{out['week']} 工作日：{days}")
    click.echo(f"周报截止：{due}")
    _note(bool(out["provisional"]))


TABLE_HEADER = ("事项", "版次", "时限", "部门", "开始", "截止", "状态", "已用", "超期工作日")


def _cells(r: dict[str, Any]) -> tuple[str, ...]:
    used = "" if r["used"] is None else f"{r['used']:.0%}"
    due = (r["due_at"] or "")[:16].replace("T", " ") + ("*" if r["provisional"] else "")
    return (
        r["item"],
        str(r["cycle"]),
        r["label"],
        r["department"] or "",
        r["start"] or "",
        due,
        r["state_zh"],
        used,
        str(r["late_workdays"] or ""),
    )


def _table(rows: list[dict[str, Any]]) -> None:
    """A rich table on a terminal; tab-separated lines when piped (no wrapping, easy to grep)."""
    if not sys.stdout.isatty():
        for line in [TABLE_HEADER, *map(_cells, rows)]:
            click.echo("\t".join(line))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(show_lines=False)
    for title in TABLE_HEADER:
        table.add_column(title)
    for r in rows:
        table.add_row(*_cells(r))
    Console(soft_wrap=True).print(table)


def _explain(out: dict[str, Any]) -> None:
    click.echo(f"事项 {out['item']}（截至 {out['as_of']}）")
    for cycle in out["cycles"]:
        click.echo(
            f"第 {cycle['cycle']} 版：当前阶段 {cycle['stage']}，{cycle['state_zh']}，"
            f"截止 {cycle['deadline'] or '—'}"
        )
        for c in cycle["clocks"]:
            d = c["derivation"]
            who = f" [{c['department']}]" if c["department"] else ""
            click.echo(f"  {c['label']}{who}：{c['state_zh']}")
            start = d.get("start") or "（未填写）"
            field = d.get("start_label") or d.get("start_field")
            click.echo(f"    开始：{field} {start}；规则：之后 {d.get('workdays')} 个工作日")
            source = d.get("start_source", {}).get("departments")
            if source:
                parts = "、".join(f"{k} {v or '未提交'}" for k, v in source.items())
                click.echo(f"    开始日期取各部门最晚：{parts}")
            if d.get("required_days") is not None:
                click.echo(
                    f"    每个工作日一行，自 {d['first_day']} 起应填 {d['required_days']} 天"
                )
            for week, w in d.get("weeks", {}).items():
                click.echo(f"    {week} 周报截止 {w['due']}：{'已交' if w['sent'] else '未交'}")
            if d.get("counted"):
                click.echo(f"    计入工作日：{'、'.join(d['counted'])}")
            for s in d.get("skipped", []):
                click.echo(f"    跳过：{s['date']} {KIND_ZH.get(s['kind'], s['kind'])} {s['name']}")
            for m in d.get("makeup", []):
                click.echo(f"    调休上班日计入：{m['date']} {m['name']}")
            if c["due_at"]:
                click.echo(f"    截止：{c['due_at']}")
            if d.get("end") or c["end"]:
                click.echo(f"    完成：{d.get('end_label') or d.get('end_field')} {c['end']}")
            if c["missing"]:
                click.echo(f"    缺报：{'、'.join(c['missing'])}")
            if c["late_workdays"]:
                click.echo(f"    超期 {c['late_workdays']} 个工作日")
            if c["provisional"]:
                click.echo("    （涉及未发布放假安排的年份，结果为推算）")
    for w in out["warnings"]:
        click.echo(f"警告：{w}", err=True)


@xietong.command("clocks")
@click.argument("drive", type=click.Path())
@click.option("--as-of", "as_of", help="Compute as of this ISO date-time (default: now).")
@click.option("--item", "item_id", help="Explain how each due date of one item was derived.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option(
    "--rules", "rules_dir", type=click.Path(), help="A rules folder overriding the drive's."
)
def clocks_cmd(
    drive: str, as_of: str | None, item_id: str | None, as_json: bool, rules_dir: str | None
) -> None:
    """The clocks (时限) of every item of DRIVE: start, due time, state, working days late."""
    from automation.api import as_of_time, clocks, explain_clocks

    moment = as_of_time(as_of, drive=drive, rules_dir=rules_dir)
    if item_id:
        out = explain_clocks(drive, item_id, as_of=moment, rules_dir=rules_dir)
        if as_json:
            echo_json(out)
        else:
            _explain(out)
        return
    found = clocks(drive, as_of=moment, rules_dir=rules_dir)
    rows = [r.as_dict() for r in found.results]
    if as_json:
        echo_json(rows)
        return
    _table(rows)
    for w in found.warnings:
        click.echo(f"警告：{w}", err=True)
    _note(any(r["provisional"] for r in rows))
