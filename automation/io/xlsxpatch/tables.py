"""Excel tables (表格/列表) on a sheet: listing them, and growing one over rows written below it
(only the table part's ``ref`` and ``autoFilter ref`` change).
"""

from __future__ import annotations

from dataclasses import dataclass

from automation.io.xlsxpatch.errors import E_PATCH_CELL, E_PATCH_TABLE, XlsxPatchError
from automation.io.xlsxpatch.parts import REL_TABLE, Book, locate, parse_xml, relationships
from automation.io.xlsxpatch.refs import MAX_ROW, parse_range, range_ref
from automation.io.xlsxpatch.scan import Splices, iter_tags, set_attr


@dataclass(frozen=True)
class TableInfo:
    name: str
    display_name: str
    part: str
    ref: str
    totals_rows: int


def sheet_tables(src: bytes, sheet: str) -> list[TableInfo]:
    """The Excel tables (表格/列表) on ``sheet``: name, part and current ``ref``."""
    return tables_of(locate(src, sheet))


def tables_of(book: Book) -> list[TableInfo]:
    out = []
    for _, typ, part in relationships(book.pkg, book.sheet_part):
        if not typ.endswith(REL_TABLE) or not book.pkg.has(part):
            continue
        root = parse_xml(book.pkg.read(part), part)
        out.append(
            TableInfo(
                name=root.get("name", ""),
                display_name=root.get("displayName", ""),
                part=part,
                ref=root.get("ref", ""),
                totals_rows=int(root.get("totalsRowCount", "0") or 0),
            )
        )
    return out


def tables_to_grow(book: Book, written: list[tuple[int, int]]) -> list[tuple[TableInfo, int]]:
    out = []
    for info in tables_of(book):
        r1, c1, r2, c2 = parse_range(info.ref)
        below = sorted({r for r, c in written if r > r2 and c1 <= c <= c2})
        if not below or below[0] != r2 + 1:
            continue
        if info.totals_rows:
            raise XlsxPatchError(
                f"表格「{info.display_name or info.name}」有汇总行，不能在其下方追加行。",
                code=E_PATCH_TABLE,
            )
        out.append((info, below[-1]))
    return out


def grow_table(src: bytes, sheet: str, table: str, last_row: int) -> bytes:
    """``src`` with table ``table`` (name or display name) on ``sheet`` extended to ``last_row``.

    Only the table part changes (its ``ref`` and ``autoFilter ref``); a table already reaching
    ``last_row`` leaves ``src`` as it is.
    """
    book = locate(src, sheet)
    for info in tables_of(book):
        if table in (info.name, info.display_name):
            break
    else:
        raise XlsxPatchError(f"工作表「{sheet}」上没有名为「{table}」的表格。", code=E_PATCH_TABLE)
    _, _, r2, _ = parse_range(info.ref)
    if last_row <= r2:
        return src
    if last_row > MAX_ROW:
        raise XlsxPatchError(f"行号 {last_row} 超出工作表范围。", code=E_PATCH_CELL)
    if info.totals_rows:
        raise XlsxPatchError(
            f"表格「{info.display_name or info.name}」有汇总行，不能扩展。", code=E_PATCH_TABLE
        )
    new = grown_table_xml(book.pkg.read(info.part), info, last_row)
    return book.pkg.rebuild({info.part: new})


def grown_table_xml(xml: bytes, info: TableInfo, last_row: int) -> bytes:
    r1, c1, _, c2 = parse_range(info.ref)
    new_ref = range_ref(r1, c1, last_row, c2)
    splices = Splices()
    depth = 0
    for tag in iter_tags(xml):
        if tag.closing:
            depth -= 1
            continue
        wanted = (depth, tag.name) in ((0, b"table"), (1, b"autoFilter"))
        if wanted and tag.attr(b"ref") is not None:
            attrs = set_attr(tag.attrs, b"ref", new_ref)
            close = b"/>" if tag.empty else b">"
            splices.add(tag.start, tag.end, b"<%s%s%s%s" % (tag.prefix, tag.name, attrs, close))
        if not tag.empty:
            depth += 1
    return splices.apply(xml)
