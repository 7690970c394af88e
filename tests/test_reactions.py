"""Reacting to the tracking table: an item that passed evaluation gets its workbooks and route."""

from __future__ import annotations

import datetime as dt

from intake_helpers import (
    AS_OF,
    drive_hashes,
    drop_request,
    office_edit,
    pass_evaluation,
    request_values,
    tracking_rows,
)

from automation.io.drive import drive_paths
from automation.io.journal import read_journal
from automation.io.validation import validate_file
from automation.process.cycle import run_cycle

EVALUATED = dt.datetime(2026, 3, 11, 17, 0)


def _passed_item(drive, rules, **request):
    drop_request(drive, rules, "申请.xlsx", request_values(**request))
    run_cycle(drive, as_of=AS_OF, settle_s=0)
    pass_evaluation(drive, rules, coop="市场部、研发部")
    return run_cycle(drive, as_of=EVALUATED, settle_s=0)


def test_passed_item_gets_minutes_and_one_execution_workbook_per_department(drive, rules):
    report = _passed_item(drive, rules)
    paths = drive_paths(drive, rules)
    folder = next(paths.items.glob("XT-2026-0001*"))
    names = sorted(p.name for p in folder.iterdir())
    assert names == [
        "模板三_跨部门协调会议纪要_XT-2026-0001.xlsx",
        "模板四_跨部门任务执行跟踪表_XT-2026-0001_市场部.xlsx",
        "模板四_跨部门任务执行跟踪表_XT-2026-0001_研发部.xlsx",
        "申请.xlsx",
    ]
    assert len(report.created) == 3
    minutes = validate_file(folder / names[0], rules)
    assert minutes.kind == "minutes"
    assert minutes.fields["item_id"] == "XT-2026-0001"
    assert minutes.fields["item_title"] == "新产品试产协调 1"
    assert minutes.fields["lead_dept"] == "生产部"
    assert [r["att_dept"] for r in minutes.tables["attendees"]] == ["生产部", "市场部", "研发部"]
    milestones = minutes.tables["milestones"]
    meeting = next(m for m in milestones if m["ms_name"].startswith("召开协调会议"))
    assert meeting["ms_date"] == dt.date(2026, 3, 13)  # 2 working days after 03-11
    execution = validate_file(folder / names[1], rules)
    assert execution.kind == "execution"
    assert execution.fields["item_id"] == "XT-2026-0001"
    assert execution.fields["department"] == "市场部"
    assert execution.fields["exec_lead_dept"] == "生产部"
    actions = [e["action"] for e in read_journal(paths.log, item="XT-2026-0001")]
    assert actions.count("create_workbook") == 3


def test_approval_route_from_the_routing_rules(drive, rules):
    _passed_item(
        drive, rules, budget_amount=50000, budget_account="研发费", funding_source="专项预算"
    )
    [row] = tracking_rows(drive, rules)
    assert row["approval_route"] == "财务部 → 分管领导（杨帆）"


def test_major_item_goes_to_the_general_managers_meeting(drive, rules):
    _passed_item(drive, rules, is_major="是", major_reason="战略调整")
    [row] = tracking_rows(drive, rules)
    assert row["approval_route"] == "总经理办公会"


def test_workbooks_are_created_once_and_never_overwritten(drive, rules):
    _passed_item(drive, rules)
    paths = drive_paths(drive, rules)
    folder = next(paths.items.glob("XT-2026-0001*"))
    minutes = next(folder.glob("模板三*"))
    from automation.io.templates import write_workbook

    write_workbook("minutes", rules, minutes, values={"item_id": "XT-2026-0001", "chair": "赵磊"})
    execution = next(folder.glob("模板四*市场部*"))
    execution.unlink()  # deleted on purpose by someone
    before = drive_hashes(drive)
    report = run_cycle(drive, as_of=EVALUATED, settle_s=0)
    assert report.created == []
    assert drive_hashes(drive) == before


def test_a_department_added_later_gets_its_workbook(drive, rules):
    _passed_item(drive, rules)
    office_edit(drive, rules, 4, {"coop_depts": "市场部、研发部、销售部"})
    report = run_cycle(drive, as_of=EVALUATED, settle_s=0)
    assert [(c.kind, c.department) for c in report.created] == [("execution", "销售部")]


def test_nothing_is_created_before_evaluation_passes(drive, rules):
    drop_request(drive, rules, "申请.xlsx", request_values())
    run_cycle(drive, as_of=AS_OF, settle_s=0)
    office_edit(
        drive,
        rules,
        4,
        {
            "evaluation_result": "不通过",
            "evaluation_date": dt.date(2026, 3, 11),
            "lead_dept": "生产部",
            "coop_depts": "市场部",
        },
    )
    report = run_cycle(drive, as_of=EVALUATED, settle_s=0)
    assert report.created == []
    assert not tracking_rows(drive, rules)[0].get("approval_route")


def test_a_route_is_worked_out_again_only_when_its_row_changed(drive, rules, monkeypatch):
    import automation.process.evaluation as evaluation

    _passed_item(drive, rules, is_major="是", major_reason="战略调整")
    worked: list[str] = []
    real = evaluation.core.approval_route
    monkeypatch.setattr(
        evaluation.core,
        "approval_route",
        lambda fields, *a, **k: worked.append("route") or real(fields, *a, **k),
    )
    run_cycle(drive, as_of=EVALUATED, settle_s=0)  # the row as the route was written into it
    worked.clear()
    run_cycle(drive, as_of=EVALUATED, settle_s=0)
    assert worked == []  # the same row and registrations as the last run of this process
    office_edit(drive, rules, 4, {"coop_depts": "市场部、研发部、销售部"})
    run_cycle(drive, as_of=EVALUATED, settle_s=0)
    assert worked == ["route"]
    [row] = tracking_rows(drive, rules)
    assert row["approval_route"] == "总经理办公会"
