"""Shared checks for the lossless-patch tests: package parts and cells before/after a patch."""

from __future__ import annotations

import datetime as dt
import io
import zipfile
from pathlib import Path

import openpyxl
import xlsxwriter
from python_calamine import CalamineWorkbook

from automation.io.xlsxpatch import parse_ref
from automation.io.xlsxpatch.package import Package
from tests.conftest import CORPUS

CALAMINE = CORPUS / "calamine"
HEADERS = ["编号", "事项名称", "登记日期", "当前阶段", "时限状态", "超期工作日", "备注"]


def changed_parts(before: bytes, after: bytes) -> set[str]:
    """Names of the parts whose stored bytes differ; fails if the entry list or order differs.

    Unchanged parts must be identical as stored (local header, compressed data, descriptor)
    and as content; the result must still be a sound zip.
    """
    pb, pa = Package(before), Package(after)
    assert [e.name for e in pa.entries] == [e.name for e in pb.entries]
    assert pa.comment == pb.comment
    changed = set()
    for eb, ea in zip(pb.entries, pa.entries, strict=True):
        if pa.raw_span(ea) != pb.raw_span(eb):
            changed.add(eb.part)
            assert ea.method == eb.method, f"compression of {eb.name} changed"
        else:
            assert pa.read(ea.name) == pb.read(eb.name)
    assert zipfile.ZipFile(io.BytesIO(after)).testzip() is None
    return changed


def openpyxl_cells(data: bytes) -> dict[tuple[str, str], tuple[object, tuple[int, ...]]]:
    """Every stored cell of every sheet: (value, style indices). styles.xml is never patched,
    so equal indices mean an equal look (font, fill, border, number format, protection)."""
    wb = openpyxl.load_workbook(io.BytesIO(data), rich_text=False)
    out = {}
    for ws in wb.worksheets:
        for cell in ws._cells.values():
            if cell.value is None and not cell.has_style:
                continue
            out[(ws.title, cell.coordinate)] = (cell.value, tuple(cell._style))
    wb.close()
    return out


def calamine_cells(data: bytes) -> dict[tuple[str, int, int], object]:
    """Every non-empty value calamine sees, by (sheet, row, column), 1-based."""
    wb = CalamineWorkbook.from_filelike(io.BytesIO(data))
    out = {}
    for name in wb.sheet_names:
        try:
            sheet = wb.get_sheet_by_name(name)
        except Exception:  # chart sheets have no cells
            continue
        for i, row in enumerate(sheet.to_python(skip_empty_area=False)):  # rows from A1
            for j, value in enumerate(row):
                if value not in ("", None):
                    out[(name, i + 1, j + 1)] = value
    return out


def assert_cells_kept(
    before: bytes,
    after: bytes,
    sheet: str,
    edited: dict[str, object],
    *,
    with_openpyxl: bool = True,
) -> None:
    """Every cell not edited has the same value and style; edited ones read back as written."""
    edited_keys = {(sheet, ref) for ref in edited}
    cb, ca = calamine_cells(before), calamine_cells(after)
    edited_pos = {(sheet, *parse_ref(ref)) for ref in edited}
    assert {k: v for k, v in cb.items() if k not in edited_pos} == {
        k: v for k, v in ca.items() if k not in edited_pos
    }
    for ref, value in edited.items():
        got = ca.get((sheet, *parse_ref(ref)))
        assert _same(got, value), (ref, got, value)
    if not with_openpyxl:
        return
    ob, oa = openpyxl_cells(before), openpyxl_cells(after)
    assert {k: v for k, v in ob.items() if k not in edited_keys} == {
        k: v for k, v in oa.items() if k not in edited_keys
    }
    for ref, value in edited.items():
        got, style = oa.get((sheet, ref), (None, ()))
        assert _same(got, value), (ref, got, value)
        if (sheet, ref) in ob and ob[(sheet, ref)][1] != (0,) * len(style):
            assert style == ob[(sheet, ref)][1], f"{ref} lost its style"


def _same(got: object, want: object) -> bool:
    if want is None:
        return got in (None, "")
    if (
        isinstance(want, dt.date)
        and not isinstance(want, dt.datetime)
        and isinstance(got, dt.datetime)
    ):
        got = got.date()
    if isinstance(want, int | float) and isinstance(got, int | float):
        return float(got) == float(want)
    return got == want


def build_decorated_tracking(path: Path, *, vba: Path | None = None) -> Path:
    """A tracking table as the office decorates it: picture, chart, comment, shape, conditional
    formats (one with a 2010 data-bar extension), validation, table, names, link, formulas."""
    wb = xlsxwriter.Workbook(str(path), {"strings_to_formulas": False, "strings_to_urls": False})
    ws = wb.add_worksheet("跟踪表")
    title = wb.add_format({"bold": True, "font_size": 14})
    head = wb.add_format({"bold": True, "bg_color": "#D9D9D9", "border": 1})
    text = wb.add_format({"border": 1, "text_wrap": True})
    date = wb.add_format({"border": 1, "num_format": "yyyy-mm-dd"})
    late = wb.add_format({"bg_color": "#F8CBAD"})
    ws.merge_range("A1:G1", "跨部门协调事项跟踪表", title)
    ws.write("A2", "填写说明：灰色列由系统计算，请勿手工修改")
    ws.write_row(2, 0, HEADERS, head)
    rows = [
        ["XT-2026-0001", "采购系统对接", dt.date(2026, 3, 2), "接收评估", "进行中", 0, ""],
        ["XT-2026-0002", "年会场地协调", dt.date(2026, 3, 3), "沟通协商", "预警", 0, "张三跟进"],
        ["XT-2026-0003", "=不是公式", dt.date(2026, 3, 4), "方案审批", "已超期", 2, ""],
    ]
    for i, row in enumerate(rows):
        r = 3 + i
        ws.write_string(r, 0, row[0], text)
        ws.write_string(r, 1, row[1], text)
        ws.write_datetime(r, 2, dt.datetime.combine(row[2], dt.time()), date)
        ws.write_string(r, 3, row[3], text)
        ws.write_string(r, 4, row[4], text)
        ws.write_number(r, 5, row[5], text)
        ws.write_string(r, 6, row[6], text)
    ws.add_table(
        "A3:G10",
        {"name": "xt_tracking", "columns": [{"header": h} for h in HEADERS], "autofilter": True},
    )
    ws.conditional_format(
        "E4:E10", {"type": "cell", "criteria": "==", "value": '"已超期"', "format": late}
    )
    ws.conditional_format("F4:F10", {"type": "data_bar", "bar_solid": True, "bar_color": "#63C384"})
    ws.data_validation(
        "D4:D10", {"validate": "list", "source": ["接收评估", "沟通协商", "方案审批"]}
    )
    ws.write_comment("B5", "张三：请优先处理，周五前回复", {"author": "协调办"})
    ws.insert_image("J2", str(CALAMINE / "picture.png"), {"x_scale": 0.3, "y_scale": 0.3})
    chart = wb.add_chart({"type": "column"})
    chart.add_series(
        {"name": "超期工作日", "categories": "=跟踪表!$A$4:$A$6", "values": "=跟踪表!$F$4:$F$6"}
    )
    ws.insert_chart("J12", chart)
    ws.insert_textbox("J28", "协调办备注：本周重点跟进 XT-2026-0003", {"width": 260, "height": 50})
    ws.write_url("H4", "https://example.com/xt-2026-0001", string="附件")
    ws.write_formula("H5", "=F4+F5+F6", None, 2)
    ws.set_column("A:A", 16)
    ws.set_column("B:B", 24)
    ws.freeze_panes(3, 0)
    wb.define_name("xt_office_note", "=跟踪表!$J$28")
    stats = wb.add_worksheet("统计")
    stats.write("A1", "事项数")
    stats.write_formula("B1", "=COUNTA(跟踪表!A4:A10)", None, 3)
    if vba is not None:
        wb.add_vba_project(str(vba))
        ws.insert_button("J32", {"macro": "refresh", "caption": "刷新"})
    wb.close()
    return path


def vba_project(tmp: Path) -> Path:
    """vbaProject.bin taken from a real macro workbook of the corpus."""
    target = tmp / "vbaProject.bin"
    with zipfile.ZipFile(CALAMINE / "vba.xlsm") as z:
        target.write_bytes(z.read("xl/vbaProject.bin"))
    return target
