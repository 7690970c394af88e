"""Forms filled the way people fill them validate with exactly the expected codes and cells."""

from __future__ import annotations

import datetime as dt
import re
import sys
from pathlib import Path

import pytest
from openpyxl import Workbook, load_workbook

from automation.core.layout import field_cell, layout
from automation.core.problems import CATALOGUE
from automation.io.reader import read_workbook
from automation.io.templates import write_workbook
from automation.io.validation import validate_file, validate_paths

sys.path.insert(0, str(Path(__file__).parent / "fixtures" / "validation"))
from filling import fill_form, put_error_cell  # noqa: E402

DOCS = Path(__file__).resolve().parent.parent / "docs" / "errors.md"
TODAY = dt.date(2026, 3, 1)

GOOD_REQUEST = {
    "requesting_dept": "技术部 ",  # an alias with a trailing space
    "requester": " 张三",
    "contact": 13800138000,  # a phone typed as a number
    "request_date": "2026/3/10",
    "collab_type": "跨部门项目",
    "urgency": "紧急",
    "title": "新产品联合测试",
    "goal": "四月底前完成联合测试",
    "task_content": "研发部出方案，生产部配合试产",
    "milestones": "3月20日完成方案，4月20日完成试产",
    "expected_start": "3月12日",  # the year comes from the form's other dates
    "expected_finish": "２０２６年４月３０日",  # full-width digits
    "expected_results": "测试报告",
    "budget_amount": "5万元",
    "budget_account": "研发费用",
    "funding_source": "专项预算",
    "suggested_depts": "生产部，IT部、人事部",
    "is_major": "否",
    "dept_head": "刘洋",
    "sign_date": dt.datetime(2026, 3, 10),
}


def cell(rules, kind, key):
    return field_cell(rules.form(kind), key)


def codes(report):
    return sorted((p.code, p.cell) for p in report.problems)


def test_a_messy_but_correct_request_is_valid_and_typed(tmp_path, rules):
    path = fill_form(rules, "request", tmp_path / "申请.xlsx", GOOD_REQUEST)
    report = validate_file(path, rules, today=TODAY)
    assert report.problems == []
    assert report.ok and report.kind == "request"
    f = report.fields
    assert f["requesting_dept"] == "研发部"
    assert f["requester"] == "张三"
    assert f["contact"] == "13800138000"
    assert f["request_date"] == dt.date(2026, 3, 10)
    assert f["expected_start"] == dt.date(2026, 3, 12)
    assert f["expected_finish"] == dt.date(2026, 4, 30)
    assert f["budget_amount"] == 50000.0
    assert f["suggested_depts"] == ["生产部", "IT部", "人力资源部"]
    assert f["is_major"] == "否"
    assert f["sign_date"] == dt.date(2026, 3, 10)
    assert f["major_reason"] is None


def test_each_mistake_is_reported_once_on_its_cell(tmp_path, rules):
    values = {
        **GOOD_REQUEST,
        "requesting_dept": "宣传部",
        "title": "   ",
        "requester": "张" * 21,
        "request_date": "2026-02-30",
        "expected_start": "2026-05-01",
        "expected_finish": "2026-04-30",
        "budget_amount": "五万",
        "budget_account": None,
        "is_major": "是",
        "urgency": "很急",
        "sign_date": "1926-03-10",
    }
    path = fill_form(rules, "request", tmp_path / "申请.xlsx", values)
    report = validate_file(path, rules, today=TODAY)
    c = lambda key: cell(rules, "request", key)  # noqa: E731
    assert codes(report) == sorted(
        [
            ("E_NOT_IN_LIST", c("requesting_dept")),
            ("E_REQUIRED", c("title")),
            ("E_TOO_LONG", c("requester")),
            ("E_DATE_FORMAT", c("request_date")),
            ("E_DATE_ORDER", c("expected_finish")),
            ("E_NUMBER_FORMAT", c("budget_amount")),
            ("E_REQUIRED_IF", c("major_reason")),
            ("E_NOT_IN_LIST", c("urgency")),
            ("E_DATE_RANGE", c("sign_date")),
        ]
    )
    assert not report.ok
    by_code = {p.code: p for p in report.problems}
    p = by_code["E_DATE_ORDER"]
    assert (p.sheet, p.field, p.label, p.value) == (
        "申请表",
        "expected_finish",
        "期望完成日期",
        "2026-04-30",
    )
    assert "期望开始日期" in p.message
    assert by_code["E_REQUIRED_IF"].message.startswith("重大事项须填写重大事项说明")
    assert "一般" in next(x for x in report.problems if x.field == "urgency").message
    assert set(by_code["E_DATE_ORDER"].as_dict()) == {
        "file",
        "sheet",
        "cell",
        "field",
        "label",
        "code",
        "severity",
        "value",
        "message",
    }


def test_budget_without_account_and_source(tmp_path, rules):
    values = {**GOOD_REQUEST, "budget_account": None, "funding_source": None}
    report = validate_file(fill_form(rules, "request", tmp_path / "a.xlsx", values), rules)
    assert codes(report) == sorted(
        [
            ("E_REQUIRED_IF", cell(rules, "request", "budget_account")),
            ("E_REQUIRED_IF", cell(rules, "request", "funding_source")),
        ]
    )


def test_an_excel_error_value_is_reported_not_read_as_blank(tmp_path, rules):
    path = fill_form(rules, "request", tmp_path / "a.xlsx", GOOD_REQUEST)
    put_error_cell(path, "xl/worksheets/sheet1.xml", cell(rules, "request", "sign_date"))
    report = validate_file(path, rules)
    assert [(p.code, p.cell, p.value) for p in report.problems] == [
        ("E_CELL_ERROR", cell(rules, "request", "sign_date"), "#N/A")
    ]


def test_a_blank_template_is_empty(tmp_path, rules):
    path = write_workbook("request", rules, tmp_path / "blank.xlsx")
    report = validate_file(path, rules)
    assert [p.code for p in report.problems] == ["E_EMPTY"] and not report.readable


def test_an_outdated_template_version(tmp_path, rules):
    path = fill_form(rules, "request", tmp_path / "old.xlsx", GOOD_REQUEST)
    wb = load_workbook(path)
    wb["_xietong"]["C1"] = 0
    wb.save(path)
    report = validate_file(path, rules)
    assert [p.code for p in report.problems] == ["E_OUTDATED_TEMPLATE"]
    assert report.fields["requesting_dept"] == "研发部"  # read anyway, to say all that is wrong


def _execution_rows():
    return [
        {
            "date": "2026-03-10",
            "task": "方案评审",
            "owner": "张三",
            "progress": "60%",
            "status": "进行中",
            "updated_by": "张三",
        },
        {
            "date": "3月11日",
            "task": "试产准备",
            "owner": "李四",
            "progress": 80,
            "status": "进行中",
            "updated_by": "李四",
        },
        {
            "date": "2026/3/14",
            "task": "周末加班",
            "owner": "李四",
            "progress": 0.9,
            "status": "滞后",
            "updated_by": "李四",
        },
        {
            "date": "2026.3.16",
            "task": "完成",
            "owner": "王五",
            "progress": "150%",
            "status": "完了",
            "updated_by": "王五",
        },
        {
            "date": "2026-03-10",
            "task": "方案评审",
            "owner": "张三",
            "progress": "60%",
            "status": "进行中",
            "updated_by": "张三",
        },
        {
            "date": "2026-03-17",
            "task": "",
            "owner": "王五",
            "progress": "#N/A",
            "status": "进行中",
            "updated_by": "王五",
        },
    ]


def _execution(tmp_path, rules, rows):
    header = {"item_id": "ＸＴ-2026-0001", "department": "技术部", "exec_lead_dept": "生产部"}
    return write_workbook("execution", rules, tmp_path / "执行.xlsx", values=header, rows=rows)


def test_execution_rows_typed_and_checked(tmp_path, rules):
    path = _execution(tmp_path, rules, _execution_rows())
    report = validate_file(path, rules, today=TODAY)
    lay = layout(rules.form("execution"))
    first = lay.first_data_row
    col = lay.columns
    assert codes(report) == sorted(
        [
            ("E_NOT_WORKDAY", f"{col['date']}{first + 2}"),  # 2026-03-14 is a Saturday
            ("E_OUT_OF_RANGE", f"{col['progress']}{first + 3}"),
            ("E_NOT_IN_LIST", f"{col['status']}{first + 3}"),
            ("E_DUPLICATE_ROW", f"{col['date']}{first + 4}"),
            ("E_REQUIRED", f"{col['task']}{first + 5}"),
            ("E_CELL_ERROR", f"{col['progress']}{first + 5}"),
        ]
    )
    assert report.fields["item_id"] == "XT-2026-0001"  # full-width ID made plain
    assert report.fields["department"] == "研发部"
    rows = report.rows
    assert [r["_row"] for r in rows] == list(range(first, first + 6))
    assert rows[0]["date"] == dt.date(2026, 3, 10)
    assert rows[1]["date"] == dt.date(2026, 3, 11)  # 3月11日 in the year of the table
    assert [r["progress"] for r in rows[:3]] == pytest.approx([0.6, 0.8, 0.9])
    dup = next(p for p in report.problems if p.code == "E_DUPLICATE_ROW")
    assert str(first) in dup.message


def test_blank_rows_between_entries_are_dropped(tmp_path, rules):
    rows = _execution_rows()[:2]
    rows.insert(1, {"task": "  "})
    report = validate_file(_execution(tmp_path, rules, rows), rules)
    first = layout(rules.form("execution")).first_data_row
    assert [r["_row"] for r in report.rows] == [first, first + 2]
    assert report.ok


def test_cells_copied_into_a_new_book_with_an_extra_column(tmp_path, rules):
    """A user pasted the table into a fresh workbook (no marker) and added a column."""
    src = load_workbook(_execution(tmp_path, rules, _execution_rows()[:2]))["执行跟踪"]
    wb = Workbook()
    ws = wb.active
    ws.title = "Sheet1"
    for row in src.iter_rows():
        for c in row:
            if c.value is None:
                continue
            col = c.column + (
                1 if c.column >= 3 and c.row >= layout(rules.form("execution")).header_row else 0
            )
            ws.cell(c.row, col, c.value)
    header = layout(rules.form("execution")).header_row
    ws.cell(header, 3, "备注（本部门加的）")
    ws.cell(header + 1, 3, "随便写")
    path = tmp_path / "pasted.xlsx"
    wb.save(path)
    report = validate_file(path, rules, today=TODAY)
    assert [p.code for p in report.problems] == ["W_MARKER_MISSING"]
    assert report.ok and report.kind == "execution"
    assert report.rows[0]["owner"] == "张三"  # found in D, one column right of the template
    data = read_workbook(path, rules)
    assert data.columns["owner"] == "D" and data.columns["date"] == "A"


def test_a_form_moved_down_by_inserted_rows_is_read_by_its_labels(tmp_path, rules):
    path = fill_form(rules, "request", tmp_path / "a.xlsx", GOOD_REQUEST)
    wb = load_workbook(path)
    wb["申请表"].insert_rows(3, 2)
    wb.save(path)
    data = read_workbook(path, rules)
    assert data.fields["requester"].value == " 张三"
    r = int(re.sub(r"\D", "", cell(rules, "request", "requester")))
    assert data.fields["requester"].cell == f"B{r + 2}"


def test_minutes_inner_tables(tmp_path, rules):
    values = {
        "item_id": "XT-2026-0001",
        "item_title": "联合测试",
        "meeting_time": "2026-03-12",
        "meeting_form": "线下",
        "chair": "刘洋",
        "lead_dept": "研发部",
        "recorder": "张三",
        "goals": "g",
        "deliverables": "d",
        "communication": "周会",
    }
    tables = {
        "attendees": [
            {"att_dept": "技术部", "att_people": "刘洋", "att_sign_date": "3月12日"},
            {"att_dept": "宣传部", "att_people": "某人"},
        ],
        "milestones": [{"ms_name": "方案", "ms_date": "2026/3/20", "ms_dept": "生产部"}],
    }
    path = write_workbook("minutes", rules, tmp_path / "纪要.xlsx", values=values, tables=tables)
    report = validate_file(path, rules)
    t = layout(rules.form("minutes")).tables["attendees"]
    assert codes(report) == [("E_NOT_IN_LIST", f"{t.columns['att_dept']}{t.first_row + 1}")]
    assert report.tables["attendees"][0]["att_dept"] == "研发部"
    assert report.tables["attendees"][0]["att_sign_date"] == dt.date(2026, 3, 12)
    assert report.tables["milestones"][0]["ms_date"] == dt.date(2026, 3, 20)
    assert report.tables["attendees"][0]["_row"] == t.first_row


def test_unknown_workbook(tmp_path, rules):
    wb = Workbook()
    wb.active["A1"] = "随便一张表"
    wb.active["B2"] = 42
    wb.save(tmp_path / "x.xlsx")
    report = validate_file(tmp_path / "x.xlsx", rules)
    assert [p.code for p in report.problems] == ["E_UNKNOWN_WORKBOOK"] and not report.readable


def test_folders_skip_lock_and_temporary_files(tmp_path, rules):
    fill_form(rules, "request", tmp_path / "a.xlsx", GOOD_REQUEST)
    (tmp_path / "~$a.xlsx").write_bytes(b"owner")
    (tmp_path / ".~lock.a.xlsx#").write_bytes(b"lock")
    (tmp_path / "notes.txt").write_text("x")
    (tmp_path / "sub").mkdir()
    fill_form(rules, "request", tmp_path / "sub" / "b.xlsx", GOOD_REQUEST)
    reports = validate_paths([tmp_path], rules)
    assert [r.path.name for r in reports] == ["a.xlsx", "b.xlsx"]
    assert all(r.ok for r in reports)


def test_every_code_is_documented():
    text = DOCS.read_text(encoding="utf-8")
    missing = [code for code in CATALOGUE if f"`{code}`" not in text]
    assert missing == []


def test_every_message_template_fills_without_leftover_braces():
    from automation.core.problems import make_problem

    for code in CATALOGUE:
        p = make_problem(code, label="项目", value="x", detail="d", reason="r", row=3, first_row=2)
        assert "{" not in p.message and p.severity in ("error", "warning")


def _codes_in_source() -> dict[str, str]:
    """Every error code written in automation/: code → first file naming it."""
    import ast
    import re

    root = Path(__file__).resolve().parent.parent / "automation"
    code_like = re.compile(r"E_[A-Z][A-Z0-9_]*")
    found: dict[str, str] = {}
    for path in sorted(root.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                text = node.value
                codes = (
                    [text] if code_like.fullmatch(text) else re.findall(r"\[(E_[A-Z_]+)\]", text)
                )
                for code in codes:
                    found.setdefault(code, str(path.relative_to(root.parent)))
    return found


def test_every_error_code_raised_anywhere_is_catalogued_and_documented():
    from automation.core.problems import OPERATION_ERRORS, is_catalogued

    found = _codes_in_source()
    assert "E_NOT_OWNED" in found and "E_INTERNAL" in found  # the scan sees raised codes
    text = DOCS.read_text(encoding="utf-8")
    assert {c: f for c, f in found.items() if not is_catalogued(c)} == {}
    assert [c for c in found if f"`{c}`" not in text] == []
    assert [c for c in OPERATION_ERRORS if f"`{c}`" not in text] == []
    assert not set(OPERATION_ERRORS) & set(CATALOGUE)
