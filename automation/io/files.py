"""Which files on the share are workbooks, and which are never input (文件名规则).

The one place for these name rules: the intake, the validator, the watcher and the clock inputs
all ask here, so they cannot disagree about a file.

Temporary (never read as input, never answered):

- dot-files: hidden on Linux and macOS, never a form someone meant to submit; this includes
  LibreOffice locks ``.~lock.<name>#``, WPS locks ``.~<name>``, macOS AppleDouble ``._<name>``
  and xietong's own ``.xt-tmp-*`` files (:data:`OWN_TEMP_PREFIX`);
- Office / WPS owner files ``~$<name>`` and Office temporary files ``~<anything>.tmp``
  (``~WRL0001.tmp``);
- Excel's temporary save files: 8 hex digits and no suffix (``3B2A0C00``);
- half-written files: ``*.tmp``, ``*.temp``, ``*.part``, ``*.partial``, ``*.crdownload``
  (``a.xlsx.part`` is a download still running, not a workbook), and editor backups ending in
  ``~`` or ``#``.

Workbooks: :data:`WORKBOOK_SUFFIXES` are read (templates ``.xltx``/``.xltm`` exactly like
``.xlsx``/``.xlsm``); :data:`LEGACY_SUFFIXES` are recognised as workbooks and answered with a
legacy-format problem (``W_LEGACY_FORMAT`` when they can still be read, else ``E_LEGACY_FORMAT``).
"""

from __future__ import annotations

import os
import re
from pathlib import PurePath

# Our own temporary files (see automation.io.safewrite).
OWN_TEMP_PREFIX = ".xt-tmp-"

WORKBOOK_SUFFIXES = (".xlsx", ".xlsm", ".xltx", ".xltm")
LEGACY_SUFFIXES = (".xls", ".xlsb", ".ods", ".et")
ALL_WORKBOOK_SUFFIXES = WORKBOOK_SUFFIXES + LEGACY_SUFFIXES

_HEX_TEMP = re.compile(r"[0-9A-Fa-f]{8}")
_HALF_WRITTEN = (".tmp", ".temp", ".part", ".partial", ".crdownload", "~", "#")


def _name(path: str | os.PathLike[str]) -> str:
    return PurePath(path).name


def is_temporary(path: str | os.PathLike[str]) -> bool:
    """True for lock, temporary, hidden and half-written files (see the module docstring)."""
    name = _name(path)
    if not name:
        return False
    if name.startswith((".", "~$")):
        return True
    lower = name.lower()
    if lower.endswith(_HALF_WRITTEN):
        return True
    return bool(_HEX_TEMP.fullmatch(name))


def is_workbook_name(path: str | os.PathLike[str], *, legacy: bool = True) -> bool:
    """A workbook by its name, not a temporary file: read suffixes (and legacy ones if asked)."""
    suffixes = ALL_WORKBOOK_SUFFIXES if legacy else WORKBOOK_SUFFIXES
    return _name(path).lower().endswith(suffixes) and not is_temporary(path)


def is_legacy_name(path: str | os.PathLike[str]) -> bool:
    """An old or foreign workbook format (.xls, .xlsb, .ods, .et) by its name."""
    return _name(path).lower().endswith(LEGACY_SUFFIXES)
