"""Cell references as the patcher needs them: the A1 helper of :mod:`automation.core.cells`,
with a bad reference reported as an ``E_PATCH_CELL`` :class:`XlsxPatchError`.
"""

from __future__ import annotations

from automation.core import cells
from automation.core.cells import MAX_COL, MAX_ROW, range_ref
from automation.io.xlsxpatch.errors import E_PATCH_CELL, XlsxPatchError

__all__ = ["MAX_COL", "MAX_ROW", "make_ref", "parse_range", "parse_ref", "range_ref"]


_PARSED: dict[str, tuple[int, int]] = {}  # the references seen (a long sheet repeats them)
_PARSED_MAX = 1 << 18


def parse_ref(ref: str) -> tuple[int, int]:
    """``"AB12"`` → ``(12, 28)`` (row, column), 1-based."""
    held = _PARSED.get(ref)
    if held is not None:
        return held
    try:
        row, col = cells.parse_cell(ref, bounded=False)
    except ValueError:
        raise XlsxPatchError(f"单元格地址无效：{ref!r}", code=E_PATCH_CELL) from None
    if not (1 <= row <= MAX_ROW and 1 <= col <= MAX_COL):
        raise XlsxPatchError(f"单元格地址超出工作表范围：{ref}", code=E_PATCH_CELL)
    if isinstance(ref, str):
        if len(_PARSED) >= _PARSED_MAX:
            _PARSED.clear()
        _PARSED[ref] = (row, col)
    return row, col


def make_ref(row: int, col: int) -> str:
    """``(12, 28)`` → ``"AB12"``."""
    return cells.cell_ref(row, col)


def parse_range(ref: str) -> tuple[int, int, int, int]:
    """``"B7:A3"`` → ``(3, 1, 7, 2)``: top, left, bottom, right."""
    first, _, last = ref.partition(":")
    r1, c1 = parse_ref(first)
    r2, c2 = parse_ref(last or first)
    return min(r1, r2), min(c1, c2), max(r1, r2), max(c1, c2)
