"""Checking a workbook's entries against ``rules/forms``: pure functions over raw cell values.

Input: raw values with their cells (as ``automation.io.reader`` found them). Output: typed
values (dates as ``datetime.date``, money in 元, percent as 0..1, canonical department names …)
and :class:`~automation.core.problems.Problem` records pointing at the cell to fix. Checks:
required, type, closed lists, ranges, length, pattern, plausible years, date order
(``not_before``), working days (``workday``), cross-field rules (``form.rules``) and duplicate
table rows. Columns a department added are simply not looked at.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, NamedTuple

from automation.core import normalize as nz
from automation.core.columns import Column, decode_column, encode_rows
from automation.core.problems import Problem, make_problem
from automation.rules.forms import CrossRule, FieldSpec, FormRules

RowDict = dict[str, Any]


class RawCell(NamedTuple):
    """One cell as read: its raw value, its A1 address and its sheet."""

    value: Any
    cell: str
    sheet: str


@dataclass(frozen=True)
class RawRow:
    """One row of a table as read: the Excel row number (1-based) and its cells by field key."""

    row: int
    cells: dict[str, RawCell]


@dataclass
class RawTable:
    """A table as read, kept compact: the column of every key, the Excel row of every row, and
    every key's values as an encoded column (:mod:`automation.core.columns`).

    Validation reads the encoded columns directly; :attr:`rows` and :attr:`raw_rows` give the
    same row by row.
    """

    sheet: str
    columns: dict[str, str]  # field key → column letter where its header was found
    numbers: Sequence[int] = field(default_factory=list)  # Excel row (1-based) of every row
    data: list[Column] = field(default_factory=list)  # one encoded column per key, in order

    @classmethod
    def from_rows(
        cls, sheet: str, columns: dict[str, str], rows: Sequence[tuple[int, Sequence[Any]]]
    ) -> RawTable:
        """From (Excel row, values in the order of ``columns``) pairs."""
        return cls(sheet, columns, [r for r, _ in rows], encode_rows([v for _, v in rows]))

    @property
    def keys(self) -> list[str]:
        return list(self.columns)

    @property
    def height(self) -> int:
        """The number of rows."""
        return len(self.numbers)

    @cached_property
    def rows(self) -> list[tuple[int, tuple[Any, ...]]]:
        """(Excel row, values in the order of :attr:`columns`) of every row."""
        if not self.data:
            return [(r, ()) for r in self.numbers]
        decoded = [decode_column(column) for column in self.data]
        return list(zip(self.numbers, zip(*decoded, strict=True), strict=True))

    @cached_property
    def raw_rows(self) -> list[RawRow]:
        letters = list(self.columns.items())
        return [
            RawRow(
                r,
                {
                    k: RawCell(None if v == "" else v, f"{col}{r}", self.sheet)
                    for (k, col), v in zip(letters, values, strict=True)
                },
            )
            for r, values in self.rows
        ]


@dataclass
class CheckContext:
    """Everything the checks need besides the values: who, which departments, which days."""

    file: str
    departments: nz.DepartmentLookup
    today: dt.date  # the year of 3月10日 when the form itself gives none
    min_year: int = 2000
    max_year: int = 2099
    is_workday: Callable[[dt.date], bool] | None = None
    _workdays: dict[dt.date, bool | None] = field(default_factory=dict)

    def workday(self, day: dt.date) -> bool | None:
        """Whether ``day`` is a working day; None when the calendar cannot say."""
        if self.is_workday is None:
            return None
        if day not in self._workdays:
            try:
                self._workdays[day] = bool(self.is_workday(day))
            except Exception:  # a year the calendar does not cover: no check rather than a guess
                self._workdays[day] = None
        return self._workdays[day]


@dataclass
class Checked:
    """Typed values and problems of one workbook."""

    fields: dict[str, Any] = field(default_factory=dict)
    rows: list[RowDict] = field(default_factory=list)
    tables: dict[str, list[RowDict]] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)


# -- one value ------------------------------------------------------------------------------------

NEEDS_YEAR = "needs_year"  # a month-day date: parse again with the year of its context
BLANK: tuple[Any, str | None, dict[str, Any]] = (None, "blank", {})  # only spaces: not filled


def _list_detail(allowed: Sequence[str]) -> str:
    if 0 < len(allowed) <= 12:
        return "（可选：" + "、".join(allowed) + "）"
    return ""


def _range_text(spec: FieldSpec) -> str:
    def show(x: float) -> str:
        if spec.type == "percent":
            return f"{x * 100:g}%"
        return f"{x:g}"

    if spec.min is not None and spec.max is not None:
        return f"{show(spec.min)}–{show(spec.max)}"
    if spec.min is not None:
        return f"不小于 {show(spec.min)}"
    return f"不大于 {show(spec.max or 0)}"


def parse_value(
    spec: FieldSpec, value: Any, ctx: CheckContext, year: int | None = None
) -> tuple[Any, str | None, dict[str, Any]]:
    """(typed value, problem code or None, message params) for one non-blank raw value.

    A value in the wrong format types as None; a readable value out of range keeps its typed
    value and carries the code. A month-day date without ``year`` gives ``NEEDS_YEAR``.
    """
    if nz.as_cell_error(value) is not None:
        return None, "E_CELL_ERROR", {}
    kind = spec.type
    try:
        if kind in ("text", "long_text"):
            return _text(spec, value)
        if kind == "date":
            try:
                day = nz.parse_date(value, default_year=year)
            except nz.ParseError:
                if year is None and isinstance(value, str):
                    return None, NEEDS_YEAR, {}
                raise
            if not ctx.min_year <= day.year <= ctx.max_year:
                return (
                    day,
                    "E_DATE_RANGE",
                    {"date": day.isoformat(), "min_year": ctx.min_year, "max_year": ctx.max_year},
                )
            return day, None, {}
        if kind in ("number", "money", "percent"):
            parse = {
                "number": nz.parse_number,
                "money": nz.parse_money,
                "percent": nz.parse_percent,
            }[kind]
            number = parse(value)
            low = spec.min is not None and number < spec.min
            high = spec.max is not None and number > spec.max
            if low or high:
                return number, "E_OUT_OF_RANGE", {"range": _range_text(spec)}
            return number, None, {}
        if kind == "enum":
            return nz.parse_choice(value, spec.allowed), None, {}
        if kind == "yes_no":
            return nz.parse_yes_no(value), None, {}
        if kind == "department":
            return nz.parse_department(value, ctx.departments), None, {}
        if kind == "departments":
            return nz.parse_departments(value, ctx.departments), None, {}
    except nz.ParseError as exc:
        params: dict[str, Any] = {}
        if exc.code == "E_NOT_IN_LIST":
            unknown = exc.params.get("unknown")
            allowed = list(exc.params.get("allowed", ()))  # type: ignore[call-overload]
            params["detail"] = f"（无法识别：{unknown}）" if unknown else _list_detail(allowed)
        return None, exc.code, params
    raise ValueError(f"unknown field type {kind}")  # the rules schema makes this unreachable


def _text(spec: FieldSpec, value: Any) -> tuple[Any, str | None, dict[str, Any]]:
    text = nz.clean_text(value, multiline=spec.type == "long_text")
    if spec.pattern:
        candidate = (
            text if re.fullmatch(spec.pattern, text) else re.sub(r"\s+", "", nz.halfwidth(text))
        )
        if not re.fullmatch(spec.pattern, candidate):
            return text, "E_PATTERN", {"detail": f"（{spec.help}）" if spec.help else ""}
        text = candidate
    if spec.max_length is not None and len(text) > spec.max_length:
        return text, "E_TOO_LONG", {"max_length": spec.max_length, "length": len(text)}
    return text, None, {}


# -- records (the form, one table row) ----------------------------------------------------------


@dataclass
class _Record:
    """The typed values of one record and where each raw value sits, while it is checked."""

    typed: dict[str, Any]
    values: Mapping[str, Any]  # key → raw value
    cell_of: Callable[[str], str]  # key → A1 cell (computed only when a problem is reported)
    sheet: str


def _explicit_year(specs: Sequence[FieldSpec], values: Mapping[str, Any]) -> int | None:
    for spec in specs:
        if spec.type == "date" and spec.key in values:
            try:
                return nz.parse_date(values[spec.key]).year
            except nz.ParseError:
                continue
    return None


class _Checker:
    def __init__(self, form: FormRules, ctx: CheckContext):
        self.form = form
        self.ctx = ctx
        self.problems: list[Problem] = []
        self.cache: dict[str, dict[Any, tuple[Any, str | None, dict[str, Any]]]] = {}

    def problem(
        self, code: str, sheet: str, cell: str, spec: FieldSpec | None, value: Any, **params: Any
    ) -> None:
        self.problems.append(self._make(code, sheet, cell, spec, value, **params))

    def _make(
        self, code: str, sheet: str, cell: str, spec: FieldSpec | None, value: Any, **params: Any
    ) -> Problem:
        return make_problem(
            code,
            file=self.ctx.file,
            sheet=sheet,
            cell=cell,
            field=spec.key if spec else "",
            label=spec.label if spec else "",
            value=value,
            **params,
        )

    def record(
        self,
        specs: Sequence[FieldSpec],
        values: Mapping[str, Any],
        cell_of: Callable[[str], str],
        sheet: str,
        year_hint: int | None,
    ) -> _Record:
        """Type and check each value of one record (blank, required, format, range)."""
        typed: dict[str, Any] = {}
        year: int | None = None
        for spec in specs:
            key = spec.key
            if key not in values:
                continue
            value = values[key]
            if value is None or (value.__class__ is str and nz.is_blank(value)):
                typed[key] = None
                if spec.required and not spec.computed:
                    self.problem("E_REQUIRED", sheet, cell_of(key), spec, "")
                continue
            cache = self.cache.setdefault(key, {})
            memo = value if value.__class__ is str else (value.__class__, value)  # True ≠ 1.0
            result = cache.get(memo)
            if result is None:
                result = cache[memo] = parse_value(spec, value, self.ctx)
            if result[1] == NEEDS_YEAR:
                if year is None:
                    year = _explicit_year(specs, values) or year_hint or self.ctx.today.year
                result = parse_value(spec, value, self.ctx, year)
            typed[key] = result[0]
            if result[1] is not None:
                self.problem(result[1], sheet, cell_of(key), spec, value, **result[2])
        return _Record(typed, values, cell_of, sheet)

    def relations(
        self,
        specs: Sequence[FieldSpec],
        rec: _Record,
        outer: _Record | None,
        *,
        workdays: bool = True,
    ) -> None:
        """Date order, working days and the form's cross-field rules within one record."""
        for spec in specs:
            day = rec.typed.get(spec.key)
            if spec.type != "date" or not isinstance(day, dt.date):
                continue
            cell = rec.cell_of(spec.key)
            raw = rec.values[spec.key]
            if spec.not_before:
                other_rec = rec if spec.not_before in rec.typed else outer
                other = other_rec.typed.get(spec.not_before) if other_rec else None
                if isinstance(other, dt.date) and day < other:
                    self.problem(
                        "E_DATE_ORDER",
                        rec.sheet,
                        cell,
                        spec,
                        raw,
                        date=day.isoformat(),
                        other_label=self.form.field(spec.not_before).label,
                        other_date=other.isoformat(),
                    )
            if workdays and spec.workday and self.ctx.workday(day) is False:
                self.problem("E_NOT_WORKDAY", rec.sheet, cell, spec, raw, date=day.isoformat())
        for rule in self.form.rules:
            if rule.when in rec.typed:
                self.cross_rule(rule, rec, outer)

    def cross_rule(self, rule: CrossRule, rec: _Record, outer: _Record | None) -> None:
        trigger = rec.typed.get(rule.when)
        if trigger is None or trigger == "" or trigger == []:
            return
        if rule.equals is not None and str(trigger) != rule.equals:
            return
        when = self.form.field(rule.when)
        reason = rule.message or f"已填写“{when.label}”"
        for key in rule.require:
            target = rec if key in rec.values else outer
            if target is None or key not in target.values:
                continue
            raw = target.values[key]
            if target.typed.get(key) is None and nz.as_cell_error(raw) is None:
                spec = self.form.field(key)
                if not spec.required:  # a required field already has its E_REQUIRED
                    cell = target.cell_of(key)
                    self.problem("E_REQUIRED_IF", target.sheet, cell, spec, "", reason=reason)

    def table(
        self, specs: Sequence[FieldSpec], table: RawTable, outer: _Record | None
    ) -> list[RowDict]:
        """Every row of a table: typed, checked, duplicates reported.

        Column by column, for tables of 100,000 rows: each distinct value of a column is parsed
        once, the typed column is made by a C-level lookup, and only the rows holding a value
        with a problem are visited again. Problems come out in row order, then column order,
        exactly as a row-by-row check would report them.
        """
        if not table.height:
            return []
        by_key = {s.key: s for s in specs}
        keys = [k for k in table.columns if k in by_key]
        position = {k: i for i, k in enumerate(table.columns)}
        data = {k: table.data[position[k]] for k in keys}
        letters = table.columns
        sheet = table.sheet
        nums = list(table.numbers)
        used = [by_key[k] for k in keys]
        year_hint = outer_year(outer)
        # (Excel row, phase, order, problem): phase 0 values, 1 working days, 2 relations, 3 dups
        found: list[tuple[int, int, int, Problem]] = []

        def report(r: int, phase: int, order: int, *args: Any, **params: Any) -> None:
            found.append((r, phase, order, self._make(args[0], sheet, *args[1:], **params)))

        def raw_at(key: str, i: int) -> Any:
            values, codes = data[key]
            return values[codes[i]]

        typed_cols: list[list[Any]] = []
        for ci, key in enumerate(keys):
            spec = by_key[key]
            values, codes = data[key]
            required = spec.required and not spec.computed
            typed_values, results = self._distinct(spec, values)
            typed_col = list(map(typed_values.__getitem__, codes))
            bad = {code for code, res in results.items() if required or res is not BLANK}
            for i, code in enumerate(codes) if bad else ():
                if code not in bad:
                    continue
                r, value, res = nums[i], values[code], results[code]
                cell = f"{letters[key]}{r}"
                if res is BLANK:
                    report(r, 0, ci, "E_REQUIRED", cell, spec, "")
                    continue
                if res[1] == NEEDS_YEAR:
                    row = {k: raw_at(k, i) for k in keys}
                    year = _explicit_year(used, row) or year_hint or self.ctx.today.year
                    res = parse_value(spec, value, self.ctx, year)
                    typed_col[i] = res[0]
                    if res[1] is None:
                        continue
                report(r, 0, ci, res[1], cell, spec, value, **res[2])
            typed_cols.append(typed_col)

        if self.ctx.is_workday is not None:
            for wi, spec in enumerate(used):
                if spec.type != "date" or not spec.workday:
                    continue
                typed_col = typed_cols[wi]
                off = {
                    d
                    for d in set(typed_col)
                    if d.__class__ is dt.date and self.ctx.workday(d) is False
                }
                for i, day in enumerate(typed_col) if off else ():
                    if day in off and day.__class__ is dt.date:
                        r = nums[i]
                        cell = f"{letters[spec.key]}{r}"
                        value = raw_at(spec.key, i)
                        report(r, 1, wi, "E_NOT_WORKDAY", cell, spec, value, date=day.isoformat())

        related = any(s.type == "date" and s.not_before for s in used) or any(
            rule.when in by_key for rule in self.form.rules
        )
        for i, r in enumerate(nums) if related else ():
            rec = _Record(
                {k: c[i] for k, c in zip(keys, typed_cols, strict=True)},
                {k: raw_at(k, i) for k in keys},
                lambda k, r=r: f"{letters[k]}{r}",
                sheet,
            )
            mark = len(self.problems)
            self.relations(used, rec, outer, workdays=False)
            found.extend((r, 2, n, problem) for n, problem in enumerate(self.problems[mark:]))
            del self.problems[mark:]

        # every column counts: two tracking rows differing only in their (computed) ID are distinct
        codes_of = [data[k][1] for k in keys]
        widest = max(keys, key=lambda k: len(data[k][0]), default=None)
        if widest is not None and len(set(data[widest][1])) == len(nums):
            signatures: list[Any] = []  # one column alone has no value twice: no duplicate rows
        else:
            signatures = list(zip(*codes_of, strict=True)) if keys else [()] * len(nums)
        if len(set(signatures)) < len(signatures):
            first_col = letters[keys[0]] if keys else "A"
            seen: dict[Any, int] = {}
            for r, signature in zip(nums, signatures, strict=True):
                if signature in seen:
                    cell = f"{first_col}{r}"
                    report(
                        r, 3, 0, "E_DUPLICATE_ROW", cell, None, "", row=r, first_row=seen[signature]
                    )
                else:
                    seen[signature] = r

        if found:
            found.sort(key=lambda item: item[:3])
            self.problems.extend(item[3] for item in found)
        names = (*keys, "_row")
        return [dict(zip(names, row, strict=True)) for row in zip(*typed_cols, nums, strict=True)]

    def _distinct(
        self, spec: FieldSpec, values: Sequence[Any]
    ) -> tuple[list[Any], dict[int, tuple[Any, str | None, dict[str, Any]]]]:
        """The typed value of each of a column's distinct values (same order), and the parse
        result of those with a problem (or blank) by their position."""
        typed = list(values)
        issues: dict[int, tuple[Any, str | None, dict[str, Any]]] = {}
        plain_text = spec.type in ("text", "long_text") and not spec.pattern
        if plain_text and nz.all_tidy(values, spec.max_length):
            # the common case, checked for all values at once: text as typed, nothing to parse
            todo = [i for i, v in enumerate(values) if v.__class__ is not str or not v]
        else:
            todo = range(len(values))
        max_length = spec.max_length
        untidy = nz.UNTIDY.search
        for i in todo:
            value = values[i]
            if value is None or value == "":
                typed[i], issues[i] = None, BLANK
                continue
            if value.__class__ is str:
                if (
                    plain_text
                    and value[0] != "#"
                    and not untidy(value)
                    and (max_length is None or len(value) <= max_length)
                ):
                    continue  # text as typed
                if nz.is_blank(value):
                    typed[i], issues[i] = None, BLANK
                    continue
            result = parse_value(spec, value, self.ctx)
            typed[i] = result[0]
            if result[1] is not None:
                issues[i] = result
        return typed, issues


def outer_year(outer: _Record | None) -> int | None:
    if outer is None:
        return None
    for value in outer.typed.values():
        if isinstance(value, dt.date):
            return value.year
    return None


# the field types whose typed value and problems come from the value alone (no date order,
# no working day, no department lookup)
_CELL_ALONE_TYPES = frozenset({"text", "long_text", "enum", "number", "money", "percent"})


def with_cells(
    form: FormRules,
    rows: Sequence[RowDict],
    problems: Sequence[Problem],
    cells: Sequence[tuple[int, str, str, Any]],
    ctx: CheckContext,
) -> tuple[list[RowDict], list[Problem]] | None:
    """The rows and problems that checking the table again would give once ``cells`` — (Excel
    row, field key, cell, value as written: text, a number or None) — were written into
    the version ``rows`` and ``problems`` describe; None when that cannot be told from those
    cells alone (then check the table).

    It can be told for fields of the main table typed from their value alone (text, choice,
    number, amount, percentage), outside every date order and cross-field rule, in rows
    already there (a number written is read back as it was: its shortest repr), when each
    value types without a problem and no row becomes another's duplicate (nor was one)."""
    specs = {s.key: s for s in form.columns}
    ruled = {k for rule in form.rules for k in (rule.when, *rule.require)}
    ruled |= {s.not_before for s in specs.values() if s.not_before}
    if any(p.code == "E_DUPLICATE_ROW" for p in problems):
        return None
    at = {r["_row"]: n for n, r in enumerate(rows)}
    out = list(rows)
    changed: dict[int, dict[str, Any]] = {}
    written: set[tuple[str, str]] = set()
    for row_no, key, cell, value in cells:
        spec = specs.get(key)
        n = at.get(row_no)
        if (
            spec is None
            or n is None
            or key not in rows[n]
            or spec.type not in _CELL_ALONE_TYPES
            or spec.not_before
            or key in ruled
            or not (value is None or value.__class__ in (str, int, float))
            or (value.__class__ is float and not math.isfinite(value))
        ):
            return None
        if value is None or (value.__class__ is str and nz.is_blank(value)):
            if spec.required and not spec.computed:
                return None  # a required blank is a problem
            typed = None
        else:
            typed, code, _params = parse_value(spec, value, ctx)
            if code is not None:
                return None
        row = changed.get(n)
        if row is None:
            row = changed[n] = out[n] = dict(rows[n])
        row[key] = typed
        written.add((key, cell))
    # a row equal to another in every column is a duplicate: only rows of the same first value
    # can be, so the changed rows are compared with those
    first = next(iter(rows[0]), None) if rows else None
    if first is not None and first != "_row":
        same: dict[Any, list[int]] = {}
        for n, r in enumerate(out):
            same.setdefault(_hashable(r.get(first)), []).append(n)
        strip = _without_row
        for n, row in changed.items():
            mine = strip(row)
            if any(m != n and strip(out[m]) == mine for m in same[_hashable(row.get(first))]):
                return None
    kept = [p for p in problems if (p.field, p.cell) not in written]
    return out, kept


def _without_row(row: RowDict) -> dict[str, Any]:
    return {k: v for k, v in row.items() if k != "_row"}


def _hashable(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


def check_workbook(
    form: FormRules,
    fields: Mapping[str, RawCell],
    table: RawTable | None,
    tables: Mapping[str, RawTable],
    ctx: CheckContext,
) -> Checked:
    """Type and check a whole workbook: form fields, the main table, the inner tables."""
    checker = _Checker(form, ctx)
    specs = [s for s in form.form_fields if s.key in fields]
    sheet = next(iter(fields.values())).sheet if fields else (table.sheet if table else "")
    values = {k: c.value for k, c in fields.items()}
    outer = checker.record(specs, values, lambda k: fields[k].cell, sheet, None)
    checker.relations(specs, outer, None)
    result = Checked(fields=dict(outer.typed))
    if table is not None:
        result.rows = checker.table(form.columns, table, outer)
    for spec in form.tables:
        if spec.key in tables:
            result.tables[spec.key] = checker.table(spec.columns, tables[spec.key], outer)
    result.problems = checker.problems
    return result
