"""Lossless write-back: patch the cells xietong owns in one sheet of a human workbook (无损回写).

openpyxl's load-and-save drops pictures, shapes, form controls, comments' layout, 2010
extensions and more. Here the workbook is never re-serialised: the sheet XML is scanned as bytes
and only the ``<c>`` elements being written (plus the ``<row>`` tags that receive new cells and
the ``<dimension>``) are spliced; every other byte of the sheet and every other package part is
carried over unchanged (raw zip entries, see :mod:`automation.io.zipparts`).

- Strings are written as inline strings (``t="inlineStr"``), so ``sharedStrings.xml`` is not
  touched; a string starting with ``=`` stays text.
- Dates become serial numbers (1900 or 1904 system, as the workbook says); ``None`` clears.
- A cell keeps its ``s`` (style); a new one takes the style of ``style_from``, else the row's
  or the column's default style.
- A cell holding a formula is only overwritten when the edit says ``overwrite_formula=True``;
  a shared-formula master hands its formula on to the next cell of the group, and
  ``calcChain.xml`` forgets the cell (the only other part that may then change).
- An Excel table on the sheet whose last row is directly followed by written rows grows to
  include them (only the table part's ``ref`` and ``autoFilter ref`` change).
"""

from __future__ import annotations

import bisect
import datetime as dt
import math
import posixpath
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from lxml import etree

from automation.io.zipparts import Package, XlsxPatchError

CellValue = str | int | float | bool | dt.date | dt.datetime | None

E_PATCH_SHEET = "E_PATCH_SHEET"
E_PATCH_CELL = "E_PATCH_CELL"
E_PATCH_FORMULA = "E_PATCH_FORMULA"
E_PATCH_UNSUPPORTED = "E_PATCH_UNSUPPORTED"
E_PATCH_TABLE = "E_PATCH_TABLE"
E_PATCH_FORMAT = "E_PATCH_FORMAT"

MAX_ROW, MAX_COL = 1_048_576, 16_384
MAX_TEXT = 32_767

_REL_WORKSHEET = "/worksheet"
_REL_TABLE = "/table"
_REL_OFFICE_DOC = "/officeDocument"
_REL_CALC_CHAIN = "/calcChain"
_R_NAMESPACES = (
    "http://schemas.openxmlformats.org/officeDocument/2006/relationships",
    "http://purl.oclc.org/ooxml/officeDocument/relationships",
)


@dataclass(frozen=True)
class CellEdit:
    """Write ``value`` into ``cell`` (``"AB12"``) of the patched sheet."""

    cell: str
    value: CellValue
    style_from: str | None = None
    overwrite_formula: bool = False


@dataclass(frozen=True)
class TableInfo:
    name: str
    display_name: str
    part: str
    ref: str
    totals_rows: int


# ---------------------------------------------------------------- cell references


_REF = re.compile(r"^\$?([A-Za-z]{1,3})\$?([0-9]{1,7})$")


def parse_ref(ref: str) -> tuple[int, int]:
    """``"AB12"`` → ``(12, 28)`` (row, column), 1-based."""
    m = _REF.match(ref.strip()) if isinstance(ref, str) else None
    if not m:
        raise XlsxPatchError(f"单元格地址无效：{ref!r}", code=E_PATCH_CELL)
    col = 0
    for ch in m.group(1).upper():
        col = col * 26 + ord(ch) - 64
    row = int(m.group(2))
    if not (1 <= row <= MAX_ROW and 1 <= col <= MAX_COL):
        raise XlsxPatchError(f"单元格地址超出工作表范围：{ref}", code=E_PATCH_CELL)
    return row, col


def make_ref(row: int, col: int) -> str:
    """``(12, 28)`` → ``"AB12"``."""
    letters = ""
    while col:
        col, rem = divmod(col - 1, 26)
        letters = chr(65 + rem) + letters
    return f"{letters}{row}"


def _parse_range(ref: str) -> tuple[int, int, int, int]:
    first, _, last = ref.partition(":")
    r1, c1 = parse_ref(first)
    r2, c2 = parse_ref(last or first)
    return min(r1, r2), min(c1, c2), max(r1, r2), max(c1, c2)


def _range_ref(r1: int, c1: int, r2: int, c2: int) -> str:
    a, b = make_ref(r1, c1), make_ref(r2, c2)
    return a if a == b else f"{a}:{b}"


# ---------------------------------------------------------------- byte-level XML scanning

_TOKEN = re.compile(
    rb"<!\[CDATA\[.*?\]\]>|<!--.*?-->|<\?.*?\?>|<!DOCTYPE|<(/?)([A-Za-z_][\w.\-]*:)?"
    rb"([A-Za-z_][\w.\-]*)((?:\s+[^\s=/>]+\s*=\s*(?:\"[^\"]*\"|'[^']*'))*)\s*(/?)>",
    re.S,
)
_ATTR = re.compile(rb"([^\s=]+)\s*=\s*(\"[^\"]*\"|'[^']*')")


@dataclass
class _Tag:
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
                return _unescape(v[1:-1].decode("utf-8"))
        return None


def _tags(xml: bytes, start: int = 0):
    for m in _TOKEN.finditer(xml, start):
        if m.group(3) is None:
            if m.group(0) == b"<!DOCTYPE":
                raise XlsxPatchError("工作表 XML 含 DOCTYPE，拒绝处理。", code=E_PATCH_UNSUPPORTED)
            continue
        yield _Tag(
            m.start(),
            m.end(),
            bool(m.group(1)),
            m.group(2) or b"",
            m.group(3),
            m.group(4),
            bool(m.group(5)),
        )


def _unescape(s: str) -> str:
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


def _esc(s: str, attr: bool = False) -> str:
    s = s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return s.replace('"', "&quot;") if attr else s


def _set_attr(attrs: bytes, key: bytes, value: str | None) -> bytes:
    """The attribute string with ``key`` set (appended if new) or removed (``None``)."""
    pattern = re.compile(rb"(\s+)" + re.escape(key) + rb"\s*=\s*(\"[^\"]*\"|'[^']*')")
    if value is None:
        return pattern.sub(b"", attrs, count=1)
    new = key + b'="' + _esc(value, attr=True).encode("utf-8") + b'"'
    if pattern.search(attrs):
        return pattern.sub(lambda m: m.group(1) + new, attrs, count=1)
    return attrs + b" " + new


# ---------------------------------------------------------------- the sheet model


@dataclass
class _Cell:
    row: int
    col: int
    tag: _Tag  # the <c> open tag
    end: int  # end of the whole element
    children: list[tuple[bytes, int, int]] = field(default_factory=list)  # (name, start, end)
    formula: _Tag | None = None  # the <f> open tag, if any
    formula_end: int = 0

    @property
    def start(self) -> int:
        return self.tag.start


@dataclass
class _Row:
    number: int
    tag: _Tag
    end: int  # end of the whole element (== tag.end when self-closing)
    close_start: int  # start of </row> (== tag.end when self-closing)
    cells: list[_Cell] = field(default_factory=list)


@dataclass
class _Sheet:
    xml: bytes
    prefix: bytes  # namespace prefix of sheetData (b"" or b"x:")
    rows: list[_Row]
    data_tag: _Tag  # <sheetData>
    data_close: int  # start of </sheetData> (== data_tag.end when self-closing)
    dimension: _Tag | None
    col_styles: list[tuple[int, int, str]]  # (min, max, style)

    _index: dict[tuple[int, int], _Cell] | None = None

    def cell(self, row: int, col: int) -> _Cell | None:
        if self._index is None:
            self._index = {(c.row, c.col): c for r in self.rows for c in r.cells}
        return self._index.get((row, col))


def _scan_sheet(xml: bytes) -> _Sheet:
    if not xml.lstrip(b"\xef\xbb\xbf").startswith(b"<"):
        raise XlsxPatchError("工作表 XML 不是 UTF-8 编码，暂不支持。", code=E_PATCH_UNSUPPORTED)
    depth = 0
    data_depth = -1
    dimension: _Tag | None = None
    col_styles: list[tuple[int, int, str]] = []
    rows: list[_Row] = []
    data_tag: _Tag | None = None
    row: _Row | None = None
    cell: _Cell | None = None
    last_row = 0
    for tag in _tags(xml):
        if tag.closing:
            depth -= 1
            if data_depth >= 0 and depth == data_depth:
                assert data_tag is not None
                return _Sheet(
                    xml, data_tag.prefix, rows, data_tag, tag.start, dimension, col_styles
                )
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
                    return _Sheet(xml, tag.prefix, [], tag, tag.end, dimension, col_styles)
        elif depth == data_depth + 1 and tag.name == b"row":
            number = tag.attr(b"r")
            if number is None:
                raise XlsxPatchError(
                    "工作表的行没有行号（r 属性），暂不支持修补。", code=E_PATCH_UNSUPPORTED
                )
            last_row = int(number)
            row = _Row(last_row, tag, tag.end, tag.end)
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
            cell = _Cell(r, c, tag, tag.end)
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


# ---------------------------------------------------------------- locating parts


@dataclass
class _Book:
    pkg: Package
    workbook_part: str
    sheet_part: str
    sheet_id: str
    date1904: bool


def _parse_xml(data: bytes, part: str) -> etree._Element:
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    try:
        root = etree.fromstring(data, parser)
    except etree.XMLSyntaxError as exc:
        raise XlsxPatchError(
            f"工作簿部件 {part} 不是有效的 XML：{exc}", code=E_PATCH_FORMAT
        ) from exc
    if root.getroottree().docinfo.doctype:
        raise XlsxPatchError(f"工作簿部件 {part} 含 DOCTYPE，拒绝处理。", code=E_PATCH_UNSUPPORTED)
    return root


def _rels(pkg: Package, part: str) -> list[tuple[str, str, str]]:
    """(Id, Type, resolved target part) of ``part``'s relationships."""
    folder, name = posixpath.split(part)
    rels_part = posixpath.join(folder, "_rels", name + ".rels")
    if not pkg.has(rels_part):
        return []
    out = []
    for rel in _parse_xml(pkg.read(rels_part), rels_part):
        if not isinstance(rel.tag, str) or etree.QName(rel).localname != "Relationship":
            continue
        if rel.get("TargetMode") == "External":
            continue
        target = rel.get("Target", "").replace("\\", "/")
        if target.startswith("/"):
            resolved = target.lstrip("/")
        else:
            resolved = posixpath.normpath(posixpath.join(folder, target))
        out.append((rel.get("Id", ""), rel.get("Type", ""), resolved))
    return out


def _locate(src: bytes, sheet: str) -> _Book:
    pkg = Package(src)
    office = [t for _, typ, t in _rels(pkg, "") if typ.endswith(_REL_OFFICE_DOC)]
    workbook_part = office[0] if office else "xl/workbook.xml"
    if not pkg.has(workbook_part):
        raise XlsxPatchError(
            "文件中找不到工作簿（workbook.xml），不是 Excel 工作簿。", code=E_PATCH_FORMAT
        )
    root = _parse_xml(pkg.read(workbook_part), workbook_part)
    sheets = []
    date1904 = False
    for el in root.iter():
        if not isinstance(el.tag, str):
            continue
        local = etree.QName(el).localname
        if local == "workbookPr":
            date1904 = el.get("date1904", "0").lower() in ("1", "true")
        elif local == "sheet":
            rid = next(
                (el.get(f"{{{ns}}}id") for ns in _R_NAMESPACES if el.get(f"{{{ns}}}id")), None
            )
            sheets.append((el.get("name", ""), el.get("sheetId", ""), rid))
    match = [s for s in sheets if s[0] == sheet] or [
        s for s in sheets if s[0].casefold() == sheet.casefold()
    ]
    if not match:
        names = "、".join(s[0] for s in sheets)
        raise XlsxPatchError(
            f"工作簿中没有名为「{sheet}」的工作表（现有：{names}）。", code=E_PATCH_SHEET
        )
    _, sheet_id, rid = match[0]
    targets = {i: (typ, t) for i, typ, t in _rels(pkg, workbook_part)}
    typ, part = targets.get(rid, ("", ""))
    if not typ.endswith(_REL_WORKSHEET) or not pkg.has(part):
        raise XlsxPatchError(
            f"「{sheet}」不是普通工作表（可能是图表页），无法写入。", code=E_PATCH_SHEET
        )
    if not part.lower().endswith(".xml"):
        raise XlsxPatchError("只支持 .xlsx/.xlsm（XML）工作簿。", code=E_PATCH_UNSUPPORTED)
    return _Book(pkg, workbook_part, part, sheet_id, date1904)


# ---------------------------------------------------------------- values


_EPOCH_1900 = dt.datetime(1899, 12, 30)
_EPOCH_1904 = dt.datetime(1904, 1, 1)
_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_ESCAPE_LIKE = re.compile(r"_(x[0-9A-Fa-f]{4}_)")


def _value_xml(value: CellValue, ref: str, date1904: bool, p: bytes) -> tuple[str | None, bytes]:
    """(``t`` attribute, children bytes) for a value."""
    if value is None:
        return None, b""
    if isinstance(value, bool):
        return "b", b"<%sv>%d</%sv>" % (p, int(value), p)
    if isinstance(value, int):
        return None, b"<%sv>%d</%sv>" % (p, value, p)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise XlsxPatchError(f"单元格 {ref} 的数值无效：{value}", code=E_PATCH_CELL)
        return None, b"<%sv>%s</%sv>" % (p, repr(value).encode(), p)
    if isinstance(value, dt.date):
        if isinstance(value, dt.datetime):
            if value.tzinfo is not None:
                raise XlsxPatchError(
                    f"单元格 {ref} 的时间带时区，请先换算为当地时间。", code=E_PATCH_CELL
                )
            moment = value
        else:
            moment = dt.datetime(value.year, value.month, value.day)
        days = (moment - (_EPOCH_1904 if date1904 else _EPOCH_1900)).total_seconds() / 86400
        if days < 0:
            raise XlsxPatchError(f"单元格 {ref} 的日期早于 Excel 能表示的范围。", code=E_PATCH_CELL)
        text = str(int(days)) if days == int(days) else repr(days)
        return None, b"<%sv>%s</%sv>" % (p, text.encode(), p)
    if isinstance(value, str):
        if len(value) > MAX_TEXT:
            raise XlsxPatchError(f"单元格 {ref} 的文本超过 {MAX_TEXT} 个字符。", code=E_PATCH_CELL)
        text = _ESCAPE_LIKE.sub(r"_x005F_\1", value)
        text = _ILLEGAL.sub(lambda m: f"_x{ord(m.group()):04X}_", text)
        try:
            # A raw CR would be normalised to LF by every XML parser; a character reference is not.
            body = _esc(text).replace("\r", "&#13;").encode("utf-8")
        except UnicodeEncodeError as exc:
            raise XlsxPatchError(f"单元格 {ref} 的文本含无效字符。", code=E_PATCH_CELL) from exc
        return "inlineStr", b'<%sis><%st xml:space="preserve">%s</%st></%sis>' % (p, p, body, p, p)
    raise XlsxPatchError(f"单元格 {ref} 的值类型不支持：{type(value).__name__}", code=E_PATCH_CELL)


# ---------------------------------------------------------------- patching


@dataclass
class _Splices:
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


def patch_workbook(
    src: bytes, sheet: str, edits: Sequence[CellEdit], *, grow_tables: bool = True
) -> bytes:
    """The workbook ``src`` with ``edits`` written into sheet ``sheet``; all else byte-identical.

    Raises :class:`XlsxPatchError` (codes ``E_PATCH_*``) for a missing sheet, a bad cell
    reference or value, a formula in the way, or a package this module cannot patch safely.
    """
    book = _locate(src, sheet)
    if not edits:
        return src
    sheet_xml = book.pkg.read(book.sheet_part)
    model = _scan_sheet(sheet_xml)
    plan = _plan(edits)
    _refuse_merged(model, plan)
    splices = _Splices()
    removed_formulas = _check_formulas(model, plan, splices)
    plan = _drop_unchanged(book, model, plan)
    written = _apply_edits(model, plan, book.date1904, splices)
    _update_dimension(model, written, splices)
    replacements = {}
    if splices.items:
        replacements[book.sheet_part] = splices.apply(sheet_xml)
    if removed_formulas:
        chain = _calc_chain_without(book, removed_formulas)
        if chain is not None:
            replacements.update(chain)
    if grow_tables:
        for info, last_row in _tables_to_grow(book, written):
            replacements[info.part] = _grown_table_xml(book.pkg.read(info.part), info, last_row)
    if not replacements:
        return src  # every value was already there: not a byte changes
    return book.pkg.rebuild(replacements)


def _drop_unchanged(
    book: _Book, model: _Sheet, plan: dict[tuple[int, int], CellEdit]
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
            shared = _shared_strings(book)
        current = _cell_value(model.xml, cell, kind, shared or [])
        if not _equal_value(current, edit.value, book.date1904):
            kept[key] = edit
    return kept


_T_TEXT = re.compile(
    rb"<(?:[A-Za-z_][\w.\-]*:)?t(?:\s[^>]*)?(?:/>|>(.*?)</(?:[A-Za-z_][\w.\-]*:)?t>)", re.S
)
_PHONETIC = re.compile(rb"<(?:[A-Za-z_][\w.\-]*:)?rPh\b.*?</(?:[A-Za-z_][\w.\-]*:)?rPh>", re.S)
_V_TEXT = re.compile(
    rb"<(?:[A-Za-z_][\w.\-]*:)?v(?:\s[^>]*)?>(.*?)</(?:[A-Za-z_][\w.\-]*:)?v>", re.S
)
_ESCAPED = re.compile(r"_x([0-9A-Fa-f]{4})_")


def _xml_text(raw: bytes) -> str:
    """Text content of an element body: CDATA kept as is, entities decoded."""
    parts = re.split(rb"<!\[CDATA\[(.*?)\]\]>", raw, flags=re.S)
    out = []
    for i, part in enumerate(parts):
        text = part.decode("utf-8")
        out.append(text if i % 2 else _unescape(text))
    return "".join(out)


def _decode_escapes(text: str) -> str:
    return _ESCAPED.sub(lambda m: chr(int(m.group(1), 16)), text)


def _cell_value(xml: bytes, cell: _Cell, kind: str, shared: list[str]) -> object:
    body = xml[cell.tag.end : cell.end] if not cell.tag.empty else b""
    if kind == "inlineStr":
        body = _PHONETIC.sub(b"", body)
        return _decode_escapes(
            "".join(_xml_text(m.group(1) or b"") for m in _T_TEXT.finditer(body))
        )
    v = _V_TEXT.search(body)
    if v is None:
        return None
    raw = _xml_text(v.group(1)).strip()
    try:
        if kind == "s":
            return shared[int(raw)]
        if kind == "b":
            return raw in ("1", "true")
        if kind == "n":
            return float(raw)
    except (ValueError, IndexError):
        return _UNKNOWN
    return _UNKNOWN  # errors, formula strings, ISO dates: never "equal"


_UNKNOWN = object()


def _equal_value(current: object, new: CellValue, date1904: bool) -> bool:
    if current is _UNKNOWN:
        return False
    if new is None or current is None:
        return new is None and current is None
    if isinstance(new, bool) or isinstance(current, bool):
        return isinstance(new, bool) and isinstance(current, bool) and new == current
    if isinstance(new, str):
        return isinstance(current, str) and current == new
    if not isinstance(current, float):
        return False
    if isinstance(new, dt.date):
        _, children = _value_xml(new, "A1", date1904, b"")
        return float(children[3:-4]) == current
    return float(new) == current


def _shared_strings(book: _Book) -> list[str]:
    parts = [
        t for _, typ, t in _rels(book.pkg, book.workbook_part) if typ.endswith("/sharedStrings")
    ]
    if not parts or not book.pkg.has(parts[0]):
        return []
    root = _parse_xml(book.pkg.read(parts[0]), parts[0])
    out = []
    for si in root:
        if not isinstance(si.tag, str):
            continue
        texts = [
            t.text or ""
            for t in si.iter()
            if isinstance(t.tag, str)
            and etree.QName(t).localname == "t"
            and etree.QName(t.getparent()).localname != "rPh"
            and not any(
                etree.QName(a).localname == "rPh"
                for a in t.iterancestors()
                if isinstance(a.tag, str)
            )
        ]
        out.append(_decode_escapes("".join(texts)))
    return out


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


def _refuse_merged(model: _Sheet, plan: dict[tuple[int, int], CellEdit]) -> None:
    """A cell hidden inside a merged range (not its top-left cell) would never show."""
    for m in _MERGE.finditer(model.xml, model.data_close):
        r1, c1, r2, c2 = _parse_range(m.group(1).decode("ascii", "replace"))
        for (r, c), edit in plan.items():
            if r1 <= r <= r2 and c1 <= c <= c2 and (r, c) != (r1, c1) and edit.value is not None:
                raise XlsxPatchError(
                    f"单元格 {edit.cell} 位于合并单元格 {m.group(1).decode()} 内部，写入后不会显示。",
                    code=E_PATCH_CELL,
                )


def _check_formulas(
    model: _Sheet, plan: dict[tuple[int, int], CellEdit], splices: _Splices
) -> list[str]:
    """Refuse edits onto formulas (unless allowed); hand shared formulas on. Cells cleared."""
    arrays: list[tuple[tuple[int, int, int, int], _Cell]] = []
    shared: dict[str, list[_Cell]] = {}
    for row in model.rows:
        for cell in row.cells:
            f = cell.formula
            if f is None:
                continue
            kind = f.attr(b"t")
            if kind in ("array", "dataTable") and f.attr(b"ref"):
                arrays.append((_parse_range(f.attr(b"ref") or ""), cell))
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
    model: _Sheet,
    master: _Cell,
    group: list[_Cell],
    plan: dict[tuple[int, int], CellEdit],
    splices: _Splices,
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
    formula = _unescape(model.xml[text_start:text_end].decode("utf-8"))
    moved = Translator("=" + formula, origin=make_ref(master.row, master.col)).translate_formula(
        make_ref(heir.row, heir.col)
    )[1:]
    r1 = min(g.row for g in rest)
    c1 = min(g.col for g in rest)
    r2 = max(g.row for g in rest)
    c2 = max(g.col for g in rest)
    f = heir.formula
    attrs = _set_attr(f.attrs, b"ref", _range_ref(r1, c1, r2, c2))
    p = f.prefix
    new = b"<%sf%s>%s</%sf>" % (p, attrs, _esc(moved).encode("utf-8"), p)
    splices.add(f.start, heir.formula_end, new)


def _style_for(model: _Sheet, row: _Row | None, col: int, edit: CellEdit) -> str | None:
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
    model: _Sheet,
    cell: _Cell | None,
    row: _Row | None,
    row_no: int,
    col: int,
    edit: CellEdit,
    date1904: bool,
) -> bytes:
    p = cell.tag.prefix if cell is not None else model.prefix
    ref = make_ref(row_no, col)
    t, children = _value_xml(edit.value, ref, date1904, p)
    if cell is not None:
        attrs = cell.tag.attrs
        for key in (b"t", b"cm", b"vm"):
            attrs = _set_attr(attrs, key, None)
        for name, start, end in cell.children:
            if name == b"extLst":
                children += model.xml[start:end]
    else:
        attrs = b' r="%s"' % ref.encode()
    if (cell is None or cell.tag.attr(b"s") is None) and (
        style := _style_for(model, row, col, edit)
    ) is not None:
        attrs = _set_attr(attrs, b"s", style)
    if t is not None:
        attrs = _set_attr(attrs, b"t", t)
    if not children:
        return b"<%sc%s/>" % (p, attrs)
    return b"<%sc%s>%s</%sc>" % (p, attrs, children, p)


def _apply_edits(
    model: _Sheet, plan: dict[tuple[int, int], CellEdit], date1904: bool, splices: _Splices
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
    model: _Sheet, row: _Row, edits: dict[int, CellEdit], date1904: bool, splices: _Splices
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
            attrs = _set_attr(attrs, b"spans", f"{lo}:{hi}")
    if row.tag.empty:
        p = row.tag.prefix
        splices.add(row.tag.start, row.tag.end, b"<%srow%s>" % (p, attrs))
        splices.add(row.tag.end, row.tag.end, b"</%srow>" % p)
    elif attrs != row.tag.attrs:
        splices.add(row.tag.start, row.tag.end, b"<%srow%s>" % (row.tag.prefix, attrs))


def _insert_rows(model: _Sheet, new_rows: list[tuple[int, bytes]], splices: _Splices) -> None:
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


def _update_dimension(model: _Sheet, written: list[tuple[int, int]], splices: _Splices) -> None:
    dim = model.dimension
    if dim is None or not written:
        return
    old = dim.attr(b"ref")
    try:
        r1, c1, r2, c2 = _parse_range(old) if old else (MAX_ROW, MAX_COL, 1, 1)
    except XlsxPatchError:
        return
    nr1 = min([r1] + [r for r, _ in written])
    nc1 = min([c1] + [c for _, c in written])
    nr2 = max([r2] + [r for r, _ in written])
    nc2 = max([c2] + [c for _, c in written])
    if (nr1, nc1, nr2, nc2) != (r1, c1, r2, c2):
        attrs = _set_attr(dim.attrs, b"ref", _range_ref(nr1, nc1, nr2, nc2))
        close = b"/>" if dim.empty else b">"
        splices.add(dim.start, dim.end, b"<%sdimension%s%s" % (dim.prefix, attrs, close))


# ---------------------------------------------------------------- calcChain


def _calc_chain_without(book: _Book, cells: list[str]) -> dict[str, bytes] | None:
    chains = [
        t for _, typ, t in _rels(book.pkg, book.workbook_part) if typ.endswith(_REL_CALC_CHAIN)
    ]
    if not chains or not book.pkg.has(chains[0]):
        return None
    part = chains[0]
    xml = book.pkg.read(part)
    gone = {c.upper() for c in cells}
    splices = _Splices()
    current_sheet = None
    pending_sheet: str | None = None  # an explicit i dropped with a removed entry
    kept = 0
    for tag in _tags(xml):
        if tag.closing or tag.name != b"c":
            continue
        sheet_attr = tag.attr(b"i")
        if sheet_attr is not None:
            current_sheet = sheet_attr
        if current_sheet == book.sheet_id and (tag.attr(b"r") or "").upper() in gone:
            if sheet_attr is not None:
                pending_sheet = sheet_attr
            splices.add(tag.start, tag.end, b"")
            continue
        kept += 1
        if pending_sheet is not None and sheet_attr is None:
            attrs = _set_attr(tag.attrs, b"i", pending_sheet)
            close = b"/>" if tag.empty else b">"
            splices.add(tag.start, tag.end, b"<%sc%s%s" % (tag.prefix, attrs, close))
        pending_sheet = None
    if not splices.items or kept == 0:
        return None  # nothing to drop, or the chain would be empty (Excel rebuilds it)
    return {part: splices.apply(xml)}


# ---------------------------------------------------------------- tables


def sheet_tables(src: bytes, sheet: str) -> list[TableInfo]:
    """The Excel tables (表格/列表) on ``sheet``: name, part and current ``ref``."""
    return _tables(_locate(src, sheet))


def _tables(book: _Book) -> list[TableInfo]:
    out = []
    for _, typ, part in _rels(book.pkg, book.sheet_part):
        if not typ.endswith(_REL_TABLE) or not book.pkg.has(part):
            continue
        root = _parse_xml(book.pkg.read(part), part)
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


def _tables_to_grow(book: _Book, written: list[tuple[int, int]]) -> list[tuple[TableInfo, int]]:
    out = []
    for info in _tables(book):
        r1, c1, r2, c2 = _parse_range(info.ref)
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
    book = _locate(src, sheet)
    for info in _tables(book):
        if table in (info.name, info.display_name):
            break
    else:
        raise XlsxPatchError(f"工作表「{sheet}」上没有名为「{table}」的表格。", code=E_PATCH_TABLE)
    _, _, r2, _ = _parse_range(info.ref)
    if last_row <= r2:
        return src
    if last_row > MAX_ROW:
        raise XlsxPatchError(f"行号 {last_row} 超出工作表范围。", code=E_PATCH_CELL)
    if info.totals_rows:
        raise XlsxPatchError(
            f"表格「{info.display_name or info.name}」有汇总行，不能扩展。", code=E_PATCH_TABLE
        )
    new = _grown_table_xml(book.pkg.read(info.part), info, last_row)
    return book.pkg.rebuild({info.part: new})


def _grown_table_xml(xml: bytes, info: TableInfo, last_row: int) -> bytes:
    r1, c1, _, c2 = _parse_range(info.ref)
    new_ref = _range_ref(r1, c1, last_row, c2)
    splices = _Splices()
    depth = 0
    for tag in _tags(xml):
        if tag.closing:
            depth -= 1
            continue
        wanted = (depth, tag.name) in ((0, b"table"), (1, b"autoFilter"))
        if wanted and tag.attr(b"ref") is not None:
            attrs = _set_attr(tag.attrs, b"ref", new_ref)
            close = b"/>" if tag.empty else b">"
            splices.add(tag.start, tag.end, b"<%s%s%s%s" % (tag.prefix, tag.name, attrs, close))
        if not tag.empty:
            depth += 1
    return splices.apply(xml)
