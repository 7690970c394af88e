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


def _listing(order: list[int], kept: dict | None, *, reuse: bool = True) -> tuple[bytes, dict]:
    """A numbered list of the rows ``order`` names (a number column, then the row's text,
    number and link), the rows' cells kept from ``kept`` (an earlier workbook's) or, with
    ``reuse=False``, written cell by cell."""
    buf = io.BytesIO()
    wb = xlsxwriter.Workbook(buf, {"in_memory": True, "strings_to_formulas": False})
    wb.set_properties({"created": CREATED})  # workbooks built a second apart: the same bytes
    text = wb.add_format({"border": 1, "text_wrap": True})
    num = wb.add_format({"border": 1, "num_format": "0"})
    link = wb.add_format({"font_color": "#0563C1", "underline": 1})
    for fmt in (text, num, link):  # kept cells name their style by its index: fixed first
        fmt._get_xf_index()
    wb.add_worksheet("清单").write_string(0, 0, "标题")
    rows = LongRows("清单", 1, kept)

    def fill(rows: LongRows, n: int) -> None:
        rows.text(1, TEXTS[n], text)
        rows.number(2, NUMBERS[n % len(NUMBERS)], num)
        label, target = LINKS[n % len(LINKS)]
        rows.link(3, label, target, target, link, text)

    for place, n in enumerate(order, start=1):
        rows.number(0, place, num)
        if reuse:
            rows.kept_cells(n, fill, n)
        else:
            fill(rows, n)
        rows.end_row()
    wb.close()
    return splice(buf.getvalue(), [rows]), rows.kept


def test_rows_kept_from_an_earlier_workbook_give_the_bytes_built_afresh():
    first, kept = _listing([0, 1, 2, 3, 4], None)
    assert first == _listing([0, 1, 2, 3, 4], None, reuse=False)[0]
    # rows moved (each at another place, so with another row number and cell references),
    # one gone, new ones
    order = [4, 2, 7, 0, 9, 1]
    again, kept_again = _listing(order, kept)
    assert again == _listing(order, None, reuse=False)[0]
    assert set(kept_again) == set(order)  # what the next workbook can take: this one's rows
    ws = openpyxl.load_workbook(io.BytesIO(again))["清单"]
    assert [ws.cell(r, 1).value for r in range(2, 8)] == [1, 2, 3, 4, 5, 6]
    assert ws["D3"].hyperlink.target == LINKS[2][1].replace("/", "\\")  # already escaped
    assert ws["D3"].hyperlink.tooltip == LINKS[2][1]


def test_kept_rows_past_excels_limit_of_links_keep_the_text_without_a_link(monkeypatch):
    _, kept = _listing([0, 1, 2, 3], None)
    monkeypatch.setattr(longsheet, "MAX_LINKS", 2)
    limited, kept_limited = _listing([0, 1, 2, 3], kept)
    assert limited == _listing([0, 1, 2, 3], None, reuse=False)[0]
    ws = openpyxl.load_workbook(io.BytesIO(limited))["清单"]
    assert [c.row for c in ws["D"] if c.hyperlink] == [2, 3]
    assert set(kept_limited) == {0, 1}  # the rows shown without their link are not kept


def _placed_listing(
    order: list[int], earlier: tuple[dict, list] | None, *, bulk: bool = False
) -> tuple[bytes, tuple]:
    """:func:`_listing` with whole rows taken by their place (``LongRows.placed_row``, or
    ``placed_rows`` for all at once with ``bulk``)."""
    buf = io.BytesIO()
    wb = xlsxwriter.Workbook(buf, {"in_memory": True, "strings_to_formulas": False})
    wb.set_properties({"created": CREATED})  # workbooks built a second apart: the same bytes
    text = wb.add_format({"border": 1, "text_wrap": True})
    num = wb.add_format({"border": 1, "num_format": "0"})
    link = wb.add_format({"font_color": "#0563C1", "underline": 1})
    for fmt in (text, num, link):
        fmt._get_xf_index()
    wb.add_worksheet("清单").write_string(0, 0, "标题")
    rows = LongRows("清单", 1, *(earlier or ({}, [])))

    def fill(rows: LongRows, n: int) -> None:
        rows.text(1, TEXTS[n], text)
        rows.number(2, NUMBERS[n % len(NUMBERS)], num)
        label, target = LINKS[n % len(LINKS)]
        rows.link(3, label, target, target, link, text)

    if bulk:
        rows.placed_rows([(n, (n,)) for n in order], fill, count=num)
    else:
        for n in order:
            rows.placed_row(n, fill, n, count=num)
    wb.close()
    return splice(buf.getvalue(), [rows]), (rows.kept, rows.placed)


@pytest.mark.parametrize("limit", [None, 5])
def test_rows_placed_all_at_once_are_the_rows_placed_one_by_one(monkeypatch, limit):
    """``placed_rows`` takes runs of rows found at their place whole: the same workbook, the
    same rows kept for the next, the very row pieces of the earlier workbook in place — also
    when Excel's limit of links falls inside a run."""
    if limit is not None:
        monkeypatch.setattr(longsheet, "MAX_LINKS", limit)
    orders = [[0, 1, 2, 3, 4, 5, 6], [0, 1, 3, 2, 4, 5, 6], [0, 1, 2, 4, 5, 6], [7, 0, 1, 2]]
    one, many, taken = None, None, 0
    for order in orders:
        got_one, one = _placed_listing(order, one)
        got_many, held = _placed_listing(order, many, bulk=True)
        assert got_many == got_one == _listing(order, None, reuse=False)[0]
        assert held[0].keys() == one[0].keys() and held[1] == one[1]
        if many is not None:  # rows at their place: the earlier pieces themselves
            same = [
                i
                for i, p in enumerate(held[1])
                if p is not None and i < len(many[1]) and p == many[1][i]
            ]
            assert all(held[1][i] is many[1][i] for i in same)
            taken += len(same)
        many = held
    # after the swap 0, 1, 4, 5, 6 in place, after 3 went 0 and 1, after 7 came first none
    assert taken == (5 + 2 if limit is None else 5)


def test_rows_taken_by_their_place_give_the_bytes_built_afresh(monkeypatch):
    built: list[int] = []
    real = LongRows._built
    monkeypatch.setattr(
        LongRows, "_built", lambda self, fill, args: built.append(args[0]) or real(self, fill, args)
    )
    first, earlier = _placed_listing([0, 1, 2, 3, 4], None)
    assert first == _listing([0, 1, 2, 3, 4], None, reuse=False)[0]
    # 0, 1 and 4 at their places; 2 and 3 swapped; 9 new at the end
    order = [0, 1, 3, 2, 4, 9]
    built.clear()
    again, later = _placed_listing(order, earlier)
    assert again == _listing(order, None, reuse=False)[0]
    assert built == [9]  # 3 and 2 moved: their cells kept, their rows built; 9 made anew
    assert [p[1] for p in later[1]] == order
    # rows in their place are the earlier rows themselves, the moved ones are not
    assert [later[1][i] is earlier[1][i] for i in range(5)] == [True, True, False, False, True]
    # the next workbook has fewer rows: what stays in place is taken, the bytes still agree
    third, _ = _placed_listing([0, 1, 3], later)
    assert third == _listing([0, 1, 3], None, reuse=False)[0]


def test_blocks_of_rows_and_links_kept_give_the_bytes_built_afresh(monkeypatch):
    """The long parts go in blocks, each joined, encoded and compressed once: a workbook
    rebuilt after one row changed compresses again only the blocks that hold it, and is the
    workbook built with no block kept — a valid archive every reader opens."""
    monkeypatch.setattr(longsheet, "ROW_BLOCK", 2)
    monkeypatch.setattr(longsheet, "LINK_BLOCK", 2)
    packed: list[bytes] = []
    real = longsheet._deflated
    monkeypatch.setattr(longsheet, "_deflated", lambda raw: packed.append(raw) or real(raw))
    first, earlier = _placed_listing([0, 1, 2, 3, 4, 5, 6], None)
    blocks = (b"<row r=", b"<hyperlink ref=", b"<Relationship Id=")
    assert len([p for p in packed if p.startswith(blocks)]) == 3 * 4  # four blocks of each
    packed.clear()
    # the row at the fourth place changes: its block of rows is packed again; the links and
    # relationships of that block too (another target), nothing else of the long parts
    again, _ = _placed_listing([0, 1, 2, 7, 4, 5, 6], earlier)
    again_packed = [p for p in packed if p.startswith(blocks)]
    assert len(again_packed) == 3  # the second block of rows (rows 4 and 5), of links, of rels
    assert again_packed[0].startswith(b'<row r="4">') and b'<row r="5">' in again_packed[0]
    longsheet._BLOCKS.clear()
    assert again == _placed_listing([0, 1, 2, 7, 4, 5, 6], None)[0]
    with zipfile.ZipFile(io.BytesIO(again)) as z:
        assert z.testzip() is None
    ws = openpyxl.load_workbook(io.BytesIO(again))["清单"]
    assert ws["B5"].value == TEXTS[7] and ws["D5"].hyperlink.tooltip == LINKS[7 % 3][1]
    book = python_calamine.CalamineWorkbook.from_filelike(io.BytesIO(again))
    assert book.get_sheet_by_name("清单").to_python()[4][1] == TEXTS[7]
    assert first != again


def test_rows_that_moved_are_renumbered_whole_and_give_the_bytes_built_afresh(monkeypatch):
    """A row that came or went moves every later row up or down: each moved row is its kept
    cells renumbered in one string, not built cell by cell again — and the workbook is the
    one built afresh."""
    first, earlier = _placed_listing([0, 1, 2, 3, 4, 5], None)
    asked: list[object] = []
    real = LongRows.kept_cells
    monkeypatch.setattr(
        LongRows,
        "kept_cells",
        lambda self, key, fill, *args: asked.append(key) or real(self, key, fill, *args),
    )
    again, later = _placed_listing([0, 2, 3, 4, 5], earlier)  # the second row went
    assert asked == []  # 0 in place; 2, 3, 4 and 5 moved up: none built cell by cell
    assert [p[1] for p in later[1]] == [0, 2, 3, 4, 5]
    monkeypatch.setattr(LongRows, "kept_cells", real)
    longsheet._BLOCKS.clear()
    assert again == _listing([0, 2, 3, 4, 5], None, reuse=False)[0]
    ws = openpyxl.load_workbook(io.BytesIO(again))["清单"]
    assert [ws.cell(r, 1).value for r in range(2, 7)] == [1, 2, 3, 4, 5]
    assert ws["B3"].value == TEXTS[2]
