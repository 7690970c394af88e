"""The generated workbooks, read back by other readers (calamine, openpyxl, LibreOffice)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import openpyxl
import pytest
import python_calamine as pc
from openpyxl.utils.cell import coordinate_from_string, range_boundaries

from automation.api import stale_templates
from automation.core.cells import column_index
from automation.core.layout import layout
from automation.rules import default_workbooks_dir
from tests.conftest import convert_with_libreoffice

KINDS = ["request", "tracking", "minutes", "execution", "weekly", "summary"]


def _path(rules, kind: str) -> Path:
    return default_workbooks_dir() / rules.form(kind).file_name


def test_committed_workbooks_are_what_the_rules_generate():
    assert stale_templates() == [], "run `xietong templates` and commit workbooks/"


@pytest.mark.parametrize("kind", KINDS)
def test_calamine_sees_the_chinese_labels_and_the_hidden_marker(rules, kind):
    form = rules.form(kind)
    lay = layout(form)
    wb = pc.CalamineWorkbook.from_path(str(_path(rules, kind)), load_tables=True)
    visibility = {m.name: str(m.visible) for m in wb.sheets_metadata}
    assert wb.sheet_names[0] == form.sheet
    assert "填写说明" in wb.sheet_names
    assert visibility["_xietong"].endswith("VeryHidden")
    marker = wb.get_sheet_by_name("_xietong").to_python()[0]
    assert marker[:3] == ["xietong", kind, float(form.version)]
    rows = wb.get_sheet_by_name(form.sheet).to_python()
    for f in form.form_fields:
        r = int(lay.cells[f.key][1:]) - 1
        assert rows[r][0] == f.label + (" *" if f.required else "")
    if form.layout == "table":
        header = rows[lay.header_row - 1]
        assert header[: len(form.columns)] == [c.label for c in form.columns]
        assert f"xt_{kind}" in wb.table_names


def _validations_for(ws, col: int, row: int):
    found = []
    for dv in ws.data_validations.dataValidation:
        for rng in dv.sqref.ranges:
            c1, r1, c2, r2 = range_boundaries(rng.coord)
            if c1 <= col + 1 <= c2 and r1 <= row <= r2:
                found.append(dv)
    return found


@pytest.mark.parametrize("kind", KINDS)
def test_names_dropdowns_protection_and_unlocked_inputs(rules, kind):
    form = rules.form(kind)
    lay = layout(form)
    wb = openpyxl.load_workbook(_path(rules, kind))
    ws = wb[form.sheet]
    assert ws.protection.sheet is True
    assert not ws.protection.password
    # every form field has its workbook-level name on its value cell
    for f in form.form_fields:
        dn = wb.defined_names[f"xt_{f.key}"]
        ((sheet, ref),) = dn.destinations
        assert sheet == form.sheet and ref.replace("$", "") == lay.cells[f.key]
    cells = [(f, *coordinate_from_string(lay.cells[f.key])) for f in form.form_fields]
    row0 = lay.first_data_row
    cells += [(c, lay.columns[c.key], row0) for c in form.columns]
    for t in form.tables:
        inner = lay.tables[t.key]
        cells += [(c, inner.columns[c.key], inner.first_row) for c in t.columns]
    for f, col_letter, row in cells:
        col = column_index(col_letter) - 1  # 0-based below
        cell = ws.cell(row=row, column=col + 1)
        assert cell.protection.locked is bool(f.computed), f.key
        lists = [dv for dv in _validations_for(ws, col, row) if dv.type == "list"]
        if f.closed and not f.computed:
            assert len(lists) == 1, f"{kind}.{f.key} needs exactly one dropdown"
            source = lists[0].formula1.lstrip("=")
            assert source in wb.defined_names
        else:
            assert lists == [], f.key
        if f.type == "date" and not f.computed:
            assert [dv.type for dv in _validations_for(ws, col, row)] == ["date"]
    if form.layout == "table":
        table = ws.tables[f"xt_{kind}"]
        c1, r1, c2, r2 = range_boundaries(table.ref)
        assert (r1, r2) == (lay.header_row, lay.last_data_row)
        assert ws.freeze_panes == f"A{lay.header_row + 1}"
    assert ws.page_setup.paperSize in (9, "9")
    assert wb.custom_doc_props["xietong_kind"].value == kind


def test_libreoffice_opens_every_workbook_and_keeps_names_and_dropdowns(rules, soffice, tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    for kind in KINDS:
        shutil.copy(_path(rules, kind), src / f"{kind}.xlsx")
    for kind in KINDS:
        pdf = convert_with_libreoffice(soffice, src / f"{kind}.xlsx", tmp_path / "pdf")
        assert pdf.read_bytes().startswith(b"%PDF") and pdf.stat().st_size > 1000
    resaved = tmp_path / "resaved"
    for kind in ("request", "tracking"):
        out = convert_with_libreoffice(
            soffice, src / f"{kind}.xlsx", resaved, "xlsx:Calc MS Excel 2007 XML"
        )
        wb = openpyxl.load_workbook(out)
        form = rules.form(kind)
        ws = wb[form.sheet]
        assert ws.protection.sheet is True
        kinds = {dv.type for dv in ws.data_validations.dataValidation}
        assert "list" in kinds and "date" in kinds
        if kind == "request":
            assert "xt_title" in wb.defined_names


def test_pdf_of_the_request_form_is_one_a4_page_wide(rules, soffice, tmp_path):
    pdf = convert_with_libreoffice(soffice, _path(rules, "request"), tmp_path)
    if shutil.which("pdfinfo") is None:
        pytest.skip("pdfinfo (poppler-utils) not installed")
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True).stdout
    assert "(A4)" in info
