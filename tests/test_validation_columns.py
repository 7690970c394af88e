"""The column-by-column table checks give exactly what a plain row-by-row check gives.

Tables travel from the reader's worker as encoded columns (distinct values + an index per row)
and are checked column by column, each distinct value parsed once. A naive reference below checks
the same rows cell by cell; both must agree on every typed value and every problem, in order.
Also: the encoding itself, and the safety scan deciding while the worker already parses.
"""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from automation.core import normalize as nz
from automation.core.cells import column_letter
from automation.core.columns import decode_column, encode_column, encode_rows, take, with_values
from automation.core.problems import make_problem
from automation.core.validation import (
    NEEDS_YEAR,
    CheckContext,
    RawTable,
    _Checker,
    _explicit_year,
    parse_value,
)
from automation.io.reader import read_workbook, reader_pool
from automation.io.validation import _lookup

sys.path.insert(0, str(Path(__file__).parent / "fixtures" / "validation"))
import hostile  # noqa: E402

TODAY = dt.date(2026, 3, 1)
SATURDAY = dt.date(2026, 3, 7)
MONDAY = dt.date(2026, 3, 9)

CELL_VALUES = [
    None,
    "",
    "   ",
    "\u3000",
    "张三",
    " 张三 ",
    "李  四",
    "进行中",
    "已完成",
    "不知道",
    "60%",
    "６０％",
    "abc",
    "#N/A",
    nz.CellError("#REF!"),
    0.5,
    1.0,
    60.0,
    1.5,
    -1.0,
    MONDAY,
    SATURDAY,
    dt.datetime(2026, 3, 10, 0, 0),
    "2026-03-14",
    "2026/3/9",
    "3月10日",
    "3/11",
    "19990101",
    "x" * 600,
    "多行\n文字",
]


def _ctx(rules, workdays: bool = True) -> CheckContext:
    return CheckContext(
        file="t.xlsx",
        departments=_lookup(rules),
        today=TODAY,
        is_workday=(lambda d: d.weekday() < 5) if workdays else None,
    )


def _reference(form, keys, letters, rows, ctx) -> tuple[list[dict[str, Any]], list[Any]]:
    """Row by row, cell by cell, no memo: what the checks mean."""
    specs = {s.key: s for s in form.columns}
    used = [specs[k] for k in keys]
    problems = []

    def problem(code, cell, spec, value, **params):
        problems.append(
            make_problem(
                code,
                file=ctx.file,
                sheet="S",
                cell=cell,
                field=spec.key if spec else "",
                label=spec.label if spec else "",
                value=value,
                **params,
            )
        )

    seen: dict[Any, int] = {}
    out = []
    for r, raw in rows:
        values = dict(zip(keys, raw, strict=True))
        typed: dict[str, Any] = {}
        for key, value in values.items():
            spec, cell = specs[key], f"{letters[key]}{r}"
            if nz.is_blank(value):
                typed[key] = None
                if spec.required and not spec.computed:
                    problem("E_REQUIRED", cell, spec, "")
                continue
            result = parse_value(spec, value, ctx)
            if result[1] == NEEDS_YEAR:
                year = _explicit_year(used, values) or ctx.today.year
                result = parse_value(spec, value, ctx, year)
            typed[key] = result[0]
            if result[1] is not None:
                problem(result[1], cell, spec, value, **result[2])
        for spec in used:
            day = typed.get(spec.key)
            if spec.workday and day.__class__ is dt.date and ctx.workday(day) is False:
                cell = f"{letters[spec.key]}{r}"
                problem("E_NOT_WORKDAY", cell, spec, values[spec.key], date=day.isoformat())
        if raw in seen:
            problem(
                "E_DUPLICATE_ROW", f"{letters[keys[0]]}{r}", None, "", row=r, first_row=seen[raw]
            )
        else:
            seen[raw] = r
        typed["_row"] = r
        out.append(typed)
    return out, problems


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_column_checks_match_a_row_by_row_check(rules, data):
    form = rules.form("execution")
    keys = [c.key for c in form.columns]
    letters = {k: column_letter(i) for i, k in enumerate(keys, 1)}
    # each column draws from a few values, so values repeat as in real tables
    pools = [
        data.draw(st.lists(st.sampled_from(CELL_VALUES), min_size=1, max_size=4)) for _ in keys
    ]
    height = data.draw(st.integers(1, 25))
    rows = [
        (r, tuple(data.draw(st.sampled_from(pool)) for pool in pools)) for r in range(5, 5 + height)
    ]
    ctx = _ctx(rules, workdays=data.draw(st.booleans()))
    expected_rows, expected = _reference(form, keys, letters, rows, ctx)

    checker = _Checker(form, ctx)
    got_rows = checker.table(form.columns, RawTable.from_rows("S", letters, rows), None)
    assert got_rows == expected_rows
    assert checker.problems == expected


def test_a_big_column_of_distinct_texts_and_a_bad_one(rules):
    form = rules.form("execution")
    keys = [c.key for c in form.columns]
    letters = {k: column_letter(i) for i, k in enumerate(keys, 1)}
    base = [MONDAY, "t", "张三", None, 0.5, "进行中", None, None, "张三"]
    rows = []
    for n in range(3000):
        values = list(base)
        values[1] = f"任务 {n}" if n != 1234 else " 任务  带空格 "  # tidied, not a problem
        values[8] = "#N/A" if n == 2999 else "张三"
        rows.append((10 + n, tuple(values)))
    rows.append((4000, rows[0][1]))  # a duplicate of the first row
    ctx = _ctx(rules)
    checker = _Checker(form, ctx)
    got = checker.table(form.columns, RawTable.from_rows("S", letters, rows), None)
    assert got[1234]["task"] == "任务 带空格"
    assert [(p.code, p.cell) for p in checker.problems] == [
        ("E_CELL_ERROR", "I3009"),
        ("E_DUPLICATE_ROW", "A4000"),
    ]
    assert _reference(form, keys, letters, rows, ctx)[1] == checker.problems


mixed = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-2, 2),
    st.sampled_from([0.0, 1.0, -0.0, 2.5]),
    st.text(max_size=3),
    st.dates(dt.date(2026, 1, 1), dt.date(2026, 1, 5)),
    st.datetimes(dt.datetime(2026, 1, 1), dt.datetime(2026, 1, 2)),
)


@given(st.lists(mixed, max_size=300))
def test_encoding_keeps_every_value_and_its_type(column):
    values, codes = encode_column(column)
    decoded = decode_column((values, codes))
    assert [(type(v), v) for v in decoded] == [(type(v), v) for v in column]
    assert len(values) == len({(type(v), v) for v in column})


@given(st.lists(st.lists(mixed, min_size=1, max_size=4), min_size=1, max_size=40), st.data())
def test_slicing_and_replacing_encoded_columns(rows, data):
    columns = encode_rows(rows)
    width = max(map(len, rows))
    padded = [[*row, *[""] * (width - len(row))] for row in rows]
    keep = data.draw(st.lists(st.integers(0, len(rows) - 1), max_size=10))
    for j, column in enumerate(columns):
        assert decode_column(take(column, keep)) == [padded[i][j] for i in keep]
        changes = data.draw(st.dictionaries(st.integers(0, len(rows) - 1), mixed, max_size=3))
        changed = decode_column(with_values(column, changes))
        want = [changes.get(i, padded[i][j]) for i in range(len(rows))]
        assert [(type(v), v) for v in changed] == [(type(v), v) for v in want]


def test_booleans_and_numbers_stay_apart():
    values, codes = encode_column([1.0, True, 1, False, 0.0, 1.0])
    decoded = decode_column((values, codes))
    assert [type(v) for v in decoded] == [float, bool, int, bool, float, float]


@pytest.mark.parametrize(
    ("make", "code"),
    [
        (hostile.far_cell, "E_TOO_LARGE"),  # calamine itself aborts on these two
        (hostile.huge_shared_strings, "E_TOO_LARGE"),
        (hostile.billion_laughs, "E_UNSAFE_XML"),
        (hostile.external_entity, "E_UNSAFE_XML"),
    ],
)
def test_the_scan_decides_while_the_worker_parses(tmp_path, rules, make, code):
    """The worker starts on the file before the part scan ends; the scan's code is reported,
    whatever the worker did meanwhile, and the next file is read normally."""
    with pytest.raises(Exception) as exc:
        read_workbook(make(tmp_path), rules)
    assert getattr(exc.value, "code", None) == code
    good = hostile.base_workbook(tmp_path / "ok.xlsx")
    book = reader_pool(rules.validation).read(good, {}, 30)
    assert [decode_column(c)[0] for c in book["sheets"]["Sheet1"]["columns"]] == ["hello"]
