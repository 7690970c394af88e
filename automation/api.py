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


def parse_as_of(text: str | None, default: Any = None) -> Any:
    """An ISO date or time as an aware datetime in Asia/Shanghai (a date means 18:00 that day)."""
    import datetime as dt
    from zoneinfo import ZoneInfo

    if text is None:
        return default
    tz = ZoneInfo("Asia/Shanghai")
    try:
        value = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        raise XietongError(
            f"无法识别的时间 '{text}'，请写成 2026-10-09 或 2026-10-09T10:00",
            code="E_BAD_DATE",
            exit_code=2,
        ) from None
    if len(text.strip()) == 10:
        value = value.replace(hour=18)
    return value if value.tzinfo else value.replace(tzinfo=tz)


def run_demo(
    drive: str | Path = "xietong-demo", *, as_of: Any = None, echo: Any = print
) -> dict[str, Any]:
    """Build a demo drive with a sample year and run every operation on it."""
    from automation.demo import run_demo as _run

    return _run(drive, as_of=parse_as_of(as_of) if isinstance(as_of, str) else as_of, echo=echo)
