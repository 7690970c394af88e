"""Command ``xietong notify``: send the notifications of a drive, each once (通知)."""

from __future__ import annotations

import click

from automation.cli.app import echo_json, xietong


@xietong.command()
@click.argument("drive", type=click.Path(file_okay=False))
@click.option(
    "--as-of",
    "as_of",
    help="Decide as of this moment (ISO date-time, or a date = its close of business).",
)
@click.option("--dry-run", is_flag=True, help="Show what would be sent; record and send nothing.")
@click.option(
    "--test",
    "test",
    metavar="CHANNEL",
    help="Send one test message through CHANNEL: 'mail' or a robot id of notify.yaml.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def notify(drive: str, as_of: str | None, dry_run: bool, test: str | None, as_json: bool) -> None:
    """Send the notifications of DRIVE (mail, outbox, 企业微信/钉钉/飞书 robots), each event once."""
    from automation.api import notify as run_notify

    report = run_notify(drive, as_of=as_of, dry_run=dry_run, test=test)
    if test is not None:
        if as_json:
            echo_json(report)
        else:
            click.echo(f"测试消息已发送：{report['target']} → {report['delivered']}")
        return
    if as_json:
        echo_json(report.as_dict())
        return
    for line in report.summary_lines():
        click.echo(line)
