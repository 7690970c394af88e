"""Who has a workbook open, and which files on the share are never input.

Office, WPS and LibreOffice leave an *owner file* (锁文件) next to a document while someone edits
it; Windows also refuses to open a file for writing while Excel holds it (a sharing violation).
:func:`lock_holder` checks all of these and names the person in Chinese, so a deferred write can
say whom to ask. Which names are never input (owner files, half-saved files, our own temporary
files) is :func:`automation.io.files.is_temporary`, re-exported here.

Owner-file formats (reverse engineered by LibreOffice, ``svl/source/misc/msodocumentlockfile.cxx``):

- MS Office / WPS on Windows: ``~$<name>``. Byte 0 is the user name's length, then the name in
  the Windows ANSI code page; Excel pads with spaces to offset 55 and writes a 2-byte length and
  the name again in UTF-16-LE (Word: the same at offset 54). Excel and PowerPoint keep the full
  file name; Word drops the first two characters of stems of 8+ characters (one for 7).
- LibreOffice: ``.~lock.<name>#``, a CSV line ``full name,system user,host,dd.mm.yyyy hh:mm,url;``
  with ``\\`` escaping ``,`` ``;`` and ``\\``.
- WPS on Linux: ``.~<name>``, sometimes with the first one or two characters of the name dropped.
"""

from __future__ import annotations

import errno
import os
import sys
from pathlib import Path

from automation.core.text import printable
from automation.io.files import OWN_TEMP_PREFIX, is_temporary

# The name rules live in automation.io.files; these names stay importable from here.
__all__ = ["OWN_TEMP_PREFIX", "is_temporary", "lock_holder"]


_WORD_EXTENSIONS = {".doc", ".docx", ".docm", ".dot", ".dotx", ".dotm", ".rtf", ".odt", ".wps"}
_UNKNOWN_USER = "未知用户"
# Windows error codes for "the file is being used by another process" / "locked region".
_WIN_SHARING_VIOLATION = {32, 33}


def lock_holder(path: str | os.PathLike[str]) -> str | None:
    """Who has ``path`` open, as a Chinese description, or ``None`` if nobody seems to.

    Example: ``张三（Excel 锁文件 ~$跟踪表.xlsx）``. Checks owner files first (they name the
    person), then whether the file itself can be opened for exclusive writing.
    """
    path = Path(path)
    for lock in _candidate_lock_files(path):
        holder = _describe_lock(lock)
        if holder is not None:
            return holder
    if _sharing_violation(path):
        return "其他用户或程序（文件正被占用，无法独占打开）"
    return None


def _candidate_lock_files(path: Path) -> list[tuple[Path, str]]:
    """Owner-file names that would belong to ``path``, each with the kind of lock."""
    folder, name = path.parent, path.name
    stem_len = len(path.stem)
    found: list[tuple[Path, str]] = [
        (folder / f"~${name}", "office"),
        (folder / f".~lock.{name}#", "libreoffice"),
        (folder / f".~{name}", "wps"),
    ]
    # Shortened owner names. A shortened name could also be the exact owner name of another
    # document (``~$cdef.docx`` for ``cdef.docx``); count it only when that document is absent.
    shortened: list[tuple[str, str, str]] = []  # (lock name, the name it would exactly belong to)
    if path.suffix.lower() in _WORD_EXTENSIONS and stem_len >= 7:
        cut = 2 if stem_len >= 8 else 1
        shortened.append((f"~${name[cut:]}", name[cut:], "office"))
    if len(name) > 2:
        shortened.append((f".~{name[1:]}", name[1:], "wps"))
        shortened.append((f".~{name[2:]}", name[2:], "wps"))
    for lock_name, other, kind in shortened:
        if not _exists(folder / other):
            found.append((folder / lock_name, kind))
    return [(p, kind) for p, kind in found if p != path]


def _exists(path: Path) -> bool:
    """``path.exists()`` that answers False for names the file system cannot even hold."""
    try:
        return path.exists()
    except OSError:
        return False


def _describe_lock(lock: tuple[Path, str]) -> str | None:
    lock_path, kind = lock
    try:
        if not lock_path.is_file():
            return None
        data = lock_path.read_bytes()[:4096]
    except OSError:
        # It exists but cannot be read: its owner holds it open, which still means "locked".
        # (A name too long to exist — an owner file of a 250-byte name — is no lock at all.)
        if not _exists(lock_path):
            return None
        data = b""
    # Everything read from the lock file or its name is shown escaped: a crafted user name
    # must not print extra lines or reorder the text (see automation.core.text.printable).
    lock_name = printable(lock_path.name)
    if kind == "libreoffice":
        user, host = _parse_libreoffice_lock(data)
        where = f"LibreOffice 锁文件 {lock_name}"
        if host:
            where += f"，计算机 {printable(host)}"
        return f"{printable(user) if user else _UNKNOWN_USER}（{where}）"
    app = "Excel/WPS" if kind == "office" else "WPS"
    user = _parse_office_owner(data)
    return f"{printable(user) if user else _UNKNOWN_USER}（{app} 锁文件 {lock_name}）"


def _parse_office_owner(data: bytes) -> str | None:
    """The user name inside an MS Office / WPS owner file (``~$name``), or None."""
    if len(data) < 3:
        return None
    ansi_len = data[0]
    if 0 < ansi_len <= 52 and len(data) >= 162:
        # Word keeps the UTF-16 length at 54; Excel/PowerPoint at 55 (see module docstring).
        pos = 54
        utf16_len = data[pos]
        if utf16_len == 0x20 and (data[pos - 1] != 0 or data[pos - 2] != 0):
            pos = 55
            utf16_len = data[pos]
        if 0 < utf16_len <= 52:
            raw = data[pos + 2 : pos + 2 + 2 * utf16_len]
            name = raw.decode("utf-16-le", errors="replace").strip("\x00 ").strip()
            if name and "\ufffd" not in name:
                return name
    if 0 < ansi_len <= 52 and len(data) > ansi_len:
        raw = data[1 : 1 + ansi_len]
        for encoding in ("utf-8", "gbk", "cp1252"):
            try:
                name = raw.decode(encoding).strip("\x00 ").strip()
            except UnicodeDecodeError:
                continue
            if name:
                return name
    return None


def _parse_libreoffice_lock(data: bytes) -> tuple[str | None, str | None]:
    """(user, host) from a LibreOffice ``.~lock.name#`` file; the full name, else the login."""
    text = data.decode("utf-8", errors="replace")
    fields: list[str] = []
    current: list[str] = []
    escaped = False
    for ch in text:
        if escaped:
            current.append(ch)
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch in ",;":
            fields.append("".join(current))
            current = []
            if ch == ";":
                break
        else:
            current.append(ch)
    fields = [f.strip() for f in fields]
    if not fields:
        return None, None
    full_name = fields[0] if fields else ""
    login = fields[1] if len(fields) > 1 else ""
    host = fields[2] if len(fields) > 2 else ""
    return (full_name or login or None), (host or None)


def _sharing_violation(path: Path) -> bool:
    """True when the file exists but cannot be opened for exclusive writing right now.

    On Windows Excel opens workbooks with a share mode that denies writers, so ``os.open`` for
    read/write fails with a sharing violation (winerror 32/33). Elsewhere we try a non-blocking
    shared POSIX record lock, which fails while LibreOffice holds its write lock on a document.
    """
    # Windows needs a write open to meet the share mode; on POSIX a read open is enough for a
    # shared record lock and, unlike a write open, does not fire inotify IN_CLOSE_WRITE at the
    # watcher.
    flags = (os.O_RDWR | getattr(os, "O_BINARY", 0)) if sys.platform == "win32" else os.O_RDONLY
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        return False
    except PermissionError as exc:
        # winerror 32/33: someone holds it. Anything else (read-only file, no right to write)
        # is not "open by someone"; the write itself will report it.
        return getattr(exc, "winerror", None) in _WIN_SHARING_VIOLATION
    except OSError as exc:
        if getattr(exc, "winerror", None) in _WIN_SHARING_VIOLATION:
            return True
        return exc.errno in (errno.EBUSY, errno.ETXTBSY)
    try:
        return _locked_by_other(fd)
    finally:
        os.close(fd)


def _locked_by_other(fd: int) -> bool:
    if sys.platform == "win32":
        import msvcrt

        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            return True
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)
        return False
    import fcntl

    try:
        fcntl.lockf(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)  # fails while anyone holds a write lock
    except OSError as exc:
        return exc.errno in (errno.EACCES, errno.EAGAIN)
    fcntl.lockf(fd, fcntl.LOCK_UN)
    return False
