"""Byte-level XML scanning of a sheet part, and splicing bytes back in (the sheet model).

The sheet XML is never parsed into a tree and re-serialised: :func:`iter_tags` finds the tags,
:func:`scan_sheet` records where every row and cell starts and ends, and :class:`Splices`
replaces exactly those byte ranges, so every other byte stays as it was.
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


@dataclass
class Tag:
    start: int
    end: int
    closing: bool
    prefix: bytes
    name: bytes
    attrs: bytes
    empty: bool

    def attr(self, key: bytes) -> str | None:
        for k, v in _ATTR.findall(self.attrs):
            if k == key:
                return unescape(v[1:-1].decode("utf-8"))
        return None


def iter_tags(xml: bytes, start: int = 0):
    for m in _TOKEN.finditer(xml, start):
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
    number: int
    tag: Tag
    end: int  # end of the whole element (== tag.end when self-closing)
    close_start: int  # start of </row> (== tag.end when self-closing)
    cells: list[Cell] = field(default_factory=list)


@dataclass
class Sheet:
    xml: bytes
    prefix: bytes  # namespace prefix of sheetData (b"" or b"x:")
    rows: list[Row]
    data_tag: Tag  # <sheetData>
    data_close: int  # start of </sheetData> (== data_tag.end when self-closing)
    dimension: Tag | None
    col_styles: list[tuple[int, int, str]]  # (min, max, style)

    _index: dict[tuple[int, int], Cell] | None = None

    def cell(self, row: int, col: int) -> Cell | None:
        if self._index is None:
            self._index = {(c.row, c.col): c for r in self.rows for c in r.cells}
        return self._index.get((row, col))


def scan_sheet(xml: bytes) -> Sheet:
    if not xml.lstrip(b"\xef\xbb\xbf").startswith(b"<"):
        raise XlsxPatchError("工作表 XML 不是 UTF-8 编码，暂不支持。", code=E_PATCH_UNSUPPORTED)
    depth = 0
    data_depth = -1
    dimension: Tag | None = None
    col_styles: list[tuple[int, int, str]] = []
    rows: list[Row] = []
    data_tag: Tag | None = None
    row: Row | None = None
    cell: Cell | None = None
    last_row = 0
    for tag in iter_tags(xml):
        if tag.closing:
            depth -= 1
            if data_depth >= 0 and depth == data_depth:
                assert data_tag is not None
                return Sheet(xml, data_tag.prefix, rows, data_tag, tag.start, dimension, col_styles)
            if depth == data_depth + 1 and row is not None:
                row.end, row.close_start = tag.end, tag.start
                row = None
            elif depth == data_depth + 2 and cell is not None:
                cell.end = tag.end
                cell = None
            elif depth == data_depth + 3 and cell is not None and tag.name == b"f":
                cell.formula_end = tag.end
            if cell is not None and depth == data_depth + 3 and cell.children:
                name, start, _ = cell.children[-1]
                cell.children[-1] = (name, start, tag.end)
            continue
        if data_depth < 0:
            if depth == 1 and tag.name == b"dimension":
                dimension = tag
            elif depth == 2 and tag.name == b"col":
                style = tag.attr(b"style")
                lo, hi = tag.attr(b"min"), tag.attr(b"max")
                if style and lo and hi:
                    col_styles.append((int(lo), int(hi), style))
            elif depth == 1 and tag.name == b"sheetData":
                data_tag, data_depth = tag, depth
                if tag.empty:
                    return Sheet(xml, tag.prefix, [], tag, tag.end, dimension, col_styles)
        elif depth == data_depth + 1 and tag.name == b"row":
            number = tag.attr(b"r")
            if number is None:
                raise XlsxPatchError(
                    "工作表的行没有行号（r 属性），暂不支持修补。", code=E_PATCH_UNSUPPORTED
                )
            last_row = int(number)
            row = Row(last_row, tag, tag.end, tag.end)
            rows.append(row)
            if tag.empty:
                row = None
        elif depth == data_depth + 2 and tag.name == b"c" and row is not None:
            ref = tag.attr(b"r")
            if ref is None:
                raise XlsxPatchError(
                    "工作表的单元格没有地址（r 属性），暂不支持修补。", code=E_PATCH_UNSUPPORTED
                )
            r, c = parse_ref(ref)
            cell = Cell(r, c, tag, tag.end)
            row.cells.append(cell)
            if tag.empty:
                cell = None
        elif depth == data_depth + 3 and cell is not None:
            cell.children.append((tag.name, tag.start, tag.end))
            if tag.name == b"f":
                cell.formula, cell.formula_end = tag, tag.end
        if not tag.empty:
            depth += 1
    raise XlsxPatchError("工作表 XML 中找不到 sheetData，文件可能已损坏。", code=E_PATCH_FORMAT)


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
