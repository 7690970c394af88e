"""The command line: a thin layer that parses options and calls the library.

Every command lives in a module of this package and calls one public function of
``automation.api``; errors are printed as one line with their stable code, never a traceback.
"""

from __future__ import annotations

import os
import sys

import click

from automation.cli.app import xietong
from automation.errors import XietongError

# Importing registers the commands on the group.
from automation.cli import foundation  # noqa: E402,F401  isort: skip

for _name in (
    "calendar",
    "validate",
    "run",
    "execution",
    "archive",
    "service",
    "submit",
    "notify",
    "summary",
):
    try:
        __import__(f"automation.cli.{_name}")
    except ModuleNotFoundError as exc:  # a command module not written yet
        if exc.name != f"automation.cli.{_name}":
            raise


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``xietong`` console script."""
    if hasattr(sys.stdout, "reconfigure"):
        sys.stdout.reconfigure(encoding="utf-8", errors="replace")
        sys.stderr.reconfigure(encoding="utf-8", errors="replace")
    try:
        xietong.main(args=argv, prog_name="xietong", standalone_mode=False)
    except XietongError as exc:
        click.echo(f"错误 [{exc.code}] {exc.message}", err=True)
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        click.echo("已取消", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        sys.exit(130)
    except OSError as exc:  # a folder missing, not writable, a disk full: the user can act on it
        where = f"{exc.filename}：" if exc.filename else ""
        click.echo(f"错误 [E_FILE_SYSTEM] {where}{exc.strerror or exc}", err=True)
        sys.exit(2)
    except Exception as exc:  # last resort: one line, not a traceback
        if os.environ.get("XIETONG_DEBUG"):
            raise
        click.echo(
            f"错误 [E_INTERNAL] {type(exc).__name__}: {exc}（设置 XIETONG_DEBUG=1 查看详情）",
            err=True,
        )
        sys.exit(3)
