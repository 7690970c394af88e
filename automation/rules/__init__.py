"""Loading every rules file, validated on load.

The defaults ship inside the package; a drive carries its own copy (``xietong init``) that its IT
may edit. A file present in the drive's rules folder replaces the default file of the same name.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from automation.errors import RulesError
from automation.rules.base import load_model
from automation.rules.calendar import CalendarRules
from automation.rules.clocks import ClocksRules
from automation.rules.departments import DepartmentsRules
from automation.rules.forms import KINDS, FormRules
from automation.rules.process import DriveRules, EscalationRules, NotifyRules, RoutingRules
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

    def form(self, kind: str) -> FormRules:
        return self.forms[kind]


def _pick(relative: str, dirs: list[Path]) -> tuple[Path, str]:
    """The last folder that has the file wins (drive over package defaults)."""
    for d in reversed(dirs):
        candidate = d / relative
        if candidate.is_file():
            return candidate, str(candidate)
    return dirs[-1] / relative, str(dirs[-1] / relative)


def load_rules(rules_dir: Path | str | None = None) -> Rules:
    """Load the package defaults, overridden file by file by ``rules_dir`` when given."""
    dirs = [default_rules_dir()]
    if rules_dir is not None:
        rules_dir = Path(rules_dir)
        if not rules_dir.is_dir():
            raise RulesError(str(rules_dir), "", "rules folder does not exist")
        if rules_dir.resolve() != dirs[0].resolve():
            dirs.append(rules_dir)
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
    _, routing_file = _pick("routing.yaml", dirs)
    for i, route in enumerate(rules.routing.routes):
        for ref in [*route.when_filled, *route.when_equals]:
            if ref not in request:
                raise RulesError(routing_file, f"routes[{i}]", f"unknown request field '{ref}'")
    _check_notify(rules, dirs)


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
