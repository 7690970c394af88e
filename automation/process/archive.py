"""结果归档 (stage 6): the acceptance checklist of finished items and their BagIt archive.

For every item whose tracking row has a date in ``trigger_field`` (完成日期 by default) and that
is not archived yet, the item folder gets a generated 验收清单 workbook (regenerated while the
item is not archived). An item is archived

- automatically (``xietong run``, ``xietong archive DRIVE``) once its checklist has no gap;
- explicitly (``xietong archive DRIVE --item ID``, the office's decision) even with gaps, which
  are recorded in the bag's ``bag-info.txt`` and in the checklist inside the bag.

Archiving copies the item folder (and the weekly reports that mention the item) into a staging
folder next to the archive, makes it a BagIt bag (RFC 8493, sha256 + sha512 manifests) and
validates it; only when every source file is still unchanged and nobody has one open is the bag
moved to ``<archive>/<year>/<ID title>/``, the item folder removed and 归档日期 written into
the tracking row. A file someone has open defers the whole item to the next run; an item with a
bag is never archived again. ``verify_archive`` re-validates bags and names every file changed
or missing since (``E_ARCHIVE_CHANGED`` / ``E_ARCHIVE_MISSING`` …).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import logging
import os
import shutil
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from automation import __version__
from automation.core import archive as core
from automation.core.clocks import ItemCycle
from automation.core.intake import latest_revisions
from automation.core.problems import Problem, make_problem
from automation.errors import XietongError
from automation.io.cache import ValidationCache, file_identity, settled
from automation.io.drive import (
    DrivePaths,
    bag_index,
    item_folder_index,
    require_drive,
)
from automation.io.files import list_files
from automation.io.journal import make_entry
from automation.io.ledger import Ledger
from automation.io.locks import OWN_TEMP_PREFIX, is_temporary, lock_holder
from automation.io.safewrite import WriteDeferred, read_with_snapshot, safe_write
from automation.process.checklist import checklist_bytes
from automation.process.clocks import clock_results, department_records
from automation.process.context import RunContext
from automation.process.tracking import CellChange, TrackingTable, read_tracking, write_tracking
from automation.rules import Rules
from automation.rules.archive import ArchiveRules

STAGING_PREFIX = f"{OWN_TEMP_PREFIX}bag-"
CHECKSUMS = ["sha256", "sha512"]
WORKBOOKS = (".xlsx", ".xlsm")
E_ARCHIVE_DEFERRED = "E_ARCHIVE_DEFERRED"
CHANGED_RETRIES = 3

logging.getLogger("bagit").setLevel(logging.WARNING)  # one line per file is noise on the CLI


@dataclass
class ItemOutcome:
    """What happened to one item."""

    item_id: str
    result: str  # archived | deferred | waiting | already | completed | failed
    message: str
    bag: str | None = None  # relative to the drive
    gaps: list[str] = field(default_factory=list)
    code: str | None = None
    holder: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class ArchiveReport:
    drive: str
    as_of: str
    items: list[ItemOutcome] = field(default_factory=list)
    checklists: list[str] = field(default_factory=list)  # checklist workbooks (re)written
    warnings: list[str] = field(default_factory=list)

    def of(self, result: str) -> list[ItemOutcome]:
        return [o for o in self.items if o.result == result]

    @property
    def deferred(self) -> list[ItemOutcome]:
        return self.of("deferred")

    def as_dict(self) -> dict[str, Any]:
        return {
            "drive": self.drive,
            "as_of": self.as_of,
            "archived": [o.item_id for o in self.of("archived")],
            "items": [o.as_dict() for o in self.items],
            "checklists": self.checklists,
            "warnings": self.warnings,
        }

    def summary_lines(self) -> list[str]:
        lines = [
            f"归档 {len(self.of('archived'))} 项，推迟 {len(self.deferred)} 项，"
            f"验收清单待补齐 {len(self.of('waiting'))} 项；更新验收清单 {len(self.checklists)} 份",
        ]
        for o in self.items:
            lines.append(f"  {o.item_id}：{o.message}")
            lines += [f"    - {g}" for g in o.gaps]
        lines += [f"  注意：{w}" for w in self.warnings]
        return lines

    def notes(self) -> list[str]:
        """Lines for the cycle report: what was archived and what needs someone's attention."""
        out = [f"归档 {o.item_id}：{o.message}" for o in self.items if o.result != "waiting"]
        return out + self.warnings


@dataclass
class _Run:
    """What one archive run shares between items."""

    ctx: RunContext
    paths: DrivePaths
    rules: Rules
    spec: ArchiveRules
    ledger: Ledger
    cache: ValidationCache
    as_of: dt.datetime
    report: ArchiveReport
    weekly: list[tuple[Path, core.FolderFile]] | None = None
    weekly_by_item: dict[str, list[core.FolderFile]] | None = None

    def rel(self, path: Path) -> str:
        try:
            return path.relative_to(self.paths.root).as_posix()
        except ValueError:
            return str(path)


def _bagit() -> Any:
    """The bagit library, imported when a bag is made or read (most runs make none)."""
    import bagit

    return bagit


def may_touch(ctx: RunContext) -> Callable[[Any], bool]:
    """Whether :func:`archive_items`, run now, may read or move an item's folder: the item is
    finished (its trigger field filled) or already has a bag. Takes anything with
    ``item_id`` and ``fields`` (the tracking row), such as ``execution.ItemExecution``."""
    spec = ctx.rules.archive
    bags = bag_index(ctx.paths)
    trigger = spec.trigger_field if spec is not None else None

    def touched(item: Any) -> bool:
        return (
            str(item.item_id).strip() in bags
            or trigger is None
            or core.filled(item.fields.get(trigger))
        )

    return touched


def archive_items(ctx: RunContext, *, item: str | None = None) -> ArchiveReport:
    """Refresh the checklists of finished items and archive those that are ready (or ``item``).

    The caller holds the drive's write lock (``xietong run`` and ``xietong archive`` do).
    """
    paths, rules = ctx.paths, ctx.rules
    if rules.archive is None:  # pragma: no cover - load_rules always loads archive.yaml
        raise XietongError("缺少归档规则 archive.yaml", code="E_RULES", exit_code=2)
    report = ArchiveReport(drive=str(paths.root), as_of=ctx.as_of.isoformat())
    run = _Run(ctx, paths, rules, rules.archive, ctx.need_ledger(), ctx.cache, ctx.as_of, report)
    _remove_staging(paths)
    table = read_tracking(ctx)
    latest = latest_revisions(table.rows)
    wanted = item.strip().upper() if item else None
    if wanted is not None and not any(str(k).upper() == wanted for k in latest):
        raise XietongError(f"跟踪表中没有事项 {item}", code="E_UNKNOWN_ITEM", exit_code=2)
    folders = item_folder_index(paths)
    bags = bag_index(paths)
    revision_counts: dict[Any, int] = {}
    for r in table.rows:
        revision_counts[r.get("item_id")] = revision_counts.get(r.get("item_id"), 0) + 1
    for item_id, row in sorted(latest.items()):
        item_id = str(item_id).strip()
        if wanted is not None and item_id.upper() != wanted:
            continue
        revisions = revision_counts.get(row.get("item_id"), 0)
        try:
            outcome = _one(
                run,
                row,  # the table's row: shared, never changed (see process.tracking)
                folders.get(item_id, []),
                bags.get(item_id, []),
                explicit=wanted is not None,
                revisions=revisions,
            )
        except OSError as exc:  # one item's folder unreadable must not stop the others
            where = f"{exc.filename}：" if exc.filename else ""
            outcome = ItemOutcome(
                item_id,
                "failed",
                f"无法归档：{where}{exc.strerror or exc}",
                code="E_FILE_SYSTEM",
            )
        if outcome is not None:
            report.items.append(outcome)
    return report


def _one(
    run: _Run,
    row: dict[str, Any],
    folders: list[Path],
    bags: list[Path],
    *,
    explicit: bool,
    revisions: int,
) -> ItemOutcome | None:
    item_id = str(row["item_id"]).strip()
    if bags:
        return _already(run, row, folders, bags[0], explicit=explicit)
    if not folders:
        if explicit:
            return ItemOutcome(
                item_id, "failed", "没有事项文件夹，无法归档", code="E_ARCHIVE_NO_FOLDER"
            )
        return None
    if not explicit and not core.filled(row.get(run.spec.trigger_field)):
        return None
    folder = folders[0]
    checklist = _refresh_checklist(run, row, folder, revisions)
    if not checklist.complete and not explicit:
        return ItemOutcome(
            item_id,
            "waiting",
            f"验收清单缺 {len(checklist.gaps)} 项，补齐后自动归档",
            gaps=checklist.gap_lines(),
        )
    holder = _folder_holder(folder)
    if holder is not None:
        return ItemOutcome(
            item_id,
            "deferred",
            f"{holder[0]} 正被 {holder[1]} 打开，本次未归档，关闭后下次运行再归档",
            code=E_ARCHIVE_DEFERRED,
            holder=holder[1],
        )
    return _make_archive(run, row, folder, checklist, explicit=explicit)


# -- the checklist ---------------------------------------------------------------------------------


def checklist_name(spec: ArchiveRules, item_id: str) -> str:
    return core.safe_name(spec.checklist_file.replace("{item_id}", item_id), 120)


def _refresh_checklist(
    run: _Run, row: dict[str, Any], folder: Path, revisions: int
) -> core.Checklist:
    """Build the item's checklist from its folder and (re)write the workbook when it changed.

    Not built again while the row, the item's files, the weekly reports and the registered
    request are what they were when this process last built it."""
    item_id = str(row["item_id"]).strip()
    walked = list_files(folder)  # the listings kept while the folders' times stay
    key = (
        row,  # the very row while its values stay: compared at once
        revisions,
        str(folder),
        tuple((str(p), file_identity(p)) for p in walked),
        # its rows, not the files: the same objects while the weekly reports are unchanged
        tuple((f.name, f.rows) for f in _weekly_of(run, item_id)),
        tuple(sorted(_request_fields(run.ledger, item_id).items())),
        run.as_of.date(),
    )
    held = run.cache.recall("checklist", item_id, key)
    if held is not None:
        return held
    checklist, written = _build_checklist(run, row, folder, walked, revisions)
    # kept unless a workbook was left unwritten (open: tried again next run) or a file was
    # saved moments ago (its time may not yet tell a second save apart)
    if written and all(settled(ident) for _p, ident in key[3]):
        run.cache.keep("checklist", item_id, key, checklist, carry=True)
    return checklist


def _build_checklist(
    run: _Run, row: dict[str, Any], folder: Path, walked: list[Path], revisions: int
) -> tuple[core.Checklist, bool]:
    item_id = str(row["item_id"]).strip()
    name = checklist_name(run.spec, item_id)
    files = [f for _, f in _folder_files(run, folder, walked) if f.name != name]
    labels = {f.key: f.label for f in run.rules.form("tracking").all_fields}
    checklist = core.build_checklist(
        run.spec,
        row,
        files,
        departments=core.item_departments(row, run.rules.clocks.departments_field),
        revisions=revisions,
        weekly=_weekly_of(run, item_id),
        request_fields=_request_fields(run.ledger, item_id),
        labels=labels,
    )
    created = row.get(run.spec.trigger_field)
    created = created if isinstance(created, dt.date) else run.as_of.date()
    data = checklist_bytes(checklist, row, sheet=run.spec.checklist_sheet, created=created)
    target = folder / name
    old, snap = read_with_snapshot(target)
    if old != data:
        try:
            safe_write(target, data, expected=snap)
            run.cache.note_written(target)
            run.report.checklists.append(run.rel(target))
            entry = make_entry(
                action="checklist",
                item=item_id,
                file=run.rel(target),
                reason="更新验收清单："
                + ("齐全" if checklist.complete else f"缺 {len(checklist.gaps)} 项"),
                as_of=run.as_of,
                gaps=checklist.gap_lines(),
            )
            run.ctx.journal([entry])
        except WriteDeferred as exc:
            run.report.warnings.append(f"{run.rel(target)}：{exc.message_zh}")
            return checklist, False
    return checklist, True


def _request_fields(ledger: Ledger, item_id: str) -> dict[str, Any]:
    regs = ledger.registrations_of(item_id)
    return dict(regs[-1].request_fields) if regs else {}


def _folder_files(
    run: _Run, folder: Path, walked: list[Path] | None = None
) -> list[tuple[Path, core.FolderFile]]:
    out = []
    for path in list_files(folder, kept=False) if walked is None else walked:
        out.append((path, _folder_file(run, path, path.relative_to(folder).as_posix())))
    return out


def _folder_file(run: _Run, path: Path, name: str) -> core.FolderFile:
    if path.suffix.lower() not in WORKBOOKS or run.cache.written_here(path):
        return core.FolderFile(name)  # not a workbook, or one the run wrote (no form)
    try:
        rep = run.cache.validate(path)
    except XietongError:
        return core.FolderFile(name)
    if not getattr(rep, "readable", True) or not rep.kind:
        return core.FolderFile(name)
    return core.FolderFile(name, rep.kind, dict(rep.fields), dict(rep.tables), list(rep.rows))


def _weekly_files(run: _Run) -> list[tuple[Path, core.FolderFile]]:
    if run.weekly is None:
        run.weekly = []
        if run.paths.weekly.is_dir():
            for path in list_files(run.paths.weekly):
                f = _folder_file(run, path, path.relative_to(run.paths.weekly).as_posix())
                if f.kind == "weekly":
                    run.weekly.append((path, f))
    return run.weekly


def _weekly_of(run: _Run, item_id: str) -> list[core.FolderFile]:
    """The weekly folder's reports cut to the rows about ``item_id`` (a department's report
    names every item: the checklist of one item depends on its own rows only). A report is cut
    again only when it is not the version this process cut before: the cuts of the others are
    the same objects (the checklists key on them)."""
    if run.weekly_by_item is None:
        run.weekly_by_item = {}
        for path, f in _weekly_files(run):
            ident = (str(path), run.cache.identity(path))
            cuts = run.cache.derive("archive_weekly", str(path), ident, lambda f=f: _cut(f))
            for item, cut in cuts.items():
                run.weekly_by_item.setdefault(item, []).append(cut)
    return run.weekly_by_item.get(item_id.strip().upper(), [])


def _cut(f: core.FolderFile) -> dict[str, core.FolderFile]:
    """One weekly report by item (upper case): the report with that item's rows only."""
    mine: dict[str, list[dict[str, Any]]] = {}
    for r in f.rows:
        mine.setdefault(str(r.get("item_id") or "").strip().upper(), []).append(r)
    return {item: replace(f, rows=rows) for item, rows in mine.items()}


def _folder_holder(folder: Path) -> tuple[str, str] | None:
    """(file, who) of the first file of the folder someone has open, else None."""
    for base, _dirs, names in os.walk(folder, followlinks=False):
        for name in sorted(names):
            path = Path(base) / name
            if is_temporary(path):
                continue
            who = lock_holder(path)
            if who is not None:
                return name, who
    return None


# -- making the bag --------------------------------------------------------------------------------


def _make_archive(
    run: _Run, row: dict[str, Any], folder: Path, checklist: core.Checklist, *, explicit: bool
) -> ItemOutcome:
    item_id = checklist.item_id
    year = core.archive_year(row, run.as_of.date())
    year_dir = run.paths.archive / str(year)
    name = core.bag_folder_name(item_id, checklist.title, run.spec.title_length)
    final, n = year_dir / name, 2
    while final.exists() or final.is_symlink():  # someone's folder of that name: never replaced
        final, n = year_dir / f"{name}（{n}）", n + 1
    staging = year_dir / f"{STAGING_PREFIX}{core.safe_name(item_id)}-{uuid.uuid4().hex[:8]}"
    staging.mkdir(parents=True)
    try:
        copied = _copy_sources(run, folder, checklist, staging)
        info = core.bag_info(
            row,
            checklist,
            clock_lines=_clock_lines(run, row),
            archive_date=run.as_of.date(),
            explicit=explicit,
            software=f"xietong {__version__} (bagit {_bagit().VERSION})",
        )
        bag = _bagit().make_bag(str(staging), info, processes=1, checksums=CHECKSUMS)
        bag.validate(processes=1)
        changed = _changed_sources(folder, copied)
        if changed:
            shutil.rmtree(staging, ignore_errors=True)
            return ItemOutcome(
                item_id,
                "deferred",
                f"归档过程中 {changed} 被修改或正被打开，本次未归档，下次运行再归档",
                code=E_ARCHIVE_DEFERRED,
            )
        os.rename(staging, final)
    except _bagit().BagError as exc:
        shutil.rmtree(staging, ignore_errors=True)
        return ItemOutcome(item_id, "failed", f"归档包校验失败：{exc}", code="E_ARCHIVE_INVALID")
    except OSError as exc:
        shutil.rmtree(staging, ignore_errors=True)
        return ItemOutcome(
            item_id,
            "deferred",
            f"归档包无法写入（{exc.strerror or exc}），事项文件夹未改动",
            code=E_ARCHIVE_DEFERRED,
        )
    _bagit().Bag(str(final)).validate(processes=1)  # the bag in place, before the folder goes
    long_paths = core.too_long((str(final / "data" / rel) for rel in copied), run.spec.max_path)
    if long_paths:
        run.report.warnings.append(
            f"{item_id} 归档路径超过 {run.spec.max_path} 个字符（Windows 资源管理器可能无法打开）："
            + long_paths[0]
        )
    left = _remove_folder(folder)
    _journal(run, item_id, final, folder, checklist, explicit=explicit)
    date_note = _write_archive_date(run, item_id, run.as_of.date())
    gaps = checklist.gap_lines()
    message = f"已归档到 {run.rel(final)}"
    if gaps:
        message += f"（带 {len(gaps)} 项缺项，已记入归档包）"
    if left:
        message += f"；事项文件夹中未归档的 {'、'.join(left[:3])} 未删除，请人工处理"
    if date_note:
        message += f"；{date_note}"
    return ItemOutcome(item_id, "archived", message, bag=run.rel(final), gaps=gaps)


def _copy_sources(
    run: _Run, folder: Path, checklist: core.Checklist, staging: Path
) -> dict[str, tuple[Path, str]]:
    """Copy the folder's files (and the item's weekly reports) into ``staging``; by path inside
    the bag's payload: (source, sha256 of the bytes copied)."""
    copied: dict[str, tuple[Path, str]] = {}
    for path in list_files(folder, kept=False):
        copied[path.relative_to(folder).as_posix()] = (path, _copy(path, staging, folder))
    reports = {e.key: e for e in checklist.entries if e.files}
    weekly_names = {n for e in reports.values() if e.key == "weekly" for n in e.files}
    for path, f in _weekly_files(run):
        if f.name in weekly_names and not path.is_relative_to(folder):
            target = Path(run.spec.weekly_folder) / f.name
            data = path.read_bytes()
            out = staging / target
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_bytes(data)
    return copied


def _copy(path: Path, staging: Path, folder: Path) -> str:
    data = path.read_bytes()
    out = staging / path.relative_to(folder)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(data)
    shutil.copystat(path, out)
    return hashlib.sha256(data).hexdigest()


def _changed_sources(folder: Path, copied: dict[str, tuple[Path, str]]) -> str | None:
    """The first source file changed, added, removed or opened since it was copied."""
    now = {p.relative_to(folder).as_posix(): p for p in list_files(folder, kept=False)}
    if set(now) != set(copied):
        extra = sorted(set(now) ^ set(copied))
        return extra[0]
    for rel, (path, digest) in copied.items():
        if lock_holder(path) is not None:
            return rel
        try:
            if hashlib.sha256(path.read_bytes()).hexdigest() != digest:
                return rel
        except OSError:
            return rel
    return None


def _remove_folder(folder: Path) -> list[str]:
    """Remove the archived files of ``folder`` and then its empty folders; what is left (links,
    temporary files, files that could not be removed) stays for a person: their names."""
    left: list[str] = []
    for path in list_files(folder, kept=False):
        try:
            path.unlink()
        except OSError:
            left.append(path.relative_to(folder).as_posix())
    for base, _dirs, _names in os.walk(folder, topdown=False):
        with contextlib.suppress(OSError):
            Path(base).rmdir()  # only an empty folder goes
    if folder.exists():
        for base, dirs, names in os.walk(folder):
            for name in [*names, *(d for d in dirs if Path(base, d).is_symlink())]:
                rel = (Path(base) / name).relative_to(folder).as_posix()
                if rel not in left:
                    left.append(rel)
    return sorted(left)


def _clock_lines(run: _Run, row: dict[str, Any]) -> list[str]:
    """The final state of every clock of the item (archive date = today when not typed)."""
    item_id = str(row["item_id"]).strip()
    fields = {k: v for k, v in row.items() if k != "_row"}
    if not core.filled(fields.get("archive_date")):
        fields["archive_date"] = run.as_of.date()
    depts = department_records(run.ctx, item_id, warnings=[])
    cycle = int(row.get("revision") or 1)
    results = clock_results(run.ctx, [ItemCycle(item_id, cycle, fields, depts)])
    return core.clock_summary(results)


def _journal(
    run: _Run,
    item_id: str,
    bag: Path,
    folder: Path,
    checklist: core.Checklist,
    *,
    explicit: bool,
) -> None:
    reason = "验收清单齐全，自动归档" if checklist.complete else "协调管理办公室决定带缺项归档"
    if explicit and checklist.complete:
        reason = "协调管理办公室指定归档"
    entry = make_entry(
        action="archive",
        item=item_id,
        file=run.rel(bag),
        reason=f"{reason}：{run.rel(folder)} → {run.rel(bag)}",
        as_of=run.as_of,
        gaps=checklist.gap_lines(),
    )
    run.ctx.journal([entry])


# -- 归档日期 in the tracking table --------------------------------------------------------------


def _write_archive_date(run: _Run, item_id: str, day: dt.date) -> str | None:
    """Write 归档日期 into the item's row when it is blank; a Chinese note when it must wait.

    归档日期 is a column the office may type, not one the automation computes, so
    ``automation.process.tracking.row_changes`` (owned columns only) refuses it: the change is built
    here and written through the same lossless patch and safe write as every tracking change,
    only into an empty cell.
    """
    for _attempt in range(CHANGED_RETRIES):
        table = read_tracking(run.ctx)
        row = _latest_row(table, item_id)
        if row is None or core.filled(row.get("archive_date")):
            return None
        change = CellChange(
            item_id,
            "archive_date",
            table.cell("archive_date", row["_row"]),
            row["_row"],
            None,
            day,
            "archive",
        )
        try:
            write_tracking(run.ctx, table, [change])
            return None
        except WriteDeferred as exc:
            if exc.reason_code != "E_DEFERRED_CHANGED":
                return f"跟踪表暂未写入归档日期（{exc.message_zh}），下次运行补写"
    return "跟踪表暂未写入归档日期（跟踪表正被修改），下次运行补写"


def _latest_row(table: TrackingTable, item_id: str) -> dict[str, Any] | None:
    rows = [r for r in table.rows if str(r.get("item_id") or "").strip() == item_id]
    return max(rows, key=lambda r: int(r.get("revision") or 1)) if rows else None


def _already(
    run: _Run, row: dict[str, Any], folders: list[Path], bag: Path, *, explicit: bool
) -> ItemOutcome | None:
    """An item with a bag: finish what an interrupted run left (folder, 归档日期), else nothing."""
    item_id = str(row["item_id"]).strip()
    notes = []
    for folder in folders:
        left = _leftovers(folder, bag)
        if left is None:
            rest = _remove_folder(folder)
            if rest:
                run.report.warnings.append(
                    f"{item_id} 已归档，事项文件夹 {run.rel(folder)} 中还有未归档的 "
                    f"{'、'.join(rest[:3])}，请人工处理"
                )
            else:
                notes.append(f"已清理归档后遗留的事项文件夹 {run.rel(folder)}")
        else:
            run.report.warnings.append(
                f"{item_id} 已归档到 {run.rel(bag)}，但事项文件夹 {run.rel(folder)} 中的 {left} "
                "与归档内容不同，未自动删除，请人工核对"
            )
    if not core.filled(row.get("archive_date")):
        day = _bag_date(bag) or run.as_of.date()
        note = _write_archive_date(run, item_id, day)
        notes.append(note or f"跟踪表补写归档日期 {day.isoformat()}")
    if notes:
        return ItemOutcome(item_id, "completed", "；".join(notes), bag=run.rel(bag))
    if explicit:
        return ItemOutcome(
            item_id, "already", f"已归档（{run.rel(bag)}），不再重复归档", bag=run.rel(bag)
        )
    return None


def _leftovers(folder: Path, bag: Path) -> str | None:
    """The first file of ``folder`` that the bag does not hold with the same bytes, else None."""
    try:
        entries = _bagit().Bag(str(bag)).entries
    except _bagit().BagError:
        return folder.name
    for path in list_files(folder, kept=False):
        rel = "data/" + path.relative_to(folder).as_posix()
        want = entries.get(rel, {}).get("sha256") or entries.get(os.path.normpath(rel), {}).get(
            "sha256"
        )
        if want is None or hashlib.sha256(path.read_bytes()).hexdigest() != want:
            return path.name
        if lock_holder(path) is not None:
            return path.name
    return None


def _bag_date(bag: Path) -> dt.date | None:
    try:
        info = _bagit().Bag(str(bag)).info
    except _bagit().BagError:
        return None
    text = info.get("Xietong-Date-Archived") or info.get("Bagging-Date")
    try:
        return dt.date.fromisoformat(str(text)) if text else None
    except ValueError:
        return None


# -- the archive folder ----------------------------------------------------------------------------


def _remove_staging(paths: DrivePaths) -> None:
    """Staging folders left by a killed run (ours: never a bag anyone relies on)."""
    if not paths.archive.is_dir():
        return
    for year in paths.archive.iterdir():
        if year.is_dir() and not year.is_symlink():
            for leftover in year.glob(f"{STAGING_PREFIX}*"):
                if leftover.is_dir() and not leftover.is_symlink():
                    shutil.rmtree(leftover, ignore_errors=True)


# -- verify ----------------------------------------------------------------------------------------


@dataclass
class BagCheck:
    item_id: str
    bag: str  # relative to the drive
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def as_dict(self) -> dict[str, Any]:
        return {
            "item_id": self.item_id,
            "bag": self.bag,
            "ok": self.ok,
            "problems": [p.as_dict() for p in self.problems],
        }


@dataclass
class VerifyReport:
    drive: str
    bags: list[BagCheck] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(b.ok for b in self.bags)

    @property
    def problems(self) -> list[Problem]:
        return [p for b in self.bags for p in b.problems]

    def as_dict(self) -> dict[str, Any]:
        return {"drive": self.drive, "ok": self.ok, "bags": [b.as_dict() for b in self.bags]}

    def summary_lines(self) -> list[str]:
        bad = [b for b in self.bags if not b.ok]
        lines = [
            f"检查归档包 {len(self.bags)} 个，完好 {len(self.bags) - len(bad)} 个，有问题 {len(bad)} 个"
        ]
        for b in self.bags:
            lines.append(f"  {'完好' if b.ok else '有问题'}  {b.bag}")
            lines += [f"    [{p.code}] {p.file}：{p.message}" for p in b.problems]
        return lines


def verify_archive(root: str | Path, *, item: str | None = None) -> VerifyReport:
    """Re-validate every bag (or the bags of ``item``): each file changed, missing or added
    since archiving is one coded problem."""
    paths = require_drive(root)
    report = VerifyReport(drive=str(paths.root))
    wanted = item.strip().upper() if item else None
    for item_id, bags in sorted(bag_index(paths).items()):
        if wanted is not None and item_id.upper() != wanted:
            continue
        for bag in bags:
            rel = bag.relative_to(paths.root).as_posix()
            report.bags.append(BagCheck(item_id, rel, verify_bag(bag, rel)))
    if wanted is not None and not report.bags:
        raise XietongError(f"归档中没有事项 {item}", code="E_ARCHIVE_MISSING", exit_code=2)
    return report


def verify_bag(bag: Path, shown: str | None = None) -> list[Problem]:
    """Problems of one bag: every manifest entry re-hashed, unexpected payload files, then the
    full BagIt validation (bagit.txt, bag-info, Payload-Oxum, tag manifests)."""
    shown = shown or str(bag)
    try:
        b = _bagit().Bag(str(bag))
    except _bagit().BagError as exc:
        return [make_problem("E_ARCHIVE_INVALID", file=shown, detail=str(exc))]
    problems = []
    for rel, hashes in sorted(b.entries.items()):
        path = bag / rel
        where = f"{shown}/{Path(rel).as_posix()}"
        if not path.is_file():
            problems.append(make_problem("E_ARCHIVE_MISSING", file=where))
            continue
        data = path.read_bytes()
        for alg, expected in hashes.items():
            if hashlib.new(alg, data).hexdigest() != expected.lower():
                problems.append(make_problem("E_ARCHIVE_CHANGED", file=where, algorithm=alg))
                break
    known = {os.path.normpath(r) for r in b.entries}
    for rel in sorted(b.payload_files()):
        if os.path.normpath(rel) not in known:
            where = f"{shown}/{Path(rel).as_posix()}"
            problems.append(make_problem("E_ARCHIVE_EXTRA", file=where))
    if not problems:
        try:
            b.validate(processes=1)
        except _bagit().BagError as exc:
            problems.append(make_problem("E_ARCHIVE_INVALID", file=shown, detail=str(exc)))
    return problems
