"""Loading every rules file, validated on load.

The defaults ship inside the package; a drive carries its own copy (``xietong init``) that its IT
may edit. A file present in the drive's rules folder replaces the default file of the same name.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from automation.errors import RulesError
from automation.rules.archive import ArchiveRules
from automation.rules.base import load_model
from automation.rules.calendar import CalendarRules
from automation.rules.clocks import ClocksRules
from automation.rules.departments import DepartmentsRules
from automation.rules.forms import KINDS, FormRules
from automation.rules.process import DriveRules, EscalationRules, NotifyRules, RoutingRules
from automation.rules.schedule import ScheduleRules
from automation.rules.validation import ValidationRules

__all__ = ["Rules", "load_rules", "default_rules_dir", "RulesError", "KINDS"]

_PACKAGE = Path(__file__).resolve().parent.parent


def _data_dir(name: str) -> Path:
    """A folder of shipped data: inside the wheel, or at the repository top in a checkout."""
    shipped = _PACKAGE / "_data" / name
    return shipped if shipped.is_dir() else _PACKAGE.parent / name


def default_rules_dir() -> Path:
    return _data_dir("rules")


def default_workbooks_dir() -> Path:
    return _data_dir("workbooks")


RULE_FILES = {
    "departments": ("departments.yaml", DepartmentsRules),
    "drive": ("drive.yaml", DriveRules),
    "calendar": ("calendar.yaml", CalendarRules),
    "clocks": ("clocks.yaml", ClocksRules),
    "routing": ("routing.yaml", RoutingRules),
    "escalation": ("escalation.yaml", EscalationRules),
    "notify": ("notify.yaml", NotifyRules),
    "validation": ("validation.yaml", ValidationRules),
    "archive": ("archive.yaml", ArchiveRules),
    "schedule": ("schedule.yaml", ScheduleRules),
}


@dataclass(frozen=True)
class Rules:
    """Every rule the automation follows, typed and cross-checked."""

    sources: tuple[Path, ...]
    departments: DepartmentsRules
    forms: dict[str, FormRules]
    drive: DriveRules
    calendar: CalendarRules
    clocks: ClocksRules
    routing: RoutingRules
    escalation: EscalationRules
    notify: NotifyRules
    validation: ValidationRules = ValidationRules()
    archive: ArchiveRules | None = None  # archive.yaml (always loaded by load_rules)
    schedule: ScheduleRules = ScheduleRules()

    def form(self, kind: str) -> FormRules:
        return self.forms[kind]


def _pick(relative: str, dirs: list[Path]) -> tuple[Path, str]:
    """The last folder that has the file wins (drive over package defaults)."""
    for d in reversed(dirs):
        candidate = d / relative
        if candidate.is_file():
            return candidate, str(candidate)
    return dirs[-1] / relative, str(dirs[-1] / relative)


# Rules already loaded in this process, by the identity of every file they came from: a run
# opens them once however many parts of it ask, and an edited file is loaded afresh. A few
# sets are kept (a drive's, the package defaults some helpers ask for, the versions just
# replaced): asking for one set must not make the next run parse the other again.
_LOADED: dict[tuple[Any, ...], Rules] = {}
_LOADED_MAX = 4
LOAD_COUNT = 0  # rules actually parsed in this process (tests count it)


def load_rules(rules_dir: Path | str | None = None) -> Rules:
    """Load the package defaults, overridden file by file by ``rules_dir`` when given.

    Parsed once per process while the files stay the same (path, size, modification time).
    """
    dirs = [default_rules_dir()]
    if rules_dir is not None:
        rules_dir = Path(rules_dir)
        if not rules_dir.is_dir():
            raise RulesError(str(rules_dir), "", "rules folder does not exist")
        if rules_dir.resolve() != dirs[0].resolve():
            dirs.append(rules_dir)
    key = _identity(dirs)
    cached = _LOADED.get(key)
    if cached is None:
        cached = _parse(dirs)
        while len(_LOADED) >= _LOADED_MAX:  # the set loaded first goes first
            _LOADED.pop(next(iter(_LOADED)))
        _LOADED[key] = cached
    return cached


def _rule_files() -> list[str]:
    return [name for name, _ in RULE_FILES.values()] + [f"forms/{kind}.yaml" for kind in KINDS]


def _identity(dirs: list[Path]) -> tuple[Any, ...]:
    parts: list[Any] = [str(d.resolve()) for d in dirs]
    for relative in _rule_files():
        for d in dirs:
            try:
                st = (d / relative).stat()
            except OSError:
                parts.append(None)
                continue
            parts.append((st.st_size, st.st_mtime_ns, getattr(st, "st_ino", 0)))
    return tuple(parts)


def _parse(dirs: list[Path]) -> Rules:
    global LOAD_COUNT
    LOAD_COUNT += 1
    loaded = {}
    for attr, (name, model) in RULE_FILES.items():
        path, display = _pick(name, dirs)
        loaded[attr] = load_model(model, path, display)
    forms: dict[str, FormRules] = {}
    for kind in KINDS:
        path, display = _pick(f"forms/{kind}.yaml", dirs)
        form = load_model(FormRules, path, display)
        if form.kind != kind:
            raise RulesError(display, "kind", f"is '{form.kind}', expected '{kind}' for this file")
        forms[kind] = form
    rules = Rules(sources=tuple(dirs), forms=forms, **loaded)
    _cross_check(rules, dirs)
    return rules


def _cross_check(rules: Rules, dirs: list[Path]) -> None:
    tracking = {f.key for f in rules.forms["tracking"].all_fields}
    execution = {f.key for f in rules.forms["execution"].all_fields}
    request = {f.key for f in rules.forms["request"].all_fields}
    _, clocks_file = _pick("clocks.yaml", dirs)
    if rules.clocks.departments_field not in tracking:
        raise RulesError(
            clocks_file,
            "departments_field",
            f"'{rules.clocks.departments_field}' is not a field of the tracking table",
        )
    for i, clock in enumerate(rules.clocks.clocks):
        # item clocks may start from a department date: the latest over the departments
        known = tracking | execution
        for attr in ("start", "end", "when_field"):
            ref = getattr(clock, attr)
            if ref is not None and ref not in known:
                raise RulesError(
                    clocks_file, f"clocks[{i}].{attr}", f"unknown field '{ref}' ({clock.key})"
                )
        if clock.per == "item" and clock.when_field in execution - tracking:
            raise RulesError(
                clocks_file,
                f"clocks[{i}].when_field",
                f"'{clock.when_field}' is a department field; an item clock needs a tracking field",
            )
    _check_archive(rules, dirs, tracking)
    _check_notify(rules, dirs)
    _, routing_file = _pick("routing.yaml", dirs)
    for i, route in enumerate(rules.routing.routes):
        for ref in [*route.when_filled, *route.when_equals]:
            if ref not in request:
                raise RulesError(routing_file, f"routes[{i}]", f"unknown request field '{ref}'")


def _check_archive(rules: Rules, dirs: list[Path], tracking: set[str]) -> None:
    """archive.yaml names tracking fields, form kinds and the minutes' sign-off columns."""
    spec = rules.archive
    if spec is None:
        return
    _, archive_file = _pick("archive.yaml", dirs)
    request = {f.key for f in rules.forms["request"].all_fields}
    if spec.trigger_field not in tracking:
        raise RulesError(
            archive_file, "trigger_field", f"unknown tracking field '{spec.trigger_field}'"
        )
    for i, doc in enumerate(spec.documents):
        if doc.kind is not None and doc.kind not in rules.forms:
            raise RulesError(archive_file, f"documents[{i}].kind", f"unknown kind '{doc.kind}'")
        known = request if doc.find == "attachments" else tracking
        if doc.field is not None and doc.field not in known:
            raise RulesError(archive_file, f"documents[{i}].field", f"unknown field '{doc.field}'")
    sig = spec.signatures
    tables = {t.key: t for t in rules.forms["minutes"].tables}
    if sig.table not in tables:
        raise RulesError(archive_file, "signatures.table", f"no table '{sig.table}' in the minutes")
    columns = {c.key for c in tables[sig.table].columns}
    for attr in ("department", "sign", "date"):
        ref = getattr(sig, attr)
        if ref is not None and ref not in columns:
            raise RulesError(
                archive_file, f"signatures.{attr}", f"no column '{ref}' in '{sig.table}'"
            )


NOTIFY_ROLES = (
    "requesting_dept",
    "lead_dept",
    "coop_depts",
    "responsible_dept",
    "escalation_to",
    "office",
    "leaders",
    "gm_meeting",
)
NOTIFY_EVENTS = (
    "registered",
    "rejected",
    "assigned",
    "at_risk",
    "breached",
    "daily_missing",
    "escalated",
    "weekly_digest",
)


def _check_notify(rules: Rules, dirs: list[Path]) -> None:
    """notify.yaml against departments.yaml: known robots, events and recipient roles."""
    _, notify_file = _pick("notify.yaml", dirs)
    _, depts_file = _pick("departments.yaml", dirs)
    robots = rules.notify.robots
    for i, dept in enumerate(rules.departments.departments):
        if dept.robot and dept.robot not in robots:
            raise RulesError(
                depts_file,
                f"departments[{i}].robot",
                f"'{dept.robot}' is not a robot of notify.yaml",
            )
    for kind in rules.notify.hours.urgent:
        if kind not in NOTIFY_EVENTS:
            raise RulesError(notify_file, "hours.urgent", f"unknown event '{kind}'")
    for name, event in rules.notify.events.items():
        if name not in NOTIFY_EVENTS:
            raise RulesError(
                notify_file, f"events.{name}", f"unknown event (one of {', '.join(NOTIFY_EVENTS)})"
            )
        for role in event.to:
            if role not in NOTIFY_ROLES:
                raise RulesError(
                    notify_file,
                    f"events.{name}.to",
                    f"unknown recipient '{role}' (one of {', '.join(NOTIFY_ROLES)})",
                )
