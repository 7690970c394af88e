"""Every operation of xietong as a Python function; the CLI calls exactly these."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from automation.core.layout import field_cell
from automation.errors import XietongError
from automation.rules import KINDS, Rules, load_rules


def _rules(rules_dir: str | Path | None) -> Rules:
    return load_rules(rules_dir)


def list_fields(kind: str, *, rules_dir: str | Path | None = None) -> list[dict[str, Any]]:
    """The fields of one workbook kind: key, label, type, required, allowed values, cell."""
    if kind not in KINDS:
        raise XietongError(
            f"未知的工作簿类型 '{kind}'，可选：{', '.join(KINDS)}",
            code="E_UNKNOWN_KIND",
            exit_code=2,
        )
    rules = _rules(rules_dir)
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
            {
                "key": f.key,
                "label": f.label,
                "type": f.type,
                "required": f.required,
                "allowed": allowed,
                "cell": field_cell(form, f.key),
                "computed": f.computed,
                "help": f.help,
            }
        )
    return out


def generate_templates(
    out_dir: str | Path | None = None, *, rules_dir: str | Path | None = None
) -> list[Path]:
    """Write the blank workbooks from the rules (default: the repository's ``workbooks/``)."""
    from automation.io import templates
    from automation.rules import default_workbooks_dir

    return templates.generate_templates(_rules(rules_dir), out_dir or default_workbooks_dir())


def stale_templates(out_dir: str | Path | None = None) -> list[str]:
    """Names of committed workbooks that differ from what the rules generate now."""
    import tempfile

    from automation.rules import default_workbooks_dir

    current = Path(out_dir or default_workbooks_dir())
    with tempfile.TemporaryDirectory() as tmp:
        fresh = generate_templates(tmp)
        return [
            p.name
            for p in fresh
            if not (current / p.name).is_file() or (current / p.name).read_bytes() != p.read_bytes()
        ]


def init_drive(root: str | Path) -> dict[str, Any]:
    """Lay out a shared drive; idempotent, never overwrites. Returns what was created."""
    from automation.io.drive_init import init_drive as _init

    report = _init(root)
    return {
        "root": str(report.root),
        "created": [str(p) for p in report.created],
        "kept": [str(p) for p in report.kept],
    }


def drive_paths(root: str | Path) -> dict[str, str]:
    """Where each part of a drive is (inbox, tracking, items, …), for scripts and buttons."""
    from automation.io.drive import drive_paths as _paths
    from automation.io.drive import drive_rules

    root = Path(root)
    rules = drive_rules(root) if root.is_dir() else None
    return _paths(root, rules).as_dict()


def run_demo(
    drive: str | Path = "xietong-demo", *, as_of: Any = None, echo: Any = print
) -> dict[str, Any]:
    """Build a demo drive with a sample year and run every operation on it."""
    from automation.demo import run_demo as _run
    from automation.io.clock_inputs import parse_as_of

    if isinstance(as_of, str):
        as_of = parse_as_of(as_of, _rules(None))
    return _run(drive, as_of=as_of, echo=echo)


# -- calendar and clocks (issue 4) ---------------------------------------------------------------


def calendar_check(
    date: str, *, drive: str | Path | None = None, rules_dir: str | Path | None = None
) -> dict[str, Any]:
    """Is ``date`` a working day, and why: ``{date, workday, kind, name, provisional}``."""
    from automation.io import clock_inputs

    return clock_inputs.calendar_check(date, drive=drive, rules_dir=rules_dir)


def calendar_add(
    date: str, n: int, *, drive: str | Path | None = None, rules_dir: str | Path | None = None
) -> dict[str, Any]:
    """The ``n``-th working day after ``date`` and its due time, with the days skipped."""
    from automation.io import clock_inputs

    return clock_inputs.calendar_add(date, n, drive=drive, rules_dir=rules_dir)


def calendar_week(
    week: str, *, drive: str | Path | None = None, rules_dir: str | Path | None = None
) -> dict[str, Any]:
    """The working days of an ISO week (``2026-W41``) and the weekly report's due time."""
    from automation.io import clock_inputs

    return clock_inputs.calendar_week(week, drive=drive, rules_dir=rules_dir)


def as_of_time(
    text: str | None, *, drive: str | Path | None = None, rules_dir: str | Path | None = None
) -> Any:
    """``--as-of``: an ISO date-time or a date (its close of business); None means now."""
    from automation.io.clock_inputs import parse_as_of, rules_for

    return parse_as_of(text, rules_for(drive, rules_dir))


def clocks(drive: str | Path, *, as_of: Any = None, rules_dir: str | Path | None = None) -> Any:
    """Every clock of every item on a drive (``DriveClocks``: ``.results``, ``.warnings``)."""
    from automation.io.clock_inputs import compute_drive

    return compute_drive(drive, as_of, rules_dir=rules_dir)


def explain_clocks(
    drive: str | Path, item_id: str, *, as_of: Any = None, rules_dir: str | Path | None = None
) -> dict[str, Any]:
    """How each due date of one item was derived (start, days counted, days skipped)."""
    from automation.io.clock_inputs import explain_item

    return explain_item(drive, item_id, as_of, rules_dir=rules_dir)


# -- validation (issue 3) ------------------------------------------------------------------------


def validate(
    paths: Any, *, drive: str | Path | None = None, feedback: str | Path | None = None
) -> list[Any]:
    """Validate workbooks (files or folders); ``FileReport`` per file, feedback when asked."""
    from automation.io.drive import drive_rules
    from automation.io.validation import validate_paths

    if isinstance(paths, str | Path):
        paths = [paths]
    rules = drive_rules(drive) if drive else _rules(None)
    reports = validate_paths(list(paths), rules)
    if feedback:
        from automation.io.feedback import write_feedback

        for report in reports:
            write_feedback(report, feedback, report.path)
    return reports


# -- the cycle (issue 5) -------------------------------------------------------------------------


def run(drive: str | Path, *, as_of: Any = None) -> Any:
    """One full cycle on a drive: intake → reactions → clocks → write-back (``CycleReport``)."""
    from automation.cycle import run_cycle
    from automation.io.drive import require_drive

    require_drive(drive)
    if as_of is None or isinstance(as_of, str):
        as_of = as_of_time(as_of, drive=drive)
    return run_cycle(drive, as_of=as_of)


def log(drive: str | Path, *, item: str | None = None) -> list[dict[str, Any]]:
    """The audit trail of a drive: every write of the automation, optionally of one item."""
    from automation.io.drive import require_drive
    from automation.io.journal import read_journal

    return read_journal(require_drive(drive).log, item=item)


# -- the summary (issue 11) ---------------------------------------------------------------------


def summary(drive: str | Path, *, as_of: Any = None, force: bool = False) -> Any:
    """Rebuild the leaders' summary (汇总 workbook + HTML) when what it shows changed
    (``SummaryResult``: ``.written``, ``.files``, ``.model``)."""
    from automation.io.drive import require_drive
    from automation.process.summary import refresh_summary

    require_drive(drive)
    if as_of is None or isinstance(as_of, str):
        as_of = as_of_time(as_of, drive=drive)
    return refresh_summary(drive, as_of=as_of, force=force)


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
    "summary": summary,
}
