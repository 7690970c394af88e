"""The README, `--help` and `automation.api` stay in step with the commands that exist."""

from __future__ import annotations

import inspect
from pathlib import Path

import click
import pytest

from automation import api
from automation.cli import xietong

REPO = Path(__file__).resolve().parent.parent


def _commands(group: click.Group, prefix: str = "") -> dict[str, click.Command]:
    found: dict[str, click.Command] = {}
    for name, cmd in group.commands.items():
        if isinstance(cmd, click.Group):
            found.update(_commands(cmd, f"{prefix}{name} "))
        else:
            found[f"{prefix}{name}"] = cmd
    return found


COMMANDS = _commands(xietong)


def test_every_command_is_a_python_function_and_the_reverse():
    assert set(COMMANDS) == set(api.OPERATIONS)
    for name, func in api.OPERATIONS.items():
        assert callable(func) and inspect.getdoc(func), name


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_command_is_in_the_readme_and_has_help(name):
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert f"xietong {name}" in readme
    assert COMMANDS[name].help and COMMANDS[name].help.strip()
