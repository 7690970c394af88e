"""Validating submitted workbooks: read (safely), type, check, report.

:func:`validate_file` never raises for a bad file: a file that cannot be read at all gives a
report with one file-level problem (``E_CORRUPT``, ``E_ENCRYPTED`` …, see ``docs/errors.md``).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from automation.core.calendar import WorkCalendar
from automation.core.normalize import DepartmentLookup, is_blank
from automation.core.problems import Problem, make_problem
from automation.core.validation import CheckContext, check_workbook, with_cells
from automation.io.files import ALL_WORKBOOK_SUFFIXES, is_temporary, is_workbook_name
from automation.io.reader import WorkbookData, read_workbook
from automation.io.safety import FileRejected
from automation.rules import Rules

# Kept importable from here: the suffixes of every workbook format recognised (read or legacy).
WORKBOOK_SUFFIXES = ALL_WORKBOOK_SUFFIXES


@dataclass
class FileReport:
    """The result of validating one file: typed values and every problem found."""

    path: Path
    kind: str | None = None
    sheet: str = ""
    problems: list[Problem] = field(default_factory=list)
    fields: dict[str, Any] = field(default_factory=dict)
    rows: list[dict[str, Any]] = field(default_factory=list)
    tables: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    version: int | None = None
    format: str = ""
    readable: bool = True  # False: the file could not be read at all (CLI exit code 2)
    # what the later stages take from the rows, worked out on first use in the process that
    # holds the report (``automation.core.digest``); never stored: rebuilding it from the rows
    # costs less than unpickling it
    digest: dict[str, Any] | None = None

    @property
    def ok(self) -> bool:
        """No error-severity problem (warnings allowed)."""
        return not any(p.is_error for p in self.problems)

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.is_error]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if not p.is_error]


def _calendar_check(rules: Rules) -> Callable[[dt.date], bool] | None:
    """``is_workday`` of the working-day calendar (None when it cannot be built)."""
    try:
        return WorkCalendar.from_rules(rules.calendar).is_workday
    except Exception:  # a calendar that cannot be built must not stop validation
        return None


_LOOKUPS: dict[int, tuple[Any, DepartmentLookup]] = {}


def _lookup(rules: Rules) -> DepartmentLookup:
    """The department lookup of these rules, built once per rules object."""
    cached = _LOOKUPS.get(id(rules.departments))
    if cached is None or cached[0] is not rules.departments:
        depts = rules.departments
        lookup = DepartmentLookup.build((d.name, d.aliases) for d in depts.departments)
        cached = _LOOKUPS[id(depts)] = (depts, lookup)
    return cached[1]


def rejected_report(path: Path, exc: FileRejected) -> FileReport:
    problem = make_problem(exc.code, file=str(path), **exc.params)
    return FileReport(path, problems=[problem], readable=False)


def validate_file(
    path: str | Path,
    rules: Rules,
    *,
    calendar: Any = None,
    today: dt.date | None = None,
) -> FileReport:
    """Read one workbook and check every entry against the rules of its kind.

    ``calendar`` is a ``WorkCalendar`` (anything with ``is_workday(date)``); when None it is
    built from the rules, and working-day checks are skipped if no calendar is available.
    ``today`` gives the year of dates typed without one (3月10日) when the form has none.
    """
    path = Path(path)
    try:
        data = read_workbook(path, rules)
    except FileRejected as exc:
        return rejected_report(path, exc)
    form = rules.form(data.kind)  # read_workbook only returns kinds the rules know
    if form.layout == "form" and _nothing_filled(data):
        return rejected_report(path, FileRejected("E_EMPTY", detail="模板中没有填写任何内容"))
    ctx = _check_context(path, rules, calendar, today)
    checked = check_workbook(form, data.fields, data.table, data.inner, ctx)
    return FileReport(
        path,
        kind=data.kind,
        sheet=data.sheet,
        problems=[*data.problems, *checked.problems],
        fields=checked.fields,
        rows=checked.rows,
        tables=checked.tables,
        version=data.version,
        format=data.format,
    )


def _check_context(path: Path, rules: Rules, calendar: Any, today: dt.date | None) -> CheckContext:
    is_workday = calendar.is_workday if calendar is not None else _calendar_check(rules)
    return CheckContext(
        file=str(path),
        departments=_lookup(rules),
        today=today or dt.date.today(),
        min_year=rules.validation.date_min_year,
        max_year=rules.validation.date_max_year,
        is_workday=is_workday,
    )


def report_with_cells(
    report: FileReport,
    rules: Rules,
    cells: list[tuple[int, str, str, Any]],
    *,
    calendar: Any = None,
    today: dt.date | None = None,
) -> FileReport | None:
    """``report`` as validating its file again would give it once ``cells`` (Excel row, field
    key, cell, value as written) were written into rows of its main table — None when only
    validating the file can tell (see ``automation.core.validation.with_cells``)."""
    if not report.readable or report.kind is None:
        return None
    form = rules.form(report.kind)
    ctx = _check_context(report.path, rules, calendar, today)
    done = with_cells(form, report.rows, report.problems, cells, ctx)
    if done is None:
        return None
    rows, problems = done
    return dataclasses.replace(report, rows=rows, problems=problems, digest=None)


def _nothing_filled(data: WorkbookData) -> bool:
    if any(not is_blank(c.value) for c in data.fields.values()):
        return False
    return not any(t.height for t in data.inner.values()) and not (data.table and data.table.height)


def workbook_files(paths: Iterable[str | Path]) -> list[Path]:
    """The workbook files named, or found (recursively) inside the folders named, sorted."""
    out: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            for root, dirs, files in os.walk(p):
                dirs[:] = sorted(d for d in dirs if not d.startswith((".", "~")))
                for name in sorted(files):
                    f = Path(root) / name
                    if is_workbook_name(f):
                        out.append(f)
        elif not is_temporary(p):
            out.append(p)
    return out


def validate_paths(
    paths: Iterable[str | Path],
    rules: Rules,
    *,
    calendar: Any = None,
    today: dt.date | None = None,
) -> list[FileReport]:
    """Validate files and every workbook inside folders (skipping lock and temporary files)."""
    if calendar is None:
        check = _calendar_check(rules)
        calendar = _Calendar(check) if check is not None else None
    return [validate_file(p, rules, calendar=calendar, today=today) for p in workbook_files(paths)]


@dataclass(frozen=True)
class _Calendar:
    is_workday: Callable[[dt.date], bool]
