"""Command ``xietong summary``: rebuild the leaders' summary workbook and its HTML twin."""

from __future__ import annotations

import click

from automation.cli.app import echo_json, xietong


@xietong.command()
@click.argument("drive", type=click.Path(file_okay=False))
@click.option(
    "--as-of",
    "as_of",
    help="Summarise as of this moment (ISO date-time, or a date = its close of business).",
)
@click.option("--force", is_flag=True, help="Write the files even when nothing changed.")
@click.option("--json", "as_json", is_flag=True, help="Print the result and the model as JSON.")
def summary(drive: str, as_of: str | None, force: bool, as_json: bool) -> None:
    """Rebuild the summary (汇总) of DRIVE: 汇总_<date>.xlsx, the stable copy and the HTML page,
    in the summary folder; nothing is written when nothing it shows changed."""
    from automation.api import summary as rebuild

    result = rebuild(drive, as_of=as_of, force=force)
    if as_json:
        echo_json(result.as_dict())
        return
    for line in result.summary_lines():
        click.echo(line)
