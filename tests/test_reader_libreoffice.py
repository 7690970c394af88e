"""Files re-saved by LibreOffice (not only by openpyxl) read and validate the same way."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from openpyxl import load_workbook

from automation.core.layout import field_cell
from automation.io.validation import validate_file

sys.path.insert(0, str(Path(__file__).parent / "fixtures" / "validation"))
from conftest import convert_with_libreoffice  # noqa: E402
from filling import fill_form  # noqa: E402
from test_validation import GOOD_REQUEST  # noqa: E402

pytestmark = pytest.mark.libreoffice


@pytest.fixture(scope="module")
def resaved(tmp_path_factory, soffice, rules):
    """One messy request form, saved by openpyxl, then re-saved by LibreOffice as .xlsx/.ods/.xls."""
    folder = tmp_path_factory.mktemp("lo")
    values = {**GOOD_REQUEST, "urgency": "很急"}
    src = fill_form(rules, "request", folder / "src" / "申请.xlsx", values)
    wb = load_workbook(src)
    ws = wb["申请表"]
    ws[field_cell(rules.form("request"), "sign_date")] = "=NA()"  # a formula LibreOffice computes
    wb.save(src)
    return {
        fmt: convert_with_libreoffice(soffice, src, folder / fmt, fmt)
        for fmt in ("xlsx", "ods", "xls")
    }


def _codes(report):
    return sorted((p.code, p.cell) for p in report.problems)


def test_libreoffice_xlsx_keeps_marker_values_and_error_cells(resaved, rules):
    report = validate_file(resaved["xlsx"], rules)
    cell = lambda key: field_cell(rules.form("request"), key)  # noqa: E731
    assert report.kind == "request"
    assert _codes(report) == sorted(
        [("E_NOT_IN_LIST", cell("urgency")), ("E_CELL_ERROR", cell("sign_date"))]
    )
    assert report.fields["requesting_dept"] == "研发部"
    assert report.fields["expected_start"].isoformat() == "2026-03-12"
    assert report.fields["budget_amount"] == 50000.0


@pytest.mark.parametrize("fmt", ["ods", "xls"])
def test_legacy_formats_are_read_with_a_warning(resaved, rules, fmt):
    report = validate_file(resaved[fmt], rules)
    assert report.kind == "request" and report.readable
    codes = [p.code for p in report.problems]
    assert "W_LEGACY_FORMAT" in codes and "E_NOT_IN_LIST" in codes
    # calamine reads error values of these formats as blanks: the required date is reported empty
    assert "E_REQUIRED" in codes or "E_CELL_ERROR" in codes
    assert report.fields["suggested_depts"] == ["生产部", "IT部", "人力资源部"]
