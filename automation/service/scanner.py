"""The periodic rescan (定期扫描): the truth about which files are saved and ready to read.

File events on an SMB/CIFS share are unreliable or absent, so the service looks at the folders
itself with ``os.scandir``. An inbox file is *ready* when

- it is not a temporary, owner or half-saved file (:func:`automation.io.locks.is_temporary`),
- its size and modification time were the same at two looks at least the quiet window apart,
- a workbook that should be a zip (``.xlsx`` …) is a complete zip (its central directory is
  written last, so a half-copied file is not),
- nobody has it open (:func:`automation.io.locks.lock_holder`: ``~$`` and ``.~lock.*#`` files).

A share that cannot be listed, that suddenly lists empty, or whose inbox is missing is
*unavailable*: nothing is taken and nothing is forgotten; the service waits and looks again.
Besides the inbox, the tracking table and the item folders are watched for changes people save
(clocks depend on them): a change there asks for one cycle once it has rested the quiet window.
"""

from __future__ import annotations

import os
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from automation.io.drive import DrivePaths
from automation.io.files import is_workbook_name
from automation.io.locks import is_temporary, lock_holder

ZIP_SUFFIXES = (".xlsx", ".xlsm", ".xlsb", ".ods")
Signature = tuple[int, int]  # size, mtime_ns


@dataclass(frozen=True)
class SeenFile:
    """One inbox file as seen by a look."""

    path: Path
    rel: str  # relative to the drive, as the ledger names it
    size: int
    mtime_ns: int

    @property
    def signature(self) -> Signature:
        return self.size, self.mtime_ns


@dataclass
class Look:
    """The result of one look at the share."""

    ready: list[SeenFile] = field(default_factory=list)
    waiting: list[SeenFile] = field(default_factory=list)  # changing, or not rested yet
    held: dict[str, str] = field(default_factory=dict)  # rel → who has it open
    broken: list[SeenFile] = field(default_factory=list)  # rested, not (yet) a complete zip
    drive_changed: bool = False  # tracking table or item folders changed and rested
    unavailable: str | None = None  # why the share cannot be looked at now


def _signature(entry: os.DirEntry[str]) -> Signature | None:
    try:
        if not entry.is_file(follow_symlinks=False):  # links are never followed
            return None
        st = entry.stat(follow_symlinks=False)
    except OSError:
        return None
    return st.st_size, st.st_mtime_ns


def complete_zip(path: Path) -> bool:
    """A zip whose central directory can be read (a half-written zip has none yet)."""
    try:
        with zipfile.ZipFile(path) as zf:
            return bool(zf.namelist())
    except (OSError, zipfile.BadZipFile, ValueError):
        return False


class Scanner:
    """Remembers what it saw, so that readiness is judged across looks."""

    def __init__(
        self,
        paths: DrivePaths,
        quiet_s: float,
        *,
        broken_grace_s: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.paths = paths
        self.quiet_s = quiet_s
        # a rested file that is still no complete zip: a writer that paused, or a broken file;
        # after this long it is taken anyway, so the cycle answers it (文件已损坏)
        self.broken_grace_s = broken_grace_s
        self.clock = clock
        self._first_seen: dict[str, tuple[Signature, float]] = {}
        self._drive_seen: tuple[object, float] | None = None
        self._drive_taken: object = None

    def _rested(self, key: str, sig: Signature, now: float) -> bool:
        seen = self._first_seen.get(key)
        if seen is None or seen[0] != sig:
            self._first_seen[key] = (sig, now)
            return False
        return now - seen[1] >= self.quiet_s

    def look(self) -> Look:
        now = self.clock()
        try:
            with os.scandir(self.paths.root) as it:
                top = [e.name for e in it]
        except OSError as exc:
            return Look(unavailable=f"共享盘无法访问：{exc.strerror or exc}")
        if not top:
            return Look(unavailable="共享盘列表为空（可能未挂载或网络中断）")
        try:
            with os.scandir(self.paths.inbox) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError as exc:
            return Look(unavailable=f"收件箱无法访问：{exc.strerror or exc}")
        look = Look()
        present = set()
        for entry in entries:
            name = entry.name
            # every file gets an answer (forms, attachments, strays); links are answered by
            # the cycle without being followed
            if is_temporary(name) or entry.is_dir(follow_symlinks=False):
                continue
            sig = _signature(entry)
            if sig is None:
                continue
            path = Path(entry.path)
            seen = SeenFile(path, _relative(self.paths, path), *sig)
            present.add(seen.rel)
            if not self._rested(seen.rel, sig, now):
                look.waiting.append(seen)
            elif name.lower().endswith(ZIP_SUFFIXES) and not complete_zip(path):
                rested_for = now - self._first_seen[seen.rel][1]
                (look.ready if rested_for >= self.broken_grace_s else look.broken).append(seen)
            elif (holder := lock_holder(path)) is not None:
                look.held[seen.rel] = holder
            else:
                look.ready.append(seen)
        for rel in [r for r in self._first_seen if r not in present]:
            del self._first_seen[rel]  # gone (filed away, deleted): a new drop starts afresh
        look.drive_changed = self._drive_rested(now)
        return look

    def _drive_rested(self, now: float) -> bool:
        """True once per change of the tracking table or item folders, after it rested."""
        state = self._drive_state()
        if self._drive_seen is None or self._drive_seen[0] != state:
            first = self._drive_seen is None
            self._drive_seen = (state, now)
            if first:
                self._drive_taken = state  # the state at start is the baseline, not a change
            return False
        if state == self._drive_taken or now - self._drive_seen[1] < self.quiet_s:
            return False
        self._drive_taken = state
        return True

    def _drive_state(self) -> object:
        files: list[tuple[str, int, int]] = []
        try:
            st = self.paths.tracking.stat()
            files.append(("", st.st_size, st.st_mtime_ns))
        except OSError:
            pass
        try:
            with os.scandir(self.paths.items) as it:
                folders = [e for e in it if e.is_dir(follow_symlinks=False)]
        except OSError:
            folders = []
        for folder in folders:
            try:
                with os.scandir(folder.path) as it:
                    for e in it:
                        if is_temporary(e.name) or not is_workbook_name(e.name):
                            continue
                        sig = _signature(e)
                        if sig is not None:
                            files.append((f"{folder.name}/{e.name}", *sig))
            except OSError:
                continue
        return tuple(sorted(files))

    @property
    def pending_count(self) -> int:
        return len(self._first_seen)


def _relative(paths: DrivePaths, path: Path) -> str:
    try:
        return path.relative_to(paths.root).as_posix()
    except ValueError:
        return str(path)
