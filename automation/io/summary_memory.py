"""The summary's rows of the last drawing, kept in the local state folder between processes.

A summary drawn again after one item changed takes the rows it drew last time (their XML, their
compressed blocks, the page's rows) and builds only the rows that changed
(:mod:`automation.io.longsheet`, :mod:`automation.io.summary_html`). A process that has not drawn
the summary yet has none of them: the first drawing of every ``xietong run`` started by cron or
an Excel button built all of its rows (about 0.6 s on a drive of 2,000 items). This module
keeps them in a file of the local state folder (``summary-rows-<drive>.pickle`` beside the
drive's state database), written when a process that drew the summary ends and read by the
next process's first drawing.

It is a cache: nothing is taken from it that the drawing would not take from its own last
drawing (a row only for an equal key, a sheet only for the same formats, link base and columns,
the page's rows only for the same templates), it is only read when it was written by the same
code (``automation.io.cache`` hashes the package's source), and a missing, stale, unreadable or
foreign file only costs the rows built again. Like the validation results in the state
database, it is pickled data in the user's own local folder, never on the share.
"""

from __future__ import annotations

import atexit
from pathlib import Path
from typing import Any

from automation.io import summary_html, summary_workbook
from automation.io.cache import (
    code_key,
    read_state_pickle,
    state_pickle_path,
    write_state_pickle,
)

_FORMAT = 1

# the file of the drive whose drawing the rows in memory are (None: none drawn or read in this
# process), and where to keep them when the process ends (None: nothing new to keep)
_OWNER: list[Path | None] = [None]
_PENDING: list[Path | None] = [None]
_HOOKED: list[bool] = [False]


def memory_path(state_db: Path) -> Path:
    """The file of a drive's rows, beside its state database."""
    return state_pickle_path(state_db, "summary-rows")


def recall(path: Path) -> bool:
    """Before drawing a drive's summary: when the rows in memory are not that drive's, take
    the ones the last process that drew it kept in ``path`` (:func:`memory_path`). True when
    rows were taken."""
    if _OWNER[0] == path:
        return False
    _OWNER[0] = path
    memory = _read(path)
    if memory is None:
        return False
    summary_workbook.restore_rows(memory["workbook"])
    summary_html.restore_rows(memory["page"])
    return True


def remember(path: Path) -> None:
    """After drawing a drive's summary: its rows are kept in ``path`` when this process ends."""
    _OWNER[0] = path
    _PENDING[0] = path
    if not _HOOKED[0]:
        _HOOKED[0] = True
        atexit.register(save)


def save() -> bool:
    """Write the rows of the last drawing to the file of its drive, when this process drew
    since the last save and the state folder is there (never made here). Never raises: it
    runs when the process ends. True when written."""
    path = _PENDING[0]
    _PENDING[0] = None
    if path is None:
        return False
    return write_state_pickle(
        path,
        {
            "format": _FORMAT,
            "code": code_key(),
            "workbook": summary_workbook.rows_memory(),
            "page": summary_html.rows_memory(),
        },
    )


def _read(path: Path) -> dict[str, Any] | None:
    memory = read_state_pickle(path)
    if (
        not isinstance(memory, dict)
        or memory.get("format") != _FORMAT
        or memory.get("code") != code_key()
        or not isinstance(memory.get("workbook"), dict)
        or not isinstance(memory.get("page"), dict)
    ):
        return None
    return memory


__all__ = ["memory_path", "recall", "remember", "save"]
