"""A full run on a tracking table the office decorated: only the owned cells change.

Registration and a computed-column refresh through ``run_cycle``: every package part except the
patched sheet (and its Excel table, which grows with new rows) keeps its bytes, and every cell
the automation does not own keeps its value and style.
"""

from __future__ import annotations

import datetime as dt
import io
import shutil

import openpyxl
import pytest
from intake_helpers import AS_OF, drop_request, office_edit, request_values, tracking_rows
from openpyxl.chart import BarChart, Reference
from openpyxl.comments import Comment

from automation.core.layout import layout
from automation.io.drive import drive_paths
from automation.io.journal import read_journal
from automation.io.xlsxpatch.package import Package
from automation.process.cycle import run_cycle
from automation.rules import load_rules
from tests.conftest import convert_with_libreoffice
from tests.test_xlsxpatch_helpers import assert_cells_kept, changed_parts


def _notes_cell(row: int) -> str:
    """The 备注 (notes) cell of a row, wherever the rules put that column."""
    return f"{layout(load_rules().form('tracking')).columns['notes']}{row}"


def _decorate_with_openpyxl(path):
    """The office adds a chart, a comment and a colour rule, and types a note."""
    wb = openpyxl.load_workbook(path)
    ws = wb["跟踪表"]
    ws[_notes_cell(6)] = "办公室备注：下周复盘"
    ws[_notes_cell(6)].comment = Comment("王芳：请关注 XT-2026-0001", "协调办")
    chart = BarChart()
    chart.add_data(Reference(ws, min_col=29, min_row=3, max_row=10), titles_from_data=True)
    ws.add_chart(chart, "AF4")
    wb.save(path)


def _edited_cells(drive, rules, since: int) -> dict[str, object]:
    paths = drive_paths(drive, rules)
    edited: dict[str, object] = {}
    for e in read_journal(paths.log)[since:]:
        if e["file"].endswith("跟踪表.xlsx"):
            for cell, value in e["after"].items():
                if isinstance(value, str) and len(value) == 10 and value[4] == "-":
                    value = dt.date.fromisoformat(value)
                edited[cell] = value
    return edited


def _sheet_part(data: bytes) -> set[str]:
    names = {e.part for e in Package(data).entries}
    return {n for n in names if n.startswith("xl/worksheets/sheet1") or n.startswith("xl/tables/")}


def _run_and_check(drive, rules):
    paths = drive_paths(drive, rules)
    drop_request(drive, rules, "申请1.xlsx", request_values(1))
    drop_request(drive, rules, "申请2.xlsx", request_values(2))
    before = paths.tracking.read_bytes()
    start = len(read_journal(paths.log))
    report = run_cycle(drive, as_of=AS_OF, settle_s=0)
    assert report.rows_added == 2
    after = paths.tracking.read_bytes()
    assert changed_parts(before, after) <= _sheet_part(before)
    assert_cells_kept(before, after, "跟踪表", _edited_cells(drive, rules, start))

    # the office evaluates; the next run refreshes computed columns and writes the route
    row = next(r["_row"] for r in tracking_rows(drive, rules) if r["item_id"] == "XT-2026-0001")
    office_edit(
        drive,
        rules,
        row,
        {
            "evaluation_result": "通过",
            "evaluation_date": dt.date(2026, 3, 11),
            "lead_dept": "生产部",
            "coop_depts": "市场部",
        },
    )
    before = paths.tracking.read_bytes()
    start = len(read_journal(paths.log))
    report = run_cycle(drive, as_of=dt.datetime(2026, 3, 16, 10), settle_s=0)
    assert report.cells_updated > 0
    after = paths.tracking.read_bytes()
    assert changed_parts(before, after) <= _sheet_part(before)
    edited = _edited_cells(drive, rules, start)
    assert f"U{row}" in edited  # approval route
    assert_cells_kept(before, after, "跟踪表", edited)
    return tracking_rows(drive, rules)


def test_decorated_tracking_table_keeps_everything_but_the_owned_cells(drive, rules):
    _decorate_with_openpyxl(drive_paths(drive, rules).tracking)
    rows = _run_and_check(drive, rules)
    assert [(r["_row"], r.get("item_id")) for r in rows] == [
        (6, None),
        (7, "XT-2026-0001"),
        (8, "XT-2026-0002"),
    ]
    wb = openpyxl.load_workbook(io.BytesIO(drive_paths(drive, rules).tracking.read_bytes()))
    ws = wb["跟踪表"]
    note = ws[_notes_cell(6)]
    assert note.value == "办公室备注：下周复盘" and note.comment is not None
    assert len(ws._charts) == 1


@pytest.mark.libreoffice
def test_tracking_table_saved_by_libreoffice(drive, rules, soffice, tmp_path):
    paths = drive_paths(drive, rules)
    saved = convert_with_libreoffice(soffice, paths.tracking, tmp_path / "lo", "xlsx")
    shutil.copy(saved, paths.tracking)
    rows = _run_and_check(drive, rules)
    assert [r["item_id"] for r in rows] == ["XT-2026-0001", "XT-2026-0002"]
    assert rows[0]["approval_route"]
