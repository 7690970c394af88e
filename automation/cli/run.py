"""Commands ``xietong run`` (one full cycle) and ``xietong log`` (the audit trail)."""

from __future__ import annotations

import click

from automation.cli.app import echo_json, progress_bar, xietong


@xietong.command()
@click.argument("drive", type=click.Path(file_okay=False))
@click.option(
    "--as-of",
    "as_of",
    help="Run as of this moment (ISO date-time, or a date = its close of business); default now.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the full report as JSON.")
def run(drive: str, as_of: str | None, as_json: bool) -> None:
    """One full cycle on DRIVE: intake → evaluation → clocks → write-back (登记、建表、计时、回写)."""
    from automation.api import run as run_once

    with progress_bar("运行", quiet=as_json) as progress:
        report = run_once(drive, as_of=as_of, progress=progress)
    if as_json:
        echo_json(report.as_dict())
        return
    for line in report.summary_lines():
        click.echo(line)


@xietong.command()
@click.argument("drive", type=click.Path(file_okay=False))
@click.option("--item", "item", help="Only the entries of this item ID (e.g. XT-2026-0001).")
@click.option("--json", "as_json", is_flag=True, help="Print the entries as JSON.")
def log(drive: str, item: str | None, as_json: bool) -> None:
    """Show the audit trail of DRIVE: every write of the automation (操作日志)."""
    from automation.api import log as read_log

    entries = read_log(drive, item=item)
    if as_json:
        echo_json(entries)
        return
    if not entries:
        click.echo("没有记录" + (f"（事项 {item}）" if item else ""))
        return
    for e in entries:
        where = e.get("file", "")
        if e.get("sheet"):
            where += f" [{e['sheet']}]"
        head = f"{e.get('time', '')}  {e.get('item') or '-':<13} {e.get('action', '')}: {where}"
        if e.get("as_of"):
            head += f"  （按 {str(e['as_of'])[:16].replace('T', ' ')} 计算）"
        click.echo(head)
        click.echo(f"    {e.get('reason', '')}")
        for cell in e.get("cells", []):
            before = e.get("before", {}).get(cell)
            after = e.get("after", {}).get(cell)
            click.echo(f"    {cell}: {_show(before)} → {_show(after)}")


def _show(value: object) -> str:
    return "（空）" if value in (None, "") else str(value)
