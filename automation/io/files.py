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
import time
from pathlib import Path, PurePath
from typing import Any

from automation.io.links import is_link

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


# -- listing folders of workbooks ---------------------------------------------------------------

# A folder's listing is kept while the folder's modification time stays the same (adding,
# removing or renaming an entry changes it): a drive of thousands of item folders is listed
# again only where something moved. A folder modified moments ago is listed every time (a
# coarse time, 2 s on some shares, may not yet show a second change).
LISTING_UNSETTLED_NS = 3_000_000_000
_LISTINGS: dict[str, tuple[int, list[Any], list[str]]] = {}
_ALL_LISTINGS: dict[str, tuple[int, list[Any], list[str]]] = {}  # every file (list_files)
_LISTINGS_MAX = 200_000


def list_workbooks(folder: str | os.PathLike[str], *, recursive: bool) -> list[Path]:
    """The readable workbooks in a folder (sorted; temporary and lock files left out; links,
    and folders behind links, never followed)."""
    found: list[Path] = []
    if _collect(os.fspath(folder), recursive, found, _LISTINGS, False) > 1:
        found.sort()  # files of several folders (each folder's own are sorted already)
    return found


def list_files(folder: str | os.PathLike[str], *, kept: bool = True) -> list[Path]:
    """Every regular file in a folder and below, workbook or not (temporary and lock files left
    out; links, and folders behind links, never followed), in the order of ``os.walk``: a
    folder's files by name, then each subfolder's by name. Kept as ``list_workbooks`` keeps
    its listings; ``kept=False`` lists every folder afresh (what is archived or moved)."""
    found: list[Path] = []
    _collect(os.fspath(folder), True, found, _ALL_LISTINGS if kept else None, True)
    return found


def folder_mtime(folder: str | os.PathLike[str]) -> int | None:
    """A folder's modification time (ns; adding, removing or renaming an entry changes it), or
    None when it is not there."""
    try:
        return os.stat(folder).st_mtime_ns
    except OSError:
        return None


def _collect(
    folder: str,
    recursive: bool,
    found: list[Path],
    kept: dict[str, tuple[int, list[Path], list[str]]] | None,
    every: bool,
) -> int:
    """Add the workbooks (``every``: all files) of ``folder`` (and below) to ``found``; the
    folders that had any. ``kept``: the listings kept, by folder (None: listed afresh)."""
    if kept is None:
        mtime = 0
        held = None
    else:
        try:
            mtime = os.stat(folder).st_mtime_ns
        except OSError:  # not there or not readable: nothing in it
            return 0
        held = kept.get(folder)
    if held is not None and held[0] == mtime:
        files, subfolders = held[1], held[2]
    else:
        listed = _list(folder, every)
        if listed is None:
            return 0
        files, subfolders = listed
        if kept is not None and time.time_ns() - mtime >= LISTING_UNSETTLED_NS:
            if len(kept) >= _LISTINGS_MAX:
                kept.clear()
            kept[folder] = (mtime, files, subfolders)
    found.extend(files)
    had = 1 if files else 0
    if recursive:
        for sub in subfolders:
            had += _collect(sub, recursive, found, kept, every)
    return had


def _list(folder: str, every: bool = False) -> tuple[list[Path], list[str]] | None:
    try:
        with os.scandir(folder) as entries:
            listed = list(entries)
    except OSError:
        return None
    files: list[Path] = []
    subfolders: list[str] = []
    for entry in listed:
        try:
            if entry.is_symlink():
                continue
            if entry.is_dir(follow_symlinks=False):
                if not is_link(entry.path):
                    subfolders.append(entry.path)
                continue
            if not entry.is_file(follow_symlinks=False):
                continue
        except OSError:
            continue
        name = entry.name
        if (every or name.lower().endswith(WORKBOOK_SUFFIXES)) and not is_temporary(name):
            files.append(Path(entry.path))
    files.sort()
    subfolders.sort()
    return files, subfolders


class RelativePaths:
    """Paths relative to one folder (``os.path.relpath``), each parent folder's relative path
    worked out once: relpath normalises both paths on every call, and a summary links tens of
    thousands of files in a few thousand folders (the hash, the workbook and the page of one
    summary share one instance: each target is worked out once)."""

    def __init__(self, base: str | os.PathLike[str]) -> None:
        self.base = base
        self._parents: dict[str, str] = {}
        self._done: dict[str, str] = {}

    def __call__(self, target: str | os.PathLike[str]) -> str:
        text = os.fspath(target)
        done = self._done.get(text)
        if done is not None:
            return done
        parent, name = os.path.split(text)
        if not name or text == os.fspath(self.base):  # a root, the base itself: no shortcut
            done = os.path.relpath(target, self.base)
        else:
            rel = self._parents.get(parent)
            if rel is None:
                rel = self._parents[parent] = os.path.relpath(parent, self.base)
            done = name if rel == os.curdir else os.path.join(rel, name)
        if len(self._done) >= _RELATIVE_MAX:  # an instance kept by a long-running process
            self._done.clear()
            self._parents.clear()
        self._done[text] = done
        return done


_RELATIVE_MAX = 200_000
