"""patch_workbook: the edits of one sheet spliced in as cells and rows; nothing else touched."""

from __future__ import annotations

import bisect
import re
from collections.abc import Sequence

from automation.io.xlsxpatch.errors import E_PATCH_CELL, XlsxPatchError
from automation.io.xlsxpatch.formulas import check_formulas
from automation.io.xlsxpatch.parts import Book, calc_chain_without, locate, shared_strings
from automation.io.xlsxpatch.refs import (
    MAX_COL,
    MAX_ROW,
    make_ref,
    parse_range,
    parse_ref,
    range_ref,
)
from automation.io.xlsxpatch.scan import Cell, Row, Sheet, Splices, scan_sheet, set_attr
from automation.io.xlsxpatch.tables import grown_table_xml, tables_to_grow
from automation.io.xlsxpatch.values import (
    CellEdit,
    cell_value,
    equal_value,
    value_xml,
)


def patch_workbook(
    src: bytes, sheet: str, edits: Sequence[CellEdit], *, grow_tables: bool = True
) -> bytes:
    """The workbook ``src`` with ``edits`` written into sheet ``sheet``; all else byte-identical.

    Raises :class:`XlsxPatchError` (codes ``E_PATCH_*``) for a missing sheet, a bad cell
    reference or value, a formula in the way, or a package this module cannot patch safely.
    """
    book = locate(src, sheet)
    if not edits:
        return src
    sheet_xml = book.pkg.read(book.sheet_part)
    model = scan_sheet(sheet_xml)
    plan = _plan(edits)
    _refuse_merged(model, plan)
    splices = Splices()
    removed_formulas = check_formulas(model, plan, splices)
    plan = _drop_unchanged(book, model, plan)
    written = _apply_edits(model, plan, book.date1904, splices)
    _update_dimension(model, written, splices)
    replacements = {}
    if splices.items:
        replacements[book.sheet_part] = splices.apply(sheet_xml)
    if removed_formulas:
        chain = calc_chain_without(book, removed_formulas)
        if chain is not None:
            replacements.update(chain)
    if grow_tables:
        for info, last_row in tables_to_grow(book, written):
            replacements[info.part] = grown_table_xml(book.pkg.read(info.part), info, last_row)
    if not replacements:
        return src  # every value was already there: not a byte changes
    return book.pkg.rebuild(replacements)


def _drop_unchanged(
    book: Book, model: Sheet, plan: dict[tuple[int, int], CellEdit]
) -> dict[tuple[int, int], CellEdit]:
    """The edits whose value differs from what the cell holds (so a rerun changes nothing)."""
    shared: list[str] | None = None
    kept = {}
    for key, edit in plan.items():
        cell = model.cell(*key)
        if cell is None:
            if edit.value is not None:
                kept[key] = edit
            continue
        if cell.formula is not None:
            kept[key] = edit
            continue
        kind = cell.tag.attr(b"t") or "n"
        if kind == "s" and shared is None:
            shared = shared_strings(book)
        current = cell_value(model.xml, cell, kind, shared or [])
        if not equal_value(current, edit.value, book.date1904):
            kept[key] = edit
    return kept


def _plan(edits: Sequence[CellEdit]) -> dict[tuple[int, int], CellEdit]:
    plan: dict[tuple[int, int], CellEdit] = {}
    for edit in edits:
        if not isinstance(edit, CellEdit):
            raise XlsxPatchError(f"无效的编辑：{edit!r}", code=E_PATCH_CELL)
        key = parse_ref(edit.cell)
        if edit.style_from is not None:
            parse_ref(edit.style_from)
        if key in plan:
            raise XlsxPatchError(f"同一单元格 {edit.cell} 被编辑了两次。", code=E_PATCH_CELL)
        plan[key] = edit
    return plan


_MERGE = re.compile(rb"<(?:[A-Za-z_][\w.\-]*:)?mergeCell\s[^>]*?\bref\s*=\s*[\"']([^\"']+)[\"']")


def _refuse_merged(model: Sheet, plan: dict[tuple[int, int], CellEdit]) -> None:
    """A cell hidden inside a merged range (not its top-left cell) would never show."""
    for m in _MERGE.finditer(model.xml, model.data_close):
        r1, c1, r2, c2 = parse_range(m.group(1).decode("ascii", "replace"))
        for (r, c), edit in plan.items():
            if r1 <= r <= r2 and c1 <= c <= c2 and (r, c) != (r1, c1) and edit.value is not None:
                raise XlsxPatchError(
                    f"单元格 {edit.cell} 位于合并单元格 {m.group(1).decode()} 内部，写入后不会显示。",
                    code=E_PATCH_CELL,
                )


def _style_for(model: Sheet, row: Row | None, col: int, edit: CellEdit) -> str | None:
    if edit.style_from is not None:
        source = model.cell(*parse_ref(edit.style_from))
        if source is not None and source.tag.attr(b"s") is not None:
            return source.tag.attr(b"s")
    custom = row is not None and (row.tag.attr(b"customFormat") or "0").lower() in ("1", "true")
    if row is not None and custom and row.tag.attr(b"s") is not None:
        return row.tag.attr(b"s")
    for lo, hi, style in model.col_styles:
        if lo <= col <= hi:
            return style
    return None


def _cell_xml(
    model: Sheet,
    cell: Cell | None,
    row: Row | None,
    row_no: int,
    col: int,
    edit: CellEdit,
    date1904: bool,
) -> bytes:
    p = cell.tag.prefix if cell is not None else model.prefix
    ref = make_ref(row_no, col)
    t, children = value_xml(edit.value, ref, date1904, p)
    if cell is not None:
        attrs = cell.tag.attrs
        for key in (b"t", b"cm", b"vm"):
            attrs = set_attr(attrs, key, None)
        for name, start, end in cell.children:
            if name == b"extLst":
                children += model.xml[start:end]
    else:
        attrs = b' r="%s"' % ref.encode()
    if (cell is None or cell.tag.attr(b"s") is None) and (
        style := _style_for(model, row, col, edit)
    ) is not None:
        attrs = set_attr(attrs, b"s", style)
    if t is not None:
        attrs = set_attr(attrs, b"t", t)
    if not children:
        return b"<%sc%s/>" % (p, attrs)
    return b"<%sc%s>%s</%sc>" % (p, attrs, children, p)


def _apply_edits(
    model: Sheet, plan: dict[tuple[int, int], CellEdit], date1904: bool, splices: Splices
) -> list[tuple[int, int]]:
    """Splice every edit into the sheet; the cells that now hold a value."""
    by_row: dict[int, dict[int, CellEdit]] = {}
    for (r, c), edit in plan.items():
        by_row.setdefault(r, {})[c] = edit
    rows = {row.number: row for row in model.rows}
    written = [(r, c) for (r, c), e in plan.items() if e.value is not None]
    new_rows: list[tuple[int, bytes]] = []
    for r in sorted(by_row):
        row = rows.get(r)
        edits = by_row[r]
        if row is None:
            cells = [
                _cell_xml(model, None, None, r, c, edits[c], date1904)
                for c in sorted(edits)
                if edits[c].value is not None
            ]
            if cells:
                p = model.prefix
                new_rows.append((r, b'<%srow r="%d">%s</%srow>' % (p, r, b"".join(cells), p)))
            continue
        _patch_row(model, row, edits, date1904, splices)
    _insert_rows(model, new_rows, splices)
    return written


def _patch_row(
    model: Sheet, row: Row, edits: dict[int, CellEdit], date1904: bool, splices: Splices
) -> None:
    existing = {cell.col: cell for cell in row.cells}
    added: list[int] = []
    for c in sorted(edits):
        edit = edits[c]
        cell = existing.get(c)
        if cell is not None:
            splices.add(
                cell.start, cell.end, _cell_xml(model, cell, row, row.number, c, edit, date1904)
            )
            continue
        if edit.value is None:
            continue
        xml = _cell_xml(model, None, row, row.number, c, edit, date1904)
        after = next((x for x in row.cells if x.col > c), None)
        splices.add(
            after.start if after else row.close_start,
            after.start if after else row.close_start,
            xml,
        )
        added.append(c)
    if not added:
        return
    attrs = row.tag.attrs
    spans = row.tag.attr(b"spans")
    if spans:
        bounds = [int(x) for x in re.findall(r"\d+", spans)]
        lo, hi = min(bounds + added), max(bounds + added)
        if (lo, hi) != (min(bounds), max(bounds)):
            attrs = set_attr(attrs, b"spans", f"{lo}:{hi}")
    if row.tag.empty:
        p = row.tag.prefix
        splices.add(row.tag.start, row.tag.end, b"<%srow%s>" % (p, attrs))
        splices.add(row.tag.end, row.tag.end, b"</%srow>" % p)
    elif attrs != row.tag.attrs:
        splices.add(row.tag.start, row.tag.end, b"<%srow%s>" % (row.tag.prefix, attrs))


def _insert_rows(model: Sheet, new_rows: list[tuple[int, bytes]], splices: Splices) -> None:
    if not new_rows:
        return
    tag = model.data_tag
    if tag.empty:
        p = tag.prefix
        body = b"".join(xml for _, xml in new_rows)
        splices.add(
            tag.start, tag.end, b"<%ssheetData%s>%s</%ssheetData>" % (p, tag.attrs, body, p)
        )
        return
    numbers = [row.number for row in model.rows]
    for number, xml in new_rows:
        i = bisect.bisect_right(numbers, number)
        pos = model.rows[i].tag.start if i < len(model.rows) else model.data_close
        splices.add(pos, pos, xml)


def _update_dimension(model: Sheet, written: list[tuple[int, int]], splices: Splices) -> None:
    dim = model.dimension
    if dim is None or not written:
        return
    old = dim.attr(b"ref")
    try:
        r1, c1, r2, c2 = parse_range(old) if old else (MAX_ROW, MAX_COL, 1, 1)
    except XlsxPatchError:
        return
    nr1 = min([r1] + [r for r, _ in written])
    nc1 = min([c1] + [c for _, c in written])
    nr2 = max([r2] + [r for r, _ in written])
    nc2 = max([c2] + [c for _, c in written])
    if (nr1, nc1, nr2, nc2) != (r1, c1, r2, c2):
        attrs = set_attr(dim.attrs, b"ref", range_ref(nr1, nc1, nr2, nc2))
        close = b"/>" if dim.empty else b">"
        splices.add(dim.start, dim.end, b"<%sdimension%s%s" % (dim.prefix, attrs, close))
