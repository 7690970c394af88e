"""Intake (接收登记): request forms in the inbox become tracking rows, exactly once.

Steps of one intake (the cycle calls them in this order):

1. :func:`scan_inbox` lists the forms that are complete on disk (no lock or temporary files, not
   modified within the settle time);
2. :func:`intake_files` claims each file in the local ledger (two intakes never process one
   file), validates it, fingerprints its content and registers it in the ledger in one
   ``BEGIN IMMEDIATE`` transaction — a new ID, a new revision of a returned item, or the
   existing registration when the same content came before;
3. the cycle writes the pending registrations into the tracking table
   (``automation.process.tracking``);
4. :func:`file_registered` then moves each registered form into its item folder (copy through
   the safe writer, then remove from the inbox) and writes the receipt (登记回执).

An invalid form is not registered: its feedback (``automation.io.feedback``) says why and it
stays in the inbox for the requester to correct. A form with the same content as a registered
one gets an "already registered" receipt and no new row.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import os
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from automation.core import intake as core
from automation.errors import XietongError
from automation.io.drive import DrivePaths, item_folder_index
from automation.io.journal import append_entries, make_entry
from automation.io.ledger import Ledger, Registration
from automation.io.locks import is_temporary, lock_holder
from automation.io.safewrite import WriteDeferred, read_with_snapshot, safe_write, snapshot
from automation.process.tracking import TrackingTable
from automation.rules import Rules

FORM_SUFFIXES = (".xlsx", ".xlsm", ".xls", ".xlsb", ".ods", ".et")
RECEIPT_SUFFIX = "_登记回执.txt"


@dataclass
class IntakeOutcome:
    """What happened to one inbox file in this run."""

    file: str  # path relative to the drive
    result: str  # registered | revision | duplicate | invalid | awaiting
    item_id: str | None = None
    revision: int | None = None
    message: str = ""
    feedback: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def settle_seconds(rules: Rules) -> float:
    """How long a file must be unmodified before it is read: ``drive.yaml`` ``settle_seconds``,
    overridden by the environment variable ``XIETONG_SETTLE_SECONDS`` (tests set it to 0)."""
    try:
        return float(os.environ["XIETONG_SETTLE_SECONDS"])
    except (KeyError, ValueError):
        return rules.drive.settle_seconds


def relative(paths: DrivePaths, path: Path) -> str:
    try:
        return path.relative_to(paths.root).as_posix()
    except ValueError:
        return str(path)


def scan_inbox(
    paths: DrivePaths,
    *,
    settle_s: float,
    skip: Callable[[str, int, int], bool] | None = None,
) -> list[Path]:
    """Forms in the inbox that are complete: not a lock/temporary file, not being written.

    "Not being written": size and modification time unchanged over ``settle_s`` seconds (one
    wait for the whole inbox, and only when there is something new to look at). ``skip(rel,
    size, mtime_ns)`` leaves out files already processed as they are.
    """
    candidates: list[tuple[Path, tuple[int, int]]] = []
    try:
        entries = sorted(paths.inbox.iterdir())
    except FileNotFoundError:
        return []
    for entry in entries:
        if is_temporary(entry) or entry.suffix.lower() not in FORM_SUFFIXES:
            continue
        seen = _size_mtime(entry)
        if seen is None or seen[0] == 0:
            continue
        if skip is not None and skip(relative(paths, entry), *seen):
            continue
        candidates.append((entry, seen))
    if settle_s > 0 and candidates:
        time.sleep(settle_s)
        candidates = [(e, seen) for e, seen in candidates if _size_mtime(e) == seen]
    # oldest first, so of two copies the one dropped first is registered ("- 副本" after it)
    candidates.sort(key=lambda c: (c[1][1], len(c[0].name), c[0].name))
    return [e for e, _ in candidates]


def _size_mtime(path: Path) -> tuple[int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    if not path.is_file():
        return None
    return st.st_size, st.st_mtime_ns


def _local_date(ts: float, tz: str) -> dt.date:
    return dt.datetime.fromtimestamp(ts, ZoneInfo(tz)).date()


def intake_files(
    paths: DrivePaths,
    rules: Rules,
    ledger: Ledger,
    table: TrackingTable,
    files: Iterable[Path],
    *,
    as_of: dt.datetime,
    calendar: Any = None,
) -> list[IntakeOutcome]:
    """Validate and register each file (see the module docstring); one outcome per file."""
    _forget_vanished(paths, ledger)
    outcomes = []
    for f in files:
        outcome = _intake_one(paths, rules, ledger, table, f, as_of=as_of, calendar=calendar)
        if outcome is not None:
            outcomes.append(outcome)
    return outcomes


def _forget_vanished(paths: DrivePaths, ledger: Ledger) -> None:
    """Ledger records of inbox files that are gone: a new drop at that name is looked at again."""
    inbox = relative(paths, paths.inbox)
    rows = ledger.conn.execute(
        "SELECT path FROM files WHERE path LIKE ? AND claim IS NULL", (inbox + "/%",)
    ).fetchall()
    for row in rows:
        if not (paths.root / row["path"]).exists():
            ledger.forget_file(row["path"])


def _intake_one(
    paths: DrivePaths,
    rules: Rules,
    ledger: Ledger,
    table: TrackingTable,
    f: Path,
    *,
    as_of: dt.datetime,
    calendar: Any,
) -> IntakeOutcome | None:
    rel = relative(paths, f)
    try:
        st = f.stat()
    except OSError:
        return None
    if ledger.known_unchanged(rel, st.st_size, st.st_mtime_ns):
        return None
    data, snap = read_with_snapshot(f)
    if not snap.exists:
        return None  # moved away by another intake meanwhile
    token = ledger.claim_file(rel, snap.size, snap.mtime_ns, snap.sha256)
    if token is None:
        return None
    try:
        outcome, fp = _decide(
            paths, rules, ledger, table, f, data, snap.sha256, snap.mtime_ns, as_of, calendar
        )
    except FeedbackPending as exc:  # looked at again next run, when the answer can be written
        ledger.release_file(rel, token)
        return IntakeOutcome(rel, "awaiting", message=f"回执/反馈暂时无法写入：{exc.reason}")
    except BaseException:
        ledger.release_file(rel, token)
        raise
    ledger.finish_file(
        rel,
        token,
        outcome.result,
        fingerprint=fp,
        item_id=outcome.item_id,
        revision=outcome.revision,
    )
    return outcome


def _validate_copy(
    f: Path, data: bytes, rules: Rules, calendar: Any, today: dt.date | None = None
) -> Any:
    """Validate exactly the bytes that were hashed (the file may be re-saved meanwhile)."""
    from automation.io.validation import validate_file

    with tempfile.TemporaryDirectory(prefix="xietong-") as tmp:
        copy = Path(tmp) / f.name
        copy.write_bytes(data)
        report = validate_file(copy, rules, calendar=calendar, today=today)
    # problems and feedback name the file the requester saved, not the private copy
    report.path = f
    report.problems = [
        dataclasses.replace(p, file=str(f)) if dataclasses.is_dataclass(p) else p
        for p in report.problems
    ]
    return report


def _decide(
    paths: DrivePaths,
    rules: Rules,
    ledger: Ledger,
    table: TrackingTable,
    f: Path,
    data: bytes,
    sha: str,
    mtime_ns: int,
    as_of: dt.datetime,
    calendar: Any,
) -> tuple[IntakeOutcome, str | None]:
    rel = relative(paths, f)
    try:
        report = _validate_copy(f, data, rules, calendar, as_of.date())
    except XietongError as exc:
        note = _write_note(
            paths, f, f"文件无法读取，未登记：[{exc.code}] {exc.message}", as_of, rules, ledger
        )
        return IntakeOutcome(rel, "invalid", message=exc.message, feedback=note), None
    if not report.readable or report.kind is None:
        feedback = _write_feedback(paths, report, f, rules, ledger, as_of)
        msg = "；".join(getattr(p, "message", str(p)) for p in report.problems) or "无法读取"
        return IntakeOutcome(rel, "invalid", message=msg, feedback=feedback), None
    if report.kind != "request":
        what = f"识别为“{report.kind}”" if report.kind else "无法识别模板类型"
        msg = f"此文件不是部门间工作协调申请表（模板一）：{what}，未登记。请使用 00_空白模板 中的申请表填写。"
        note = _write_note(paths, f, msg, as_of, rules, ledger)
        return IntakeOutcome(rel, "invalid", message=msg, feedback=note), None
    if not report.ok:
        feedback = _write_feedback(paths, report, f, rules, ledger, as_of)
        n = sum(1 for p in report.problems if getattr(p, "severity", "error") == "error")
        return IntakeOutcome(rel, "invalid", message=f"{n} 处错误，未登记", feedback=feedback), None
    fields = dict(report.fields)
    fp = core.fingerprint(fields, [fd.key for fd in rules.form("request").all_fields])
    existing = ledger.registration(fp)
    if existing is not None:
        return _already(paths, rules, ledger, f, existing, rel, sha, as_of), fp
    tz = rules.calendar.timezone
    row = core.tracking_row(
        fields,
        rules.form("tracking"),
        rules.form("request"),
        submitted=_local_date(mtime_ns / 1e9, tz),
        registered=as_of.astimezone(ZoneInfo(tz)).date(),
    )
    pending_rows = [
        core.from_json_values(r.row_values, rules.form("tracking"))
        for r in ledger.registrations("pending")
    ]
    mentioned = core.ids_mentioned(
        [f.name, str(fields.get("title") or ""), str(fields.get("attachments") or "")],
        rules.drive.item_ids,
    )
    returned = core.returned_item(fields, [*table.rows, *pending_rows], mentioned_ids=mentioned)
    year = as_of.astimezone(ZoneInfo(tz)).year
    reg, new = ledger.register(
        fp,
        year=year,
        id_format=rules.drive.item_ids.format,
        floor=table.highest_seq(year, rules),
        revision_of=returned[0] if returned else None,
        table_revision=returned[1] if returned else 0,
        row_values=core.to_json_values(row),
        request_fields=core.to_json_values(fields),
        source_path=rel,
        source_sha256=sha,
        registered=as_of.isoformat(),
    )
    if not new:  # another intake registered the same content a moment ago
        return _already(paths, rules, ledger, f, reg, rel, sha, as_of), fp
    result = "revision" if reg.revision > 1 else "registered"
    return IntakeOutcome(rel, result, reg.item_id, reg.revision, "已分配编号，待写入跟踪表"), fp


def _already(
    paths: DrivePaths,
    rules: Rules,
    ledger: Ledger,
    f: Path,
    reg: Registration,
    rel: str,
    sha: str,
    as_of: dt.datetime,
) -> IntakeOutcome:
    if reg.source_path == rel and not reg.filed_path:
        # the registered form itself (maybe re-saved unchanged), still waiting for its row
        if reg.source_sha256 != sha:
            ledger.update_source(reg.fingerprint, rel, sha)
        return IntakeOutcome(rel, "awaiting", reg.item_id, reg.revision, "等待写入跟踪表")
    text = receipt_text(rules, reg, f.name, duplicate=True)
    written = _write_receipt(paths, rules, ledger, f.name, text, reg.item_id, as_of)
    msg = f"内容与已登记的 {reg.item_id} 相同，未重复登记"
    return IntakeOutcome(rel, "duplicate", reg.item_id, reg.revision, msg, feedback=written)


class FeedbackPending(Exception):
    """A receipt or feedback file could not be written now (open, or the share refused)."""

    def __init__(self, file: str, cause: BaseException):
        super().__init__(file)
        self.file = file
        self.reason = getattr(cause, "message_zh", None) or str(cause)


# -- receipts and notes --------------------------------------------------------------------


def receipt_text(rules: Rules, reg: Registration, file_name: str, *, duplicate: bool) -> str:
    """The receipt (登记回执) in Chinese; the same registration always gives the same text."""
    v = reg.row_values
    office = rules.departments.roles.office_name
    lines = ["部门间工作协调申请 登记回执", ""]
    if duplicate:
        lines += [
            f"提交的文件“{file_name}”与已登记的申请内容相同，本次未重复登记。",
            "如需修改申请，请修改内容后重新提交；此文件可以从收件箱删除。",
            "",
        ]
    else:
        lines += [f"您提交的申请已登记（文件：{file_name}）。", ""]
    lines += [
        f"事项编号：{reg.item_id}",
        f"版次：第 {reg.revision} 版",
        f"事项名称：{v.get('title', '')}",
        f"发起部门：{v.get('requesting_dept', '')}",
        f"申请人：{v.get('requester', '')}",
        f"提交日期：{v.get('submitted_date', '')}",
        f"登记日期：{v.get('registered_date', '')}",
        "",
        f"{office}将按规定时限完成评估并反馈结果。后续沟通请注明事项编号。",
    ]
    return "\r\n".join(lines) + "\r\n"


def _write_text_once(path: Path, text: str) -> bool:
    """Write a receipt/note (UTF-8 with BOM for Windows Notepad); False when already identical."""
    data = text.encode("utf-8-sig")
    current, snap = read_with_snapshot(path)
    if snap.exists and current == data:
        return False
    safe_write(path, data, expected=snap)
    return True


def _write_receipt(
    paths: DrivePaths,
    rules: Rules,
    ledger: Ledger,
    form_name: str,
    text: str,
    item_id: str | None,
    as_of: dt.datetime,
) -> list[str]:
    target = paths.feedback / (Path(form_name).stem + RECEIPT_SUFFIX)
    try:
        if _write_text_once(target, text):
            entry = make_entry(
                action="receipt",
                item=item_id,
                file=relative(paths, target),
                reason="写入登记回执",
                as_of=as_of,
            )
            append_entries(paths.log, ledger, [entry], tz=rules.calendar.timezone)
    except (WriteDeferred, OSError) as exc:
        raise FeedbackPending(relative(paths, target), exc) from None
    return [relative(paths, target)]


def _write_note(
    paths: DrivePaths, f: Path, message: str, as_of: dt.datetime, rules: Rules, ledger: Ledger
) -> list[str]:
    target = paths.feedback / (f.stem + "_校验结果.txt")
    text = f"文件：{f.name}\r\n\r\n{message}\r\n"
    try:
        if _write_text_once(target, text):
            entry = make_entry(
                action="feedback", file=relative(paths, target), reason=message, as_of=as_of
            )
            append_entries(paths.log, ledger, [entry], tz=rules.calendar.timezone)
    except (WriteDeferred, OSError) as exc:
        raise FeedbackPending(relative(paths, target), exc) from None
    return [relative(paths, target)]


def _write_feedback(
    paths: DrivePaths, report: Any, f: Path, rules: Rules, ledger: Ledger, as_of: dt.datetime
) -> list[str]:
    from automation.io.feedback import write_feedback

    try:
        written = write_feedback(report, paths.feedback, f)
    except (WriteDeferred, OSError) as exc:  # e.g. the old feedback is open in Excel
        raise FeedbackPending(relative(paths, paths.feedback / f.stem), exc) from None
    rels = [relative(paths, Path(p)) for p in written]
    entries = [
        make_entry(action="feedback", file=r, reason="申请表校验未通过，写入校验结果", as_of=as_of)
        for r in rels
    ]
    append_entries(paths.log, ledger, entries, tz=rules.calendar.timezone)
    return rels


# -- filing registered forms ---------------------------------------------------------------


def item_folder(
    paths: DrivePaths, item_id: str, title: str, index: dict[str, list[Path]] | None = None
) -> Path:
    """The item's folder ``<ID> <title>`` (an existing folder of that ID is kept as named).

    ``index`` (from :func:`item_folder_index`) saves listing the items folder once per item.
    """
    existing = (index if index is not None else item_folder_index(paths)).get(item_id)
    if existing:
        return existing[0]
    return paths.items / f"{item_id} {_safe_name(title)}".rstrip()


def _safe_name(text: str) -> str:
    bad = '<>:"/\\|?*'
    cleaned = "".join("_" if c in bad or ord(c) < 32 else c for c in str(text or ""))
    return cleaned.strip(" .")[:40]


def file_registered(
    paths: DrivePaths, rules: Rules, ledger: Ledger, *, as_of: dt.datetime
) -> list[IntakeOutcome]:
    """Move each registered form whose row is written into its item folder; write receipts."""
    out = []
    for reg in ledger.registrations("written"):
        if not reg.source_path:
            continue
        outcome = _file_one(paths, rules, ledger, reg, as_of=as_of)
        if outcome is not None:
            out.append(outcome)
    return out


def _file_one(
    paths: DrivePaths, rules: Rules, ledger: Ledger, reg: Registration, *, as_of: dt.datetime
) -> IntakeOutcome | None:
    assert reg.source_path is not None
    src = paths.root / reg.source_path
    data, snap = read_with_snapshot(src)
    if not snap.exists or snap.sha256 != reg.source_sha256:
        # moved by another intake, deleted, or re-saved with other content (looked at anew)
        ledger.mark_source_removed(reg.fingerprint, reg.filed_path or "")
        return None
    folder = item_folder(paths, reg.item_id, str(reg.row_values.get("title", "")))
    if not reg.filed_path:
        target = _filing_name(folder, src.name, reg.revision, data)
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            safe_write(target, data, expected=snapshot(target))
        ledger.mark_filed(reg.fingerprint, relative(paths, target))
        entry = make_entry(
            action="file_form",
            item=reg.item_id,
            file=relative(paths, target),
            reason=f"申请表归入事项文件夹（原文件 {reg.source_path}）",
            input_hash=reg.source_sha256,
            as_of=as_of,
        )
        append_entries(paths.log, ledger, [entry], tz=rules.calendar.timezone)
        text = receipt_text(rules, reg, src.name, duplicate=False)
        with contextlib.suppress(FeedbackPending):  # the registration stands; the receipt is
            _write_receipt(paths, rules, ledger, src.name, text, reg.item_id, as_of)  # a courtesy
    holder = lock_holder(src)
    if holder is not None:
        return IntakeOutcome(
            reg.source_path,
            "awaiting",
            reg.item_id,
            reg.revision,
            f"已归档副本；原文件正被 {holder} 打开，关闭后从收件箱移除",
        )
    try:
        os.remove(src)
    except FileNotFoundError:
        pass
    except OSError:
        return IntakeOutcome(
            reg.source_path, "awaiting", reg.item_id, reg.revision, "原文件暂时无法从收件箱移除"
        )
    refreshed = ledger.registration(reg.fingerprint)
    ledger.mark_source_removed(reg.fingerprint, refreshed.filed_path if refreshed else "")
    ledger.forget_file(reg.source_path)
    return IntakeOutcome(reg.source_path, "filed", reg.item_id, reg.revision, "已归入事项文件夹")


def _filing_name(folder: Path, name: str, revision: int, data: bytes) -> Path:
    base = name if revision <= 1 else f"第{revision}版_{name}"
    target = folder / base
    n = 2
    while target.exists():
        if target.read_bytes() == data:
            return target
        stem, suffix = Path(base).stem, Path(base).suffix
        target = folder / f"{stem}（{n}）{suffix}"
        n += 1
    return target


# -- rebuilding the local state from the workbooks -----------------------------------------


def rebuild_state(root: str | Path, *, ledger: Ledger | None = None) -> dict[str, int]:
    """Rebuild the local state from the drive: ID counters from the tracking table, and the
    registrations (fingerprints) from the request forms filed in the item folders.

    Safe to run at any time: existing state is kept, counters only go up.
    """
    from automation.io.drive import drive_rules, require_drive
    from automation.io.ledger import open_ledger
    from automation.process.tracking import read_tracking

    paths = require_drive(root)
    rules = drive_rules(root)
    own = ledger is None
    led = ledger or open_ledger(paths.root)
    try:
        table = read_tracking(paths, rules)
        ids = rules.drive.item_ids
        years: dict[int, int] = {}
        for row in table.rows:
            parsed = core.parse_item_id(str(row.get("item_id") or ""), ids)
            if parsed:
                years[parsed[0]] = max(years.get(parsed[0], 0), parsed[1])
        for year, seq in years.items():
            led.raise_counter(year, seq)
        adopted = _adopt_filed_forms(paths, rules, led, table)
        mirrored = _adopt_journal(paths, led)
        led.set_meta("rebuilt", dt.datetime.now(dt.UTC).isoformat())
        return {"years": len(years), "registrations": adopted, "journal": mirrored}
    finally:
        if own:
            led.close()


def _adopt_filed_forms(paths: DrivePaths, rules: Rules, led: Ledger, table: TrackingTable) -> int:
    if not paths.items.is_dir():
        return 0
    adopted = 0
    keys = [fd.key for fd in rules.form("request").all_fields]
    for folder in sorted(p for p in paths.items.iterdir() if p.is_dir()):
        item_id = folder.name.split(" ", 1)[0]
        if core.parse_item_id(item_id, rules.drive.item_ids) is None:
            continue
        for f in sorted(folder.iterdir()):
            if is_temporary(f) or f.suffix.lower() not in FORM_SUFFIXES or not f.is_file():
                continue
            data, snap = read_with_snapshot(f)
            try:
                report = _validate_copy(f, data, rules, None)
            except XietongError:
                continue
            if report.kind != "request" or not report.ok:
                continue
            fields = dict(report.fields)
            revision = _revision_of_name(f.name)
            row = table.find(item_id, revision) or {}
            values = core.to_json_values(
                {k: v for k, v in row.items() if k != "_row"} or {"item_id": item_id}
            )
            led.adopt_registration(
                Registration(
                    fingerprint=core.fingerprint(fields, keys),
                    item_id=item_id,
                    revision=revision,
                    row_values=values,
                    request_fields=core.to_json_values(fields),
                    source_path=None,
                    source_sha256=snap.sha256,
                    filed_path=relative(paths, f),
                    status="written",  # filed forms always had their row written
                    registered=str(values.get("registered_date", "")),
                )
            )
            adopted += 1
    return adopted


def _adopt_journal(paths: DrivePaths, led: Ledger) -> int:
    """Mirror the drive's journal into an empty state database, and remember from it which item
    workbooks were created (so one deleted on purpose is not created again)."""
    from automation.io.journal import read_journal

    if led.journal_entries():
        return 0
    entries = read_journal(paths.log)
    for entry in entries:
        led.mirror_journal(entry)
        if entry.get("action") == "create_workbook" and entry.get("item"):
            led.mark_created(str(entry.get("file")), str(entry["item"]), str(entry.get("kind", "")))
    return len(entries)


def _revision_of_name(name: str) -> int:
    if name.startswith("第") and "版_" in name:
        with contextlib.suppress(ValueError):
            return int(name[1 : name.index("版_")])
    return 1
