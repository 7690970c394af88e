"""Command ``xietong archive``: acceptance checklists and the BagIt archive (结果归档)."""

from __future__ import annotations

import sys

import click

from automation.cli.app import echo_json, xietong


@xietong.command()
@click.argument("drive", type=click.Path(file_okay=False))
@click.option("--item", "item", help="Archive this item now, even with gaps (e.g. XT-2026-0001).")
@click.option(
    "--as-of",
    "as_of",
    help="Run as of this moment (ISO date-time, or a date = its close of business); default now.",
)
@click.option(
    "--verify", is_flag=True, help="Re-validate the bags instead: report files changed or missing."
)
@click.option("--json", "as_json", is_flag=True, help="Print the full report as JSON.")
def archive(drive: str, item: str | None, as_of: str | None, verify: bool, as_json: bool) -> None:
    """Checklists (验收清单) and BagIt archive of finished items on DRIVE; --verify checks bags.

    Exit status: 0 done; 1 a bag failed verification or an item could not be archived;
    3 an item was deferred because one of its files is open.
    """
    from automation import api

    if verify:
        checked = api.verify_archive(drive, item=item)
        if as_json:
            echo_json(checked.as_dict())
        else:
            for line in checked.summary_lines():
                click.echo(line)
        sys.exit(0 if checked.ok else 1)
    report = api.archive(drive, item=item, as_of=as_of)
    if as_json:
        echo_json(report.as_dict())
    else:
        for line in report.summary_lines():
            click.echo(line)
    if report.of("failed"):
        sys.exit(1)
    if report.deferred:
        sys.exit(3)
