"""Commands ``xietong weekly`` (the weekly rollup) and ``xietong exceptions`` (异常处理)."""

from __future__ import annotations

import click

from automation.cli.app import echo_json, xietong

_AS_OF = (
    "Compute as of this moment (ISO date-time, or a date = its close of business); default now."
)


@xietong.command()
@click.argument("drive", type=click.Path(file_okay=False))
@click.option("--week", "week", help="ISO week such as 2026-W41; default the as-of week.")
@click.option("--as-of", "as_of", help=_AS_OF)
@click.option("--dry-run", is_flag=True, help="Compute and print only; write no workbook.")
@click.option("--json", "as_json", is_flag=True, help="Print the rollup as JSON.")
def weekly(drive: str, week: str | None, as_of: str | None, dry_run: bool, as_json: bool) -> None:
    """Roll the daily rows of DRIVE into the weekly reports (周进度报告) of one week."""
    from automation.api import weekly as run_weekly
    from automation.core.clocks import STATE_ZH

    result = run_weekly(drive, week=week, as_of=as_of, dry_run=dry_run)
    if as_json:
        echo_json(result.as_list())
        return
    click.echo(f"{result.week} 周进度汇总：{len(result.rollups)} 条（事项 × 部门）")
    for r in result.rollups:
        missing = "、".join(d.isoformat() for d in r.missing_days) or "无"
        progress = "-" if r.latest_progress is None else f"{round(r.latest_progress * 100)}%"
        due = r.due_at.strftime("%Y-%m-%d %H:%M") if r.due_at else "-"
        click.echo(
            f"  {r.item} {r.department}：应报 {len(r.expected_days)} 天，已报 "
            f"{len(r.days_with_row)} 天，缺报 {missing}；最新进度 {progress} {r.latest_status}；"
            f"周报截止 {due}（{STATE_ZH[r.report_state]}）"
        )
    for path in result.written:
        click.echo(f"  已写入 {path}")
    for d in result.deferred:
        click.echo(f"  推迟写入 {d['file']}：{d['reason']}")
    for w in result.warnings:
        click.echo(f"  注意：{w}")


@xietong.command()
@click.argument("drive", type=click.Path(file_okay=False))
@click.option("--as-of", "as_of", help=_AS_OF)
@click.option("--json", "as_json", is_flag=True, help="Print the exceptions as JSON.")
def exceptions(drive: str, as_of: str | None, as_json: bool) -> None:
    """List the exceptions (异常: 滞后, 受阻, 需协调) of DRIVE and how far each has escalated."""
    from automation.api import exceptions as list_exceptions

    cases = list_exceptions(drive, as_of=as_of)
    if as_json:
        echo_json(cases)
        return
    if not cases:
        click.echo("没有异常")
        return
    for c in cases:
        state = f"已解决 {c['resolved']}" if c["resolved"] else "未解决"
        click.echo(
            f"  {c['item']} {c['department']} {c['opened']} 起：{c['reason']} → "
            f"第{c['level']}级 {c['to']}（{state}）"
        )
