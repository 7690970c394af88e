"""The one way xietong writes a file on the share (安全写入).

Every write is atomic and careful about people:

1. nobody may have the file open (:func:`automation.io.locks.lock_holder`), and it must not have
   changed since the caller read it (``expected`` snapshot: size, then SHA-256), else
   :class:`WriteDeferred` and nothing is touched;
2. the new bytes go to a temporary file in the same folder (``.xt-tmp-<random>.<name>``, a name
   :func:`automation.io.files.is_temporary` skips), flushed and fsynced, with the mode of the
   file it replaces (a new file: the default under the process umask);
3. the previous version is kept in ``backup_dir`` (timestamped, newest ``keep`` kept): the
   replaced file itself, hard-linked there, where the file system allows and no other name
   holds it (its bytes are never written twice), else a copy;
4. ``os.replace`` swaps the temporary file in (retried briefly on Windows sharing violations;
   still failing means someone opened the file: deferred), then the folder is fsynced. A file
   that must not exist yet (``expected`` of a missing file) is hard-linked in instead, so one
   created meanwhile is never overwritten.

A process killed at any point leaves either the old file or the new one, never a mix; its
leftover temporary file is removed by :func:`cleanup_temp`.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import os
import re
import secrets
import stat
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from automation.core.text import printable
from automation.errors import XietongError
from automation.io.files import OWN_TEMP_PREFIX
from automation.io.locks import lock_holder

E_DEFERRED_LOCKED = "E_DEFERRED_LOCKED"
E_DEFERRED_CHANGED = "E_DEFERRED_CHANGED"
E_WRITE_FAILED = "E_WRITE_FAILED"

REPLACE_ATTEMPTS = 5
REPLACE_PAUSE_S = 0.2
TEMP_MIN_AGE_S = 5.0

# Test hook: called with (temp file, target) just before the replace. Tests set it to simulate
# a process killed between writing the temporary file and replacing the target.
_before_replace: Callable[[Path, Path], None] | None = None


@dataclass(frozen=True)
class FileSnapshot:
    """What a file looked like when it was read; ``size == -1`` means it did not exist."""

    path: Path
    size: int
    mtime_ns: int
    sha256: str

    @property
    def exists(self) -> bool:
        return self.size >= 0


@dataclass(frozen=True)
class WriteResult:
    path: Path
    snapshot: FileSnapshot  # of the file as written: pass it as ``expected`` to the next write
    backup: Path | None  # where the previous version was copied, if there was one
    attempts: int  # os.replace attempts needed (1 unless Windows got in the way)


class WriteDeferred(XietongError):
    """A write that must wait: the file is open or was changed by someone (写入已推迟).

    ``reason_code`` is ``E_DEFERRED_LOCKED`` or ``E_DEFERRED_CHANGED`` (also the error code);
    ``holder`` names who has the file open, when known.
    """

    exit_code = 3

    def __init__(self, reason_code: str, message_zh: str, holder: str | None = None):
        super().__init__(message_zh, code=reason_code)
        self.reason_code = reason_code
        self.message_zh = message_zh
        self.holder = holder


def snapshot(path: str | os.PathLike[str]) -> FileSnapshot:
    """Size, mtime and SHA-256 of ``path``; a missing file gives ``size == -1``."""
    return read_with_snapshot(path)[1]


def read_with_snapshot(path: str | os.PathLike[str]) -> tuple[bytes, FileSnapshot]:
    """The file's bytes and the snapshot of exactly those bytes (``b""`` if missing)."""
    path = Path(path)
    try:
        with open(path, "rb") as fh:
            st = os.fstat(fh.fileno())
            data = fh.read()
    except FileNotFoundError:
        return b"", FileSnapshot(path, -1, 0, "")
    return data, FileSnapshot(path, len(data), st.st_mtime_ns, hashlib.sha256(data).hexdigest())


def _stat_snapshot(path: Path) -> FileSnapshot:
    """Size and time of ``path`` (no hash: for a write that compares no content)."""
    try:
        st = path.stat()
    except FileNotFoundError:
        return FileSnapshot(path, -1, 0, "")
    return FileSnapshot(path, st.st_size, st.st_mtime_ns, "")


def safe_write(
    path: str | os.PathLike[str],
    data: bytes,
    *,
    expected: FileSnapshot | None,
    backup_dir: str | os.PathLike[str] | None = None,
    keep: int = 10,
) -> WriteResult:
    """Atomically replace ``path`` with ``data`` (see the module docstring for the steps).

    ``expected`` is the snapshot taken when the caller read the file (a snapshot of a missing
    file means "create; must still not exist"); ``None`` skips the change check, for files the
    automation alone writes. Raises :class:`WriteDeferred` when the write must wait.
    """
    path = Path(path)
    _refuse_if_locked(path)
    # the content compared only against a caller's snapshot (else size and time suffice,
    # and the bytes are read only when a backup must copy them)
    previous, current = (
        read_with_snapshot(path) if expected is not None else (None, _stat_snapshot(path))
    )
    if expected is not None and not _same_content(expected, current):
        raise WriteDeferred(
            E_DEFERRED_CHANGED,
            f"{printable(path.name)} 在读取之后被修改过，本次写入已推迟，将在重新读取最新版本后重试。",
        )
    tmp, new_mode = _write_temp(path, data)
    try:
        backup, linked = None, False
        if current.exists and backup_dir is not None:
            backup, linked = _backup(path, previous, current, Path(backup_dir), keep)
        _refuse_if_locked(path)
        if current.exists and not _unchanged_since(path, current):
            raise WriteDeferred(
                E_DEFERRED_CHANGED,
                f"{printable(path.name)} 刚刚被修改，本次写入已推迟，将在重新读取最新版本后重试。",
            )
        if _before_replace is not None:
            _before_replace(tmp, path)
        if expected is not None and not expected.exists:
            attempts = _create(tmp, path)
        else:
            attempts = _replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        if linked and _linked(backup, path):  # nothing replaced: no backup, and the file
            with contextlib.suppress(OSError):  # (changed in place meanwhile) not held twice
                backup.unlink()
        raise
    if linked:  # the backup is a file of its own now: a new file's mode, as a copy has
        _give_mode(backup, new_mode)
    _fsync_dir(path.parent)
    st = path.stat()
    written = FileSnapshot(path, len(data), st.st_mtime_ns, hashlib.sha256(data).hexdigest())
    return WriteResult(path, written, backup, attempts)


def safe_write_text(
    path: str | os.PathLike[str],
    text: str,
    *,
    expected: FileSnapshot | None,
    encoding: str = "utf-8",
    backup_dir: str | os.PathLike[str] | None = None,
    keep: int = 10,
) -> WriteResult:
    """:func:`safe_write` for text (UTF-8 by default, newlines written as given)."""
    return safe_write(
        path, text.encode(encoding), expected=expected, backup_dir=backup_dir, keep=keep
    )


def cleanup_temp(
    folder: str | os.PathLike[str],
    *,
    older_than_s: float = TEMP_MIN_AGE_S,
    young: list[Path] | None = None,
) -> list[Path]:
    """Remove xietong's own leftover temporary files in ``folder`` older than ``older_than_s``.

    Only names made by :func:`safe_write` (``.xt-tmp-*``) are touched; a younger one may belong
    to a write still in progress (it is added to ``young`` when given). Returns the files
    removed.
    """
    removed: list[Path] = []
    now = time.time()
    try:
        entries = list(Path(folder).iterdir())
    except OSError:  # missing, not a folder, not listable: nothing of ours to clean there
        return removed
    for entry in entries:
        if not _OWN_TEMP.match(entry.name) or not entry.is_file():
            continue
        try:
            if now - entry.stat().st_mtime < older_than_s:
                if young is not None:
                    young.append(entry)
                continue
            entry.unlink()
        except OSError:
            continue
        removed.append(entry)
    return removed


_OWN_TEMP = re.compile(re.escape(OWN_TEMP_PREFIX) + r"[0-9a-f]{12}\.")


def _refuse_if_locked(path: Path) -> None:
    holder = lock_holder(path)
    if holder is not None:
        raise WriteDeferred(
            E_DEFERRED_LOCKED,
            f"{printable(path.name)} 正被 {holder} 打开，本次写入已推迟，关闭文件后将自动重试。",
            holder,
        )


def _same_content(expected: FileSnapshot, current: FileSnapshot) -> bool:
    if expected.exists != current.exists:
        return False
    if not expected.exists:
        return True
    # Content decides: coarse mtimes on SMB/FAT miss same-second edits, and a touch is no edit.
    return expected.size == current.size and expected.sha256 == current.sha256


def _unchanged_since(path: Path, seen: FileSnapshot) -> bool:
    try:
        st = path.stat()
    except FileNotFoundError:
        return False
    return st.st_size == seen.size and st.st_mtime_ns == seen.mtime_ns


def _temp_name(name: str) -> str:
    """``.xt-tmp-<12 hex>.<name>``, the name cut (its suffix kept) so the whole stays within the
    255 bytes a file name may have: a target name near that limit can still be written."""
    head = f"{OWN_TEMP_PREFIX}{secrets.token_hex(6)}."
    tail = printable(name)
    suffix = Path(tail).suffix if len(Path(tail).suffix) <= 16 else ""
    stem = tail[: len(tail) - len(suffix)] if suffix else tail
    while len((head + stem + suffix).encode("utf-8")) > 255 and stem:
        stem = stem[:-1]
    return head + stem + suffix


def _write_temp(path: Path, data: bytes) -> tuple[Path, int | None]:
    """The temporary file of ``data`` beside ``path``, with ``path``'s mode; and the mode it
    was created with (a new file's, under the umask; None on Windows)."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    tmp = path.with_name(_temp_name(path.name))
    try:
        fd = os.open(tmp, flags, 0o666)
    except OSError as exc:
        raise XietongError(
            f"无法在 {path.parent} 中创建临时文件：{exc.strerror or exc}", code=E_WRITE_FAILED
        ) from exc
    try:
        created = None if sys.platform == "win32" else os.fstat(fd).st_mode & 0o7777
        with open(fd, "wb", closefd=True) as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        _take_mode(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    return tmp, created


def _give_mode(path: Path | None, mode: int | None) -> None:
    if path is not None and mode is not None:
        with contextlib.suppress(OSError):
            os.chmod(path, mode)


def _take_mode(tmp: Path, path: Path) -> None:
    """Give the temporary file the mode of the file it replaces (issue 9, item 4).

    A new file keeps the mode it was created with, 0666 less the process umask, the default
    for new files; only an existing file's mode (e.g. 0640 set by an administrator) is copied.
    Windows has no POSIX modes (``chmod`` only toggles read-only): nothing to do there.
    """
    if sys.platform == "win32":
        return
    try:
        mode = path.stat().st_mode & 0o7777
    except OSError:
        return
    with contextlib.suppress(OSError):
        os.chmod(tmp, mode)


def _create(tmp: Path, path: Path) -> int:
    """Move ``tmp`` to ``path`` only if ``path`` still does not exist: never overwrite.

    A hard link fails atomically when the target appeared meanwhile; file systems without hard
    links fall back to a check and a replace.
    """
    try:
        os.link(tmp, path)
    except FileExistsError:
        raise _appeared(path) from None
    except OSError:
        if path.exists():
            raise _appeared(path) from None
        return _replace(tmp, path)
    with contextlib.suppress(OSError):
        tmp.unlink()
    return 1


def _appeared(path: Path) -> WriteDeferred:
    return WriteDeferred(
        E_DEFERRED_CHANGED,
        f"{printable(path.name)} 刚刚被其他人创建，本次写入已推迟，将在重新读取后重试。",
    )


def _backup(
    path: Path, previous: bytes | None, seen: FileSnapshot, backup_dir: Path, keep: int
) -> tuple[Path, bool]:
    """Keep the version of ``path`` about to be replaced (``previous``: its bytes when read,
    None when not) in ``backup_dir``: a regular file that no other name holds is hard-linked
    there (the replace leaves it to the backup alone), anything else copied. The backup, and
    whether it was linked."""
    backup_dir.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S-%f")
    target = backup_dir / f"{path.stem}.{stamp}{path.suffix}"
    n = 1
    while target.exists():
        target = backup_dir / f"{path.stem}.{stamp}-{n}{path.suffix}"
        n += 1
    linked = _link_backup(path, seen, target)
    if not linked:
        if previous is None:  # a file changed since ``seen`` is caught before the replace
            try:
                previous = path.read_bytes()
            except FileNotFoundError:
                previous = b""
        tmp, _mode = _write_temp(target, previous)
        os.replace(tmp, target)
    _prune_backups(path, backup_dir, keep)
    return target, linked


def _link_backup(path: Path, seen: FileSnapshot, target: Path) -> bool:
    """Hard-link ``path`` as ``target`` when it is a regular file of one name, still as
    ``seen``; False when it is not or the file system has no hard links (then copied)."""
    try:
        st = os.lstat(path)
        if (
            not stat.S_ISREG(st.st_mode)
            or st.st_nlink != 1
            or st.st_size != seen.size
            or st.st_mtime_ns != seen.mtime_ns
        ):
            return False
        os.link(path, target)  # not a link (lstat above): no link is followed
    except OSError:
        return False
    return True


def _linked(backup: Path, path: Path) -> bool:
    """Whether ``backup`` is another name of the file at ``path`` (a hard-linked backup)."""
    try:
        return os.path.samefile(backup, path)
    except OSError:
        return False


def _prune_backups(path: Path, backup_dir: Path, keep: int) -> None:
    pattern = re.compile(
        re.escape(path.stem) + r"\.\d{8}-\d{6}-\d{6}(?:-\d+)?" + re.escape(path.suffix) + "$"
    )
    backups = sorted(p for p in backup_dir.iterdir() if pattern.match(p.name))
    for old in backups[: max(0, len(backups) - max(keep, 0))]:
        with contextlib.suppress(OSError):
            old.unlink()


def _replace(tmp: Path, path: Path) -> int:
    for attempt in range(1, REPLACE_ATTEMPTS + 1):
        try:
            os.replace(tmp, path)
            return attempt
        except PermissionError:
            # Windows: the target was opened between our check and the replace.
            if attempt == REPLACE_ATTEMPTS:
                holder = lock_holder(path) or "其他用户或程序"
                raise WriteDeferred(
                    E_DEFERRED_LOCKED,
                    f"{printable(path.name)} 正被 {holder} 占用，无法替换，本次写入已推迟。",
                    holder,
                ) from None
            time.sleep(REPLACE_PAUSE_S * attempt)
    raise AssertionError("unreachable")


def _fsync_dir(folder: Path) -> None:
    if sys.platform == "win32":
        return  # directories cannot be opened for fsync on Windows; NTFS journals the rename
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
