"""Feedback lands where the submitter looks; the submitted file is never modified."""

from __future__ import annotations

import hashlib
import sys
import zipfile
from pathlib import Path

import python_calamine as pc
from openpyxl import load_workbook

from automation.core.layout import field_cell
from automation.io.feedback import write_feedback
from automation.io.templates import write_workbook
from automation.io.validation import validate_file

sys.path.insert(0, str(Path(__file__).parent / "fixtures" / "validation"))
from filling import fill_form  # noqa: E402
from test_validation import GOOD_REQUEST  # noqa: E402


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_feedback_lists_problems_links_cells_and_leaves_the_original_alone(tmp_path, rules):
    hostile_text = '=HYPERLINK("http://evil.example","点我")'
    values = {**GOOD_REQUEST, "requesting_dept": hostile_text, "title": None}
    (tmp_path / "inbox").mkdir()
    # written as text (write_string), the way a cell typed with a leading apostrophe is stored
    submitted = write_workbook("request", rules, tmp_path / "inbox" / "申请.xlsx", values=values)
    before = _sha(submitted)
    report = validate_file(submitted, rules)
    assert {p.code for p in report.problems} == {"E_NOT_IN_LIST", "E_REQUIRED"}
    written = write_feedback(report, tmp_path / "06_校验反馈", submitted)
    assert _sha(submitted) == before
    result, marked = written
    assert result.name == "申请_校验结果.xlsx" and marked.name == "申请_标注.xlsx"

    # the list of problems, read back by another reader
    with pc.load_workbook(result) as wb:
        rows = wb.get_sheet_by_name("校验结果").to_python()
    flat = [str(v) for row in rows for v in row]
    assert hostile_text in flat  # shown as the value seen …
    xml = zipfile.ZipFile(result).read("xl/worksheets/sheet1.xml").decode()
    assert "<f>" not in xml  # … but never as a live formula
    dept_cell = field_cell(rules.form("request"), "requesting_dept")
    rels = zipfile.ZipFile(result).read("xl/worksheets/_rels/sheet1.xml.rels").decode()
    assert "申请_标注.xlsx" in rels and "evil" not in rels
    ws = load_workbook(result)["校验结果"]
    links = {c.hyperlink.location or "" for row in ws.iter_rows() for c in row if c.hyperlink}
    assert f"'申请表'!{dept_cell}" in links

    # the highlighted copy: bad cells filled and commented
    copy = load_workbook(marked)["申请表"]
    cell = copy[dept_cell]
    assert cell.fill.fgColor.rgb.endswith("FFC7CE")
    assert "E_NOT_IN_LIST" in cell.comment.text
    assert copy[field_cell(rules.form("request"), "requester")].comment is None


def test_a_valid_file_gets_a_short_verdict(tmp_path, rules):
    submitted = fill_form(rules, "request", tmp_path / "ok.xlsx", GOOD_REQUEST)
    report = validate_file(submitted, rules)
    (result,) = write_feedback(report, tmp_path / "fb", submitted)
    with pc.load_workbook(result) as wb:
        text = str(wb.get_sheet_by_name("校验结果").to_python())
    assert "校验通过" in text


def test_an_unreadable_file_gets_its_code_and_no_copy(tmp_path, rules):
    bad = tmp_path / "坏文件.xlsx"
    bad.write_bytes(b"PK\x03\x04 not really")
    report = validate_file(bad, rules)
    written = write_feedback(report, tmp_path / "fb", bad)
    assert [w.name for w in written] == ["坏文件_校验结果.xlsx"]
    with pc.load_workbook(written[0]) as wb:
        assert "E_CORRUPT" in str(wb.get_sheet_by_name("校验结果").to_python())
    leftovers = [p for p in (tmp_path / "fb").iterdir() if p.name.startswith((".~xt-", ".xt-"))]
    assert not leftovers  # no temporary files left behind
