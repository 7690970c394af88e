"""Every operation of xietong as a Python function; the CLI calls exactly these.

Each function opens what it needs once (a drive's :class:`RunContext`: rules, calendar, "now",
local state) and returns a typed result (a dataclass with ``as_dict()`` for JSON).
"""

from __future__ import annotations

import datetime as dt
import signal
import tempfile
import threading
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from automation import demo as demo_module
from automation.core.layout import field_cell
from automation.errors import XietongError
from automation.io import macro_workbooks, templates
from automation.io.drive import DrivePaths, drive_rules, require_drive
from automation.io.drive import drive_paths as layout_of
from automation.io.drive_init import init_drive as lay_out_drive
from automation.io.feedback import write_feedback
from automation.io.journal import read_journal
from automation.io.ledger import drive_lock
from automation.io.validation import FileReport, validate_file, workbook_files
from automation.process import clocks as clock_ops
from automation.process.archive import ArchiveReport, VerifyReport, archive_items
from automation.process.archive import verify_archive as verify_bags
from automation.process.context import calendar_of, open_context, parse_as_of, rules_for
from automation.process.cycle import CycleReport
from automation.process.cycle import cycle as run_one_cycle
from automation.process.execution import (
    WeeklyResult,
    drive_exceptions,
    parse_target_week,
    run_weekly,
)
from automation.process.notify import NotifyReport, notify_drive, send_test, stage_events
from automation.process.notify import notify_status as notify_queue_status
from automation.process.submission import submit_form
from automation.process.summary import SummaryResult, refresh_summary
from automation.process.tracking import read_tracking
from automation.rules import KINDS, default_workbooks_dir, load_rules
from automation.service import health
from automation.service.runner import Service
from automation.service.runner import _pending as pending_writes

AsOf = str | dt.datetime | dt.date | None


@dataclass(frozen=True)
class FieldInfo:
    """One field of a workbook kind (``xietong fields``)."""

    key: str
    label: str
    type: str
    required: bool
    allowed: list[str]
    cell: str | None
    computed: bool
    help: str | None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class InitReport:
    """What ``xietong init`` created and what it found already there."""

    root: str
    created: list[str]
    kept: list[str]

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class DemoReport:
    """Where the demo drive is and how far the sample year was played."""

    root: str
    as_of: str
    days: int

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def list_fields(kind: str, *, rules_dir: str | Path | None = None) -> list[FieldInfo]:
    """The fields of one workbook kind: key, label, type, required, allowed values, cell."""
    if kind not in KINDS:
        raise XietongError(
            f"未知的工作簿类型 '{kind}'，可选：{', '.join(KINDS)}",
            code="E_UNKNOWN_KIND",
            exit_code=2,
        )
    rules = load_rules(rules_dir)
    form = rules.form(kind)
    out = []
    for f in form.all_fields:
        if f.type == "yes_no":
            allowed = ["是", "否"]
        elif f.type in ("department", "departments"):
            allowed = rules.departments.names
        else:
            allowed = list(f.allowed)
        out.append(
            FieldInfo(
                f.key,
                f.label,
                f.type,
                f.required,
                allowed,
                field_cell(form, f.key),
                f.computed,
                f.help,
            )
        )
    return out


def generate_templates(
    out_dir: str | Path | None = None, *, rules_dir: str | Path | None = None
) -> list[Path]:
    """Write the blank workbooks from the rules (default: the repository's ``workbooks/``).

    Also the ``.xlsm`` variants with Excel buttons and their VBA modules in ``macros/``.
    """
    rules, out = load_rules(rules_dir), out_dir or default_workbooks_dir()
    return templates.generate_templates(rules, out) + macro_workbooks.generate_macro_workbooks(
        rules, out
    )


def stale_templates(out_dir: str | Path | None = None) -> list[str]:
    """Names of committed workbooks that differ from what the rules generate now."""
    current = Path(out_dir or default_workbooks_dir())
    with tempfile.TemporaryDirectory() as tmp:
        fresh = generate_templates(tmp)
        names = [p.relative_to(tmp).as_posix() for p in fresh]
        return [
            name
            for name, p in zip(names, fresh, strict=True)
            if not (current / name).is_file() or (current / name).read_bytes() != p.read_bytes()
        ]


def init_drive(root: str | Path) -> InitReport:
    """Lay out a shared drive; idempotent, never overwrites. Returns what was created."""
    report = lay_out_drive(root)
    return InitReport(
        str(report.root), [str(p) for p in report.created], [str(p) for p in report.kept]
    )


def drive_paths(root: str | Path) -> DrivePaths:
    """Where each part of a drive is (inbox, tracking, items, …), for scripts and buttons.

    The folder must exist (``E_NO_DRIVE`` otherwise); it need not be initialised yet.
    """
    root = Path(root)
    if not root.is_dir():
        raise XietongError(f"共享盘目录不存在：{root}", code="E_NO_DRIVE", exit_code=2)
    return layout_of(root, drive_rules(root))


def run_demo(
    drive: str | Path = "xietong-demo",
    *,
    as_of: AsOf = None,
    echo: Any = print,
    progress: Any = None,
) -> DemoReport:
    """Build a demo drive with a sample year and run every operation on it.

    ``progress(done, total, day)`` is called as the sample year is played, when given.
    """
    moment = None if as_of is None else parse_as_of(as_of, load_rules())
    out = demo_module.run_demo(drive, as_of=moment, echo=echo, progress=progress)
    return DemoReport(out["root"], out["as_of"], out["days"])


# -- calendar and clocks ---------------------------------------------------------------------------


def calendar_check(
    date: str, *, drive: str | Path | None = None, rules_dir: str | Path | None = None
) -> dict[str, Any]:
    """Is ``date`` a working day, and why: ``{date, workday, kind, name, provisional}``."""
    return clock_ops.calendar_check(date, drive=drive, rules_dir=rules_dir)


def calendar_add(
    date: str, n: int, *, drive: str | Path | None = None, rules_dir: str | Path | None = None
) -> dict[str, Any]:
    """The ``n``-th working day after ``date`` and its due time, with the days skipped."""
    return clock_ops.calendar_add(date, n, drive=drive, rules_dir=rules_dir)


def calendar_week(
    week: str, *, drive: str | Path | None = None, rules_dir: str | Path | None = None
) -> dict[str, Any]:
    """The working days of an ISO week (``2026-W41``) and the weekly report's due time."""
    return clock_ops.calendar_week(week, drive=drive, rules_dir=rules_dir)


def as_of_time(
    text: AsOf, *, drive: str | Path | None = None, rules_dir: str | Path | None = None
) -> dt.datetime:
    """``--as-of``: an ISO date-time or a date (its close of business); None means now."""
    return parse_as_of(text, rules_for(drive, rules_dir))


def clocks(
    drive: str | Path, *, as_of: AsOf = None, rules_dir: str | Path | None = None
) -> clock_ops.DriveClocks:
    """Every clock of every item on a drive (``.results``, ``.warnings``)."""
    with open_context(drive, as_of=as_of, with_ledger=False, rules_dir=rules_dir) as ctx:
        found = clock_ops.compute_drive(ctx)
        notice = clock_ops.provisional_warning(ctx, found.results)
        if notice:
            found.warnings.append(notice)
        return found


def explain_clocks(
    drive: str | Path, item_id: str, *, as_of: AsOf = None, rules_dir: str | Path | None = None
) -> dict[str, Any]:
    """How each due date of one item was derived (start, days counted, days skipped)."""
    with open_context(drive, as_of=as_of, with_ledger=False, rules_dir=rules_dir) as ctx:
        return clock_ops.explain_item(ctx, item_id)


# -- validation ----------------------------------------------------------------------------------


def validate(
    paths: Any,
    *,
    drive: str | Path | None = None,
    feedback: str | Path | None = None,
    progress: Any = None,
) -> list[FileReport]:
    """Validate workbooks (files or folders); ``FileReport`` per file, feedback when asked.

    ``progress(done, total, path)`` is called after each file when given.
    """
    if isinstance(paths, str | Path):
        paths = [paths]
    rules = drive_rules(drive) if drive else load_rules()
    calendar = calendar_of(rules)
    files = workbook_files(paths)
    reports = []
    for done, path in enumerate(files, 1):
        reports.append(validate_file(path, rules, calendar=calendar))
        if progress is not None:
            progress(done, len(files), path)
    if feedback:
        for report in reports:
            write_feedback(report, feedback, report.path)
    return reports


# -- the cycle -----------------------------------------------------------------------------------


def run(drive: str | Path, *, as_of: AsOf = None, progress: Any = None) -> CycleReport:
    """One full cycle on a drive: intake → evaluation → clocks → write-back (``CycleReport``).

    ``progress(step, total, label)`` is called as the cycle moves on, when given.
    """
    with open_context(drive, as_of=as_of) as ctx:
        return run_one_cycle(ctx, progress=progress)


def log(drive: str | Path, *, item: str | None = None) -> list[dict[str, Any]]:
    """The audit trail of a drive: every write of the automation, optionally of one item."""
    return read_journal(require_drive(drive).log, item=item)


# -- execution feedback ----------------------------------------------------------------------------


def weekly(
    drive: str | Path, *, week: str | None = None, as_of: AsOf = None, dry_run: bool = False
) -> WeeklyResult:
    """The weekly rollup (周进度汇总) of one ISO week (default: the as-of week), written into
    the departments' weekly reports and the lead departments' views unless ``dry_run``
    (``WeeklyResult``: ``.rollups``, ``.written``, ``.deferred``, ``.as_list()``)."""
    with open_context(drive, as_of=as_of) as ctx:
        target = parse_target_week(week, ctx.as_of)
        with drive_lock(ctx.paths.root):
            return run_weekly(ctx, target, dry_run=dry_run)


def exceptions(drive: str | Path, *, as_of: AsOf = None) -> list[dict[str, Any]]:
    """Every exception (异常) of the drive with the escalation level reached at as-of:
    ``{item, department, opened, reason, level, to, role, resolved, resolved_by, steps}``."""
    with open_context(drive, as_of=as_of) as ctx:
        cases, _warnings = drive_exceptions(ctx)
    return [c.as_dict() for c in cases]


# -- archive -------------------------------------------------------------------------------------


def archive(drive: str | Path, *, item: str | None = None, as_of: AsOf = None) -> ArchiveReport:
    """Acceptance checklists and BagIt archive of finished items (``ArchiveReport``); ``item``
    archives that item now, even with gaps in its checklist."""
    with open_context(drive, as_of=as_of) as ctx, drive_lock(ctx.paths.root):
        return archive_items(ctx, item=item)


def verify_archive(drive: str | Path, *, item: str | None = None) -> VerifyReport:
    """Re-validate the archive's bags (``VerifyReport``): files changed, missing or added."""
    return verify_bags(drive, item=item)


# -- the watcher service --------------------------------------------------------------


def serve(
    drive: str | Path,
    *,
    poll_only: bool = False,
    interval: float | None = None,
    quiet: float | None = None,
) -> dict[str, Any]:
    """Run the watcher service on a drive until SIGTERM / Ctrl-C (or a Windows service stop);
    returns its last status. Every save in the inbox is answered by the same cycle as ``run``."""
    service = Service(
        drive, poll_only=poll_only, interval=interval, quiet=quiet, operations=OPERATIONS
    )
    if threading.current_thread() is threading.main_thread():
        # SIGINT is also what a Windows console Ctrl+C and WinSW's stop (Ctrl+C) deliver;
        # SIGBREAK is Ctrl+Break on Windows
        for name in ("SIGTERM", "SIGINT", "SIGBREAK"):
            if hasattr(signal, name):
                signal.signal(getattr(signal, name), lambda *_: service.stop())
    return service.run()


def service_status(drive: str | Path) -> dict[str, Any]:
    """The watcher service's health on this machine: running, heartbeat age, last cycle,
    queue, pending writes and who holds them, quarantined files, errors of the last day, and
    the notification queue (held, queued, sent, failing with their last error)."""
    paths = require_drive(drive)
    status = health.judge(health.read_status(paths.root), dt.datetime.now(dt.UTC))
    status["pending_writes"] = pending_writes(paths.root)  # the local state now
    status["notifications"] = notify_queue_status(paths.root)
    return status


# -- submission and buttons -----------------------------------------------------------


def submit(path: str | Path, *, drive: str | Path) -> dict[str, Any]:
    """提交: validate a filled request form and copy it into the drive's inbox (a receipt).

    A form with errors is not copied (``submitted`` False, the problems listed); the service
    (or the next ``xietong run``) registers what lands in the inbox.
    """
    return submit_form(path, drive)


# -- notifications ---------------------------------------------------------------------------------


def notify(
    drive: str | Path, *, as_of: AsOf = None, dry_run: bool = False, test: str | None = None
) -> NotifyReport | dict[str, Any]:
    """Send the drive's notifications once each (``NotifyReport``); ``test``: one test message
    through ``mail`` or a robot id instead (where it went)."""
    with open_context(drive, as_of=as_of) as ctx:
        if test is not None:
            return send_test(ctx, test)
        rows = read_tracking(ctx).rows
        return notify_drive(ctx, dry_run=dry_run, extra_events=stage_events(ctx, rows))


def notify_status(drive: str | Path) -> dict[str, Any]:
    """The notification queue of a drive: held, queued, sent, and failing messages with their
    last error (for ``xietong status`` and the watcher)."""
    return notify_queue_status(drive)


# -- the summary -----------------------------------------------------------------------------------


def summary(drive: str | Path, *, as_of: AsOf = None, force: bool = False) -> SummaryResult:
    """Rebuild the leaders' summary (汇总 workbook + HTML) when what it shows changed
    (``SummaryResult``: ``.written``, ``.files``, ``.model``)."""
    with open_context(drive, as_of=as_of) as ctx, drive_lock(ctx.paths.root):
        return refresh_summary(ctx, force=force)


# Every command of the CLI and the function it calls (a test keeps the two in step).
OPERATIONS = {
    "fields": list_fields,
    "templates": generate_templates,
    "init": init_drive,
    "paths": drive_paths,
    "demo": run_demo,
    "calendar check": calendar_check,
    "calendar add": calendar_add,
    "calendar week": calendar_week,
    "clocks": clocks,
    "validate": validate,
    "run": run,
    "log": log,
    "weekly": weekly,
    "exceptions": exceptions,
    "archive": archive,  # --verify calls verify_archive
    "serve": serve,
    "status": service_status,
    "submit": submit,
    "notify": notify,
    "summary": summary,
}
