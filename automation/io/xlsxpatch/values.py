"""Cell values: what is written (the cell XML of a Python value) and what is read back, so that
a value already in place is not written again.

- Strings are inline strings (``t="inlineStr"``); a string starting with ``=`` stays text.
- Dates become serial numbers of the workbook's date system (1900 or 1904).
"""

from __future__ import annotations

import datetime as dt
import math
import re
from dataclasses import dataclass

from automation.io.xlsxpatch.errors import E_PATCH_CELL, XlsxPatchError
from automation.io.xlsxpatch.scan import Cell, escape, unescape

CellValue = str | int | float | bool | dt.date | dt.datetime | None


MAX_TEXT = 32_767


@dataclass(frozen=True)
class CellEdit:
    """Write ``value`` into ``cell`` (``"AB12"``) of the patched sheet."""

    cell: str
    value: CellValue
    style_from: str | None = None
    overwrite_formula: bool = False


_EPOCH_1900 = dt.datetime(1899, 12, 30)


_EPOCH_1904 = dt.datetime(1904, 1, 1)


_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


_ESCAPE_LIKE = re.compile(r"_(x[0-9A-Fa-f]{4}_)")


def value_xml(value: CellValue, ref: str, date1904: bool, p: bytes) -> tuple[str | None, bytes]:
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
            body = escape(text).replace("\r", "&#13;").encode("utf-8")
        except UnicodeEncodeError as exc:
            raise XlsxPatchError(f"单元格 {ref} 的文本含无效字符。", code=E_PATCH_CELL) from exc
        return "inlineStr", b'<%sis><%st xml:space="preserve">%s</%st></%sis>' % (p, p, body, p, p)
    raise XlsxPatchError(f"单元格 {ref} 的值类型不支持：{type(value).__name__}", code=E_PATCH_CELL)


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
        out.append(text if i % 2 else unescape(text))
    return "".join(out)


def decode_escapes(text: str) -> str:
    return _ESCAPED.sub(lambda m: chr(int(m.group(1), 16)), text)


def cell_value(xml: bytes, cell: Cell, kind: str, shared: list[str]) -> object:
    body = xml[cell.tag.end : cell.end] if not cell.tag.empty else b""
    if kind == "inlineStr":
        body = _PHONETIC.sub(b"", body)
        return decode_escapes("".join(_xml_text(m.group(1) or b"") for m in _T_TEXT.finditer(body)))
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


def equal_value(current: object, new: CellValue, date1904: bool) -> bool:
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
        _, children = value_xml(new, "A1", date1904, b"")
        return float(children[3:-4]) == current
    return float(new) == current
