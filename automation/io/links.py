"""Links in folders people write to: never followed (a link could bring any file of the server
onto the share)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

_REPARSE = getattr(stat, "FILE_ATTRIBUTE_REPARSE_POINT", 0x400)


def is_link(path: str | os.PathLike[str]) -> bool:
    """A symbolic link, a Windows junction or any other reparse point (OneDrive placeholders
    included), judged without following it."""
    try:
        st = os.lstat(path)
    except OSError:
        return False
    if stat.S_ISLNK(st.st_mode):
        return True
    return bool(getattr(st, "st_file_attributes", 0) & _REPARSE)


def plain_entries(folder: Path) -> list[os.DirEntry[str]]:
    """The entries of ``folder`` that are not links (an empty list when it cannot be listed)."""
    try:
        with os.scandir(folder) as it:
            return [e for e in it if not is_link(e.path)]
    except OSError:
        return []
