"""Commands of the foundation: templates, fields, init, paths, demo."""

from __future__ import annotations

import click

from automation.cli.app import echo_json, progress_bar, xietong


@xietong.command()
@click.argument("kind")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option(
    "--rules", "rules_dir", type=click.Path(), help="A rules folder overriding the defaults."
)
def fields(kind: str, as_json: bool, rules_dir: str | None) -> None:
    """List the fields of a workbook KIND (request, tracking, minutes, execution, weekly, summary)."""
    from automation.api import list_fields

    rows = list_fields(kind, rules_dir=rules_dir)
    if as_json:
        echo_json(rows)
        return
    for r in rows:
        req = "*" if r.required else " "
        allowed = "/".join(r.allowed)
        click.echo(f"{r.cell or '':>5} {req} {r.key:<22} {r.label:<14} {r.type:<11} {allowed}")


@xietong.command()
@click.option(
    "--out", "out_dir", type=click.Path(), help="Folder to write into (default: workbooks/)."
)
@click.option(
    "--check", is_flag=True, help="Only report whether the committed workbooks are stale."
)
def templates(out_dir: str | None, check: bool) -> None:
    """Generate the blank workbooks (模板一 … 模板四, 周进度报告, 汇总) from the rules."""
    from automation.api import generate_templates, stale_templates

    if check:
        stale = stale_templates(out_dir)
        for name in stale:
            click.echo(f"过期：{name}（请运行 xietong templates）")
        raise SystemExit(1 if stale else 0)
    for path in generate_templates(out_dir):
        click.echo(f"已生成 {path}")


@xietong.command()
@click.argument("drive", type=click.Path())
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def init(drive: str, as_json: bool) -> None:
    """Lay out a shared DRIVE (folders, rules, templates, tracking table); never overwrites."""
    from automation.api import init_drive

    report = init_drive(drive)
    if as_json:
        echo_json(report)
        return
    for path in report.created:
        click.echo(f"新建 {path}")
    click.echo(
        f"共享盘已就绪：{report.root}（新建 {len(report.created)} 项，保留 {len(report.kept)} 项）"
    )


@xietong.command()
@click.argument("drive", type=click.Path())
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def paths(drive: str, as_json: bool) -> None:
    """Print where the inbox, tracking table, item folders … of a DRIVE are."""
    from automation.api import drive_paths

    result = drive_paths(drive)
    if as_json:
        echo_json(result)
        return
    for key, value in result.as_dict().items():
        click.echo(f"{key:<10} {value}")


@xietong.command()
@click.argument("drive", type=click.Path(), default="xietong-demo")
@click.option(
    "--as-of",
    "as_of",
    help="Play the sample year up to this time (ISO, default 2026-10-21T10:00+08:00).",
)
def demo(drive: str, as_of: str | None) -> None:
    """Build a demo shared DRIVE (default ./xietong-demo) with a sample year and run everything."""
    from automation.api import run_demo

    with progress_bar("演示", quiet=False) as progress:
        run_demo(drive, as_of=as_of, echo=click.echo, progress=progress)
