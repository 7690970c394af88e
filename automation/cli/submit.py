"""``xietong submit``: the 提交 button from the command line (copy a form into the inbox)."""

from __future__ import annotations

import sys

import click

from automation.cli.app import echo_json, xietong


@xietong.command()
@click.argument("path", type=click.Path(dir_okay=False))
@click.option(
    "--drive", "drive_dir", required=True, type=click.Path(file_okay=False), help="The drive."
)
@click.option("--json", "as_json", is_flag=True, help="Print the receipt as JSON.")
def submit(path: str, drive_dir: str, as_json: bool) -> None:
    """Check a filled request form and copy it into the drive's inbox (提交); exit 1 on errors."""
    from automation.api import submit as submit_form

    receipt = submit_form(path, drive=drive_dir)
    if as_json:
        echo_json(receipt)
    else:
        click.echo(receipt["message"])
        for p in receipt["problems"]:
            click.echo(
                f"  {p['code']:<20} {p.get('sheet', '')}!{p.get('cell', '')}  {p['message']}"
            )
    if not receipt["submitted"]:
        sys.exit(1)
