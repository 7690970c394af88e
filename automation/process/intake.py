"""需求发起 / 接收登记 (intake): request forms in the inbox become tracking rows, exactly once.

Steps of one intake (the cycle calls them in this order):

1. :func:`scan_inbox` lists what is complete on disk (no lock or temporary files, not modified
   within the settle time): workbooks, other files, and links (never followed);
2. :func:`intake_files` claims each workbook in the local ledger (two intakes never process one
   file), validates it, fingerprints its content and registers it in the ledger in one
   ``BEGIN IMMEDIATE`` transaction — a new ID, a new revision of a returned item, or the
   existing registration when the same content came before. Every other file gets an answer
   too: an attachment named in a request's 附件清单 (or with the same stem as the form) is filed
   with that request; anything else gets a short note in the feedback folder;
3. the cycle writes the pending registrations into the tracking table (``process.tracking``);
4. :func:`file_registered` then moves each registered form into its item folder (copy through
   the safe writer, then remove from the inbox) and writes the receipt (登记回执).

An invalid form is not registered: its feedback (``automation.io.feedback``) says why and it
stays in the inbox for the requester to correct. A form with the same content as a registered
one gets an "already registered" receipt and no new row. One file that cannot be handled never
stops the others.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from automation.core import intake as core
from automation.core.text import printable
from automation.errors import XietongError
from automation.io.drive import item_folder_index
from automation.io.feedback import write_feedback
from automation.io.files import LEGACY_SUFFIXES, WORKBOOK_SUFFIXES, is_temporary
from automation.io.journal import make_entry
from automation.io.ledger import Registration
from automation.io.links import is_link
from automation.io.locks import lock_holder
from automation.io.names import clean_component, fit_name
from automation.io.safewrite import WriteDeferred, read_with_snapshot, safe_write, snapshot
from automation.io.validation import validate_file
from automation.process.context import RunContext
from automation.process.tracking import TrackingTable
from automation.rules import Rules

FORM_SUFFIXES = WORKBOOK_SUFFIXES + LEGACY_SUFFIXES
RECEIPT_SUFFIX = "_登记回执.txt"
NOTE_SUFFIX = "_校验结果.txt"
ATTACHMENT_SUFFIX = "_附件回执.txt"
VANISHED_GRACE_S = 300.0  # an inbox file gone this long is forgotten (see _forget_vanished)


@dataclass
class IntakeOutcome:
    """What happened to one inbox file in this run."""

    file: str  # path relative to the drive
    result: (
        str  # registered | revision | duplicate | invalid | awaiting | filed | attachment | error
    )
    item_id: str | None = None
    revision: int | None = None
    message: str = ""
    feedback: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class InboxScan:
    """What the inbox holds that is ready to be looked at."""

    forms: list[Path] = field(default_factory=list)  # spreadsheets, oldest first
    others: list[Path] = field(default_factory=list)  # anything else (attachments, strays)
    links: list[Path] = field(default_factory=list)  # links and junctions: refused


def settle_seconds(rules: Rules) -> float:
    """How long a file must be unmodified before it is read: ``drive.yaml`` ``settle_seconds``,
    overridden by the environment variable ``XIETONG_SETTLE_SECONDS`` (tests set it to 0)."""
    try:
        return float(os.environ["XIETONG_SETTLE_SECONDS"])
    except (KeyError, ValueError):
        return rules.drive.settle_seconds


def scan_inbox(
    ctx: RunContext,
    *,
    settle_s: float,
    skip: Callable[[str, int, int], bool] | None = None,
) -> InboxScan:
    """Files in the inbox that are complete: not a lock/temporary file, not being written.

    "Not being written": size and modification time unchanged over ``settle_s`` seconds (one
    wait for the whole inbox, and only when there is something new to look at). ``skip(rel,
    size, mtime_ns)`` leaves out spreadsheets already processed as they are.
    """
    scan = InboxScan()
    candidates: list[tuple[Path, tuple[int, int]]] = []
    try:
        entries = sorted(ctx.paths.inbox.iterdir())
    except OSError:
        return scan
    for entry in entries:
        if is_temporary(entry):
            continue
        if is_link(entry):
            scan.links.append(entry)
            continue
        seen = _size_mtime(entry)
        if seen is None:
            continue
        if skip is not None and skip(ctx.rel(entry), *seen):
            continue
        candidates.append((entry, seen))
    # a stray already answered (its note is there) is looked at again for a request naming
    # it as an attachment, but does not make every run wait
    fresh = [e for e, _ in candidates if e.suffix.lower() in FORM_SUFFIXES or not _answered(ctx, e)]
    if settle_s > 0 and fresh:
        time.sleep(settle_s)
        candidates = [(e, seen) for e, seen in candidates if _size_mtime(e) == seen]
    # oldest first, so of two copies the one dropped first is registered ("- 副本" after it)
    candidates.sort(key=lambda c: (c[1][1], len(c[0].name), c[0].name))
    for entry, _ in candidates:
        (scan.forms if entry.suffix.lower() in FORM_SUFFIXES else scan.others).append(entry)
    return scan


def _answered(ctx: RunContext, f: Path) -> bool:
    return fit_name(ctx.paths.feedback, f.stem, NOTE_SUFFIX).exists()


def _size_mtime(path: Path) -> tuple[int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    if not path.is_file():
        return None
    return st.st_size, st.st_mtime_ns


def intake_files(ctx: RunContext, table: TrackingTable, scan: InboxScan) -> list[IntakeOutcome]:
    """Validate and register each form, answer every other file (see the module docstring)."""
    _forget_vanished(ctx)
    outcomes = []
    for f in scan.forms:
        outcome = _guarded(ctx, f, lambda f=f: _intake_one(ctx, table, f))
        if outcome is not None:
            outcomes.append(outcome)
    for f in scan.links:
        outcomes.append(_guarded(ctx, f, lambda f=f: _refuse_link(ctx, f)))
    waiting_stems = {f.stem for f in ctx.paths.inbox.glob("*") if f.suffix.lower() in FORM_SUFFIXES}
    for f in scan.others:
        outcome = _guarded(ctx, f, lambda f=f: _answer_other(ctx, f, waiting_stems))
        if outcome is not None:
            outcomes.append(outcome)
    return outcomes


def _guarded(
    ctx: RunContext, f: Path, work: Callable[[], IntakeOutcome | None]
) -> IntakeOutcome | None:
    """One file's trouble (a refused write, a name the file system rejects …) is that file's
    outcome; the others go on."""
    try:
        return work()
    except FeedbackPending as exc:
        return IntakeOutcome(ctx.rel(f), "awaiting", message=f"回执/反馈暂时无法写入：{exc.reason}")
    except (OSError, XietongError) as exc:
        message = getattr(exc, "message", None) or getattr(exc, "strerror", None) or str(exc)
        code = getattr(exc, "code", "E_FILE_SYSTEM")
        return IntakeOutcome(ctx.rel(f), "error", message=f"[{code}] {printable(message)}")


def _forget_vanished(ctx: RunContext) -> None:
    """Ledger records of inbox files gone for :data:`VANISHED_GRACE_S`: a new drop at that name
    is looked at again.

    Gone for a moment is not enough: an inbox moved away and restored, or a share that lists a
    folder empty for a moment, brings back the same files, and they must not be answered twice.
    """
    ledger = ctx.need_ledger()
    if not ctx.paths.inbox.is_dir():
        return
    inbox = ctx.rel(ctx.paths.inbox)
    rows = ledger.conn.execute(
        "SELECT path FROM files WHERE path LIKE ? AND claim IS NULL", (inbox + "/%",)
    ).fetchall()
    missing = [row["path"] for row in rows if not (ctx.paths.root / row["path"]).exists()]
    now = time.time()
    for path, since in ledger.vanished_since(missing, now).items():
        if now - since >= VANISHED_GRACE_S:
            ledger.forget_file(path)


def _intake_one(ctx: RunContext, table: TrackingTable, f: Path) -> IntakeOutcome | None:
    ledger = ctx.need_ledger()
    rel = ctx.rel(f)
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
        outcome, fp = _decide(ctx, table, f, data, snap.sha256, snap.mtime_ns)
    except BaseException:
        ledger.release_file(rel, token)  # looked at again next run
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


def _validate_copy(ctx: RunContext, f: Path, data: bytes, *, dated: bool = True) -> Any:
    """Validate exactly the bytes that were hashed (the file may be re-saved meanwhile)."""
    with tempfile.TemporaryDirectory(prefix="xietong-") as tmp:
        copy = Path(tmp) / ("form" + f.suffix.lower())
        copy.write_bytes(data)
        report = validate_file(
            copy, ctx.rules, calendar=ctx.calendar, today=ctx.today if dated else None
        )
    # problems and feedback name the file the requester saved, not the private copy
    report.path = f
    report.problems = [
        dataclasses.replace(p, file=str(f)) if dataclasses.is_dataclass(p) else p
        for p in report.problems
    ]
    return report


def _decide(
    ctx: RunContext, table: TrackingTable, f: Path, data: bytes, sha: str, mtime_ns: int
) -> tuple[IntakeOutcome, str | None]:
    rules, ledger = ctx.rules, ctx.need_ledger()
    rel = ctx.rel(f)
    try:
        report = _validate_copy(ctx, f, data)
    except XietongError as exc:
        note = _write_note(ctx, f, f"文件无法读取，未登记：[{exc.code}] {exc.message}")
        return IntakeOutcome(rel, "invalid", message=exc.message, feedback=note), None
    if not report.readable or report.kind is None:
        feedback = _write_feedback(ctx, report, f)
        msg = "；".join(getattr(p, "message", str(p)) for p in report.problems) or "无法读取"
        return IntakeOutcome(rel, "invalid", message=msg, feedback=feedback), None
    if report.kind != "request":
        what = f"识别为“{report.kind}”" if report.kind else "无法识别模板类型"
        msg = f"此文件不是部门间工作协调申请表（模板一）：{what}，未登记。请使用 00_空白模板 中的申请表填写。"
        note = _write_note(ctx, f, msg)
        return IntakeOutcome(rel, "invalid", message=msg, feedback=note), None
    if not report.ok:
        feedback = _write_feedback(ctx, report, f)
        n = sum(1 for p in report.problems if getattr(p, "severity", "error") == "error")
        return IntakeOutcome(rel, "invalid", message=f"{n} 处错误，未登记", feedback=feedback), None
    fields = dict(report.fields)
    fp = core.fingerprint(fields, [fd.key for fd in rules.form("request").all_fields])
    existing = ledger.registration(fp)
    if existing is not None:
        return _already(ctx, f, existing, rel, sha), fp
    local = dt.datetime.fromtimestamp(mtime_ns / 1e9, ctx.tz)
    row = core.tracking_row(
        fields,
        rules.form("tracking"),
        rules.form("request"),
        submitted=local.date(),
        registered=ctx.today,
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
    year = ctx.as_of.year
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
        registered=ctx.as_of.isoformat(),
    )
    if not new:  # another intake registered the same content a moment ago
        return _already(ctx, f, reg, rel, sha), fp
    result = "revision" if reg.revision > 1 else "registered"
    return IntakeOutcome(rel, result, reg.item_id, reg.revision, "已分配编号，待写入跟踪表"), fp


def _already(ctx: RunContext, f: Path, reg: Registration, rel: str, sha: str) -> IntakeOutcome:
    if reg.source_path == rel and not reg.filed_path:
        # the registered form itself (maybe re-saved unchanged), still waiting for its row
        if reg.source_sha256 != sha:
            ctx.need_ledger().update_source(reg.fingerprint, rel, sha)
        return IntakeOutcome(rel, "awaiting", reg.item_id, reg.revision, "等待写入跟踪表")
    text = receipt_text(ctx.rules, reg, f.name, duplicate=True)
    written = _write_receipt(ctx, f.name, text, reg.item_id)
    msg = f"内容与已登记的 {reg.item_id} 相同，未重复登记"
    return IntakeOutcome(rel, "duplicate", reg.item_id, reg.revision, msg, feedback=written)


class FeedbackPending(Exception):
    """A receipt or feedback file could not be written now (open, or the share refused)."""

    def __init__(self, file: str, cause: BaseException):
        super().__init__(file)
        self.file = file
        self.reason = getattr(cause, "message_zh", None) or str(cause)


# -- files that are not request forms ----------------------------------------------------------


def _refuse_link(ctx: RunContext, f: Path) -> IntakeOutcome:
    msg = (
        f"[E_LINK] “{printable(f.name)}”是快捷方式或链接，系统不会读取链接指向的文件。"
        "请把文件本身（而不是链接）放入收件箱。"
    )
    note = _write_note(ctx, f, msg)
    return IntakeOutcome(ctx.rel(f), "invalid", message=msg, feedback=note)


def _answer_other(ctx: RunContext, f: Path, waiting_stems: set[str]) -> IntakeOutcome | None:
    """A file that is not a spreadsheet: the attachment of a request, or a stray (a note)."""
    reg = _request_of_attachment(ctx, f.name)
    if reg is not None:
        return _file_attachment(ctx, f, reg)
    if f.stem in waiting_stems or any(f.stem.startswith(s + "_") for s in waiting_stems):
        return None  # beside a form still in the inbox: filed with it once it is registered
    msg = (
        f"“{printable(f.name)}”不是部门间工作协调申请表，未登记。"
        "如果它是某项申请的附件，请在申请表“附件清单”中写明此文件名，"
        "或使文件名与申请表的文件名相同（扩展名除外），系统会把它归入该事项的文件夹。"
    )
    answered = _answered(ctx, f)
    note = _write_note(ctx, f, msg)  # written once; reported the first time only
    return None if answered else IntakeOutcome(ctx.rel(f), "invalid", message=msg, feedback=note)


def _request_of_attachment(ctx: RunContext, name: str) -> Registration | None:
    """The newest registration whose 附件清单 names this file, or whose form has its stem."""
    stem = Path(name).stem
    best: Registration | None = None
    for reg in ctx.need_ledger().registrations():
        listed = str(reg.request_fields.get("attachments") or "")
        form = Path(reg.source_path or reg.filed_path or "").stem
        form = form.split("版_", 1)[1] if form.startswith("第") and "版_" in form else form
        named = core.attachment_listed(listed, name) or (bool(form) and stem == form)
        if named and (
            best is None or (reg.registered, reg.revision) > (best.registered, best.revision)
        ):
            best = reg
    return best


def _file_attachment(ctx: RunContext, f: Path, reg: Registration) -> IntakeOutcome | None:
    data, snap = read_with_snapshot(f)
    if not snap.exists:
        return None
    folder = item_folder(ctx, reg.item_id, str(reg.row_values.get("title", "")))
    target = _filing_name(folder, f.name, reg.revision, data)
    rel = ctx.rel(target)
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        safe_write(target, data, expected=snapshot(target))
        ctx.journal(
            [
                make_entry(
                    action="file_attachment",
                    item=reg.item_id,
                    file=rel,
                    reason=f"附件归入事项文件夹（原文件 {ctx.rel(f)}）",
                    input_hash=snap.sha256,
                    as_of=ctx.as_of,
                )
            ]
        )
    if lock_holder(f) is None:
        with contextlib.suppress(OSError):
            os.remove(f)
    return IntakeOutcome(ctx.rel(f), "attachment", reg.item_id, reg.revision, f"已归入 {rel}")


# -- receipts and notes --------------------------------------------------------------------


def receipt_text(rules: Rules, reg: Registration, file_name: str, *, duplicate: bool) -> str:
    """The receipt (登记回执) in Chinese; the same registration always gives the same text."""
    v = reg.row_values
    office = rules.departments.roles.office_name
    file_name = printable(file_name)
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


def _answer(ctx: RunContext, target: Path, text: str, entry: dict[str, Any]) -> list[str]:
    """Write one answer file once and journal it; FeedbackPending when the share refuses."""
    try:
        if _write_text_once(target, text):
            ctx.journal([entry])
    except (WriteDeferred, OSError) as exc:
        raise FeedbackPending(ctx.rel(target), exc) from None
    return [ctx.rel(target)]


def _write_receipt(ctx: RunContext, form_name: str, text: str, item_id: str | None) -> list[str]:
    target = fit_name(ctx.paths.feedback, Path(form_name).stem, RECEIPT_SUFFIX)
    entry = make_entry(
        action="receipt",
        item=item_id,
        file=ctx.rel(target),
        reason="写入登记回执",
        as_of=ctx.as_of,
    )
    return _answer(ctx, target, text, entry)


def _write_note(ctx: RunContext, f: Path, message: str) -> list[str]:
    target = fit_name(ctx.paths.feedback, f.stem, NOTE_SUFFIX)
    text = f"文件：{printable(f.name)}\r\n\r\n{message}\r\n"
    entry = make_entry(action="feedback", file=ctx.rel(target), reason=message, as_of=ctx.as_of)
    return _answer(ctx, target, text, entry)


def _write_feedback(ctx: RunContext, report: Any, f: Path) -> list[str]:
    try:
        written = write_feedback(report, ctx.paths.feedback, f)
    except (WriteDeferred, OSError) as exc:  # e.g. the old feedback is open in Excel
        raise FeedbackPending(ctx.rel(ctx.paths.feedback / f.stem), exc) from None
    rels = [ctx.rel(Path(p)) for p in written]
    ctx.journal(
        [
            make_entry(
                action="feedback", file=r, reason="申请表校验未通过，写入校验结果", as_of=ctx.as_of
            )
            for r in rels
        ]
    )
    return rels


# -- filing registered forms ---------------------------------------------------------------


def item_folder(
    ctx: RunContext, item_id: str, title: str, index: dict[str, list[Path]] | None = None
) -> Path:
    """The item's folder ``<ID> <title>`` (an existing folder of that ID is kept as named).

    ``index`` (from :func:`item_folder_index`) saves listing the items folder once per item.
    An ID that does not follow the rules' pattern never reaches a path: ``E_BAD_ITEM_ID``.
    """
    if core.parse_item_id(item_id, ctx.rules.drive.item_ids) is None:
        raise XietongError(
            f"事项编号“{printable(item_id)}”不符合编号规则，未创建文件夹",
            code="E_BAD_ITEM_ID",
            exit_code=2,
        )
    existing = (index if index is not None else item_folder_index(ctx.paths)).get(item_id)
    if existing:
        return existing[0]
    return ctx.paths.items / f"{item_id} {clean_component(title)}".rstrip(" .")


def file_registered(ctx: RunContext) -> list[IntakeOutcome]:
    """Move each registered form whose row is written into its item folder; write receipts."""
    out = []
    for reg in ctx.need_ledger().registrations("written"):
        if not reg.source_path:
            continue
        src = ctx.paths.root / reg.source_path
        outcome = _guarded(ctx, src, lambda reg=reg: _file_one(ctx, reg))
        if outcome is not None:
            out.append(outcome)
    return out


def _file_one(ctx: RunContext, reg: Registration) -> IntakeOutcome | None:
    assert reg.source_path is not None
    ledger = ctx.need_ledger()
    src = ctx.paths.root / reg.source_path
    data, snap = read_with_snapshot(src)
    if not snap.exists or snap.sha256 != reg.source_sha256:
        # moved by another intake, deleted, or re-saved with other content (looked at anew)
        ledger.mark_source_removed(reg.fingerprint, reg.filed_path or "")
        return None
    folder = item_folder(ctx, reg.item_id, str(reg.row_values.get("title", "")))
    if not reg.filed_path:
        target = _filing_name(folder, src.name, reg.revision, data)
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            safe_write(target, data, expected=snapshot(target))
        ledger.mark_filed(reg.fingerprint, ctx.rel(target))
        entry = make_entry(
            action="file_form",
            item=reg.item_id,
            file=ctx.rel(target),
            reason=f"申请表归入事项文件夹（原文件 {reg.source_path}）",
            input_hash=reg.source_sha256,
            as_of=ctx.as_of,
        )
        ctx.journal([entry])
    # written every time the form is still in the inbox (once: identical text is not rewritten),
    # so a run killed after filing still gives the requester a receipt on the next run
    text = receipt_text(ctx.rules, reg, src.name, duplicate=False)
    with contextlib.suppress(FeedbackPending):  # the registration stands; the receipt is a
        _write_receipt(ctx, src.name, text, reg.item_id)  # courtesy, tried again next run
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
    stem, suffix = Path(base).stem, Path(base).suffix
    target = fit_name(folder, stem, suffix)
    n = 2
    while target.exists():
        if target.read_bytes() == data:
            return target
        target = fit_name(folder, f"{stem}（{n}）", suffix)
        n += 1
    return target


def revision_of_name(name: str) -> int:
    """The revision a filed form's name carries (``第2版_…``), 1 when none."""
    if name.startswith("第") and "版_" in name:
        with contextlib.suppress(ValueError):
            return int(name[1 : name.index("版_")])
    return 1
