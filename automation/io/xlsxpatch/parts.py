"""Locating the parts of a workbook: the workbook part, a sheet, relationships, shared strings
and the calculation chain (calcChain.xml, the only other part a patch may change).
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass

from lxml import etree

from automation.io.xlsxpatch.errors import (
    E_PATCH_FORMAT,
    E_PATCH_SHEET,
    E_PATCH_UNSUPPORTED,
    XlsxPatchError,
)
from automation.io.xlsxpatch.package import Package
from automation.io.xlsxpatch.scan import Splices, iter_tags, set_attr
from automation.io.xlsxpatch.values import decode_escapes

REL_WORKSHEET = "/worksheet"


REL_TABLE = "/table"


REL_OFFICE_DOC = "/officeDocument"


REL_CALC_CHAIN = "/calcChain"


_R_NAMESPACES = (
    "http://schemas.openxmlformats.org/officeDocument/2006/relationships",
    "http://purl.oclc.org/ooxml/officeDocument/relationships",
)


@dataclass
class Book:
    pkg: Package
    workbook_part: str
    sheet_part: str
    sheet_id: str
    date1904: bool


def parse_xml(data: bytes, part: str) -> etree._Element:
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


def relationships(pkg: Package, part: str) -> list[tuple[str, str, str]]:
    """(Id, Type, resolved target part) of ``part``'s relationships."""
    folder, name = posixpath.split(part)
    rels_part = posixpath.join(folder, "_rels", name + ".rels")
    if not pkg.has(rels_part):
        return []
    out = []
    for rel in parse_xml(pkg.read(rels_part), rels_part):
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


def locate(src: bytes, sheet: str) -> Book:
    pkg = Package(src)
    office = [t for _, typ, t in relationships(pkg, "") if typ.endswith(REL_OFFICE_DOC)]
    workbook_part = office[0] if office else "xl/workbook.xml"
    if not pkg.has(workbook_part):
        raise XlsxPatchError(
            "文件中找不到工作簿（workbook.xml），不是 Excel 工作簿。", code=E_PATCH_FORMAT
        )
    root = parse_xml(pkg.read(workbook_part), workbook_part)
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
    targets = {i: (typ, t) for i, typ, t in relationships(pkg, workbook_part)}
    typ, part = targets.get(rid, ("", ""))
    if not typ.endswith(REL_WORKSHEET) or not pkg.has(part):
        raise XlsxPatchError(
            f"「{sheet}」不是普通工作表（可能是图表页），无法写入。", code=E_PATCH_SHEET
        )
    if not part.lower().endswith(".xml"):
        raise XlsxPatchError("只支持 .xlsx/.xlsm（XML）工作簿。", code=E_PATCH_UNSUPPORTED)
    return Book(pkg, workbook_part, part, sheet_id, date1904)


def shared_strings(book: Book) -> list[str]:
    parts = [
        t
        for _, typ, t in relationships(book.pkg, book.workbook_part)
        if typ.endswith("/sharedStrings")
    ]
    if not parts or not book.pkg.has(parts[0]):
        return []
    root = parse_xml(book.pkg.read(parts[0]), parts[0])
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
        out.append(decode_escapes("".join(texts)))
    return out


def calc_chain_without(book: Book, cells: list[str]) -> dict[str, bytes] | None:
    chains = [
        t
        for _, typ, t in relationships(book.pkg, book.workbook_part)
        if typ.endswith(REL_CALC_CHAIN)
    ]
    if not chains or not book.pkg.has(chains[0]):
        return None
    part = chains[0]
    xml = book.pkg.read(part)
    gone = {c.upper() for c in cells}
    splices = Splices()
    current_sheet = None
    pending_sheet: str | None = None  # an explicit i dropped with a removed entry
    kept = 0
    for tag in iter_tags(xml):
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
            attrs = set_attr(tag.attrs, b"i", pending_sheet)
            close = b"/>" if tag.empty else b">"
            splices.add(tag.start, tag.end, b"<%sc%s%s" % (tag.prefix, attrs, close))
        pending_sheet = None
    if not splices.items or kept == 0:
        return None  # nothing to drop, or the chain would be empty (Excel rebuilds it)
    return {part: splices.apply(xml)}
