"""Text from a submission that looks like a formula never becomes one in what xietong writes."""

from __future__ import annotations

import openpyxl
from intake_helpers import AS_OF, drop_request, pass_evaluation, request_values

from automation.core.layout import layout
from automation.io.drive import drive_paths
from automation.process.cycle import run_cycle

TITLE = '=HYPERLINK("http://example.invalid","点我")'
GOAL = "+1+1"
REQUESTER = "@SUM(A1)"


def _formula_cells(path):
    wb = openpyxl.load_workbook(path)
    return [
        (ws.title, c.coordinate, c.value)
        for ws in wb.worksheets
        for row in ws.iter_rows()
        for c in row
        if c.data_type == "f" or c.hyperlink is not None
    ]


def test_formula_like_text_is_registered_and_copied_as_plain_text(drive, rules):
    drop_request(
        drive, rules, "申请.xlsx", request_values(title=TITLE, goal=GOAL, requester=REQUESTER)
    )
    report = run_cycle(drive, as_of=AS_OF, settle_s=0)
    assert report.registered == 1
    paths = drive_paths(drive, rules)
    form = rules.form("tracking")
    lay = layout(form)
    ws = openpyxl.load_workbook(paths.tracking)[form.sheet]
    row = lay.first_data_row
    title = ws[f"{lay.columns['title']}{row}"]
    assert (title.value, title.data_type, title.hyperlink) == (TITLE, "s", None)
    assert ws[f"{lay.columns['requester']}{row}"].value == REQUESTER
    assert _formula_cells(paths.tracking) == []

    pass_evaluation(drive, rules)  # the office passes it: item workbooks are created from it
    run_cycle(drive, as_of=AS_OF, settle_s=0)
    created = sorted(paths.items.rglob("模板*.xlsx"))
    assert created, "minutes and execution workbooks were created"
    for path in created:
        assert _formula_cells(path) == [], path.name
        values = [
            c.value
            for ws in openpyxl.load_workbook(path).worksheets
            for r in ws.iter_rows()
            for c in r
        ]
        assert TITLE in values
