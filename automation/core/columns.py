"""Table columns encoded as (distinct values, the index of each row's value).

Execution tables repeat their dates, names and statuses on thousands of rows. Encoded this way a
column crosses the process boundary as its distinct values plus a compact integer array (many
times faster to pickle and unpickle than the rows), and the checks parse each distinct value
once. Standard library only: the reader's worker process imports this module too.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable, Sequence
from typing import Any

Column = tuple[list[Any], Sequence[int]]  # (distinct values, index into them for every row)


def encode_column(column: Sequence[Any]) -> Column:
    """A column as its distinct values (first seen first) and each row's index into them.

    Values are told apart as Python compares them, except that booleans stay apart from the
    numbers 1 and 0 (``True == 1 == 1.0`` as dictionary keys).
    """
    kinds = set(map(type, column))
    if bool in kinds and (int in kinds or float in kinds):
        keys: Sequence[Any] = [v if v.__class__ is str else (v.__class__, v) for v in column]
        index = {k: i for i, k in enumerate(dict.fromkeys(keys))}
        values = [k[1] if k.__class__ is tuple else k for k in index]
    else:
        keys = column
        index = {k: i for i, k in enumerate(dict.fromkeys(column))}
        values = list(index)
    code = "B" if len(values) < 256 else "H" if len(values) < 65536 else "I"
    return values, array(code, map(index.__getitem__, keys))


def encode_rows(rows: Sequence[Sequence[Any]]) -> list[Column]:
    """Rows (lists of cell values) as encoded columns; short rows are padded with ""."""
    if not rows:
        return []
    width = max(map(len, rows))
    if any(len(row) != width for row in rows):  # calamine gives a rectangle; be sure anyway
        rows = [[*row, *[""] * (width - len(row))] for row in rows]
    return [encode_column(column) for column in zip(*rows, strict=True)]


def decode_column(column: Column) -> list[Any]:
    """Every row's value of an encoded column."""
    values, codes = column
    return list(map(values.__getitem__, codes))


def take(column: Column, rows: Iterable[int]) -> Column:
    """The encoded column of only the given row positions, in the order given."""
    values, codes = column
    picked = list(map(codes.__getitem__, rows))
    code = codes.typecode if isinstance(codes, array) else "I"
    return values, array(code, picked)


def with_values(column: Column, changes: dict[int, Any]) -> Column:
    """A copy of the encoded column with the values at some row positions replaced."""
    values, codes = column
    values = list(values)
    codes = array("I", codes)
    index: dict[tuple[type, Any], int] = {}
    for i, v in enumerate(values):
        index.setdefault((v.__class__, v), i)
    for row, value in changes.items():
        key = (value.__class__, value)
        if key not in index:
            index[key] = len(values)
            values.append(value)
        codes[row] = index[key]
    return values, codes
