"""Formulas in the way of an edit: refused unless the edit says so; a shared formula's master
that is overwritten hands its formula on to the next cell of its group.
"""

from __future__ import annotations

from automation.io.xlsxpatch.errors import E_PATCH_FORMULA, XlsxPatchError
from automation.io.xlsxpatch.refs import make_ref, parse_range, range_ref
from automation.io.xlsxpatch.scan import Cell, Sheet, Splices, escape, set_attr, unescape
from automation.io.xlsxpatch.values import CellEdit


def check_formulas(
    model: Sheet, plan: dict[tuple[int, int], CellEdit], splices: Splices
) -> list[str]:
    """Refuse edits onto formulas (unless allowed); hand shared formulas on. Cells cleared."""
    if not model.has_formulas():
        return []  # no cell of the sheet is scanned
    arrays: list[tuple[tuple[int, int, int, int], Cell]] = []
    shared: dict[str, list[Cell]] = {}
    for row in model.rows:
        for cell in row.cells:
            f = cell.formula
            if f is None:
                continue
            kind = f.attr(b"t")
            if kind in ("array", "dataTable") and f.attr(b"ref"):
                arrays.append((parse_range(f.attr(b"ref") or ""), cell))
            elif kind == "shared" and f.attr(b"si") is not None:
                shared.setdefault(f.attr(b"si") or "", []).append(cell)
    for (r, c), edit in plan.items():
        for (r1, c1, r2, c2), owner in arrays:
            multi = (r1, c1) != (r2, c2)
            if r1 <= r <= r2 and c1 <= c <= c2 and (multi or not edit.overwrite_formula):
                raise XlsxPatchError(
                    f"单元格 {edit.cell} 属于数组公式 {make_ref(owner.row, owner.col)} 的范围，不能写入。",
                    code=E_PATCH_FORMULA,
                )
    removed: list[str] = []
    for row in model.rows:
        for cell in row.cells:
            edit = plan.get((cell.row, cell.col))
            if edit is None or cell.formula is None:
                continue
            if not edit.overwrite_formula:
                raise XlsxPatchError(
                    f"单元格 {edit.cell} 含有公式，xietong 不会覆盖它。", code=E_PATCH_FORMULA
                )
            removed.append(make_ref(cell.row, cell.col))
            f = cell.formula
            if f.attr(b"t") == "shared" and f.attr(b"ref") and not f.empty:
                group = [g for g in shared.get(f.attr(b"si") or "", []) if g is not cell]
                _hand_on_shared(model, cell, group, plan, splices)
    return removed


def _hand_on_shared(
    model: Sheet,
    master: Cell,
    group: list[Cell],
    plan: dict[tuple[int, int], CellEdit],
    splices: Splices,
) -> None:
    """The master of a shared formula is overwritten: the next member becomes the master."""
    from openpyxl.formula.translate import Translator

    rest = [
        g for g in group if (g.row, g.col) not in plan or not plan[(g.row, g.col)].overwrite_formula
    ]
    if not rest:
        return
    heir = rest[0]
    assert master.formula is not None and heir.formula is not None
    text_start = master.formula.end
    text_end = model.xml.rindex(b"<", text_start, master.formula_end)
    formula = unescape(model.xml[text_start:text_end].decode("utf-8"))
    moved = Translator("=" + formula, origin=make_ref(master.row, master.col)).translate_formula(
        make_ref(heir.row, heir.col)
    )[1:]
    r1 = min(g.row for g in rest)
    c1 = min(g.col for g in rest)
    r2 = max(g.row for g in rest)
    c2 = max(g.col for g in rest)
    f = heir.formula
    attrs = set_attr(f.attrs, b"ref", range_ref(r1, c1, r2, c2))
    p = f.prefix
    new = b"<%sf%s>%s</%sf>" % (p, attrs, escape(moved).encode("utf-8"), p)
    splices.add(f.start, heir.formula_end, new)
