"""Lossless write-back: only the cells xietong owns change; every other part stays byte for byte."""

from __future__ import annotations

import datetime as dt
import io
import zipfile
from pathlib import Path

import openpyxl
import pytest

from automation.io.xlsxpatch import (
    CellEdit,
    XlsxPatchError,
    grow_table,
    make_ref,
    parse_ref,
    patch_workbook,
    sheet_tables,
)
from automation.io.xlsxpatch.parts import locate
from tests.test_xlsxpatch_helpers import (
    CALAMINE,
    assert_cells_kept,
    build_decorated_tracking,
    calamine_cells,
    changed_parts,
    vba_project,
)

SHEET = "跟踪表"


@pytest.fixture(scope="module")
def decorated(tmp_path_factory) -> bytes:
    return build_decorated_tracking(tmp_path_factory.mktemp("wb") / "跟踪表.xlsx").read_bytes()


def registration_and_refresh() -> list[CellEdit]:
    """A new row (registration) and the computed columns of every row (refresh)."""
    return [
        CellEdit("A7", "XT-2026-0004", style_from="A6"),
        CellEdit("B7", "新系统上线培训", style_from="B6"),
        CellEdit("C7", dt.date(2026, 3, 9), style_from="C6"),
        CellEdit("G7", '=HYPERLINK("http://evil")', style_from="G6"),
        CellEdit("D4", "沟通协商"),
        CellEdit("E4", "已超期"),
        CellEdit("F4", 1),
        CellEdit("E5", "按时完成"),
        CellEdit("F5", 0),
        CellEdit("E6", "已超期"),
        CellEdit("F6", 3.5),
        CellEdit("D7", "接收评估", style_from="D6"),
        CellEdit("E7", "进行中", style_from="E6"),
        CellEdit("F7", 0, style_from="F6"),
    ]


def expected_values(edits: list[CellEdit]) -> dict[str, object]:
    return {e.cell: e.value for e in edits}


def test_registration_and_refresh_change_only_the_sheet(decorated: bytes) -> None:
    edits = registration_and_refresh()
    out = patch_workbook(decorated, SHEET, edits)
    assert changed_parts(decorated, out) == {"xl/worksheets/sheet1.xml"}
    assert_cells_kept(decorated, out, SHEET, expected_values(edits))


def test_new_cells_take_the_style_of_the_row_above(decorated: bytes) -> None:
    out = patch_workbook(decorated, SHEET, registration_and_refresh())
    ws = openpyxl.load_workbook(io.BytesIO(out))[SHEET]
    for col in "ABCDEFG":
        assert ws[f"{col}7"]._style == ws[f"{col}6"]._style
    assert ws["C7"].number_format == "yyyy-mm-dd"
    assert ws["C7"].value == dt.datetime(2026, 3, 9)


def test_text_that_looks_like_a_formula_stays_text(decorated: bytes) -> None:
    out = patch_workbook(decorated, SHEET, registration_and_refresh())
    xml = zipfile.ZipFile(io.BytesIO(out)).read("xl/worksheets/sheet1.xml").decode()
    assert "<f>" not in xml.split('r="G7"')[1].split("</c>")[0]
    ws = openpyxl.load_workbook(io.BytesIO(out))[SHEET]
    assert ws["G7"].data_type == "s"
    # sharedStrings.xml is untouched: new text is written inline
    assert 't="inlineStr"' in xml


def test_decorations_survive(decorated: bytes) -> None:
    out = patch_workbook(decorated, SHEET, registration_and_refresh())
    names = set(zipfile.ZipFile(io.BytesIO(out)).namelist())
    for part in [
        "xl/drawings/drawing1.xml",
        "xl/charts/chart1.xml",
        "xl/comments1.xml",
        "xl/drawings/vmlDrawing1.vml",
        "xl/media/image1.png",
        "xl/tables/table1.xml",
    ]:
        assert part in names
    xml = zipfile.ZipFile(io.BytesIO(out)).read("xl/worksheets/sheet1.xml")
    before = zipfile.ZipFile(io.BytesIO(decorated)).read("xl/worksheets/sheet1.xml")
    for fragment in [
        b"<conditionalFormatting",
        b"<dataValidations",
        b"<x14:dataBar",
        b"<legacyDrawing",
        b"<drawing ",
        b"<tableParts",
        b"<hyperlinks",
        b"<mergeCells",
        b"<pane ",
    ]:
        assert before.count(fragment) == xml.count(fragment) >= 1, fragment
    # everything after sheetData is byte-identical
    assert xml.split(b"</sheetData>")[1] == before.split(b"</sheetData>")[1]
    # before it only the dimension grew to the new row
    head = before.split(b"<sheetData>")[0]
    assert xml.split(b"<sheetData>")[0] == head.replace(b'ref="A1:H6"', b'ref="A1:H7"')


def test_macro_workbook_keeps_vba_and_button(tmp_path: Path) -> None:
    src = build_decorated_tracking(tmp_path / "跟踪表.xlsm", vba=vba_project(tmp_path)).read_bytes()
    edits = registration_and_refresh()
    out = patch_workbook(src, SHEET, edits)
    assert changed_parts(src, out) == {"xl/worksheets/sheet1.xml"}
    assert_cells_kept(src, out, SHEET, expected_values(edits))
    assert zipfile.ZipFile(io.BytesIO(out)).read("xl/vbaProject.bin") == zipfile.ZipFile(
        io.BytesIO(src)
    ).read("xl/vbaProject.bin")


def test_rows_below_the_table_grow_it_and_only_its_ref(decorated: bytes) -> None:
    edits = [CellEdit("A11", "XT-2026-0008", style_from="A10"), CellEdit("E12", "进行中")]
    out = patch_workbook(decorated, SHEET, edits)
    assert changed_parts(decorated, out) == {"xl/worksheets/sheet1.xml", "xl/tables/table1.xml"}
    before = zipfile.ZipFile(io.BytesIO(decorated)).read("xl/tables/table1.xml")
    after = zipfile.ZipFile(io.BytesIO(out)).read("xl/tables/table1.xml")
    assert after == before.replace(b'ref="A3:G10"', b'ref="A3:G12"')
    assert [t.ref for t in sheet_tables(out, SHEET)] == ["A3:G12"]
    assert_cells_kept(decorated, out, SHEET, expected_values(edits))


def test_rows_far_below_the_table_leave_it_alone(decorated: bytes) -> None:
    out = patch_workbook(decorated, SHEET, [CellEdit("A20", "x")])
    assert changed_parts(decorated, out) == {"xl/worksheets/sheet1.xml"}
    out = patch_workbook(decorated, SHEET, [CellEdit("A11", "x")], grow_tables=False)
    assert changed_parts(decorated, out) == {"xl/worksheets/sheet1.xml"}


def test_grow_table_by_name_changes_only_the_table(decorated: bytes) -> None:
    out = grow_table(decorated, SHEET, "xt_tracking", 40)
    assert changed_parts(decorated, out) == {"xl/tables/table1.xml"}
    assert sheet_tables(out, SHEET)[0].ref == "A3:G40"
    assert grow_table(out, SHEET, "xt_tracking", 20) == out
    with pytest.raises(XlsxPatchError) as err:
        grow_table(decorated, SHEET, "nope", 40)
    assert err.value.code == "E_PATCH_TABLE"


def test_the_real_tracking_template(rules, tmp_path: Path) -> None:
    from automation.core.layout import layout
    from automation.io.templates import write_workbook

    form = rules.form("tracking")
    lay = layout(form)
    path = write_workbook(
        "tracking", rules, tmp_path / form.file_name, rows=[{"item_id": "XT-2026-0001"}]
    )
    src = path.read_bytes()
    first = lay.first_data_row
    edits = [
        CellEdit(f"{lay.columns['item_id']}{first + 1}", "XT-2026-0002"),
        CellEdit(f"{lay.columns['clock_state']}{first}", "已超期"),
        CellEdit(f"{lay.columns['late_workdays']}{first}", 2),
        CellEdit(f"{lay.columns['current_deadline']}{first}", "2026-03-20 18:00"),
        CellEdit(f"{lay.columns['submitted_date']}{first + 1}", dt.date(2026, 3, 20)),
    ]
    out = patch_workbook(src, form.sheet, edits)
    sheet_part = locate(src, form.sheet).sheet_part
    assert changed_parts(src, out) == {sheet_part}
    assert_cells_kept(src, out, form.sheet, expected_values(edits))
    ws = openpyxl.load_workbook(io.BytesIO(out))[form.sheet]
    # a new cell takes its column's default style (here the date format of submitted_date)
    assert ws[f"{lay.columns['submitted_date']}{first + 1}"].number_format == "yyyy-mm-dd"


# ------------------------------------------------------------------ real workbooks of the corpus

CORPUS_FILES = [
    "picture.xlsx",
    "pivots.xlsx",
    "vba.xlsm",
    "issue221.xlsm",
    "issue281.xlsm",
    "hyperlinks.xlsx",
    "table-multiple.xlsx",
    "pictures_in_cell_and_over_cell.xlsx",
    "picture_richdata.xlsx",
    "merge_cells.xlsx",
    "issue_553.xlsx",
    "issue_530.xlsx",  # comments, VML, charts, backslash part names
    "any_sheets.xlsx",  # a chart sheet
    "nonstandard-xml-ns-prefix.xlsx",
    "strict_iso_paths.xlsx",
    "shared_formula_simple.xlsx",
    "inlineStr_cdata.xlsx",
    "date_1904.xlsx",
    "table_with_absolute_paths.xlsx",
    "table_with_insertrow_attribute.xlsx",
    "richtext-namespaced.xlsx",
    "empty_sheet.xlsx",
]


def _first_worksheet(src: bytes) -> str:
    from python_calamine import CalamineWorkbook

    wb = CalamineWorkbook.from_filelike(io.BytesIO(src))
    for meta in wb.sheets_metadata:
        if "work" in str(meta.typ).lower():
            return meta.name
    raise AssertionError("no worksheet")


def _constant_cell(src: bytes, sheet: str) -> str | None:
    try:
        ws = openpyxl.load_workbook(io.BytesIO(src))[sheet]
    except Exception:
        return None
    for (_, _), cell in sorted(ws._cells.items()):
        if cell.data_type in ("s", "n") and cell.value is not None:
            return cell.coordinate
    return None


def _used_rows(src: bytes, sheet: str) -> int:
    try:
        return openpyxl.load_workbook(io.BytesIO(src))[sheet].max_row
    except Exception:
        return 0


@pytest.mark.parametrize("name", CORPUS_FILES)
def test_corpus_workbook_patched_losslessly(name: str) -> None:
    src = (CALAMINE / name).read_bytes()
    sheet = _first_worksheet(src)
    values = calamine_cells(src)
    last_row = max([r for (s, r, _) in values if s == sheet], default=0)
    row = max(last_row, _used_rows(src, sheet)) + 2
    edits = [
        CellEdit(f"A{row}", "xietong 写入 & <测试>"),
        CellEdit(f"B{row}", 42),
        CellEdit(f"C{row}", dt.date(2026, 3, 9)),
        CellEdit(f"D{row}", "=1+1"),
    ]
    constant = _constant_cell(src, sheet)
    if constant is not None:
        edits.append(CellEdit(constant, "改写的值"))
    out = patch_workbook(src, sheet, edits, grow_tables=False)
    book = locate(src, sheet)
    assert changed_parts(src, out) == {book.sheet_part.lower()}
    expected = expected_values(edits)
    # no date style at a fresh cell: readers see the serial number (1904 system: 1462 less)
    expected[f"C{row}"] = (dt.date(2026, 3, 9) - dt.date(1899, 12, 30)).days - 1462 * book.date1904
    # openpyxl cannot open every corpus file and sees nothing in strict OOXML: calamine only
    readable = _used_rows(src, sheet) > 0 or name == "empty_sheet.xlsx"
    assert_cells_kept(src, out, sheet, expected, with_openpyxl=readable)


def _row_layout(rows) -> list[tuple]:
    return [
        (
            r.number,
            r.tag.start,
            r.tag.end,
            r.end,
            r.close_start,
            [(c.row, c.col, c.start, c.end) for c in r.cells],
        )
        for r in rows
    ]


@pytest.mark.parametrize("name", [*CORPUS_FILES, "decorated"])
def test_rows_found_by_their_tags_are_the_rows_of_a_full_scan(name: str, decorated) -> None:
    """The patcher finds rows by their own tags when the sheet data allows it; every tag
    scanned must give the same rows, cells and byte ranges."""
    from automation.io.xlsxpatch.scan import _quick_rows, _rows, scan_sheet

    src = decorated if name == "decorated" else (CALAMINE / name).read_bytes()
    book = locate(src, SHEET if name == "decorated" else _first_worksheet(src))
    xml = book.pkg.read(book.sheet_part)
    sheet = scan_sheet(xml)
    if sheet.data_tag.empty:
        return
    full, close = _rows(xml, sheet.data_tag)
    assert (_row_layout(sheet.rows), sheet.data_close) == (_row_layout(full), close)
    quick = _quick_rows(xml, sheet.data_tag)
    assert quick is None or _row_layout(quick[0]) == _row_layout(full)
    if name == "decorated":
        assert quick is not None and len(full) > 3  # the quick way was taken and compared


def test_a_row_in_a_comment_of_the_sheet_data_is_not_a_row(decorated: bytes) -> None:
    """A comment in the sheet data can hold text that looks like a row: it is kept
    byte for byte and never patched."""
    book = locate(decorated, SHEET)
    xml = book.pkg.read(book.sheet_part)
    odd = b'<!-- <row r="60"><c r="B60"><v>1</v></c></row> -->'
    at = xml.index(b"<row ", xml.index(b"<sheetData"))
    src = book.pkg.rebuild({book.sheet_part: xml[:at] + odd + xml[at:]})
    out = patch_workbook(src, SHEET, [CellEdit("B5", "改写"), CellEdit("C60", 7)])
    patched = locate(out, SHEET)
    out_xml = patched.pkg.read(patched.sheet_part)
    assert out_xml.count(odd) == 1
    cells = calamine_cells(out)
    assert (cells[(SHEET, 5, 2)], cells[(SHEET, 60, 3)]) == ("改写", 7)
    assert (SHEET, 60, 2) not in cells


def test_date_1904_workbooks_get_1904_serials() -> None:
    src = (CALAMINE / "date_1904.xlsx").read_bytes()
    sheet = _first_worksheet(src)
    out = patch_workbook(src, sheet, [CellEdit("H1", dt.date(2026, 3, 9), style_from="A1")])
    xml = zipfile.ZipFile(io.BytesIO(out)).read(locate(src, sheet).sheet_part).decode()
    serial_1900 = (dt.date(2026, 3, 9) - dt.date(1899, 12, 30)).days
    assert f"<v>{serial_1900 - 1462}</v>" in xml


# ------------------------------------------------------------------ formulas


def test_a_formula_cell_is_not_overwritten_unless_asked() -> None:
    src = (CALAMINE / "shared_formula_simple.xlsx").read_bytes()
    with pytest.raises(XlsxPatchError) as err:
        patch_workbook(src, "Sheet1", [CellEdit("B2", 5)])
    assert err.value.code == "E_PATCH_FORMULA"
    assert "B2" in err.value.message


def test_overwriting_a_shared_formula_master_hands_it_on() -> None:
    src = (CALAMINE / "shared_formula_simple.xlsx").read_bytes()
    out = patch_workbook(src, "Sheet1", [CellEdit("B1", 99, overwrite_formula=True)])
    assert changed_parts(src, out) == {"xl/worksheets/sheet1.xml", "xl/calcchain.xml"}
    ws = openpyxl.load_workbook(io.BytesIO(out))["Sheet1"]
    assert [ws["B1"].value, ws["B2"].value, ws["B3"].value] == [99, "=A2*2", "=A3*2"]
    chain = zipfile.ZipFile(io.BytesIO(out)).read("xl/calcChain.xml").decode()
    assert 'r="B1"' not in chain and 'r="B2" i="1"' in chain
    values = calamine_cells(out)
    assert values[("Sheet1", 2, 2)] == 4  # cached values of the other cells kept


def test_overwriting_a_shared_formula_member_keeps_the_rest() -> None:
    src = (CALAMINE / "shared_formula_simple.xlsx").read_bytes()
    out = patch_workbook(src, "Sheet1", [CellEdit("B2", "手工值", overwrite_formula=True)])
    ws = openpyxl.load_workbook(io.BytesIO(out))["Sheet1"]
    assert [ws["B1"].value, ws["B2"].value, ws["B3"].value] == ["=A1*2", "手工值", "=A3*2"]


# ------------------------------------------------------------------ values and references


def test_values_round_trip_through_calamine_and_openpyxl(decorated: bytes) -> None:
    values = {
        "A30": "line 1\nline 2\r\nline 3",
        "B30": "tab\there _x0041_ literal",
        "C30": "控制字符\x01\x1f",
        "D30": True,
        "E30": -1.25e-7,
        "F30": 12345678901,
        "G30": dt.datetime(2026, 3, 9, 18, 0),
        "H30": "  leading and trailing  ",
        "I30": "",
    }
    out = patch_workbook(decorated, SHEET, [CellEdit(k, v) for k, v in values.items()])
    ws = openpyxl.load_workbook(io.BytesIO(out))[SHEET]
    cal = calamine_cells(out)
    for ref, value in values.items():
        row, col = parse_ref(ref)
        got = cal.get((SHEET, row, col))
        if ref == "I30":
            assert got in ("", None)
        elif ref == "G30":
            assert got == 46090.75  # no date style on a fresh cell: the serial number
        else:
            assert got == value or float(got) == float(value), ref
        # openpyxl does not decode the _xHHHH_ escapes of inline strings (Excel does)
        if ref not in ("B30", "C30", "I30", "G30"):
            assert ws[ref].value == value, ref


def test_none_clears_a_value_but_keeps_the_style(decorated: bytes) -> None:
    out = patch_workbook(decorated, SHEET, [CellEdit("G5", None), CellEdit("Z99", None)])
    before = openpyxl.load_workbook(io.BytesIO(decorated))[SHEET]
    ws = openpyxl.load_workbook(io.BytesIO(out))[SHEET]
    assert ws["G5"].value is None and ws["G5"]._style == before["G5"]._style
    assert ws.max_row == before.max_row


@pytest.mark.parametrize(
    ("edit", "code"),
    [
        (CellEdit("A0", 1), "E_PATCH_CELL"),
        (CellEdit("XFE1", 1), "E_PATCH_CELL"),
        (CellEdit("hello", 1), "E_PATCH_CELL"),
        (CellEdit("A1", float("nan")), "E_PATCH_CELL"),
        (CellEdit("A1", object()), "E_PATCH_CELL"),
        (CellEdit("A1", "x" * 40000), "E_PATCH_CELL"),
        (CellEdit("A1", dt.datetime(2026, 1, 1, tzinfo=dt.UTC)), "E_PATCH_CELL"),
        (CellEdit("A40", "x", style_from="??"), "E_PATCH_CELL"),
    ],
)
def test_bad_edits_give_coded_errors(decorated: bytes, edit: CellEdit, code: str) -> None:
    with pytest.raises(XlsxPatchError) as err:
        patch_workbook(decorated, SHEET, [edit])
    assert err.value.code == code


def test_the_same_cell_twice_is_refused(decorated: bytes) -> None:
    with pytest.raises(XlsxPatchError, match="两次"):
        patch_workbook(decorated, SHEET, [CellEdit("A40", 1), CellEdit("a40", 2)])


def test_a_missing_sheet_or_a_chart_sheet_is_refused(decorated: bytes) -> None:
    with pytest.raises(XlsxPatchError) as err:
        patch_workbook(decorated, "不存在", [CellEdit("A1", 1)])
    assert err.value.code == "E_PATCH_SHEET" and "跟踪表" in err.value.message
    src = (CALAMINE / "any_sheets.xlsx").read_bytes()
    from python_calamine import CalamineWorkbook

    charts = [
        m.name
        for m in CalamineWorkbook.from_filelike(io.BytesIO(src)).sheets_metadata
        if "chart" in str(m.typ).lower()
    ]
    with pytest.raises(XlsxPatchError) as err:
        patch_workbook(src, charts[0], [CellEdit("A1", 1)])
    assert err.value.code == "E_PATCH_SHEET"


@pytest.mark.parametrize(
    "name", ["date.xls", "any_sheets.xlsb", "pass_protected.xlsx", "any_sheets.ods"]
)
def test_files_that_are_not_xlsx_are_refused_with_a_code(name: str) -> None:
    with pytest.raises(XlsxPatchError) as err:
        patch_workbook((CALAMINE / name).read_bytes(), "Sheet1", [CellEdit("A1", 1)])
    assert err.value.code in ("E_PATCH_FORMAT", "E_PATCH_UNSUPPORTED", "E_PATCH_SHEET")


def test_a_corrupt_part_is_refused_with_a_code() -> None:
    src = (CALAMINE / "issue252.xlsx").read_bytes()  # bad CRC in the workbook's rels
    with pytest.raises(XlsxPatchError) as err:
        patch_workbook(src, "Sheet1", [CellEdit("A10", 1)])
    assert err.value.code == "E_PATCH_FORMAT"


def test_a_cell_hidden_in_a_merged_range_is_refused() -> None:
    src = (CALAMINE / "merge_cells.xlsx").read_bytes()
    with pytest.raises(XlsxPatchError, match="合并单元格 B2:D4"):
        patch_workbook(src, "Sheet1", [CellEdit("C3", "x")])
    out = patch_workbook(src, "Sheet1", [CellEdit("B2", "左上角可以写")])
    assert calamine_cells(out)[("Sheet1", 2, 2)] == "左上角可以写"


def test_garbage_is_refused_with_a_code() -> None:
    for data in [b"", b"not a zip", b"PK\x03\x04" + b"\x00" * 100]:
        with pytest.raises(XlsxPatchError) as err:
            patch_workbook(data, "Sheet1", [CellEdit("A1", 1)])
        assert err.value.code == "E_PATCH_FORMAT"


def test_no_edits_return_the_input(decorated: bytes) -> None:
    assert patch_workbook(decorated, SHEET, []) is decorated


def test_refs_round_trip() -> None:
    for row, col in [(1, 1), (12, 28), (1_048_576, 16_384), (7, 26), (7, 27), (3, 702), (3, 703)]:
        assert parse_ref(make_ref(row, col)) == (row, col)
    assert make_ref(12, 28) == "AB12"
    assert parse_ref("$AB$12") == (12, 28)


def test_cells_are_kept_in_order_when_inserted_between(decorated: bytes) -> None:
    edits = [CellEdit("I4", "i"), CellEdit("A8", "a"), CellEdit("C8", "c"), CellEdit("B8", "b")]
    out = patch_workbook(decorated, SHEET, edits)
    xml = zipfile.ZipFile(io.BytesIO(out)).read("xl/worksheets/sheet1.xml").decode()
    import re

    rows = [int(r) for r in re.findall(r'<row r="(\d+)"', xml)]
    assert rows == sorted(rows)
    for row in re.findall(r"<row [^>]*>(.*?)</row>", xml):
        cols = [parse_ref(c)[1] for c in re.findall(r'<c r="([A-Z]+\d+)"', row)]
        assert cols == sorted(cols)
    assert re.search(r'<row r="4" spans="1:9"', xml)


# ------------------------------------------------------------------ reruns change nothing


def test_a_second_identical_patch_returns_the_same_bytes(decorated: bytes) -> None:
    once = patch_workbook(decorated, SHEET, registration_and_refresh())
    twice = patch_workbook(once, SHEET, registration_and_refresh())
    assert twice is once  # nothing to write: the caller can skip the write entirely


def test_values_already_there_are_not_rewritten(decorated: bytes) -> None:
    # as a person typed them: shared strings, numbers, dates, text with escapes
    same = [
        CellEdit("D4", "接收评估"),
        CellEdit("F6", 2),
        CellEdit("C4", dt.date(2026, 3, 2)),
        CellEdit("B6", "=不是公式"),
        CellEdit("Z50", None),
    ]
    assert patch_workbook(decorated, SHEET, same) is decorated
    out = patch_workbook(decorated, SHEET, [CellEdit("F6", 2.5)])
    assert changed_parts(decorated, out) == {"xl/worksheets/sheet1.xml"}
    odd = patch_workbook(decorated, SHEET, [CellEdit("A40", "a_x0041_\r\n\x01<&>")])
    assert patch_workbook(odd, SHEET, [CellEdit("A40", "a_x0041_\r\n\x01<&>")]) is odd


def test_a_changed_type_is_a_change(decorated: bytes) -> None:
    out = patch_workbook(decorated, SHEET, [CellEdit("F6", "2")])
    assert calamine_cells(out)[(SHEET, 6, 6)] == "2"


def test_a_tags_reference_is_read_wherever_it_stands_and_unescaped() -> None:
    """The reference of a cell (asked of every cell scanned) is read quickly when it is the
    first attribute; any other place or an escaped value is read the general way."""
    from automation.io.xlsxpatch.scan import Tag

    def ref(attrs: bytes) -> str | None:
        return Tag(0, 0, False, b"", b"c", attrs, False).attr(b"r")

    assert ref(b' r="B2" s="1"') == "B2"
    assert ref(b" r = 'B3'") == "B3"
    assert ref(b' s="1" r="B4"') == "B4"
    assert ref(b" foo=\"x r='Z9'\" r='C5'") == "C5"
    assert ref(b' r="B&amp;6"') == "B&6"
    assert ref(b' x:r="A1"') is None


def test_a_long_sheet_is_deflated_in_runs_and_patched_again_in_one(monkeypatch) -> None:
    """A sheet of many rows goes into the zip as runs of rows each deflated on its own: the
    archive is whole (every reader inflates the part to the XML written), and the same sheet
    patched again in one cell deflates only the run that holds it."""
    import xlsxwriter

    from automation.io.xlsxpatch import package

    buf = io.BytesIO()
    wb = xlsxwriter.Workbook(buf, {"in_memory": True})
    ws = wb.add_worksheet("表")
    for r in range(1500):
        ws.write_row(r, 0, [f"XT-{r:05d}", "跨部门协调事项", r * 1.5, "进行中"])
    wb.close()
    first = patch_workbook(buf.getvalue(), "表", [CellEdit("D10", "已完成")])
    packed: list[bytes] = []
    real = package.zlib.compressobj

    class Counting:
        def __init__(self, *args):
            self._c = real(*args)

        def compress(self, data):
            packed.append(data)
            return self._c.compress(data)

        def flush(self, *args):
            return self._c.flush(*args)

    monkeypatch.setattr(package.zlib, "compressobj", Counting)
    second = patch_workbook(first, "表", [CellEdit("D1200", "已完成")])
    monkeypatch.setattr(package.zlib, "compressobj", real)
    sheet = [p for p in packed if b"<row" in p]
    assert len(sheet) == 1 and b'<row r="1200"' in sheet[0]  # the one run patched
    assert b'<row r="1"' not in sheet[0] and sheet[0].count(b"</row>") == package.RUN_ROWS
    with zipfile.ZipFile(io.BytesIO(second)) as z:
        assert z.testzip() is None
        xml = z.read("xl/worksheets/sheet1.xml")
    assert xml.count(b"</row>") == 1500 and xml.endswith(b"</worksheet>")
    ws = openpyxl.load_workbook(io.BytesIO(second))["表"]
    assert [ws["D10"].value, ws["D1200"].value, ws["D1199"].value] == ["已完成", "已完成", "进行中"]
    assert ws["A1500"].value == "XT-01499" and ws["C1000"].value == 999 * 1.5
