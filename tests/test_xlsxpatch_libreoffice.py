"""A tracking table decorated and saved by LibreOffice, patched losslessly; LibreOffice reads
every patched workbook back and sees the new values."""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

import pytest

from automation.io.xlsxpatch import CellEdit, patch_workbook
from automation.io.xlsxpatch.package import Package
from automation.io.xlsxpatch.parts import locate
from tests.conftest import convert_with_libreoffice
from tests.test_xlsxpatch import registration_and_refresh
from tests.test_xlsxpatch_helpers import (
    CALAMINE,
    assert_cells_kept,
    build_decorated_tracking,
    changed_parts,
)

pytestmark = pytest.mark.libreoffice
SHEET = "跟踪表"
CSV_UTF8 = "csv:Text - txt - csv (StarCalc):44,34,76"


@pytest.fixture(scope="module")
def saved_by_libreoffice(soffice: str, tmp_path_factory) -> bytes:
    work = tmp_path_factory.mktemp("lo")
    src = build_decorated_tracking(work / "跟踪表.xlsx")
    return convert_with_libreoffice(soffice, src, work / "saved", "xlsx").read_bytes()


def read_back_with_libreoffice(soffice: str, data: bytes, folder: Path) -> list[list[str]]:
    """The first sheet of ``data`` as LibreOffice shows it (CSV, UTF-8)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "patched.xlsx"
    path.write_bytes(data)
    out = convert_with_libreoffice(soffice, path, folder / "csv", CSV_UTF8)
    with open(out, encoding="utf-8", newline="") as fh:
        return list(csv.reader(fh))


def test_libreoffice_saved_table_is_patched_losslessly(saved_by_libreoffice: bytes) -> None:
    src = saved_by_libreoffice
    assert b"LibreOffice" in Package(src).read("docProps/app.xml")  # really LibreOffice's file
    edits = registration_and_refresh()
    out = patch_workbook(src, SHEET, edits)
    sheet_part = locate(src, SHEET).sheet_part
    assert changed_parts(src, out) == {sheet_part}
    assert_cells_kept(src, out, SHEET, {e.cell: e.value for e in edits})


def test_libreoffice_reads_the_patched_libreoffice_file(
    soffice: str, saved_by_libreoffice: bytes, tmp_path: Path
) -> None:
    out = patch_workbook(saved_by_libreoffice, SHEET, registration_and_refresh())
    rows = read_back_with_libreoffice(soffice, out, tmp_path)
    assert rows[6][:5] == ["XT-2026-0004", "新系统上线培训", "2026-03-09", "接收评估", "进行中"]
    assert rows[6][6] == '=HYPERLINK("http://evil")'  # text, not a formula
    assert rows[3][3:6] == ["沟通协商", "已超期", "1"]
    assert rows[5][1] == "=不是公式"  # the person's own text kept


def test_libreoffice_reads_the_patched_xlsxwriter_file(soffice: str, tmp_path: Path) -> None:
    src = build_decorated_tracking(tmp_path / "跟踪表.xlsx").read_bytes()
    edits = [*registration_and_refresh(), CellEdit("A11", "XT-2026-0009", style_from="A10")]
    out = patch_workbook(src, SHEET, edits)
    rows = read_back_with_libreoffice(soffice, out, tmp_path / "lo")
    assert rows[6][:3] == ["XT-2026-0004", "新系统上线培训", "2026-03-09"]
    assert rows[10][0] == "XT-2026-0009"


# (issue_530.xlsx, with backslash part names, is not opened by LibreOffice even unpatched)
@pytest.mark.parametrize(
    "name", ["vba.xlsm", "pivots.xlsx", "picture.xlsx", "pictures_in_cell_and_over_cell.xlsx"]
)
def test_libreoffice_opens_patched_corpus_workbooks(
    soffice: str, tmp_path: Path, name: str
) -> None:
    src = (CALAMINE / name).read_bytes()
    sheet = _first_sheet_name(src)
    out = patch_workbook(src, sheet, [CellEdit("A200", "xietong 写入"), CellEdit("B200", 7)])
    rows = read_back_with_libreoffice(soffice, out, tmp_path / "lo")
    assert rows[199][:2] == ["xietong 写入", "7"]


def _first_sheet_name(src: bytes) -> str:
    import io

    from python_calamine import CalamineWorkbook

    return CalamineWorkbook.from_filelike(io.BytesIO(src)).sheet_names[0]


def test_dates_show_as_dates_in_libreoffice(soffice: str, tmp_path: Path) -> None:
    src = build_decorated_tracking(tmp_path / "跟踪表.xlsx").read_bytes()
    out = patch_workbook(src, SHEET, [CellEdit("C4", dt.date(2026, 10, 10))])
    rows = read_back_with_libreoffice(soffice, out, tmp_path / "lo")
    assert rows[3][2] == "2026-10-10"


def test_libreoffice_reads_a_long_sheet_patched_in_runs(soffice: str, tmp_path: Path) -> None:
    """A sheet long enough to be deflated in runs of rows (see xlsxpatch.package.deflated),
    patched twice (the second time taking every run but one as it was): LibreOffice reads
    every row, the patched cells included."""
    import io

    import xlsxwriter

    buf = io.BytesIO()
    wb = xlsxwriter.Workbook(buf, {"in_memory": True})
    ws = wb.add_worksheet(SHEET)
    for r in range(1200):
        ws.write_row(r, 0, [f"XT-{r:05d}", "进行中", r])
    wb.close()
    assert len(Package(buf.getvalue()).read(locate(buf.getvalue(), SHEET).sheet_part)) > 64 * 1024
    once = patch_workbook(buf.getvalue(), SHEET, [CellEdit("B5", "已完成")])
    twice = patch_workbook(once, SHEET, [CellEdit("B1100", "已暂停")])
    rows = read_back_with_libreoffice(soffice, twice, tmp_path)
    assert len(rows) == 1200
    assert rows[4] == ["XT-00004", "已完成", "4"] and rows[1099] == ["XT-01099", "已暂停", "1099"]
    assert rows[1199] == ["XT-01199", "进行中", "1199"]
