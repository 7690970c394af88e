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


NUMBERS = frozenset({bool, int, float})


def encode_column(column: Sequence[Any]) -> Column:
    """A column as its distinct values (first seen first) and each row's index into them.

    Decoding gives back every value with its type: ``True``, ``1`` and ``1.0`` are equal as
    dictionary keys, so a column mixing number types is keyed by (type, value). Indexes come as
    ``bytes`` when there are fewer than 256 distinct values, else as an ``array``.
    """
    distinct = dict.fromkeys(column)
    if not NUMBERS.isdisjoint(map(type, distinct)):  # a number may hide behind an equal one
        kinds = NUMBERS.intersection(map(type, column))
        if len(kinds) > 1:
            keys = [(v.__class__, v) if v.__class__ in kinds else v for v in column]
            typed = dict.fromkeys(keys)
            values = [k[1] if k.__class__ is tuple else k for k in typed]
            return values, _codes(typed, keys)
    return list(distinct), _codes(distinct, column)


def _codes(distinct: dict[Any, None], column: Sequence[Any]) -> Sequence[int]:
    n = len(distinct)
    if n == len(column):  # every value differs (a column of task descriptions)
        return array("I", range(n))
    index = dict(zip(distinct, range(n), strict=True))
    if n < 256:
        return bytes(map(index.__getitem__, column))
    return array("H" if n < 65536 else "I", map(index.__getitem__, column))


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
    picked = map(codes.__getitem__, rows)
    return values, (array(codes.typecode, picked) if isinstance(codes, array) else bytes(picked))


def with_values(column: Column, changes: dict[int, Any]) -> Column:
    """A copy of the encoded column with the values at some row positions replaced."""
    values, codes = column
    values = list(values)
    codes = array("I", list(codes))  # not array("I", bytes): that would read the bytes as raw words
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
