"""Byte-level XML scanning of a sheet part, and splicing bytes back in (the sheet model).

The sheet XML is never parsed into a tree and re-serialised: :func:`iter_tags` finds the tags,
:func:`scan_sheet` records where every row starts and ends (found by the row tags alone when
the sheet data holds no comment, CDATA or processing instruction, else by scanning every tag)
and where each cell of a row starts and ends, the first time that row's cells are asked for (a
patch of a few rows of a 2,000-row table scans those rows only); :class:`Splices` replaces
exactly those byte ranges, so every other byte stays as it was.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from automation.io.xlsxpatch.errors import E_PATCH_FORMAT, E_PATCH_UNSUPPORTED, XlsxPatchError
from automation.io.xlsxpatch.refs import parse_ref

_TOKEN = re.compile(
    rb"<!\[CDATA\[.*?\]\]>|<!--.*?-->|<\?.*?\?>|<!DOCTYPE|<(/?)([A-Za-z_][\w.\-]*:)?"
    rb"([A-Za-z_][\w.\-]*)((?:\s+[^\s=/>]+\s*=\s*(?:\"[^\"]*\"|'[^']*'))*)\s*(/?)>",
    re.S,
)


_ATTR = re.compile(rb"([^\s=]+)\s*=\s*(\"[^\"]*\"|'[^']*')")
_R_ATTR = re.compile(rb"\s+r\s*=\s*(\"[^\"]*\"|'[^']*')")  # r as the first attribute


@dataclass(slots=True)
class Tag:
    start: int
    end: int
    closing: bool
    prefix: bytes
    name: bytes
    attrs: bytes
    empty: bool

    def attr(self, key: bytes) -> str | None:
        if key == b"r":  # a cell's or row's reference, mostly its first attribute
            m = _R_ATTR.match(self.attrs)
            if m is not None and b"&" not in m[1]:
                return m[1][1:-1].decode("utf-8")
        return self._attr(key)

    def _attr(self, key: bytes) -> str | None:
        for k, v in _ATTR.findall(self.attrs):
            if k == key:
                return unescape(v[1:-1].decode("utf-8"))
        return None


def iter_tags(xml: bytes, start: int = 0, end: int | None = None):
    for m in _TOKEN.finditer(xml, start, len(xml) if end is None else end):
        if m.group(3) is None:
            if m.group(0) == b"<!DOCTYPE":
                raise XlsxPatchError("工作表 XML 含 DOCTYPE，拒绝处理。", code=E_PATCH_UNSUPPORTED)
            continue
        yield Tag(
            m.start(),
            m.end(),
            bool(m.group(1)),
            m.group(2) or b"",
            m.group(3),
            m.group(4),
            bool(m.group(5)),
        )


def unescape(s: str) -> str:
    if "&" not in s:
        return s

    def one(m: re.Match[str]) -> str:
        ent = m.group(1)
        if ent.startswith("#x"):
            return chr(int(ent[2:], 16))
        if ent.startswith("#"):
            return chr(int(ent[1:]))
        return {"lt": "<", "gt": ">", "amp": "&", "quot": '"', "apos": "'"}.get(ent, m.group(0))

    return re.sub(r"&(#x[0-9A-Fa-f]+|#[0-9]+|[A-Za-z]+);", one, s)


def escape(s: str, attr: bool = False) -> str:
    s = s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return s.replace('"', "&quot;") if attr else s


def set_attr(attrs: bytes, key: bytes, value: str | None) -> bytes:
    """The attribute string with ``key`` set (appended if new) or removed (``None``)."""
    pattern = re.compile(rb"(\s+)" + re.escape(key) + rb"\s*=\s*(\"[^\"]*\"|'[^']*')")
    if value is None:
        return pattern.sub(b"", attrs, count=1)
    new = key + b'="' + escape(value, attr=True).encode("utf-8") + b'"'
    if pattern.search(attrs):
        return pattern.sub(lambda m: m.group(1) + new, attrs, count=1)
    return attrs + b" " + new


@dataclass
class Cell:
    row: int
    col: int
    tag: Tag  # the <c> open tag
    end: int  # end of the whole element
    children: list[tuple[bytes, int, int]] = field(default_factory=list)  # (name, start, end)
    formula: Tag | None = None  # the <f> open tag, if any
    formula_end: int = 0

    @property
    def start(self) -> int:
        return self.tag.start


@dataclass
class Row:
    """One ``<row>``; its cells are scanned the first time they are asked for (a patch of a few
    rows of a long sheet looks at the cells of those rows only)."""

    number: int
    tag: Tag
    end: int  # end of the whole element (== tag.end when self-closing)
    close_start: int  # start of </row> (== tag.end when self-closing)
    xml: bytes = field(default=b"", repr=False)
    _cells: list[Cell] | None = field(default=None, repr=False)

    _at: dict[tuple[int, int], Cell] | None = field(default=None, repr=False)

    @property
    def cells(self) -> list[Cell]:
        if self._cells is None:
            self._cells = [] if self.tag.empty else _row_cells(self.xml, self)
        return self._cells

    def cell_at(self, row: int, col: int) -> Cell | None:
        """The row's cell at (row, col) by its own reference (the last one when repeated)."""
        if self._at is None:
            self._at = {(c.row, c.col): c for c in self.cells}
        return self._at.get((row, col))


@dataclass
class Sheet:
    xml: bytes
    prefix: bytes  # namespace prefix of sheetData (b"" or b"x:")
    rows: list[Row]
    data_tag: Tag  # <sheetData>
    data_close: int  # start of </sheetData> (== data_tag.end when self-closing)
    dimension: Tag | None
    col_styles: list[tuple[int, int, str]]  # (min, max, style)

    _by_number: dict[int, list[Row]] | None = None

    def cell(self, row: int, col: int) -> Cell | None:
        if self._by_number is None:
            self._by_number = {}
            for r in self.rows:
                self._by_number.setdefault(r.number, []).append(r)
        found = None
        for r in self._by_number.get(row, ()):
            found = r.cell_at(row, col) or found  # the last one, as a reader would keep
        return found

    def has_formulas(self) -> bool:
        """Whether any cell may hold a formula (an ``<f>`` tag inside sheetData)."""
        return _FORMULA.search(self.xml, self.data_tag.end, self.data_close) is not None


_FORMULA = re.compile(rb"<(?:[A-Za-z_][\w.\-]*:)?f[\s/>]")
_ROW = re.compile(rb"<(/?)(?:[A-Za-z_][\w.\-]*:)?row[\s/>]")


def scan_sheet(xml: bytes) -> Sheet:
    """Where the sheet's rows start and end (cells: :attr:`Row.cells`, on demand)."""
    if not xml.lstrip(b"\xef\xbb\xbf").startswith(b"<"):
        raise XlsxPatchError("工作表 XML 不是 UTF-8 编码，暂不支持。", code=E_PATCH_UNSUPPORTED)
    depth = 0
    dimension: Tag | None = None
    col_styles: list[tuple[int, int, str]] = []
    for tag in iter_tags(xml):
        if tag.closing:
            depth -= 1
            continue
        if depth == 1 and tag.name == b"dimension":
            dimension = tag
        elif depth == 2 and tag.name == b"col":
            style = tag.attr(b"style")
            lo, hi = tag.attr(b"min"), tag.attr(b"max")
            if style and lo and hi:
                col_styles.append((int(lo), int(hi), style))
        elif depth == 1 and tag.name == b"sheetData":
            if tag.empty:
                return Sheet(xml, tag.prefix, [], tag, tag.end, dimension, col_styles)
            rows, close = _quick_rows(xml, tag) or _rows(xml, tag)
            return Sheet(xml, tag.prefix, rows, tag, close, dimension, col_styles)
        if not tag.empty:
            depth += 1
    raise XlsxPatchError("工作表 XML 中找不到 sheetData，文件可能已损坏。", code=E_PATCH_FORMAT)


def _new_row(xml: bytes, tag: Tag) -> Row:
    number = tag.attr(b"r")
    if number is None:
        raise XlsxPatchError(
            "工作表的行没有行号（r 属性），暂不支持修补。", code=E_PATCH_UNSUPPORTED
        )
    return Row(int(number), tag, tag.end, tag.end, xml)


def _quick_rows(xml: bytes, data: Tag) -> tuple[list[Row], int] | None:
    """The rows found by their own tags alone, or None when the sheet data holds comments,
    CDATA or processing instructions (where a row tag could be text): see :func:`_rows`."""
    close = xml.find(b"</%ssheetData" % data.prefix, data.end)
    if close < 0 or xml.find(b"<!", data.end, close) >= 0 or xml.find(b"<?", data.end, close) >= 0:
        return None
    end = _TOKEN.match(xml, close)
    if end is None or end.group(1) != b"/" or end.group(3) != b"sheetData":
        return None
    rows: list[Row] = []
    row: Row | None = None
    for m in _ROW.finditer(xml, data.end, close):
        if m.group(1):  # </row>
            if row is None:
                return None
            row.close_start = m.start()
            row.end = xml.index(b">", m.start()) + 1
            row = None
            continue
        if row is not None:
            return None  # a row inside a row: not a sheet this path understands
        tok = _TOKEN.match(xml, m.start())
        if tok is None or tok.group(3) != b"row":
            return None
        tag = Tag(
            tok.start(),
            tok.end(),
            False,
            tok.group(2) or b"",
            b"row",
            tok.group(4),
            bool(tok.group(5)),
        )
        rows.append(_new_row(xml, tag))
        row = None if tag.empty else rows[-1]
    return (rows, close) if row is None else None


def _rows(xml: bytes, data: Tag) -> tuple[list[Row], int]:
    """The rows found by scanning every tag of the sheet data."""
    depth = 0
    rows: list[Row] = []
    row: Row | None = None
    for tag in iter_tags(xml, data.end):
        if tag.closing:
            if depth == 0:
                return rows, tag.start  # </sheetData>
            depth -= 1
            if depth == 0 and row is not None:
                row.end, row.close_start = tag.end, tag.start
                row = None
            continue
        if depth == 0 and tag.name == b"row":
            rows.append(_new_row(xml, tag))
            row = None if tag.empty else rows[-1]
        if not tag.empty:
            depth += 1
    raise XlsxPatchError("工作表 XML 中找不到 sheetData，文件可能已损坏。", code=E_PATCH_FORMAT)


def _row_cells(xml: bytes, row: Row) -> list[Cell]:
    cells: list[Cell] = []
    cell: Cell | None = None
    depth = 0  # inside the row
    for tag in iter_tags(xml, row.tag.end, row.close_start):
        if tag.closing:
            depth -= 1
            if depth == 0 and cell is not None:
                cell.end = tag.end
                cell = None
            elif depth == 1 and cell is not None and tag.name == b"f":
                cell.formula_end = tag.end
            if cell is not None and depth == 1 and cell.children:
                name, start, _ = cell.children[-1]
                cell.children[-1] = (name, start, tag.end)
            continue
        if depth == 0 and tag.name == b"c":
            ref = tag.attr(b"r")
            if ref is None:
                raise XlsxPatchError(
                    "工作表的单元格没有地址（r 属性），暂不支持修补。", code=E_PATCH_UNSUPPORTED
                )
            r, c = parse_ref(ref)
            cell = Cell(r, c, tag, tag.end)
            cells.append(cell)
            if tag.empty:
                cell = None
        elif depth == 1 and cell is not None:
            cell.children.append((tag.name, tag.start, tag.end))
            if tag.name == b"f":
                cell.formula, cell.formula_end = tag, tag.end
        if not tag.empty:
            depth += 1
    return cells


@dataclass
class Splices:
    items: list[tuple[int, int, int, bytes]] = field(default_factory=list)  # start, end, seq, new

    def add(self, start: int, end: int, new: bytes) -> None:
        self.items.append((start, end, len(self.items), new))

    def apply(self, data: bytes) -> bytes:
        out, pos = [], 0
        for start, end, _, new in sorted(self.items):
            if start < pos:
                raise AssertionError("overlapping splices")
            out.append(data[pos:start])
            out.append(new)
            pos = end
        out.append(data[pos:])
        return b"".join(out)
