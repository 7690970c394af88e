"""Long sheets written as XML and spliced into an xlsxwriter workbook
(``automation.io.longsheet``): the same workbook, read back, as xlsxwriter's own cell writing
gives, for every kind of cell the summary writes and for text that is hard to put in XML."""

from __future__ import annotations

import datetime as dt
import io
import zipfile

import openpyxl
import pytest
import python_calamine
import xlsxwriter

from automation.io import longsheet
from automation.io.longsheet import LongRows, splice

CREATED = dt.datetime(2026, 10, 30)

TEXTS = [
    "普通文本",
    "=1+1",  # stays text
    '=HYPERLINK("http://evil.example","点我")',
    "  前后空格  ",
    "a & b < c > d \"quoted\" 'single'",
    "控制\x01字符\x1f",
    "_x0041_ 看起来像转义",
    "回车\r换行\n制表\t",
    "",
    "长" * 40_000,  # past Excel's 32,767 characters: cut as xlsxwriter's write_string does
]
NUMBERS = [0, 7, -3, 2.5, 0.9375, 1e-7, 123456789012, None, ""]
LINKS = [
    ("XT-2026-0001", "../02_协调事项/XT-2026-0001 协调事项/模板四_执行_生产部.xlsx"),
    ("百分号", "../02_协调事项/50% [草稿] {a}^`b`.xlsx"),
    ("已转义", "../02_协调事项/a%20b.xlsx"),
]


def _book(spliced: bool, existing_link: bool = False) -> bytes:
    """One sheet with a header by xlsxwriter and rows of every kind, by xlsxwriter's own
    ``write_*`` (``spliced=False``) or by :class:`LongRows` and :func:`splice`."""
    buf = io.BytesIO()
    wb = xlsxwriter.Workbook(buf, {"in_memory": True, "strings_to_formulas": False})
    wb.set_properties({"created": CREATED})  # workbooks built a second apart: the same bytes
    text = wb.add_format({"border": 1, "text_wrap": True})
    num = wb.add_format({"border": 1, "num_format": "0"})
    pct = wb.add_format({"border": 1, "num_format": "0.0%", "bg_color": "#FFE699"})
    link = wb.add_format({"font_color": "#0563C1", "underline": 1})
    wb.add_worksheet("其他").write_string(0, 0, "另一张表")
    ws = wb.add_worksheet("清单")
    ws.write_string(0, 0, "标题", wb.add_format({"bold": True}))
    if existing_link:
        ws.write_url(1, 0, "external:../其他.xlsx", link, string="已有链接", tip="已有")
    ws.autofilter(2, 0, 2 + len(TEXTS), 3)
    rows = LongRows("清单", 3)
    for n, value in enumerate(TEXTS):
        number = NUMBERS[n % len(NUMBERS)]
        label, target = LINKS[n % len(LINKS)]
        r = 3 + n
        if spliced:
            rows.text(0, value, text)
            rows.number(1, number, num)
            rows.number(2, n / 8, pct)
            rows.link(3, label, target, target, link, text)
            rows.end_row()
        else:
            ws.write_string(r, 0, value, text)
            if number is None or number == "":
                ws.write_blank(r, 1, None, num)
            else:
                ws.write_number(r, 1, number, num)
            ws.write_number(r, 2, n / 8, pct)
            ws.write_url(r, 3, "external:" + target, link, string=label, tip=target)
    wb.close()
    return splice(buf.getvalue(), [rows]) if spliced else buf.getvalue()


def _cells(data: bytes) -> list[tuple]:
    """Every cell: its value as the toolkit's reader (calamine) reads it (openpyxl does not
    undo the ``_xHHHH_`` escapes of inline strings), its type, style and link as openpyxl
    reads them."""
    wb = openpyxl.load_workbook(io.BytesIO(data))
    values = python_calamine.CalamineWorkbook.from_filelike(io.BytesIO(data))
    out = []
    for ws in wb:
        out.append((ws.title, ws.dimensions, ws.auto_filter.ref))
        grid = values.get_sheet_by_name(ws.title).to_python(skip_empty_area=False)
        for row in ws.iter_rows():
            for c in row:
                value = grid[c.row - 1][c.column - 1] if c.value is not None else None
                if isinstance(value, float) and value.is_integer():
                    value = int(value)
                link = c.hyperlink
                out.append(
                    (
                        ws.title,
                        c.coordinate,
                        value,
                        c.data_type,
                        c.number_format,
                        repr(c.font),
                        repr(c.fill),
                        repr(c.border),
                        (link.target, link.tooltip) if link else None,
                    )
                )
    return out


@pytest.mark.parametrize("existing_link", [False, True])
def test_spliced_rows_read_back_as_xlsxwriter_writes_them(existing_link):
    ours = _book(spliced=True, existing_link=existing_link)
    theirs = _book(spliced=False, existing_link=existing_link)
    assert _cells(ours) == _cells(theirs)
    assert _cells(ours)[0:1] and any(c[2] == "=1+1" and c[3] == "s" for c in _cells(ours)[1:])
    with zipfile.ZipFile(io.BytesIO(ours)) as z:
        assert z.testzip() is None
        sheet = z.read("xl/worksheets/sheet2.xml").decode()
    assert "<f>" not in sheet and "<f " not in sheet  # text never became a formula


def test_what_no_cell_can_hold_never_stops_the_workbook():
    buf = io.BytesIO()
    wb = xlsxwriter.Workbook(buf, {"in_memory": True})
    num = wb.add_format({"num_format": "0"})
    wb.add_worksheet("清单")
    rows = LongRows("清单", 1)
    for value in (float("nan"), float("inf"), "不是数字", 3):
        rows.number(0, value, num)
        rows.text(1, "孤立代理\ud800字符", num)  # no XML can hold a lone surrogate
        rows.end_row()
    wb.close()
    ws = openpyxl.load_workbook(io.BytesIO(splice(buf.getvalue(), [rows])))["清单"]
    assert [ws.cell(r, 1).value for r in range(2, 6)] == [None, None, "不是数字", 3]
    assert ws.cell(2, 2).value == "孤立代理?字符"


def test_the_same_rows_give_the_same_bytes():
    assert _book(spliced=True) == _book(spliced=True)


def test_a_sheet_without_rows_is_left_as_xlsxwriter_wrote_it():
    buf = io.BytesIO()
    wb = xlsxwriter.Workbook(buf, {"in_memory": True})
    wb.add_worksheet("清单").write_string(0, 0, "没有数据")
    wb.close()
    out = splice(buf.getvalue(), [LongRows("清单", 3)])
    ws = openpyxl.load_workbook(io.BytesIO(out))["清单"]
    assert ws.dimensions == "A1:A1" and ws["A1"].value == "没有数据"


def test_past_excels_limit_of_links_on_a_sheet_the_text_stays_without_a_link(monkeypatch):
    monkeypatch.setattr(longsheet, "MAX_LINKS", 2)
    ws = openpyxl.load_workbook(io.BytesIO(_book(spliced=True)))["清单"]
    linked = [c.row for c in ws["D"] if c.hyperlink]
    assert linked == [4, 5]
    assert [c.value for c in ws["D"][3:6]] == ["XT-2026-0001", "百分号", "已转义"]


def _listing(
    order: list[int], kept: dict | None, *, reuse: bool = True
) -> tuple[bytes, dict, LongRows]:
    """A list of the rows ``order`` names (each row's text, number and link), taken by key
    from ``kept`` (an earlier workbook's) or, with ``reuse=False``, written cell by cell."""
    buf = io.BytesIO()
    wb = xlsxwriter.Workbook(buf, {"in_memory": True, "strings_to_formulas": False})
    wb.set_properties({"created": CREATED})  # workbooks built a second apart: the same bytes
    text = wb.add_format({"border": 1, "text_wrap": True})
    num = wb.add_format({"border": 1, "num_format": "0"})
    link = wb.add_format({"font_color": "#0563C1", "underline": 1})
    for fmt in (text, num, link):  # kept rows name their styles by index: fixed first
        fmt._get_xf_index()
    wb.add_worksheet("清单").write_string(0, 0, "标题")
    rows = LongRows("清单", 1, kept)

    def fill(rows: LongRows, n: int) -> None:
        rows.text(0, TEXTS[n], text)
        rows.number(1, NUMBERS[n % len(NUMBERS)], num)
        label, target = LINKS[n % len(LINKS)]
        rows.link(2, label, target, target, link, text)

    if reuse:
        rows.keyed_rows([(n, (n,)) for n in order], fill)
    else:
        for n in order:
            fill(rows, n)
            rows.end_row()
    wb.close()
    return splice(buf.getvalue(), [rows]), rows.kept, rows


def _texts(data: bytes) -> list[str]:
    """The first column of the list's rows as calamine (the toolkit's reader) reads them."""
    book = python_calamine.CalamineWorkbook.from_filelike(io.BytesIO(data))
    return [row[0] for row in book.get_sheet_by_name("清单").to_python()[1:]]


def _shown(order: list[int]) -> list[str]:
    return [TEXTS[n][: longsheet.MAX_TEXT] for n in order]


def _afresh(order: list[int]) -> bytes:
    longsheet._BLOCKS.clear()
    return _listing(order, None, reuse=False)[0]


def test_a_row_names_no_place_and_reads_back_where_it_stands():
    """Rows and cells carry no ``r`` (the first row names its number after xlsxwriter's
    rows); openpyxl, calamine and a gap between cells put every value at its place."""
    data, _, _ = _listing([3, 0, 5], None)
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        sheet = z.read("xl/worksheets/sheet1.xml").decode()
    assert sheet.count('<row r="') == 2  # xlsxwriter's title row and the first of ours
    assert '<c r="' not in sheet.split('<row r="2">', 1)[1].split("</row>", 1)[1]
    assert _texts(data) == _shown([3, 0, 5])
    ws = openpyxl.load_workbook(io.BytesIO(data))["清单"]
    assert [ws.cell(r, 1).value for r in (2, 3)] == [TEXTS[3], TEXTS[0]]
    assert [ws.cell(r, 3).hyperlink.tooltip for r in (2, 3, 4)] == [LINKS[0][1]] * 2 + [LINKS[2][1]]

    buf = io.BytesIO()
    wb = xlsxwriter.Workbook(buf, {"in_memory": True})
    fmt = wb.add_format()
    wb.add_worksheet("清单")
    rows = LongRows("清单", 0)
    rows.text(0, "甲", fmt)
    rows.text(3, "丁", fmt)  # columns B and C left blank
    with pytest.raises(ValueError, match="column 1 after column 3"):
        rows.text(1, "乙", fmt)  # a cell names no place: columns come in order
    rows.end_row()
    wb.close()
    ws = openpyxl.load_workbook(io.BytesIO(splice(buf.getvalue(), [rows])))["清单"]
    assert [c.value for c in ws[1]] == ["甲", None, None, "丁"]


def test_rows_kept_from_an_earlier_workbook_give_the_bytes_built_afresh(monkeypatch):
    built: list[int] = []
    real = LongRows._built
    monkeypatch.setattr(
        LongRows, "_built", lambda self, fill, args: built.append(args[0]) or real(self, fill, args)
    )
    first, kept, _ = _listing([0, 1, 2, 3, 4], None)
    assert first == _afresh([0, 1, 2, 3, 4])
    assert built == [0, 1, 2, 3, 4]
    # rows moved (each at another place), one gone, new ones: the moved rows are taken as
    # they were, only the new ones built
    order = [4, 2, 7, 0, 9, 1]
    built.clear()
    again, kept_again, _ = _listing(order, kept)
    assert built == [7, 9]
    assert again == _afresh(order)
    assert set(kept_again) == set(order)  # what the next workbook can take: this one's rows
    assert all(kept_again[n] is kept[n] for n in (4, 2, 0, 1))  # the earlier rows themselves
    assert _texts(again) == _shown(order)
    ws = openpyxl.load_workbook(io.BytesIO(again))["清单"]
    assert ws["C3"].hyperlink.target == LINKS[2][1].replace("/", "\\")  # already escaped
    assert ws["C3"].hyperlink.tooltip == LINKS[2][1]
    # a row asked twice in one workbook: built once
    built.clear()
    twice, _, _ = _listing([5, 5], None)
    assert built == [5] and twice == _afresh([5, 5])


def test_kept_rows_past_excels_limit_of_links_keep_the_text_without_a_link(monkeypatch):
    _, kept, _ = _listing([0, 1, 2, 3], None)
    monkeypatch.setattr(longsheet, "MAX_LINKS", 2)
    limited, kept_limited, _ = _listing([0, 1, 2, 3], kept)
    assert limited == _afresh([0, 1, 2, 3])
    ws = openpyxl.load_workbook(io.BytesIO(limited))["清单"]
    assert [c.row for c in ws["C"] if c.hyperlink] == [2, 3]
    assert set(kept_limited) == {0, 1}  # the rows shown without their link are not kept


def test_blocks_follow_the_rows_not_their_places(monkeypatch):
    """The long parts go in blocks, each joined, encoded and compressed once; blocks of rows
    end where the rows say (``ROW_CUT``), so a workbook rebuilt after one row changed, came,
    went or moved compresses again the blocks that hold it (and the hyperlinks after it, which
    name their cells), and is the workbook built with no block kept."""
    monkeypatch.setattr(longsheet, "ROW_CUT", 1)  # every row a block of its own
    monkeypatch.setattr(longsheet, "LINK_BLOCK", 2)
    packed: list[bytes] = []
    real = longsheet._deflated
    monkeypatch.setattr(longsheet, "_deflated", lambda raw: packed.append(raw) or real(raw))
    order = [0, 1, 2, 3, 4, 5, 6]
    first, kept, _ = _listing(order, None)

    def packed_rows() -> list[bytes]:
        return [p for p in packed if p.startswith(b"<row")]

    assert len(packed_rows()) == 7
    for changed in ([0, 1, 2, 7, 4, 5, 6], [0, 1, 2, 4, 5, 6], [0, 5, 1, 2, 4, 6]):
        packed.clear()
        again, kept, _ = _listing(changed, kept)
        # changed: the new row; gone: none; moved (5 up to the second place): none, as no
        # row's XML changed (the first row names its number: its block is the same too)
        assert len(packed_rows()) == (1 if changed[3] == 7 else 0), changed
        assert again == _afresh(changed)
        with zipfile.ZipFile(io.BytesIO(again)) as z:
            assert z.testzip() is None
        assert _texts(again) == _shown(changed)
        ws = openpyxl.load_workbook(io.BytesIO(again))["清单"]
        links = [ws.cell(r, 3).hyperlink.tooltip for r in range(2, 2 + len(changed))]
        assert links == [LINKS[n % 3][1] for n in changed]


def test_the_first_row_names_its_place_whatever_row_comes_first(monkeypatch):
    """The first block holds the only row number: a row that becomes first, or stops being
    first, still reads back at its place (its block is compressed again with the number)."""
    monkeypatch.setattr(longsheet, "ROW_CUT", 1)
    _, kept, _ = _listing([0, 1, 2], None)
    for order in ([1, 0, 2], [2, 1, 0], [0, 1, 2]):
        data, kept, _ = _listing(order, kept)
        assert data == _afresh(order)
        assert _texts(data) == _shown(order)
