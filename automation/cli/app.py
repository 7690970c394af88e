"""The ``xietong`` click group; command modules register on it."""

from __future__ import annotations

import contextlib
import json
import os
import sys
from collections.abc import Callable, Iterator
from typing import Any

import click

from automation.core.text import printable


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="xietong")
def xietong() -> None:
    """xietong (协同): cross-department coordination on the workbooks of a shared drive."""


def echo_json(data: Any) -> None:
    """Print JSON for scripts and buttons: UTF-8, Chinese kept readable; typed results (with
    ``as_dict()``) as their dictionaries."""
    text = json.dumps(data, ensure_ascii=False, indent=2, default=_plain)
    sys.stdout.buffer.write(text.encode("utf-8") + b"\n")
    sys.stdout.flush()


def _plain(value: Any) -> Any:
    if hasattr(value, "as_dict"):
        return value.as_dict()
    return str(value)


Progress = Callable[[int, int, str], None]


@contextlib.contextmanager
def progress_bar(title: str, *, quiet: bool = False) -> Iterator[Progress | None]:
    """A progress bar (rich) on an interactive terminal; nothing when piped, in ``--json`` mode
    (``quiet``) or when ``XIETONG_NO_PROGRESS`` is set. Yields the callback
    ``(done, total, label)`` the library functions take, or None."""
    if quiet or os.environ.get("XIETONG_NO_PROGRESS") or not sys.stderr.isatty():
        yield None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    with Progress(
        TextColumn(f"{title} [progress.description]{{task.description}}"),
        BarColumn(),
        MofNCompleteColumn(),
        transient=True,
        console=_stderr_console(),
    ) as bar:
        task = bar.add_task("", total=None)

        def update(done: int, total: int, label: str) -> None:
            bar.update(task, completed=done, total=total, description=printable(label))

        yield update


def _stderr_console() -> Any:
    from rich.console import Console

    return Console(stderr=True)
