"""Commands of the foundation: templates, fields, init, paths, demo."""

from __future__ import annotations

import click

from automation.cli.app import echo_json, xietong


@xietong.command()
@click.argument("kind")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("--rules", "rules_dir", type=click.Path(), help="A rules folder overriding the defaults.")
def fields(kind: str, as_json: bool, rules_dir: str | None) -> None:
    """List the fields of a workbook KIND (request, tracking, minutes, execution, weekly, summary)."""
    from automation.api import list_fields

    rows = list_fields(kind, rules_dir=rules_dir)
    if as_json:
        echo_json(rows)
        return
    for r in rows:
        req = "*" if r["required"] else " "
        allowed = "/".join(r["allowed"])
        click.echo(f"{r['cell']:>5} {req} {r['key']:<22} {r['label']:<14} {r['type']:<11} {allowed}")
