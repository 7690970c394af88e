"""Registering requests, the pure part: fingerprints, tracking rows, revisions, approval routes."""

from __future__ import annotations

import datetime as dt

from hypothesis import given
from hypothesis import strategies as st

from automation.core.intake import (
    approval_route,
    changed_values,
    fingerprint,
    format_deadline,
    highest_seq,
    ids_mentioned,
    parse_item_id,
    returned_item,
    tracking_row,
)
from automation.rules import load_rules

RULES = load_rules()
FORM = {
    "requesting_dept": "研发部",
    "requester": "张三",
    "contact": "1380000",
    "request_date": dt.date(2026, 3, 10),
    "collab_type": "跨部门项目",
    "urgency": "一般",
    "title": "新产品试产协调",
    "suggested_depts": ["生产部", "市场部"],
    "is_major": "否",
    "budget_amount": 50000.0,
}


def test_same_content_same_fingerprint_whatever_the_spelling():
    respelled = {**FORM, "title": " 新产品试产协调 ", "budget_amount": 50000, "goal": None}
    assert fingerprint(FORM) == fingerprint(respelled)
    assert fingerprint(FORM) != fingerprint({**FORM, "title": "新产品试产协调（修订）"})


@given(st.dictionaries(st.sampled_from(list(FORM)), st.text(max_size=5)))
def test_fingerprint_ignores_key_order(d):
    assert fingerprint(d) == fingerprint(dict(reversed(list(d.items()))))


def test_tracking_row_copies_the_requester_fields_of_matching_keys():
    row = tracking_row(
        FORM,
        RULES.form("tracking"),
        RULES.form("request"),
        submitted=dt.date(2026, 3, 10),
        registered=dt.date(2026, 3, 11),
    )
    assert row["requesting_dept"] == "研发部" and row["title"] == "新产品试产协调"
    assert row["budget_amount"] == 50000.0 and row["submitted_date"] == dt.date(2026, 3, 10)
    assert "suggested_depts" not in row and "item_id" not in row and "request_date" not in row


def test_item_ids_are_parsed_and_found_in_file_names():
    ids = RULES.drive.item_ids
    assert parse_item_id("XT-2026-0007", ids) == (2026, 7)
    assert parse_item_id("XX-2026-0007", ids) is None
    assert ids_mentioned(["XT-2026-0003 修改后申请.xlsx", "无"], ids) == ["XT-2026-0003"]
    assert highest_seq(["XT-2026-0003", "XT-2025-0099", "XT-2026-0011", None], 2026, ids) == 11


def test_a_returned_request_with_the_same_dept_and_title_is_a_revision():
    rows = [
        {
            "item_id": "XT-2026-0001",
            "revision": 1,
            "requesting_dept": "研发部",
            "title": "新产品试产协调",
            "evaluation_result": "不通过",
        },
        {
            "item_id": "XT-2026-0002",
            "revision": 1,
            "requesting_dept": "市场部",
            "title": "展会",
            "evaluation_result": "通过",
        },
    ]
    assert returned_item(FORM, rows) == ("XT-2026-0001", 1)
    assert returned_item({**FORM, "requesting_dept": "市场部", "title": "展会"}, rows) is None
    rows.append({**rows[0], "revision": 2, "evaluation_result": None})
    assert returned_item(FORM, rows) is None  # revision 2 is still being evaluated
    assert returned_item({"title": "别的"}, rows[:2], mentioned_ids=["XT-2026-0001"]) == (
        "XT-2026-0001",
        1,
    )


def test_approval_route_follows_routing_rules():
    route = lambda f, lead=None: approval_route(  # noqa: E731
        f, RULES.routing, RULES.departments, lead_dept=lead
    )
    assert route(FORM, "生产部") == "财务部 → 分管领导（杨帆）"
    plain = {k: v for k, v in FORM.items() if k != "budget_amount"}
    assert route(plain, "市场部") == "分管领导（李明）"
    assert route({**plain, "is_major": "是"}) == "总经理办公会"
    assert route({**FORM, "is_major": "是"}, "生产部") == "财务部 → 分管领导（杨帆） → 总经理办公会"
    assert route({**plain, "resource_venue": "大会议室"}, "生产部").startswith("财务部")


def test_only_changed_cells_are_rewritten():
    row = {"current_stage": "接收评估", "late_workdays": 0.0, "current_deadline": None}
    wanted = {"current_stage": "接收评估", "late_workdays": 0, "current_deadline": ""}
    assert changed_values(row, wanted) == {}
    assert changed_values(row, {"late_workdays": 2}) == {"late_workdays": 2}
    when = dt.datetime(2026, 10, 9, 18, 0)
    assert format_deadline(when) == "2026-10-09 18:00"


def test_a_typed_zero_counts_as_filled_for_the_route():
    # The one blank rule (automation.core.normalize.is_blank): 0 is an answer, not a blank.
    plain = {k: v for k, v in FORM.items() if k != "budget_amount"}
    route = approval_route({**plain, "budget_amount": 0}, RULES.routing, RULES.departments)
    assert route.startswith("财务部")
    assert not approval_route(
        {**plain, "budget_amount": "  "}, RULES.routing, RULES.departments
    ).startswith("财务部")
