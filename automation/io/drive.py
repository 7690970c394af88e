"""The shared drive's layout: where the inbox, tracking table, item folders … are.

Folder names come from ``drive.yaml``. The drive's own rules folder (made by ``xietong init``)
overrides the package defaults file by file.
"""

from __future__ import annotations

import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from automation.errors import XietongError
from automation.io.files import LISTING_UNSETTLED_NS
from automation.io.secrets import check_share_rules
from automation.rules import Rules, load_rules


@dataclass(frozen=True)
class DrivePaths:
    root: Path
    inbox: Path
    tracking: Path
    items: Path
    weekly: Path
    summary: Path
    archive: Path
    feedback: Path
    outbox: Path
    log: Path
    templates: Path
    rules: Path

    def as_dict(self) -> dict[str, str]:
        return {k: str(v) for k, v in asdict(self).items() if k != "root"}

    @property
    def summary_file(self) -> Path:
        return self.summary / _default_drive_rules().drive.summary_file

    def folders(self) -> list[Path]:
        return [
            self.templates,
            self.inbox,
            self.items,
            self.weekly,
            self.summary,
            self.archive,
            self.feedback,
            self.outbox,
            self.log,
            self.rules,
        ]


_DEFAULTS: Rules | None = None


def _default_drive_rules() -> Rules:
    global _DEFAULTS
    if _DEFAULTS is None:
        _DEFAULTS = load_rules()
    return _DEFAULTS


def drive_paths(root: str | Path, rules: Rules | None = None) -> DrivePaths:
    """Where each part of the drive lives (whether or not it exists yet)."""
    root = Path(root).absolute()
    drive = (rules or _default_drive_rules()).drive
    f = drive.folders
    return DrivePaths(
        root=root,
        inbox=root / f.inbox,
        tracking=root / drive.tracking_file,
        items=root / f.items,
        weekly=root / f.weekly,
        summary=root / f.summary,
        archive=root / f.archive,
        feedback=root / f.feedback,
        outbox=root / f.outbox,
        log=root / f.log,
        templates=root / f.templates,
        rules=root / f.rules,
    )


def drive_rules(root: str | Path) -> Rules:
    """The rules in force on a drive: package defaults overridden by the drive's rules folder."""
    rules_dir = drive_paths(root).rules
    check_share_rules(rules_dir)  # a password or key on the share: refuse to start
    return load_rules(rules_dir if rules_dir.is_dir() else None)


def require_drive(root: str | Path) -> DrivePaths:
    """Paths of an initialised drive, or a clear error when the folder is not one."""
    paths = drive_paths(root)
    if not paths.root.is_dir():
        raise XietongError(f"共享盘目录不存在：{paths.root}", code="E_NO_DRIVE", exit_code=2)
    if not paths.inbox.is_dir() or not paths.tracking.is_file():
        raise XietongError(
            f"{paths.root} 不是已初始化的协同共享盘，请先运行 xietong init",
            code="E_NO_DRIVE",
            exit_code=2,
        )
    return drive_paths(root, drive_rules(root))


def item_folder_index(paths: DrivePaths) -> dict[str, list[Path]]:
    """The folders of every item by ID (``<ID>`` or ``<ID> <title>``), from one listing (kept
    while the items folder's modification time stays the same, as ``list_workbooks`` keeps
    a listing)."""
    index: dict[str, list[Path]] = {}
    where = str(paths.items)
    try:
        mtime = os.stat(where).st_mtime_ns
    except OSError:
        return index
    held = _FOLDER_INDEX.get(where)
    if held is not None and held[0] == mtime:
        return dict(held[1])
    try:
        with os.scandir(where) as entries:
            for entry in entries:
                if entry.is_dir():
                    index.setdefault(entry.name.split(" ", 1)[0], []).append(Path(entry.path))
    except OSError:  # not a folder, or not readable
        return {}
    for folders in index.values():
        folders.sort()
    if time.time_ns() - mtime >= LISTING_UNSETTLED_NS:
        _FOLDER_INDEX[where] = (mtime, index)
    return dict(index)


_FOLDER_INDEX: dict[str, tuple[int, dict[str, list[Path]]]] = {}


def bag_index(paths: DrivePaths) -> dict[str, list[Path]]:
    """Every bag under ``<archive>/<year>/`` by item ID (folder ``<ID> <title>``)."""
    index: dict[str, list[Path]] = {}
    if not paths.archive.is_dir():
        return index
    for year in sorted(paths.archive.iterdir()):
        if not year.is_dir() or year.is_symlink() or year.name.startswith("."):
            continue
        for bag in sorted(year.iterdir()):
            if bag.name.startswith(".") or bag.is_symlink() or not (bag / "bagit.txt").is_file():
                continue
            index.setdefault(bag.name.split(" ", 1)[0], []).append(bag)
    return index


def archived_item_folders(paths: DrivePaths) -> dict[str, list[Path]]:
    """The payload folder (``data/``) of every bag by item ID, shaped like
    :func:`automation.io.drive.item_folder_index`, so the clock engine can keep reading an
    archived item's execution workbooks (read only: nothing may ever be written there)."""
    return {
        item_id: [bag / "data" for bag in bags if (bag / "data").is_dir()]
        for item_id, bags in bag_index(paths).items()
    }
