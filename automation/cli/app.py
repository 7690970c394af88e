"""The ``xietong`` click group; command modules register on it."""

from __future__ import annotations

import json
import sys
from typing import Any

import click


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="xietong")
def xietong() -> None:
    """xietong (协同): cross-department coordination on the workbooks of a shared drive."""


def echo_json(data: Any) -> None:
    """Print JSON for scripts and buttons: UTF-8, Chinese kept readable."""
    text = json.dumps(data, ensure_ascii=False, indent=2, default=str)
    sys.stdout.buffer.write(text.encode("utf-8") + b"\n")
    sys.stdout.flush()
