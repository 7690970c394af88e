"""Which files on the share are workbooks, and which are never input (one rule for everyone)."""

from __future__ import annotations

import os
from pathlib import Path

from automation.io.locks import is_temporary

__all__ = ["LEGACY_SUFFIXES", "WORKBOOK_SUFFIXES", "is_temporary", "is_workbook_name"]

# Read as Office Open XML workbooks (templates are the same package with another content type).
WORKBOOK_SUFFIXES = (".xlsx", ".xlsm", ".xltx", ".xltm")
# Recognised as spreadsheets and answered (E_LEGACY_FORMAT …), never silently ignored.
LEGACY_SUFFIXES = (".xls", ".xlsb", ".ods", ".et")


def is_workbook_name(path: str | os.PathLike[str]) -> bool:
    """A spreadsheet by its name (readable or legacy), not a temporary or lock file."""
    suffix = Path(path).suffix.lower()
    return suffix in WORKBOOK_SUFFIXES + LEGACY_SUFFIXES and not is_temporary(path)
