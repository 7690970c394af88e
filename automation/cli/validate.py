"""``xietong validate``: check submitted workbooks and report every problem by cell."""

from __future__ import annotations

import sys

import click

from automation.cli.app import echo_json, progress_bar, xietong
from automation.core.text import printable

LEVELS = {"error": "错误", "warning": "提醒"}


@xietong.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option("--json", "as_json", is_flag=True, help="Print the problems as a JSON list.")
@click.option(
    "--drive",
    "drive_dir",
    type=click.Path(file_okay=False),
    help="Use the rules of this shared drive (default: the package rules).",
)
@click.option(
    "--feedback",
    "feedback_dir",
    type=click.Path(file_okay=False),
    help="Also write the 校验结果 workbook and highlighted copy into this folder.",
)
def validate(
    paths: tuple[str, ...], as_json: bool, drive_dir: str | None, feedback_dir: str | None
) -> None:
    """Validate workbooks (files or folders) against the rules.

    Exit code 0 when there is no error (warnings allowed), 1 when any error, 2 when a file
    could not be read at all (its code, e.g. E_CORRUPT, is in the output).
    """
    from automation.api import validate as validate_files

    with progress_bar("校验", quiet=as_json) as progress:
        reports = validate_files(paths, drive=drive_dir, feedback=feedback_dir, progress=progress)
    if as_json:
        echo_json([p.as_dict() for r in reports for p in r.problems])
    else:
        _print_table(reports)
    if any(not r.readable for r in reports):
        sys.exit(2)
    if any(not r.ok for r in reports):
        sys.exit(1)


def _print_table(reports: list) -> None:
    if not reports:
        click.echo("没有找到要校验的工作簿文件")
        return
    for report in reports:
        errors, warnings = len(report.errors), len(report.warnings)
        status = "通过" if report.ok else "未通过"
        kind = f" [{report.kind}]" if report.kind else ""
        click.echo(f"{printable(report.path)}{kind}：{status}（错误 {errors}，提醒 {warnings}）")
        for p in report.problems:
            where = f"{p.sheet}!{p.cell}" if p.cell else "文件"
            text = printable(p.message)
            click.echo(f"  {LEVELS[p.severity]} {p.code:<20} {where:<16} {p.label}  {text}")
    total = sum(len(r.errors) for r in reports)
    click.echo(f"共 {len(reports)} 个文件，{total} 个错误")
