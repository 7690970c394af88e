"""The one A1 helper (automation.core.cells): 1-based, round trips, sheet bounds."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from automation.core.cells import (
    MAX_COL,
    MAX_ROW,
    cell_ref,
    column_index,
    column_letter,
    parse_cell,
    parse_range,
    range_ref,
)

rows = st.integers(1, MAX_ROW)
cols = st.integers(1, MAX_COL)


@pytest.mark.parametrize(
    ("letters", "index"),
    [("A", 1), ("Z", 26), ("AA", 27), ("AZ", 52), ("BA", 53), ("ZZ", 702), ("AAA", 703)],
)
def test_columns_count_from_one(letters: str, index: int) -> None:
    assert column_index(letters) == index
    assert column_letter(index) == letters
    assert column_index(letters.lower()) == index


def test_the_last_cell_of_a_sheet() -> None:
    assert column_letter(MAX_COL) == "XFD" and column_index("XFD") == MAX_COL
    assert parse_cell("XFD1048576") == (MAX_ROW, MAX_COL)
    assert parse_cell("$B$7") == (7, 2) and parse_cell(" b7 ") == (7, 2)


@given(cols)
def test_column_letters_round_trip(col: int) -> None:
    assert column_index(column_letter(col)) == col


@given(st.from_regex(r"[A-Z]{1,3}", fullmatch=True))
def test_letters_round_trip(letters: str) -> None:
    assert column_letter(column_index(letters)) == letters


@given(rows, cols)
def test_cell_addresses_round_trip(row: int, col: int) -> None:
    ref = cell_ref(row, col)
    assert parse_cell(ref) == (row, col)
    assert parse_cell(ref.lower()) == (row, col)


@given(rows, cols, rows, cols)
def test_ranges_round_trip_in_any_corner_order(r1: int, c1: int, r2: int, c2: int) -> None:
    top, left, bottom, right = min(r1, r2), min(c1, c2), max(r1, r2), max(c1, c2)
    ref = f"{cell_ref(r1, c1)}:{cell_ref(r2, c2)}"
    assert parse_range(ref) == (top, left, bottom, right)
    assert parse_range(range_ref(top, left, bottom, right)) == (top, left, bottom, right)


def test_a_one_cell_range_is_the_cell() -> None:
    assert range_ref(3, 1, 3, 1) == "A3" and parse_range("A3") == (3, 1, 3, 1)
    assert range_ref(3, 1, 7, 2) == "A3:B7"


@pytest.mark.parametrize(
    "bad", ["", "A", "7", "A0", "AAAA1", "XFE1", "A1048577", "1A", "A-1", "A1:B2", "甲1"]
)
def test_bad_addresses_are_refused(bad: str) -> None:
    with pytest.raises(ValueError):
        parse_cell(bad)


def test_bad_column_numbers_are_refused() -> None:
    for bad in (0, -1):
        with pytest.raises(ValueError):
            column_letter(bad)
    with pytest.raises(ValueError):
        column_index("ABCD")
    assert column_index("ABCD", bounded=False) == 19010  # a scanner measuring a hostile file


def test_every_old_copy_agrees_with_the_one_helper() -> None:
    # the callers that count from 0 (xlsxwriter, grids) convert at the call site
    from automation.io.safety import column_number
    from automation.io.xlsxpatch import make_ref, parse_ref

    assert parse_ref("AB12") == (12, 28) and make_ref(12, 28) == "AB12"
    assert column_number("XFD") == MAX_COL and column_number("AAAA") == 18279
