"""Excel cell addresses (单元格地址): the one A1 helper of xietong.

Everything here is 1-based, as Excel shows it: column ``A`` is 1, row 1 is the first row,
``"B7"`` is ``(7, 2)`` (row, column). Code that counts from 0 (xlsxwriter, Python lists)
converts at its call site. Absolute markers (``$B$7``) are accepted and dropped.
"""

from __future__ import annotations

import re

MAX_ROW = 1_048_576
MAX_COL = 16_384  # XFD

_CELL = re.compile(r"\$?([A-Za-z]{1,3})\$?([0-9]{1,7})")
_LETTERS = re.compile(r"[A-Za-z]{1,3}")
_ANY_LETTERS = re.compile(r"[A-Za-z]+")


def column_index(letters: str, *, bounded: bool = True) -> int:
    """``"A"`` → 1, ``"z"`` → 26, ``"AA"`` → 27, ``"XFD"`` → 16384.

    Raises ``ValueError`` for anything but one to three letters; ``bounded=False`` accepts any
    number of letters (a scanner measuring how far beyond the sheet a hostile file reaches).
    """
    pattern = _LETTERS if bounded else _ANY_LETTERS
    if not isinstance(letters, str) or not pattern.fullmatch(letters):
        raise ValueError(f"not a column: {letters!r}")
    n = 0
    for ch in letters.upper():
        n = n * 26 + ord(ch) - 64
    return n


def column_letter(index: int) -> str:
    """1 → ``"A"``, 27 → ``"AA"``, 16384 → ``"XFD"``. Raises ``ValueError`` below 1."""
    if index < 1:
        raise ValueError(f"column numbers start at 1: {index}")
    letters = ""
    while index:
        index, rem = divmod(index - 1, 26)
        letters = chr(65 + rem) + letters
    return letters


def parse_cell(ref: str, *, bounded: bool = True) -> tuple[int, int]:
    """``"AB12"`` (or ``"$AB$12"``, surrounding spaces ignored) → ``(12, 28)``.

    Raises ``ValueError`` for a malformed address, and with ``bounded`` for one outside the
    sheet (row 1..1048576, column A..XFD).
    """
    m = _CELL.fullmatch(ref.strip()) if isinstance(ref, str) else None
    if not m:
        raise ValueError(f"not a cell address: {ref!r}")
    row, col = int(m.group(2)), column_index(m.group(1))
    if bounded and not (1 <= row <= MAX_ROW and 1 <= col <= MAX_COL):
        raise ValueError(f"cell address outside the sheet: {ref!r}")
    return row, col


def cell_ref(row: int, col: int) -> str:
    """``(12, 28)`` → ``"AB12"``."""
    if row < 1:
        raise ValueError(f"row numbers start at 1: {row}")
    return f"{column_letter(col)}{row}"


def parse_range(ref: str) -> tuple[int, int, int, int]:
    """``"B7:A3"`` → ``(3, 1, 7, 2)``: top, left, bottom, right; one cell is a range too."""
    first, _, last = ref.partition(":")
    r1, c1 = parse_cell(first)
    r2, c2 = parse_cell(last or first)
    return min(r1, r2), min(c1, c2), max(r1, r2), max(c1, c2)


def range_ref(r1: int, c1: int, r2: int, c2: int) -> str:
    """``(3, 1, 7, 2)`` → ``"A3:B7"``; a one-cell range is just the cell (``"A3"``)."""
    a, b = cell_ref(r1, c1), cell_ref(r2, c2)
    return a if a == b else f"{a}:{b}"
