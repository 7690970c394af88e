"""The clock engine on hand-checked stories of items through the 2026 calendar."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from automation.core.calendar import WorkCalendar
from automation.core.clocks import (
    STATE_ZH,
    ClockResult,
    DeptRecord,
    ItemCycle,
    compute_clocks,
    item_status,
    status_by_cycle,
    steady_until,
    steady_view,
)
from automation.rules import load_rules
from automation.rules.clocks import ClocksRules

D = dt.date
TZ = dt.timezone(dt.timedelta(hours=8))


def at(y: int, m: int, d: int, hh: int = 10, mm: int = 0) -> dt.datetime:
    return dt.datetime(y, m, d, hh, mm, tzinfo=TZ)


@pytest.fixture(scope="module")
def rules():
    return load_rules()


@pytest.fixture(scope="module")
def cal(rules) -> WorkCalendar:
    return WorkCalendar.from_rules(rules.calendar)


def clocks(rules, cal, cycle: ItemCycle, as_of: dt.datetime) -> dict[str, ClockResult]:
    out = compute_clocks([cycle], rules.clocks, cal, as_of)
    return {r.clock + (f"@{r.department}" if r.department else ""): r for r in out}


def item(fields: dict, departments: dict | None = None, cycle: int = 1) -> ItemCycle:
    return ItemCycle("XT-2026-0001", cycle, fields, departments or {})


REGISTERED_0930 = {"submitted_date": D(2026, 9, 29), "registered_date": D(2026, 9, 30)}


# -- evaluation around National Day -------------------------------------------------------------


def test_a_request_registered_on_2026_09_30_is_due_for_evaluation_on_2026_10_09(rules, cal):
    res = clocks(rules, cal, item(dict(REGISTERED_0930)), at(2026, 10, 8, 10))
    ev = res["evaluation_pass"]
    assert ev.due_at.isoformat() == "2026-10-09T18:00:00+08:00"
    assert ev.state == "running" and ev.late_workdays == 0
    assert res["registration"].state == "met"
    assert "rejection_feedback" not in res  # not decided yet: the longer (pass) clock runs
    assert res["meeting"].state == "not_started"


def test_the_evaluation_clock_warns_at_half_and_three_quarters_of_the_working_time(rules, cal):
    cycle = item(dict(REGISTERED_0930))
    # two working days allowed: 10-08 and 10-09, 09:00-18:00 each
    at_half = clocks(rules, cal, cycle, at(2026, 10, 9, 9))["evaluation_pass"]
    assert at_half.state == "at_risk" and at_half.at_risk_level == 1
    assert at_half.used == pytest.approx(0.5)
    at_three_quarters = clocks(rules, cal, cycle, at(2026, 10, 9, 13, 30))["evaluation_pass"]
    assert at_three_quarters.at_risk_level == 2 and at_three_quarters.used == pytest.approx(0.75)
    during_holiday = clocks(rules, cal, cycle, at(2026, 10, 5, 12))["evaluation_pass"]
    assert during_holiday.state == "running" and during_holiday.used == 0


def test_due_at_close_of_business_is_on_time_and_a_minute_later_is_breached(rules, cal):
    cycle = item(dict(REGISTERED_0930))
    assert clocks(rules, cal, cycle, at(2026, 10, 9, 18))["evaluation_pass"].state == "at_risk"
    late = clocks(rules, cal, cycle, at(2026, 10, 9, 18, 1))["evaluation_pass"]
    assert late.state == "breached" and late.late_workdays == 0
    # Saturday 10-10 is a makeup working day: one working day late by then
    saturday = clocks(rules, cal, cycle, at(2026, 10, 10, 10))["evaluation_pass"]
    assert saturday.late_workdays == 1 and saturday.used > 1


def test_an_evaluation_on_the_due_day_is_met(rules, cal):
    fields = {**REGISTERED_0930, "evaluation_result": "通过", "evaluation_date": D(2026, 10, 9)}
    res = clocks(rules, cal, item(fields), at(2026, 10, 12))
    assert res["evaluation_pass"].state == "met"
    meeting = res["meeting"]  # 2 working days after 10-09: 10-10 (makeup Saturday) and 10-12
    assert meeting.due_at.date() == D(2026, 10, 12) and meeting.state == "at_risk"


def test_a_rejection_after_one_working_day_is_late(rules, cal):
    fields = {**REGISTERED_0930, "evaluation_result": "不通过", "evaluation_date": D(2026, 10, 9)}
    res = clocks(rules, cal, item(fields), at(2026, 10, 12))
    assert set(res) == {"registration", "rejection_feedback"}
    rej = res["rejection_feedback"]
    assert rej.due_at.date() == D(2026, 10, 8)
    assert rej.state == "met_late" and rej.late_workdays == 1
    status = item_status(list(res.values()))
    assert (status.stage, status.state, status.state_zh) == ("接收评估", "met_late", "逾期完成")
    assert status.late_workdays == 1 and status.deadline is None


def test_a_resubmitted_request_starts_a_new_cycle_and_the_old_one_is_kept(rules, cal):
    first = ItemCycle(
        "XT-2026-0007",
        1,
        {
            "submitted_date": D(2026, 3, 2),
            "registered_date": D(2026, 3, 2),
            "evaluation_result": "不通过",
            "evaluation_date": D(2026, 3, 3),
        },
        {},
    )
    second = ItemCycle(
        "XT-2026-0007", 2, {"submitted_date": D(2026, 3, 9), "registered_date": D(2026, 3, 10)}, {}
    )
    results = compute_clocks([first, second], rules.clocks, cal, at(2026, 3, 12, 10))
    assert {r.cycle for r in results} == {1, 2}
    statuses = status_by_cycle(results)
    assert statuses[("XT-2026-0007", 1)].state == "met"
    current = statuses[("XT-2026-0007", 2)]
    assert current.stage == "接收评估" and current.state == "at_risk"
    assert current.deadline.isoformat() == "2026-03-12T18:00:00+08:00"


# -- department plans and the overall plan -------------------------------------------------


APPROVED = {
    **REGISTERED_0930,
    "evaluation_result": "通过",
    "evaluation_date": D(2026, 3, 30),
    "meeting_date": D(2026, 4, 1),
    "minutes_date": D(2026, 4, 3),
    "coop_depts": ["财务部", "人力资源部"],
}


def test_each_department_has_its_own_plan_clock_after_qingming(rules, cal):
    depts = {"财务部": DeptRecord(fields={"plan_submitted_date": D(2026, 4, 8)})}
    res = clocks(rules, cal, item(APPROVED, depts), at(2026, 4, 10))
    assert res["dept_plan@财务部"].state == "met"
    hr = res["dept_plan@人力资源部"]  # 4月4日至6日放假: 7, 8, 9 → due 4月9日
    assert hr.due_at.date() == D(2026, 4, 9)
    assert hr.state == "breached" and hr.late_workdays == 1
    assert res["overall_plan"].state == "not_started"  # waits for every department


def test_the_overall_plan_starts_at_the_latest_department_plan(rules, cal):
    depts = {
        "财务部": DeptRecord(fields={"plan_submitted_date": D(2026, 4, 8)}),
        "人力资源部": DeptRecord(fields={"plan_submitted_date": D(2026, 4, 10)}),
    }
    res = clocks(rules, cal, item(APPROVED, depts), at(2026, 4, 13))
    overall = res["overall_plan"]
    assert overall.start == D(2026, 4, 10)
    assert overall.due_at.date() == D(2026, 4, 14)
    assert overall.derivation["start_source"]["departments"] == {
        "财务部": "2026-04-08",
        "人力资源部": "2026-04-10",
    }
    assert res["dept_plan@人力资源部"].state == "met_late"


def test_departments_written_as_text_are_split(rules, cal):
    fields = {**APPROVED, "coop_depts": "财务部、人力资源部"}
    res = clocks(rules, cal, item(fields), at(2026, 4, 7))
    assert {"dept_plan@财务部", "dept_plan@人力资源部"} <= set(res)


# -- daily rows and weekly reports ---------------------------------------------------------


EXECUTING = {**APPROVED, "approval_date": D(2026, 9, 28), "coop_depts": ["财务部"]}


def test_a_missing_daily_row_before_national_day_breaches_the_daily_clock(rules, cal):
    rows = {D(2026, 9, 28), D(2026, 9, 29), D(2026, 10, 8)}
    depts = {"财务部": DeptRecord(daily_dates=rows)}
    daily = clocks(rules, cal, item(EXECUTING, depts), at(2026, 10, 9, 10))["daily_rows@财务部"]
    assert daily.state == "breached"
    assert daily.missing == ("2026-09-30",) and daily.late_workdays == 1
    # a breached clock's deadline is the one missed (09-30); today's row is the next one due
    assert daily.due_at.isoformat() == "2026-09-30T18:00:00+08:00"
    assert daily.derivation["next_due_at"] == "2026-10-09T18:00:00+08:00"


def test_daily_rows_skip_the_holidays_and_warn_late_in_the_day(rules, cal):
    rows = {D(2026, 9, 28), D(2026, 9, 29), D(2026, 9, 30), D(2026, 10, 8)}
    depts = {"财务部": DeptRecord(daily_dates=rows)}
    morning = clocks(rules, cal, item(EXECUTING, depts), at(2026, 10, 9, 10))["daily_rows@财务部"]
    assert morning.state == "running" and morning.missing == ()
    afternoon = clocks(rules, cal, item(EXECUTING, depts), at(2026, 10, 9, 15))["daily_rows@财务部"]
    assert afternoon.state == "at_risk"


def test_the_makeup_saturday_needs_a_daily_row(rules, cal):
    rows = {D(2026, 9, 28), D(2026, 9, 29), D(2026, 9, 30), D(2026, 10, 8), D(2026, 10, 9)}
    depts = {"财务部": DeptRecord(daily_dates=rows)}
    daily = clocks(rules, cal, item(EXECUTING, depts), at(2026, 10, 12, 9))["daily_rows@财务部"]
    assert daily.missing == ("2026-10-10",)


def test_daily_rows_complete_until_the_completion_date_are_met(rules, cal):
    rows = {D(2026, 9, 28), D(2026, 9, 29), D(2026, 9, 30)}
    fields = {**EXECUTING, "completion_date": D(2026, 9, 30)}
    depts = {"财务部": DeptRecord(daily_dates=rows)}
    daily = clocks(rules, cal, item(fields, depts), at(2026, 10, 12))["daily_rows@财务部"]
    assert daily.state == "met" and daily.due_at is None


def test_weekly_reports_follow_the_friday_rule_and_a_missing_week_breaches(rules, cal):
    fields = {**EXECUTING, "approval_date": D(2026, 9, 21)}
    depts = {"财务部": DeptRecord(weekly_weeks={"2026-W39", "2026-W41"})}
    weekly = clocks(rules, cal, item(fields, depts), at(2026, 10, 12))["weekly_report@财务部"]
    weeks = weekly.derivation["weeks"]
    assert weeks["2026-W39"]["due"] == "2026-09-24"  # 9月25日(周五) 中秋 → Thursday
    assert weeks["2026-W40"]["due"] == "2026-09-30"  # 10月2日(周五) 国庆 → Wednesday
    assert weeks["2026-W41"]["due"] == "2026-10-09"
    assert weekly.missing == ("2026-W40",) and weekly.state == "breached"
    assert weekly.late_workdays == 4  # 10-08, 10-09, 10-10 (makeup), 10-12
    # a breached clock's deadline is the report missed (W40); this week's is the next one due
    assert weekly.due_at.isoformat() == "2026-09-30T18:00:00+08:00"
    assert weekly.derivation["next_due_at"] == "2026-10-16T18:00:00+08:00"


def test_weekly_reports_all_sent_are_running_then_met(rules, cal):
    fields = {**EXECUTING, "approval_date": D(2026, 9, 21)}
    sent = {"2026-W39", "2026-W40", "2026-W41"}
    depts = {"财务部": DeptRecord(weekly_weeks=sent)}
    weekly = clocks(rules, cal, item(fields, depts), at(2026, 10, 12))["weekly_report@财务部"]
    assert weekly.state == "running"
    done = {**fields, "completion_date": D(2026, 10, 9)}
    finished = clocks(rules, cal, item(done, depts), at(2026, 10, 20))["weekly_report@财务部"]
    assert finished.state == "met" and finished.due_at is None


# -- status of an item, thresholds, provisional results --------------------------------------


def test_item_status_reports_the_worst_open_clock_and_the_nearest_deadline(rules, cal):
    res = clocks(rules, cal, item(dict(REGISTERED_0930)), at(2026, 10, 12))
    status = item_status(list(res.values()))
    assert status.stage == "接收评估" and status.state == "breached"
    assert status.state_zh == "已超期" and status.late_workdays == 2  # 10-10 (makeup), 10-12
    assert status.deadline.isoformat() == "2026-10-09T18:00:00+08:00"


def test_a_fresh_item_has_not_started(rules, cal):
    res = compute_clocks([item({})], rules.clocks, cal, at(2026, 10, 12))
    status = item_status(res)
    assert status.state == "not_started" and status.stage == "接收评估"


# an item evaluated, met and minuted in the first week of March 2026, with one department
MET_UNTIL_MINUTES = {
    "submitted_date": D(2026, 3, 2),
    "registered_date": D(2026, 3, 2),
    "evaluation_result": "通过",
    "evaluation_date": D(2026, 3, 3),
    "meeting_date": D(2026, 3, 4),
    "minutes_date": D(2026, 3, 5),
    "coop_depts": ["财务部"],
}


def test_a_finished_item_is_met_at_the_archive_stage(rules, cal):
    fields = {
        **MET_UNTIL_MINUTES,
        "plan_date": D(2026, 3, 10),
        "approval_date": D(2026, 3, 12),
        "completion_date": D(2026, 3, 13),
        "archive_date": D(2026, 3, 16),
    }
    depts = {
        "财务部": DeptRecord(
            fields={"plan_submitted_date": D(2026, 3, 9)},
            daily_dates={D(2026, 3, 12), D(2026, 3, 13)},
            weekly_weeks={"2026-W11"},
        )
    }
    res = compute_clocks([item(fields, depts)], rules.clocks, cal, at(2026, 3, 20))
    assert {r.state for r in res} == {"met"}
    status = item_status(res)
    assert (status.stage, status.state_zh) == ("结果归档", "按时完成")


def test_at_risk_thresholds_come_from_the_rules(rules, cal):
    custom = ClocksRules.model_validate({**rules.clocks.model_dump(), "at_risk": [0.25]})
    res = compute_clocks([item(dict(REGISTERED_0930))], custom, cal, at(2026, 10, 8, 18))
    ev = next(r for r in res if r.clock == "evaluation_pass")
    assert ev.state == "at_risk" and ev.at_risk_level == 1 and ev.used == pytest.approx(0.5)


def test_a_clock_running_into_2027_is_provisional(rules, cal):
    fields = {"submitted_date": D(2026, 12, 29), "registered_date": D(2026, 12, 30)}
    res = clocks(rules, cal, item(fields), at(2026, 12, 30, 12))
    assert res["evaluation_pass"].provisional  # counts 2027-01-04 past the guessed 元旦
    assert not res["registration"].provisional


def test_state_names_are_the_tracking_table_enum(rules):
    allowed = rules.form("tracking").field("clock_state").allowed
    assert sorted(STATE_ZH.values()) == sorted(allowed)


def test_results_flatten_to_the_cli_row(rules, cal):
    res = clocks(rules, cal, item(dict(REGISTERED_0930)), at(2026, 10, 8))
    row = res["evaluation_pass"].as_dict()
    expected = {"item", "clock", "department", "start", "due_at", "state", "used", "late_workdays"}
    assert expected | {"provisional"} <= set(row)
    assert row["due_at"] == "2026-10-09T18:00:00+08:00" and row["start"] == "2026-09-30"


def test_a_malformed_week_label_counts_as_no_report(rules, cal):
    fields = {**EXECUTING, "approval_date": D(2026, 9, 21)}
    depts = {"财务部": DeptRecord(weekly_weeks={"第39周", "2026-W39", "2026W40"})}
    weekly = clocks(rules, cal, item(fields, depts), at(2026, 10, 12))["weekly_report@财务部"]
    assert weekly.missing == ("2026-W41",)


# -- properties ---------------------------------------------------------------------------------

_ORDER = {"running": 0, "at_risk": 1, "breached": 2}


@settings(max_examples=150, deadline=None)
@given(
    registered=st.dates(min_value=D(2025, 1, 1), max_value=D(2026, 12, 20)),
    hours=st.lists(st.integers(min_value=0, max_value=24 * 30), min_size=2, max_size=6),
)
def test_an_open_clock_only_moves_forward_in_time(rules, cal, registered, hours):
    cycle = item({"submitted_date": registered, "registered_date": registered})
    start = dt.datetime.combine(registered, dt.time(0, 0), tzinfo=TZ)
    seen = []
    for h in sorted(hours):
        res = clocks(rules, cal, cycle, start + dt.timedelta(hours=h))["evaluation_pass"]
        seen.append((_ORDER[res.state], res.used, res.late_workdays))
    assert seen == sorted(seen)
    due = cal.due_at(registered, 2)
    assert clocks(rules, cal, cycle, due)["evaluation_pass"].state != "breached"
    after = clocks(rules, cal, cycle, due + dt.timedelta(minutes=1))["evaluation_pass"]
    assert after.state == "breached"


def test_decided_deadline_clocks_are_taken_from_an_earlier_moment_and_the_rest_worked_out(
    rules, cal
):
    """A deadline clock whose end date is entered (or that never started) does not read the
    moment: given the results of the same cycle at another moment, it is taken as it was; the
    clocks still running are worked out at the new moment — the same results as afresh."""
    fields = dict(MET_UNTIL_MINUTES)
    depts = {"财务部": DeptRecord(daily_dates={D(2026, 3, 12)}, weekly_weeks=set())}
    cycle = item(fields, depts)
    before = compute_clocks([cycle], rules.clocks, cal, at(2026, 3, 16, 10), explain=False)
    later = at(2026, 3, 16, 15, 30)
    again = compute_clocks([cycle], rules.clocks, cal, later, explain=False, earlier=before)
    assert again == compute_clocks([cycle], rules.clocks, cal, later, explain=False)
    taken = [a is b for a, b in zip(again, before, strict=True)]
    decided = [b.end is not None or b.start is None for b in before]
    assert any(decided) and not all(decided)
    for r, was_taken, was_decided in zip(before, taken, decided, strict=True):
        assert was_taken == (was_decided and r.clock in _deadline_keys(rules)), r.clock
    # with the explanation asked for, nothing is taken
    explained = compute_clocks([cycle], rules.clocks, cal, later, earlier=before)
    assert not any(a is b for a, b in zip(explained, before, strict=True))


def _deadline_keys(rules) -> set[str]:  # noqa: N802 - read as a constant of the rules
    return {c.key for c in rules.clocks.clocks if c.per in ("item", "department")}


# -- until when clocks read the same in business hours ------------------------------------------


def _until(rules, cal, cycle: ItemCycle, now: dt.datetime) -> dt.datetime | None:
    """``steady_until`` as the cycle asks it: the clocks now and ten minutes later."""
    probe = now + dt.timedelta(minutes=10)
    results = compute_clocks([cycle], rules.clocks, cal, now, explain=False)
    later = compute_clocks([cycle], rules.clocks, cal, probe, explain=False)
    close = cal.close_at(now.date())
    return steady_until(results, later, now, probe, close, rules.clocks.at_risk)


def test_a_running_clock_reads_the_same_until_its_next_threshold(rules, cal):
    cycle = item(dict(REGISTERED_0930))
    # 10-08 and 10-09 allowed: at 10-09 10:00 a half and an eighteenth used, level 1; three
    # quarters are used at 13:30 (see above), the state read until two seconds before
    until = _until(rules, cal, cycle, at(2026, 10, 9, 10))
    assert until == at(2026, 10, 9, 13, 30) - dt.timedelta(seconds=2)
    # after the last threshold: the close (the deadline passes), two seconds before it
    assert _until(rules, cal, cycle, at(2026, 10, 9, 14)) == at(2026, 10, 9, 18) - dt.timedelta(
        seconds=2
    )


def test_steady_until_is_none_when_the_probe_reads_otherwise(rules, cal):
    cycle = item(dict(REGISTERED_0930))
    now, probe = at(2026, 10, 9, 13, 25), at(2026, 10, 9, 13, 35)  # 13:30 between them
    results = compute_clocks([cycle], rules.clocks, cal, now, explain=False)
    later = compute_clocks([cycle], rules.clocks, cal, probe, explain=False)
    close = cal.close_at(now.date())
    assert steady_until(results, later, now, probe, close, rules.clocks.at_risk) is None
    assert steady_until(results, results[:-1], now, probe, close, rules.clocks.at_risk) is None


def test_two_clocks_at_risk_read_the_same_until_one_overtakes_the_other(rules, cal):
    """item_status names the clock at risk with the most time used: when a faster clock
    overtakes a slower one, the row names another clock."""

    def at_risk(clock: str, used: float) -> ClockResult:
        return ClockResult(
            "XT-2026-0001", 1, clock, clock, "执行", "财务部", D(2026, 10, 1),
            at(2026, 10, 16, 18), None, "at_risk", used, 0, False, {}, 1,
        )  # fmt: skip

    now, probe = at(2026, 10, 9, 10), at(2026, 10, 9, 10, 10)
    # "slow" gains 0.01 in ten minutes, "fast" 0.03: fast catches up 0.04 in twenty minutes
    results = [at_risk("slow", 0.60), at_risk("fast", 0.56)]
    later = [at_risk("slow", 0.61), at_risk("fast", 0.59)]
    until = steady_until(results, later, now, probe, cal.close_at(now.date()), [0.5, 0.9])
    assert until == at(2026, 10, 9, 10, 20) - dt.timedelta(seconds=2)
    assert min(results, key=lambda r: -r.used).clock == "slow"


_STEADY_STORIES = [
    dict(REGISTERED_0930),
    {**EXECUTING},
    {**EXECUTING, "approval_date": D(2026, 9, 21)},
]


@settings(max_examples=120, deadline=None)
@given(
    story=st.sampled_from(range(len(_STEADY_STORIES))),
    day=st.sampled_from([D(2026, 10, 8), D(2026, 10, 9), D(2026, 10, 12), D(2026, 10, 14)]),
    start=st.integers(min_value=0, max_value=9 * 60 - 1),
    later=st.integers(min_value=0, max_value=9 * 60 * 60),
    rows=st.sets(st.sampled_from([D(2026, 9, 28), D(2026, 9, 30), D(2026, 10, 8)])),
)
def test_clocks_read_the_same_at_every_moment_before_steady_until(
    rules, cal, story, day, start, later, rows
):
    depts = {"财务部": DeptRecord(daily_dates=rows, weekly_weeks={"2026-W40"})}
    cycle = item(_STEADY_STORIES[story], depts)
    now = cal.open_at(day) + dt.timedelta(minutes=start)
    until = _until(rules, cal, cycle, now)
    if until is None:
        return
    assert now.date() == until.date() and until < cal.close_at(day)
    moment = min(now + dt.timedelta(seconds=later), until - dt.timedelta(microseconds=1))
    if moment < now:
        return
    then = compute_clocks([cycle], rules.clocks, cal, moment, explain=False)
    first = compute_clocks([cycle], rules.clocks, cal, now, explain=False)
    assert list(map(steady_view, then)) == list(map(steady_view, first))
    assert item_status(then) == item_status(first)
